import { getHeapStatistics } from 'node:v8'
import { logger } from '@libp2p/logger'
import { scavenge } from './collect-garbage.js'

const log = logger('ferry:memory:buffer-scavenger')

/**
 * Bytes outside V8's heap allowed to pile up between scavenges, and how often the pile is looked at.
 * V8 starts marking its old generation once that generation's growth plus the external bytes allocated
 * since its last full collection pass a step of at least 8 MB: the budget and what a transfer drops
 * in one interval must stay under it together.
 */
const BUDGET_BYTES = 3 * 1024 * 1024
const EVERY_MS = 5
/**
 * A change between two looks under which nothing moved; after this many such looks in a row the
 * scavenger looks less often. One still look proves nothing: what a scavenge freed can leave V8 just
 * as new buffers come in.
 */
const STILL_BYTES = 256 * 1024
const STILL_LOOKS = 20
const STILL_EVERY_MS = 50

/** V8's own count of the bytes it holds outside its heap, ArrayBuffers' among them. */
function externalBytes (): number {
  return getHeapStatistics().external_memory
}

/**
 * Scavenges (collects V8's young generation) whenever the bytes outside V8's heap have grown by a budget
 * since their lowest point after the last scavenge.
 *
 * Node 20's V8 schedules scavenges by the bytes allocated on its own heap, where an ArrayBuffer leaves
 * only a small handle for the bytes it holds outside. A phone moving a history allocates little else:
 * a buffer or two for every Noise message it moves (socket reads, node:crypto's sealed and opened
 * messages), each dead at once, so they piled up in the process's memory until the next scavenge. This
 * V8 also counts those bytes as growth of the old generation: the pile crossed its limit again and
 * again, and V8 marked and compacted back to back (docs/performance.md). A scavenge costs what is alive
 * in the young generation, which here is little.
 */
export class BufferScavenger {
  private low: number
  private last: number
  private count = 0
  private stillLooks = STILL_LOOKS

  constructor (
    private readonly budgetBytes = BUDGET_BYTES,
    private readonly bufferBytes = externalBytes
  ) {
    this.low = this.last = bufferBytes()
  }

  /** Whether the bytes changed by more than a trickle in any of the last few looks: data is moving. */
  get moving (): boolean { return this.stillLooks < STILL_LOOKS }

  /** How many times check() scavenged. */
  get scavenges (): number { return this.count }

  /** Scavenges if the buffers have grown by the budget; true when it did. */
  check (): boolean {
    const now = this.bufferBytes()
    this.stillLooks = Math.abs(now - this.last) > STILL_BYTES ? 0 : this.stillLooks + 1
    this.last = now
    // V8 frees swept buffers in the background after a scavenge, and collects on its own too.
    if (now < this.low) this.low = now
    if (now - this.low < this.budgetBytes || !scavenge()) return false
    this.count++
    this.low = this.last = this.bufferBytes()
    return true
  }
}

/**
 * Checks the buffers every few milliseconds while data moves, less often while the phone waits (for a
 * code, for the other phone), until the returned function is called.
 */
export function startBufferScavenger (): () => void {
  const scavenger = new BufferScavenger()
  const look = (): void => {
    scavenger.check()
    timer = setTimeout(look, scavenger.moving ? EVERY_MS : STILL_EVERY_MS).unref()
  }
  let timer = setTimeout(look, STILL_EVERY_MS).unref()
  return () => {
    clearTimeout(timer)
    log('%d scavenges for buffers', scavenger.scavenges)
  }
}
