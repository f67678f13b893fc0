import { PeerSilence, stoppedAnswering } from '../protocol/peer-silence.js'
import type { ByteDuplex } from '../wire/duplex.js'

export interface StallLimits {
  /** Waiting on the sender once its data flows, without a step forward. */
  stallMs: number
  /** ... before its first data (its Hello, its manifest, its plans): a sender may be preparing. */
  firstDataMs: number
  /** Bytes that count as a step forward when no whole frame came with them. */
  stallBytes: number
}

/**
 * Notices a sender that stopped: a link that died without a word (when a phone's Wi-Fi address changes,
 * a new lease, a roam, its TCP connection neither closes nor errors; packets just stop, and libp2p's ping
 * notices only after 10-20 s), and a sender that keeps the link up and sends nothing, or a byte now and
 * then. This watches the receiving side's reads: when they have waited past the limit for the sender
 * without a step forward (a whole frame, or `stallBytes` of one), the duplex is aborted with
 * TRUNCATED (`stoppedAnswering`), so the caller drops the connection, redials and resumes.
 *
 * Only time spent waiting on the peer counts (our own processing between reads does not). Before the
 * sender's first data the limit is `firstDataMs`, generous: after a pairing (or a resume) the sender
 * builds its manifest, and digests what this phone already holds, seconds of silence on a large history.
 * From its first data on, the sender streams without pause until the end: `stallMs`.
 */
export class StallWatch {
  private readonly silence: PeerSilence
  private duplex?: ByteDuplex
  private bytes = 0

  constructor (private readonly limits: StallLimits) {
    this.silence = new PeerSilence(limits.firstDataMs, waited => { this.duplex?.abort(stoppedAnswering(waited)) })
  }

  /** The sender's data flows: from now on it is held to `stallMs`. */
  flowing (): void {
    if (this.silence.limitMs !== this.limits.stallMs) this.silence.limitMs = this.limits.stallMs
  }

  /** A whole frame from the sender was read. */
  frame (): void {
    this.bytes = 0
    this.silence.heard()
  }

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
              self.silence.waiting()
              try {
                const r = await it.next()
                if (r.done !== true) self.took(r.value.byteLength)
                return r
              } finally {
                self.silence.busy()
              }
            },
            async return (value?: unknown) {
              self.silence.busy()
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

  /** A few bytes now and then are no step forward: a large frame on a slow link still counts in steps. */
  private took (n: number): void {
    this.bytes += n
    if (this.bytes < this.limits.stallBytes) return
    this.bytes = 0
    this.silence.heard()
  }

  stop (): void {
    this.silence.stop()
  }
}
