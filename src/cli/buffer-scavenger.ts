import { logger } from '@libp2p/logger'
import { scavenge } from './collect-garbage.js'

const log = logger('ferry:cli:buffer-scavenger')

/** ArrayBuffer bytes allowed to pile up between scavenges. */
const BUDGET_BYTES = 8 * 1024 * 1024
const EVERY_MS = 20

/**
 * Scavenges (collects V8's young generation) whenever ArrayBuffers have grown by a budget since their
 * lowest point after the last scavenge.
 *
 * Node 20's V8 schedules scavenges by the bytes allocated on its own heap, where an ArrayBuffer leaves
 * only a small handle for the bytes it holds outside. A phone moving a history allocates little else:
 * a buffer or two for every Noise message it moves (socket reads, node:crypto's sealed and opened
 * messages), each dead at once, so they piled up in the process's memory until the next scavenge. This
 * V8 also counts the bytes allocated since its last full collection as growth of the old generation:
 * the pile crossed its limit again and again, and V8 marked and compacted back to back
 * (docs/performance.md). A scavenge costs what is alive in the young generation, which here is little.
 */
export class BufferScavenger {
  private low: number
  private count = 0

  constructor (
    private readonly budgetBytes = BUDGET_BYTES,
    private readonly bufferBytes = (): number => process.memoryUsage().arrayBuffers
  ) {
    this.low = bufferBytes()
  }

  /** How many times check() scavenged. */
  get scavenges (): number { return this.count }

  /** Scavenges if the buffers have grown by the budget; true when it did. */
  check (): boolean {
    const now = this.bufferBytes()
    // V8 frees swept buffers in the background after a scavenge, and collects on its own too.
    if (now < this.low) this.low = now
    if (now - this.low < this.budgetBytes || !scavenge()) return false
    this.count++
    this.low = this.bufferBytes()
    return true
  }
}

/** Checks the buffers every few milliseconds until the returned function is called. */
export function startBufferScavenger (): () => void {
  const scavenger = new BufferScavenger()
  const timer = setInterval(() => { scavenger.check() }, EVERY_MS)
  timer.unref()
  return () => {
    clearInterval(timer)
    log('%d scavenges for buffers', scavenger.scavenges)
  }
}
