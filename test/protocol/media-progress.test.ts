import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import type { Journal, JournalOp, PartFiles } from '../../src/journal/journal.js'
import { ManifestMedia } from '../../src/protocol/manifest-media.js'
import { MediaIntake } from '../../src/protocol/media-intake.js'
import type { HistorySink, ReceivedMedia } from '../../src/store/history.js'

// The receiver's progress counts media bytes on this phone: held before, or in a write that has landed.
// Node's part files take several writes at once and land them later; a phone killed meanwhile keeps
// only what landed, and resumes from there. Progress that counted a chunk when its write began ran up
// to a chunk ahead of what a killed phone had kept (the kill tests caught it, one run in a few).

const CHUNK = 1024

/** Part files in memory whose writes land only when the test lets them, several at once. */
class HeldParts implements PartFiles {
  readonly writesAtOnce = 4
  readonly landed = new Map<string, Uint8Array>()
  private readonly held: Array<() => void> = []

  async write (sha: string, offset: number, data: Uint8Array): Promise<void> {
    const copy = new Uint8Array(data)
    await new Promise<void>(resolve => this.held.push(resolve))
    const before = this.landed.get(sha) ?? new Uint8Array(0)
    expect(offset).toBe(before.byteLength)
    const after = new Uint8Array(offset + copy.byteLength)
    after.set(before)
    after.set(copy, offset)
    this.landed.set(sha, after)
  }

  /** Lands the oldest write held, and lets its callbacks run. */
  async land (): Promise<void> {
    const next = this.held.shift()
    expect(next, 'a write is held').toBeDefined()
    next?.()
    for (let i = 0; i < 5; i++) await Promise.resolve()
  }

  get waiting (): number { return this.held.length }
  async size (sha: string): Promise<number> { return this.landed.get(sha)?.byteLength ?? 0 }
  async truncate (): Promise<void> {}
  async * read (sha: string): AsyncIterable<Uint8Array> { yield this.landed.get(sha) ?? new Uint8Array(0) }
  handOff (sha: string, size: number, mime: string): ReceivedMedia {
    const bytes = this.landed.get(sha) as Uint8Array
    return { sha256: sha, size, mime, bytes, stream: async function * () { yield bytes } }
  }

  async remove (sha: string): Promise<void> { this.landed.delete(sha) }
  // Handed-off bytes are copied out at once (`bytes`): no store is still taking them.
  beingTaken (): boolean { return false }
  async list (): Promise<string[]> { return [...this.landed.keys()] }
}

function journalWith (parts: PartFiles): Journal {
  return {
    parts,
    get: async () => undefined,
    list: async function * () {},
    write: async (_ops: JournalOp[]) => {},
    close: async () => {}
  }
}

describe('media progress', () => {
  it('counts a chunk once its write has landed, not when it begins', async () => {
    const file = Uint8Array.from({ length: 4 * CHUNK }, (_, i) => (i * 31) % 251)
    const sha = createHash('sha256').update(file).digest('hex')
    const parts = new HeldParts()
    const stored: string[] = []
    const sink = { putMedia: async (f: ReceivedMedia) => { stored.push(f.sha256) } } as unknown as HistorySink
    const progress = { mediaBytes: 0, mediaFiles: 0, mediaFilesReceived: 0, mediaBytesReceived: 0, mediaFilesHeld: 0, mediaFilesDamaged: 0, mediaFilesMissing: 0 }
    const intake = new MediaIntake(sink, journalWith(parts), ManifestMedia.from([{ sha256: sha, size: file.byteLength, mime: 'video/mp4', missing: false }]), progress)
    await intake.resume(true)

    const chunk = (n: number): Uint8Array => file.subarray(n * CHUNK, (n + 1) * CHUNK)
    // Three chunks taken, none landed: none of them is on this phone yet.
    for (let n = 0; n < 3; n++) await intake.chunk(0, n * CHUNK, chunk(n))
    expect(parts.waiting).toBe(3)
    expect(progress.mediaBytes).toBe(0)
    // Each counts as it lands, in order.
    await parts.land()
    expect(progress.mediaBytes).toBe(CHUNK)
    await parts.land()
    expect(progress.mediaBytes).toBe(2 * CHUNK)
    // The last chunk waits for the others, then lands, and the file is checked and handed over.
    const last = intake.chunk(0, 3 * CHUNK, chunk(3))
    await parts.land()
    expect(progress.mediaBytes).toBe(3 * CHUNK)
    while (parts.waiting === 0) await Promise.resolve()
    expect(progress.mediaBytes).toBe(3 * CHUNK)
    await parts.land()
    await last
    await intake.settled()
    expect(progress).toMatchObject({ mediaBytes: file.byteLength, mediaFiles: 1, mediaFilesReceived: 1, mediaBytesReceived: file.byteLength })
    expect(stored).toEqual([sha])
  })
})
