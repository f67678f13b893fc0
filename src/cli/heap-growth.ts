import { getHeapStatistics, setFlagsFromString } from 'node:v8'
import { logger } from '@libp2p/logger'
import { collectGarbage } from './collect-garbage.js'

const log = logger('ferry:cli:heap-growth')

/** What a receiver's old generation may grow by between full collections while media flows. */
const MEDIA_HEADROOM_BYTES = 32 * 1024 * 1024

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
 * A receiver holds a headroom instead, only while media flows (holdHeadroomForMedia).
 */
export function letOldGenerationGrow (): void {
  setFlagsFromString(`--heap-growing-percent=${GROWING_PERCENT}`)
  log('the old generation may grow by %d%% between full collections', GROWING_PERCENT)
}

/** V8 picks its growing factor again, from the next full collection on. */
export function restoreOldGenerationGrowth (): void {
  setFlagsFromString('--heap-growing-percent=0')
  log('the old generation grows by V8\'s own factor again')
}

/**
 * For a receiver whose messages are all in, with media to come: until `verifying`, lets its old
 * generation grow by a fixed headroom over what is alive now before V8 marks it again (at most four
 * times over). Collects fully twice: to learn what is alive, then to set the limit from it.
 *
 * There the receiver's heap is a small one that a gigabyte of buffers passes through, as the sender's
 * is, and V8 sets its limit little above it: in about half the transfers of one history, the same
 * start each time, V8 marked and compacted back to back (tens of times a second), its marking
 * taking the cores both phones share. A headroom rather than the sender's factor: a large history's
 * receiver holds more, and four times that would raise its peak. The messages before and the read-back
 * after (the receiver's peak) keep V8's own factor: restoreOldGenerationGrowth() at `verifying`, before
 * the full collection there (collect-garbage.ts).
 */
export function holdHeadroomForMedia (): void {
  if (!collectGarbage()) return
  const live = getHeapStatistics().used_heap_size
  const percent = Math.min(GROWING_PERCENT, Math.ceil(100 * MEDIA_HEADROOM_BYTES / live))
  setFlagsFromString(`--heap-growing-percent=${percent}`)
  collectGarbage()
  log('media to come: %d MB alive, the old generation may grow by %d%% between full collections', Math.round(live / 1e6), percent)
}
