import { PerformanceObserver } from 'node:perf_hooks'
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8'
import { logger } from '@libp2p/logger'

const log = logger('ferry:memory:young-generation')

/** The young generation a phone keeps: its two semi-spaces together. */
export const YOUNG_GENERATION_BYTES = 8 * 1024 * 1024

/** V8's own factor: each growth doubles the young generation. */
const V8_GROWTH_FACTOR = 2

/** The young generation's size now (both semi-spaces), or undefined where V8 does not say. */
function youngGenerationBytes (): number | undefined {
  return getHeapSpaceStatistics().find(s => s.space_name === 'new_space')?.space_size
}

let held = false
let holding = false

/** No growth from now on: V8 reads the factor at each growth. */
function hold (): void {
  holding = true
  setFlagsFromString('--semi-space-growth-factor=1')
}

/**
 * Lets V8's young generation grow to YOUNG_GENERATION_BYTES and no further, for the rest of the process.
 *
 * V8 grows the young generation (from 2 MiB, doubling) whenever enough survives its scavenges, up to
 * 32 MiB on 64-bit, and on a phone moving a history it soon gets there and stays, a large part of
 * each process's peak RSS (docs/performance.md). What a transfer allocates on V8's heap is short-lived,
 * and the buffer scavenger collects the young generation every few MiB of buffers anyway, so a
 * larger one buys few scavenges. The limit is fixed when the process starts (--max-semi-space-size,
 * which a `#!/usr/bin/env node` script cannot pass on every platform); the growth factor is read at
 * each growth, so one growth is sized to land on the target and the factor is then held at 1 (no
 * growth). V8 puts a factor under 2 back to 2 whenever it sets up a heap, a worker thread's too: the
 * hold is said again after every collection, and as each worker thread comes online. Should a
 * growth come first, the young generation stays at that size, at most V8's own limit, as without this.
 */
export function holdYoungGeneration (target = YOUNG_GENERATION_BYTES): void {
  if (held) return
  const now = youngGenerationBytes()
  if (now === undefined) return
  held = true
  // A factor is a whole number of at least 1 (0 crashes V8).
  if (now < target) setFlagsFromString(`--semi-space-growth-factor=${Math.max(V8_GROWTH_FACTOR, Math.ceil(target / now))}`)
  else hold()
  const observer = new PerformanceObserver(() => {
    if (holding) return hold()
    if ((youngGenerationBytes() ?? 0) < target) return
    hold()
    log('the young generation stays at %d MiB', Math.round((youngGenerationBytes() ?? 0) / 1048576))
  })
  observer.observe({ entryTypes: ['gc'] })
  // Whoever starts a thread (the store's checkpointer), its heap's set-up puts the factor back.
  process.on('worker', worker => { worker.once('online', heldAgain) })
}

/** Says the hold again once a worker thread has started (its heap's set-up undid it). */
function heldAgain (): void {
  if (holding) hold()
}
