import type { ByteDuplex } from './duplex.js'

/**
 * Caps what `inner` sends at `bytesPerSecond` (a token bucket one second deep): a phone can leave room on
 * a shared Wi-Fi, and tests can make a transfer last long enough to interrupt it mid-way at any CPU speed.
 * Reads are untouched: the cap paces our writes, and the flow-control window does the rest.
 */
export interface Clock {
  /** ms */
  now(): number
  sleep(ms: number): Promise<void>
}

const realClock: Clock = {
  now: () => performance.now(),
  sleep: async ms => { await new Promise(resolve => setTimeout(resolve, ms)) }
}

export function rateLimited (inner: ByteDuplex, bytesPerSecond: number, clock: Clock = realClock): ByteDuplex {
  const now = (): number => clock.now()
  if (!(bytesPerSecond > 0)) throw new RangeError(`rate cap must be positive, got ${bytesPerSecond}`)
  // When the bytes written so far may all have left at the capped rate (ms on the clock).
  let due = now() - 1000 // a full bucket to start with
  return {
    source: inner.source,
    write: async chunks => {
      let n = 0
      for (const c of chunks) n += c.byteLength
      const t = now()
      due = Math.max(due, t - 1000) + (n / bytesPerSecond) * 1000
      // Idle time refills the bucket to one second of sending at most; beyond it, wait for the clock.
      const wait = due - t
      if (wait > 0) await clock.sleep(wait)
      await inner.write(chunks)
    },
    close: async () => { await inner.close() },
    abort: err => { inner.abort(err) }
  }
}
