import { constants, PerformanceObserver } from 'node:perf_hooks'
import { getHeapSpaceStatistics, getHeapStatistics, setFlagsFromString } from 'node:v8'
import { logger } from '@libp2p/logger'
import { collectGarbage } from './collect-garbage.js'

const log = logger('ferry:memory:heap-growth')

/**
 * What a phone's old generation may grow by between full collections while it moves media. Buffers
 * that a scavenge promoted and that died after it wait there for the next full collection, so the
 * headroom is also how much dead buffer memory the process holds at most: RSS, at the peak.
 */
export const HEADROOM_BYTES = 16 * 1024 * 1024

/** The most it may grow by, V8's own most: four times what survived the last full collection. */
const MAX_GROWING_PERCENT = 300

/** What keeps a sender's headroom over each full collection, while it does. */
let observer: PerformanceObserver | undefined

/** The bytes V8's old generation holds, what its limit is set from: the heap less the young generation. */
function oldGenerationBytes (): number {
  let young = 0
  for (const space of getHeapSpaceStatistics()) if (space.space_name.startsWith('new_')) young += space.space_used_size
  return getHeapStatistics().used_heap_size - young
}

/** Sets V8's growing factor, from its next full collection on, to the headroom over `alive`; `why` leads the log. */
function holdHeadroomOver (alive: number, why = ''): void {
  const percent = Math.min(MAX_GROWING_PERCENT, Math.ceil(100 * HEADROOM_BYTES / alive))
  setFlagsFromString(`--heap-growing-percent=${percent}`)
  log('%s%d MB alive, the old generation may grow by %d%% between full collections', why, Math.round(alive / 1e6), percent)
}

/**
 * For a process that streams a history out, before its node starts: from then on V8's old generation
 * grows by a headroom over what each full collection leaves alive before V8 marks it again (at most
 * four times over, and four times until the first).
 *
 * Node 20's V8 counts the bytes of every ArrayBuffer allocated since the last full collection as growth
 * of the old generation, and a sender seals each Noise message it sends into a fresh buffer (through
 * node:crypto). Even scavenged as they pile up (buffer-scavenger.ts), those bytes keep the account
 * moving, while what survives a full collection is a small heap that grows slowly: V8 judges a growing
 * factor near its minimum, the next limit sits a few MB above it, and V8 marks and compacts again and
 * again, taking a core from a phone pair that has two. A headroom rather than a fixed four times: the
 * buffers that die after a scavenge promoted them wait for the next full collection, and on a large
 * history four times what is alive let them take the sender's peak to the bound docs/performance.md
 * holds it to.
 */
export function letOldGenerationGrow (): void {
  setFlagsFromString(`--heap-growing-percent=${MAX_GROWING_PERCENT}`)
  log('the old generation may grow by %d%% between full collections', MAX_GROWING_PERCENT)
  // The observer hears of a collection after it, with what it left alive still there to read.
  observer?.disconnect()
  observer = new PerformanceObserver(list => {
    if (!list.getEntries().some(e => (e as unknown as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR)) return
    holdHeadroomOver(oldGenerationBytes())
  })
  observer.observe({ entryTypes: ['gc'] })
}

/** V8 picks its growing factor again, from the next full collection on. */
export function restoreOldGenerationGrowth (): void {
  observer?.disconnect()
  observer = undefined
  setFlagsFromString('--heap-growing-percent=0')
  log('the old generation grows by V8\'s own factor again')
}

/**
 * For a receiver whose messages are all in, with media to come: until `verifying`, lets its old
 * generation grow by the headroom over what is alive now before V8 marks it again. Collects fully
 * twice: to learn what is alive, then to set the limit from it.
 *
 * There the receiver's heap is a small one that a gigabyte of buffers passes through, as the sender's
 * is, and V8 sets its limit little above it: in some transfers of one history, with the same start as
 * the others, V8 marked and compacted back to back, its marking taking the cores both phones share
 * (docs/performance.md). The messages before and the read-back after (the receiver's
 * peak) keep V8's own factor: restoreOldGenerationGrowth() at `verifying`, before the full collection
 * there (collect-garbage.ts).
 */
export function holdHeadroomForMedia (): void {
  if (!collectGarbage()) return
  holdHeadroomOver(oldGenerationBytes(), 'media to come: ')
  collectGarbage()
}
