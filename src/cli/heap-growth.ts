import { setFlagsFromString } from 'node:v8'
import { logger } from '@libp2p/logger'

const log = logger('ferry:cli:heap-growth')

/** What V8 itself grows by at most: four times what survived the last full collection. */
const GROWING_PERCENT = 300

/**
 * Lets V8's old generation grow to four times what survived its last full collection before V8 marks
 * it again. For a process that streams a history out, before its node starts.
 *
 * Node 20's V8 counts the bytes of every ArrayBuffer allocated since the last full collection as growth
 * of the old generation, and a sender seals each Noise message it sends into a fresh buffer (through
 * node:crypto). Even scavenged as they pile up (buffer-scavenger.ts), those bytes keep the account
 * moving, while what survives a full collection is a small heap that grows slowly: V8 judges a growing
 * factor near its minimum, the next limit sits a few MB above it, and V8 marks and compacts again and
 * again, taking a core from a phone pair that has two. Held at four times, the limit stays clear.
 *
 * The receiver keeps V8's own factor: it also holds a little bookkeeping for each file until its group
 * of files is durable, and with a hundred thousand photos that bookkeeping, no longer collected early,
 * took the receiver's peak past what docs/performance.md holds it to.
 */
export function letOldGenerationGrow (): void {
  setFlagsFromString(`--heap-growing-percent=${GROWING_PERCENT}`)
  log('the old generation may grow by %d%% between full collections', GROWING_PERCENT)
}
