import { describe, expect, it } from 'vitest'
import type { ByteDuplex } from '../../src/wire/duplex.js'
import { rateLimited, type Clock } from '../../src/wire/rate-limit.js'

/** A clock that only moves when slept on (or told to), so the pacing is checked exactly, not timed. */
function virtualClock (): Clock & { t: number, advance(ms: number): void } {
  return {
    t: 0,
    now () { return this.t },
    async sleep (ms) { this.t += ms },
    advance (ms) { this.t += ms }
  }
}

function sink (): ByteDuplex & { log: Array<{ at: number, bytes: number }>, clock?: Clock } {
  const d: ByteDuplex & { log: Array<{ at: number, bytes: number }>, clock?: Clock } = {
    log: [],
    source: (async function * () {})(),
    write: async chunks => { d.log.push({ at: d.clock?.now() ?? 0, bytes: chunks.reduce((n, c) => n + c.byteLength, 0) }) },
    close: async () => {},
    abort: () => {}
  }
  return d
}

describe('rateLimited', () => {
  it('lets one second of data through at once, then paces writes to the cap', async () => {
    const clock = virtualClock()
    const inner = sink()
    inner.clock = clock
    const out = rateLimited(inner, 1_000_000, clock)
    for (let i = 0; i < 10; i++) await out.write([new Uint8Array(250_000)]) // 2.5 MB at 1 MB/s
    expect(inner.log.map(w => w.bytes).reduce((a, b) => a + b)).toBe(2_500_000)
    // The first 1 MB goes at once (the bucket), the rest no faster than 1 MB/s.
    expect(inner.log.slice(0, 4).every(w => w.at === 0)).toBe(true)
    expect(inner.log[9].at).toBe(1500)
    for (const [i, w] of inner.log.entries()) expect(w.at).toBeGreaterThanOrEqual((i + 1) * 250 - 1000)
  })

  it('does not bank idle time beyond the one-second bucket', async () => {
    const clock = virtualClock()
    const inner = sink()
    inner.clock = clock
    const out = rateLimited(inner, 1_000_000, clock)
    clock.advance(60_000) // a minute of silence buys no burst bigger than a second
    for (let i = 0; i < 8; i++) await out.write([new Uint8Array(250_000)])
    expect(inner.log.at(-1)?.at).toBe(61_000)
  })

  it('refuses a cap that is not a positive rate', () => {
    expect(() => rateLimited(sink(), 0)).toThrow(RangeError)
    expect(() => rateLimited(sink(), Number.NaN)).toThrow(RangeError)
  })
})
