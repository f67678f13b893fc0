import { setFlagsFromString } from 'node:v8'
import { describe, expect, it } from 'vitest'
import { BufferScavenger } from '../../src/memory/buffer-scavenger.js'

// Freed buffers leave process.memoryUsage().arrayBuffers when V8 has swept them, which it does on a
// background thread: on a busy machine, after the scavenge has returned (and after the next test has
// begun). Swept on the spot, what a scavenge frees is counted when it returns.
setFlagsFromString('--no-concurrent-array-buffer-sweeping')

const MiB = 1024 * 1024

/** Allocates `mib` MiB of 64 KiB buffers that nothing holds, as a transfer drops them. */
function drop (mib: number): void {
  for (let i = 0; i < mib * 16; i++) Buffer.allocUnsafeSlow(64 * 1024)
}

describe('BufferScavenger', () => {
  it('scavenges once dropped buffers have grown by its budget, and frees them', () => {
    const buffers = (): number => process.memoryUsage().arrayBuffers
    const scavenger = new BufferScavenger(4 * MiB)
    drop(1)
    expect(scavenger.check()).toBe(false) // under the budget
    drop(16)
    const before = buffers()
    expect(scavenger.check()).toBe(true)
    expect(scavenger.scavenges).toBe(1)
    // Dropped young buffers go with the scavenge (17 MiB were dropped; room left for V8's own timing).
    expect(before - buffers()).toBeGreaterThan(8 * MiB)
  })

  it('does not scavenge again for buffers that stay alive', () => {
    const scavenger = new BufferScavenger(4 * MiB)
    const held = Array.from({ length: 8 * 16 }, () => Buffer.allocUnsafeSlow(64 * 1024))
    expect(scavenger.check()).toBe(true) // it cannot know they are alive
    expect(scavenger.check()).toBe(false) // its budget counts from what is left after
    expect(scavenger.check()).toBe(false)
    expect(scavenger.scavenges).toBe(1)
    expect(held.length).toBe(128)
  })

  it('says whether buffers are moving, so that it looks less often once they have stopped', () => {
    // Counts of its own: what V8 frees or allocates on its own between two looks is not this test's.
    let bytes = 10 * MiB
    const scavenger = new BufferScavenger(64 * MiB, () => bytes)
    expect(scavenger.moving).toBe(false) // a phone waiting for its code
    bytes += 2 * MiB
    scavenger.check()
    expect(scavenger.moving).toBe(true)
    // One still look proves nothing (a scavenge's frees can cancel new buffers out); a run of them does.
    scavenger.check()
    expect(scavenger.moving).toBe(true)
    for (let i = 0; i < 40; i++) scavenger.check()
    expect(scavenger.moving).toBe(false)
    // Bytes going away move too: V8 freeing what a scavenge found dead while a transfer runs.
    bytes -= 1 * MiB
    scavenger.check()
    expect(scavenger.moving).toBe(true)
  })
})
