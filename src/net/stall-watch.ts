import type { ByteDuplex } from '../wire/duplex.js'

/**
 * Notices a link that died without a word: when a phone's Wi-Fi address changes (a new lease, a roam),
 * its TCP connection neither closes nor errors; packets just stop. libp2p's ping notices only after
 * 10-20 s. This watches the receiving side's reads instead: once armed, a read that has waited
 * `stallMs` for the peer with nothing arriving means the link is gone: the duplex is aborted with the
 * error `onStall` returns, so the caller sees why, drops the connection, redials and resumes.
 *
 * Only time spent waiting on the peer counts (our own processing between reads does not), and the
 * caller arms it only once the peer streams continuously, so a peer still preparing (building a
 * manifest from a large store) is never cut off.
 */
export class StallWatch {
  private waitingSince?: number
  private timer?: NodeJS.Timeout
  private duplex?: ByteDuplex
  armed = false

  constructor (private readonly stallMs: number, private readonly onStall: (waitedMs: number) => Error) {}

  /** The same duplex, with its reads timed. */
  wrap (duplex: ByteDuplex): ByteDuplex {
    const self = this
    const source = duplex.source
    this.duplex = duplex
    return {
      source: {
        [Symbol.asyncIterator] () {
          const it = source[Symbol.asyncIterator]()
          return {
            async next () {
              self.waitingSince = Date.now()
              self.schedule()
              try {
                return await it.next()
              } finally {
                self.waitingSince = undefined
              }
            },
            async return (value?: unknown) {
              self.waitingSince = undefined
              return await (it.return?.(value) ?? Promise.resolve({ done: true as const, value: undefined }))
            }
          }
        }
      },
      write: async chunks => { await duplex.write(chunks) },
      close: async () => { await duplex.close() },
      abort: err => { duplex.abort(err) }
    }
  }

  private schedule (): void {
    if (this.timer !== undefined) return
    const tick = (): void => {
      this.timer = undefined
      const since = this.waitingSince
      if (since === undefined) return
      const waited = Date.now() - since
      if (this.armed && waited >= this.stallMs) {
        this.stop()
        this.duplex?.abort(this.onStall(waited))
        return
      }
      this.timer = setTimeout(tick, Math.max(50, Math.min(this.stallMs - waited, this.stallMs / 4)))
      this.timer.unref?.()
    }
    this.timer = setTimeout(tick, this.stallMs / 4)
    this.timer.unref?.()
  }

  stop (): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.waitingSince = undefined
    this.armed = false
  }
}
