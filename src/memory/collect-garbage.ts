import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { logger } from '@libp2p/logger'

const log = logger('ferry:memory:collect-garbage')

type Collector = (options?: { type: 'major' | 'minor' }) => void

let collector: Collector | null | undefined

/**
 * Runs a full garbage collection now; false where this Node gives no way to.
 *
 * V8 collects its old generation when it has grown by a factor of what survived the last full
 * collection, whatever the program is about to do. A receiver turns from taking media in to reading a
 * whole history back just when that generation holds what a gigabyte of traffic left promoted, so
 * the read-back's own allocations came on top of it, at the process's peak. One collection at that
 * turn is one pause of the collector per transfer, against seconds of reading back.
 *
 * Node hands out the collector only under `--expose-gc`, which a `#!/usr/bin/env node` script cannot
 * pass on every platform. V8 reads that flag when it sets up a context, so a context made after
 * setting it carries `gc`; the flag is then cleared again, leaving the program's own globals as they
 * were. This is what Jest's leak detector does.
 */
export function collectGarbage (): boolean {
  const gc = found()
  if (gc === null) return false
  const start = performance.now()
  gc()
  log('a full collection in %d ms', Math.round(performance.now() - start))
  return true
}

/** Collects the young generation only (a scavenge); false where this Node gives no way to. */
export function scavenge (): boolean {
  const gc = found()
  if (gc === null) return false
  gc({ type: 'minor' })
  return true
}

function found (): Collector | null {
  if (collector === undefined) {
    collector = findCollector()
    if (collector === null) log('this Node offers no collector to call')
  }
  return collector
}

function findCollector (): Collector | null {
  const exposed = (globalThis as { gc?: unknown }).gc
  if (typeof exposed === 'function') return exposed as Collector
  try {
    setFlagsFromString('--expose-gc')
    const gc: unknown = runInNewContext('gc')
    return typeof gc === 'function' ? gc as Collector : null
  } catch {
    return null
  } finally {
    setFlagsFromString('--no-expose-gc')
  }
}
