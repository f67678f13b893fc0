import { describe, expect, it } from 'vitest'
import { Pace } from '../../src/pace.js'
import { progressLine, type WebProgress } from '../../src/web/progress-line.js'

// What the browser phone's progress bar says while a transfer runs, fed a session's times and byte
// counts on a virtual clock, a snapshot per tick of the page (four a second). The rate must be what
// the link carries, as the CLI's bar shows it: not the burst a session opens with, which lasts a
// moment and which a rate measured from the first samples shows as the link's pace.

const TICK_MS = 250
const MESSAGES = 10_000
const MEDIA = 30e6
const BURST = 4e6 // the messages, compressed, in the first quarter second
const STEADY = 1e6 // then the media, a megabyte a second

/** The lines the page shows, tick by tick, for `seconds` of a session; `from` is where it resumed. */
function shownLines (seconds: number, from = 0): Array<{ t: number, text: string }> {
  let t = 0
  const pace = new Pace(() => t)
  const lines: Array<{ t: number, text: string }> = []
  for (; t <= seconds * 1000; t += TICK_MS) {
    const media = Math.min(MEDIA, from + Math.max(0, t - TICK_MS) / 1000 * STEADY)
    const p: WebProgress = {
      messages: t === 0 ? 0 : MESSAGES,
      totalMessages: MESSAGES,
      mediaBytes: media,
      totalMediaBytes: MEDIA,
      bytesReceived: (t === 0 ? 0 : BURST) + media - from
    }
    lines.push({ t, text: progressLine(p, pace.update({ ...p, sessionBytes: p.bytesReceived })).text })
  }
  return lines
}

describe('the browser phone\'s progress line', () => {
  it('says -- for the rate until a window of the link has passed, never the opening burst', () => {
    const lines = shownLines(20)
    expect(lines[0].text).toBe('0 of 10,000 messages · 0 B of 30.0 MB media · --/s · about … left')
    // The burst (4 MB in a quarter second) is past after a second; a window of five follows it.
    for (const l of lines.filter(l => l.t < 6000)) expect(l.text, `at ${l.t} ms`).toMatch(/ · --\/s · about … left$/)
    for (const l of lines.filter(l => l.t >= 6000)) expect(l.text, `at ${l.t} ms`).toMatch(/ · 1\.0 MB\/s · about \d+ s left$/)
  })

  it('estimates the time left from how fast the history moves', () => {
    const at10 = shownLines(10).at(-1)!
    // 9.75 MB of media in after ten seconds at a megabyte a second: 20.25 MB, some 20 s, left.
    expect(at10.text).toBe('10,000 of 10,000 messages · 9.8 MB of 30.0 MB media · 1.0 MB/s · about 20 s left')
  })

  it('starts over for a resumed session: the session before says nothing of this link', () => {
    const resumed = shownLines(8, 12e6)
    expect(resumed[0].text).toMatch(/^0 of 10,000 messages · 12.0 MB of 30.0 MB media · --\/s · /)
    expect(resumed.filter(l => l.t < 6000).every(l => l.text.includes(' · --/s · '))).toBe(true)
    expect(resumed.at(-1)!.text).toMatch(/ · 1\.0 MB\/s · about 1\d s left$/)
  })

  it('says checking once everything has arrived', () => {
    const p: WebProgress = { messages: 5, totalMessages: 5, mediaBytes: 2000, totalMediaBytes: 2000, bytesReceived: 2100 }
    expect(progressLine(p, {})).toEqual({ fraction: 1, text: '5 of 5 messages · 2.0 kB of 2.0 kB media · --/s · checking…' })
  })
})
