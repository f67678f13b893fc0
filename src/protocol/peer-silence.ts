import { ErrorCode, FerryError } from '../errors.js'

/**
 * How either phone says it gave up waiting on the other: one code and one wording for both sides, so an
 * app and the CLI (which adds what became of the transfer) treat a stalled peer as the dropped link it
 * may be. A receive reconnects after it, a send waits for the new phone to come back.
 */
export function stoppedAnswering (waitedMs: number): FerryError {
  return new FerryError(ErrorCode.TRUNCATED,
    `nothing from the other phone for ${(waitedMs / 1000).toFixed(1)} s: it stopped answering, or the link is gone`, { timedOut: true })
}

/**
 * Time this phone spent waiting on the other since the other last moved the transfer forward, with a
 * limit. Only waiting counts: the caller says when it is busy with its own work (a store that is slow
 * to write or read), so a slow phone never takes its own slowness for the other's silence. Past the
 * limit `onSilent` is called once, with the time waited.
 */
export class PeerSilence {
  private waitedMs = 0
  private since?: number
  private timer?: ReturnType<typeof setTimeout>
  private stopped = false

  constructor (private limit: number, private readonly onSilent: (waitedMs: number) => void) {}

  /** A new limit, from now on (the waiting so far counts against it). */
  set limitMs (ms: number) {
    this.limit = ms
    // A timer out from the old limit may be due much later than the new one allows.
    this.reschedule()
  }

  get limitMs (): number {
    return this.limit
  }

  /** This phone waits on the other from now on. */
  waiting (): void {
    if (this.stopped || this.since !== undefined) return
    this.since = Date.now()
    // Called around every read: a timer already out checks again when it fires, rather than one made
    // and cleared each time.
    if (this.timer === undefined) this.schedule()
  }

  /** This phone is busy with its own work from now on: that time does not count. */
  busy (): void {
    if (this.since === undefined) return
    this.waitedMs += Date.now() - this.since
    this.since = undefined
  }

  /** The other phone moved the transfer forward: the silence starts over. */
  heard (): void {
    this.waitedMs = 0
    if (this.since !== undefined) this.since = Date.now()
  }

  stop (): void {
    this.stopped = true
    this.since = undefined
    this.clear()
  }

  private waited (): number {
    return this.waitedMs + (this.since === undefined ? 0 : Date.now() - this.since)
  }

  private clear (): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
  }

  private reschedule (): void {
    this.clear()
    if (this.since !== undefined) this.schedule()
  }

  /** A check within the limit, and a few times per limit (`heard` moves the deadline without a timer). */
  private schedule (): void {
    this.timer = setTimeout(() => {
      this.timer = undefined
      // Busy meanwhile: the next wait schedules again.
      if (this.since === undefined || this.stopped) return
      const waited = this.waited()
      if (waited >= this.limit) {
        this.stop()
        this.onSilent(waited)
        return
      }
      this.schedule()
    }, Math.max(20, Math.min(this.limit - this.waited(), this.limit / 4)))
    this.timer.unref?.()
  }
}
