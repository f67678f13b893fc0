import { setFlagsFromString } from 'node:v8'
import { logger } from '@libp2p/logger'

const log = logger('ferry:cli:heap-growth')

/** What V8 itself grows by at most: four times what survived the last full collection. */
const GROWING_PERCENT = 300

let applied = false

/**
 * Lets V8's old generation grow to four times what survived its last full collection before V8 marks
 * it again. For a process that streams a history out; called once, before the node starts.
 *
 * Node 20's V8 counts the bytes of every ArrayBuffer allocated since the last full collection as growth
 * of the old generation. A sender seals each 64 KiB of what it sends into a fresh buffer (Noise, through
 * node:crypto), which dies at once but is freed only at the next scavenge: tens of MB of them wait at
 * any moment. What survives a full collection, meanwhile, is a small heap that grows slowly, so V8
 * judges a growing factor near its minimum and sets the next limit a few MB above it. The dead buffers
 * cross that limit again and again, and V8 marks and compacts back to back, taking a core from a phone
 * pair that has two. Held at four times, the limit sits above what the buffers reach.
 *
 * The receiver keeps V8's own factor: it also holds a little bookkeeping for each file until its group
 * of files is durable, and with a hundred thousand photos that bookkeeping, no longer collected early,
 * took the receiver's peak past what docs/performance.md holds it to.
 */
export function letOldGenerationGrow (): void {
  if (applied) return
  applied = true
  setFlagsFromString(`--heap-growing-percent=${GROWING_PERCENT}`)
  log('the old generation may grow by %d%% between full collections', GROWING_PERCENT)
}
