import { setFlagsFromString } from 'node:v8'
import { describe, expect, it } from 'vitest'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { collectGarbage, scavenge } from '../../src/memory/collect-garbage.js'

// Freed buffers leave process.memoryUsage().arrayBuffers when V8 has swept them, which it does on a
// background thread: on a busy machine, after the scavenge has returned (and after the next test has
// begun). Swept on the spot, what a scavenge frees is counted when it returns.
setFlagsFromString('--no-concurrent-array-buffer-sweeping')

/** A 16 MiB buffer only a WeakRef points at, made in a turn of its own. */
function unreachable (): WeakRef<Uint8Array> {
  return new WeakRef(new Uint8Array(16 * 1024 * 1024))
}

describe('collectGarbage', () => {
  it('collects what nothing holds, without putting gc() among the program\'s globals', async () => {
    const exposedBefore = typeof (globalThis as { gc?: unknown }).gc
    // Twice: the second call uses the collector the first one found.
    for (let round = 0; round < 2; round++) {
      const ref = unreachable()
      // A WeakRef keeps its target until the job that made or read it has ended.
      await nextTurn()
      expect(ref.deref() !== undefined).toBe(true)
      await nextTurn()
      expect(collectGarbage()).toBe(true)
      expect(ref.deref() === undefined).toBe(true)
    }
    expect(typeof (globalThis as { gc?: unknown }).gc).toBe(exposedBefore)
  })
})

describe('scavenge', () => {
  it('frees buffers that nothing holds in the young generation', () => {
    const buffers = (): number => process.memoryUsage().arrayBuffers
    const exposedBefore = typeof (globalThis as { gc?: unknown }).gc
    for (let i = 0; i < 256; i++) Buffer.allocUnsafeSlow(64 * 1024) // 16 MiB, dropped at once
    const before = buffers()
    expect(scavenge()).toBe(true)
    expect(before - buffers()).toBeGreaterThan(8 * 1024 * 1024)
    expect(typeof (globalThis as { gc?: unknown }).gc).toBe(exposedBefore)
  })
})
