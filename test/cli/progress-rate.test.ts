import { describe, expect, it } from 'vitest'
import { barFields, Pace, type ProgressSnapshot } from '../../src/cli/progress.js'
import type { ByteDuplex } from '../../src/wire/duplex.js'
import { rateLimited, type Clock } from '../../src/wire/rate-limit.js'

// `ferry send --max-rate 10` must not show more than 10 MB/s: the bar's rate is the bytes the link
// carries over a window, not messages weighed at a guess, and not the burst a full token bucket lets
// out as a session starts. The sender is played through the real rate cap on a virtual clock, so the
// figures are exact, not timed.

const LIMIT = 10e6 // --max-rate 10
const FRAME = 256 * 1024
const MESSAGES_PER_FRAME = 4000 // a compressed batch: some 65 bytes a message on the wire
const MESSAGE_FRAMES = 500
const MEDIA_FRAMES = 1000 // 60 photos and videos, in 256 KiB chunks

function virtualClock (): Clock {
  let t = 0
  return { now: () => t, sleep: async ms => { t += ms } }
}

const sink: ByteDuplex = { source: (async function * () {})(), write: async () => {}, close: async () => {}, abort: () => {} }

/**
 * What the bar shows after each progress event of a capped send: the time, the rate and its text. A new
 * phone that commits each batch of messages in `receiverMsPerBatch` holds the messages phase below the cap.
 */
async function capturedSend (receiverMsPerBatch = 0): Promise<Array<{ t: number, rate?: number, shown: string }>> {
  const clock = virtualClock()
  const wire = rateLimited(sink, LIMIT, clock)
  const pace = new Pace(() => clock.now())
  const p: ProgressSnapshot = { messages: 0, totalMessages: MESSAGE_FRAMES * MESSAGES_PER_FRAME, mediaBytes: 0, totalMediaBytes: MEDIA_FRAMES * (FRAME - 40), sessionBytes: 0 }
  const shown: Array<{ t: number, rate?: number, shown: string }> = []
  const tell = (): void => {
    const figures = pace.update({ ...p })
    shown.push({ t: clock.now(), rate: figures.rate, shown: barFields(p, figures).rate })
  }
  const frame = new Uint8Array(FRAME)
  for (let i = 0; i < MESSAGE_FRAMES + MEDIA_FRAMES; i++) {
    // As the sender counts: a frame is sent once it is handed to the link, before the cap paces it out;
    // progress comes as frames go and as the receiver's acks come back.
    if (i < MESSAGE_FRAMES) p.messages += MESSAGES_PER_FRAME
    else p.mediaBytes += FRAME - 40
    p.sessionBytes = (p.sessionBytes ?? 0) + FRAME
    tell()
    await wire.write([frame])
    // The flow-control window holds the sender back while the new phone commits.
    if (i < MESSAGE_FRAMES && receiverMsPerBatch > 0) await clock.sleep(receiverMsPerBatch)
    tell()
  }
  return shown
}

describe('the rate a capped send shows', () => {
  it('never shows more than --max-rate once it has a window of the link to go by', async () => {
    const shown = await capturedSend()
    const start = shown[0].t
    const settled = shown.filter(s => s.t - start >= 6000)
    expect(settled.length).toBeGreaterThan(1000)
    for (const s of settled) {
      expect(s.rate, `at ${s.t} ms`).toBeDefined()
      expect(s.rate as number, `at ${s.t} ms`).toBeLessThanOrEqual(LIMIT * 1.02)
      // Honest the other way too: a send that keeps to its cap shows it.
      expect(s.rate as number, `at ${s.t} ms`).toBeGreaterThanOrEqual(LIMIT * 0.95)
    }
    // The messages phase, when a message weighed as 200 bytes showed three times the cap, is in there.
    expect(settled[0].t).toBeLessThan(MESSAGE_FRAMES * FRAME / LIMIT * 1000)
  })

  it('after a slower stretch, shows the second the cap lets out at once, then the cap again', async () => {
    // The messages go as fast as the new phone commits them, below the cap; the token bucket fills
    // meanwhile and lets a second's worth out when the media start. The link does carry that, so the
    // rate shows it, spread over its window, and no more; a window later it is the cap again.
    const shown = await capturedSend(100)
    const start = shown[0].t
    const mediaStart = shown[2 * MESSAGE_FRAMES].t
    const messagesRate = FRAME / 0.1 // a frame per commit: the wire bytes, not messages weighed at a guess
    for (const s of shown.filter(s => s.t - start >= 6000)) {
      const rate = s.rate as number
      expect(rate, `at ${s.t} ms`).toBeLessThanOrEqual(LIMIT * (1 + 1000 / 5000) * 1.01)
      if (s.t < mediaStart) expect(Math.abs(rate / messagesRate - 1), `at ${s.t} ms`).toBeLessThan(0.03)
      if (s.t > mediaStart + 5100) {
        expect(rate, `at ${s.t} ms`).toBeLessThanOrEqual(LIMIT * 1.02)
        expect(rate, `at ${s.t} ms`).toBeGreaterThanOrEqual(LIMIT * 0.95)
      }
    }
  })

  it('says nothing of the rate until it has a window after the first burst', async () => {
    const shown = await capturedSend()
    const start = shown[0].t
    const early = shown.filter(s => s.t - start < 5000)
    expect(early.length).toBeGreaterThan(10)
    for (const s of early) expect(s).toMatchObject({ rate: undefined, shown: '--' })
    expect(shown[shown.length - 1].shown).toBe('10.0 MB')
  })
})
