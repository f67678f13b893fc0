import { logger } from '@libp2p/logger'
import type { FerryEvent, TransferMemory, TransferTurns } from '../net/transfer-events.js'
import { startBufferScavenger } from './buffer-scavenger.js'
import { collectGarbage } from './collect-garbage.js'
import { holdHeadroomForMedia, letOldGenerationGrow, restoreOldGenerationGrowth } from './heap-growth.js'

const log = logger('ferry:memory:transfers')

/**
 * Media still to come at `chats-ready` worth a headroom for the collector: below it the media phase is
 * over before V8 would mark often, and the two full collections would cost more.
 */
export const MEDIA_WORTH_HEADROOM = 64 * 1024 * 1024

/** What the transfers ask of the process's collector (Node's below; a recording one in tests). */
export interface Collector {
  /** Scavenges as buffers pile up, until the returned function is called. */
  startScavenging: () => () => void
  /** A sender's old generation grows by a headroom over what each full collection leaves alive. */
  growForSending: () => void
  /** A receiver's, with media to come: collects to learn what is alive, and holds a headroom over it. */
  growForMedia: () => void
  /** V8 picks its growing factor itself again. */
  restoreGrowth: () => void
  /** A full collection now. */
  collect: () => void
}

const nodeCollector: Collector = {
  startScavenging: startBufferScavenger,
  growForSending: letOldGenerationGrow,
  growForMedia: holdHeadroomForMedia,
  restoreGrowth: restoreOldGenerationGrowth,
  collect: () => { collectGarbage() }
}

/**
 * Keeps one process's collector in step with the transfers it runs, which may overlap (a sender and a
 * receiver in one app, several phones in a test). The collector is the process's: buffers are scavenged
 * while any transfer runs, the old generation has room while any transfer moves media (a sender
 * throughout, a receiver from `chats-ready` with media to come until `verifying`), and V8 judges for
 * itself again only once none does. A receiver collects fully as it starts reading back, once every
 * message is here (its peak of memory begins there), and again at `verifying`, the media done.
 */
export class TransferCollector implements TransferMemory {
  private running = 0
  private stopScavenging?: () => void
  private readonly growing = new Set<object>()

  constructor (private readonly collector: Collector = nodeCollector) {}

  begin (role: 'sender' | 'receiver'): TransferTurns {
    const transfer = {}
    if (this.running++ === 0) this.stopScavenging = this.collector.startScavenging()
    if (role === 'sender') this.grow(transfer, this.collector.growForSending)
    let mediaToCome = 0
    let ended = false
    return {
      onEvent: (e: FerryEvent) => {
        if (ended || role !== 'receiver') return
        if (e.type === 'manifest') mediaToCome = e.totalMediaBytes
        if (e.type === 'progress') mediaToCome = e.progress.totalMediaBytes - e.progress.mediaBytes
        if (e.type === 'chats-ready' && mediaToCome >= MEDIA_WORTH_HEADROOM) this.grow(transfer, this.collector.growForMedia)
        if (e.type === 'verifying') {
          this.settle(transfer)
          this.collector.collect()
        }
      },
      readingBack: () => {
        if (!ended && role === 'receiver') this.collector.collect()
      },
      end: () => {
        if (ended) return
        ended = true
        this.settle(transfer)
        if (--this.running === 0) {
          this.stopScavenging?.()
          this.stopScavenging = undefined
        }
      }
    }
  }

  private grow (transfer: object, start: () => void): void {
    if (this.growing.has(transfer)) return
    this.growing.add(transfer)
    if (this.growing.size === 1) start()
    else log('%d transfers move media: the old generation keeps the room it has', this.growing.size)
  }

  private settle (transfer: object): void {
    if (!this.growing.delete(transfer) || this.growing.size > 0) return
    this.collector.restoreGrowth()
  }
}

/**
 * Node's collector kept in step with the transfers of this process: pass it as the Ferry service's
 * `memory` (`createFerry` does, and the CLI). Node 20's V8 paces its collections by its own heap,
 * while a phone moving a history allocates mostly buffers outside it: unpaced, a media transfer runs
 * dozens of mark-compacts (docs/performance.md has what they cost).
 */
export const nodeTransferMemory: TransferMemory = new TransferCollector()
