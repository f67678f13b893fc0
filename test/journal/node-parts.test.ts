import { createHash } from 'node:crypto'
import { existsSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { NodeJournal } from '../../src/journal/node-journal.js'
import { bytesOf, cleanupTempDirs, openStore, tempDir } from '../helpers/stores.js'

// Partial media files in the journal's folder (<store>/journal/parts): written chunk by chunk, cut back
// to their committed length, read back to hash, and handed whole to the store.

const journals: NodeJournal[] = []
function journal (dir = tempDir()): NodeJournal {
  const j = NodeJournal.open(dir)
  journals.push(j)
  return j
}

afterEach(async () => {
  for (const j of journals.splice(0)) await j.close()
  cleanupTempDirs()
})

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const bytes = (n: number, seed = 1): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff))

describe('partial media files', () => {
  const data = bytes(100_000, 3)
  const digest = sha(data)

  it('grows chunk by chunk, and reads back any prefix', async () => {
    const { parts } = journal()
    expect(await parts.size(digest)).toBe(0)
    await parts.write(digest, 0, data.subarray(0, 40_000))
    await parts.write(digest, 40_000, data.subarray(40_000, 70_000))
    expect(await parts.size(digest)).toBe(70_000)
    expect((await bytesOf(parts.read(digest, 70_000))).equals(data.subarray(0, 70_000))).toBe(true)
    expect((await bytesOf(parts.read(digest, 1234))).equals(data.subarray(0, 1234))).toBe(true)
    expect((await bytesOf(parts.read(digest, 0))).byteLength).toBe(0)
    await parts.write(digest, 70_000, data.subarray(70_000))
    expect((await bytesOf(parts.read(digest, 100_000))).equals(data)).toBe(true)
    expect(await parts.list()).toEqual([digest])
  })

  it('refuses to read more than is there', async () => {
    const { parts } = journal()
    await parts.write(digest, 0, data.subarray(0, 10))
    await expect(bytesOf(parts.read(digest, 11))).rejects.toMatchObject({ code: 'STORE', message: expect.stringContaining('shorter than its committed 11 bytes') })
  })

  it('refuses a write past its end, which would leave a hole inside what a resume trusts', async () => {
    const dir = tempDir()
    const first = journal(dir)
    await first.parts.write(digest, 0, data.subarray(0, 10_000))
    await expect(first.parts.write(digest, 12_000, data.subarray(12_000, 20_000))).rejects.toMatchObject({ code: 'STORE', message: expect.stringContaining('would leave a gap after its 10000 bytes') })
    await first.close()
    // The same for a part an earlier process left.
    const again = journal(dir)
    await expect(again.parts.write(digest, 10_001, data.subarray(10_001, 20_000))).rejects.toMatchObject({ code: 'STORE' })
    expect(await again.parts.size(digest)).toBe(10_000)
    await again.parts.write(digest, 10_000, data.subarray(10_000))
    expect((await bytesOf(again.parts.read(digest, 100_000))).equals(data)).toBe(true)
  })

  it('cuts a longer part where a write starts, in this process or after a crash', async () => {
    const dir = tempDir()
    const first = journal(dir)
    await first.parts.write(digest, 0, data.subarray(0, 30_000))
    // A write back at an earlier length must not leave the part's old end behind.
    await first.parts.write(digest, 30_000, Buffer.alloc(20_000, 0xee))
    await first.parts.write(digest, 30_000, data.subarray(30_000, 40_000))
    expect(await first.parts.size(digest)).toBe(40_000)
    await first.close()
    // The same after a crash: a tail is on disk, the next process writes at an earlier length.
    writeFileSync(join(dir, 'journal', 'parts', `${digest}.part`), Buffer.alloc(5000, 0xee), { flag: 'a' })
    const again = journal(dir)
    await again.parts.write(digest, 40_000, data.subarray(40_000))
    expect((await bytesOf(again.parts.read(digest, 100_000))).equals(data)).toBe(true)
    expect(await again.parts.size(digest)).toBe(100_000)
    await again.close()
    // A file begun again from its start, over a longer one an earlier process left: nothing of it stays.
    const third = journal(dir)
    await third.parts.write(digest, 0, data.subarray(0, 10))
    expect(await third.parts.size(digest)).toBe(10)
    expect((await bytesOf(third.parts.read(digest, 10))).equals(data.subarray(0, 10))).toBe(true)
  })

  it('cuts a file to a length, and carries on from there', async () => {
    const { parts } = journal()
    await parts.write(digest, 0, data.subarray(0, 1000))
    await parts.truncate(digest, 600)
    expect(await parts.size(digest)).toBe(600)
    await parts.write(digest, 600, data.subarray(600))
    expect((await bytesOf(parts.read(digest, 100_000))).equals(data)).toBe(true)
  })

  it('never cuts through a link planted where a part goes: refused, and the file it names untouched', async () => {
    const { parts } = journal()
    const victim = join(tempDir(), 'victim')
    writeFileSync(victim, data)
    symlinkSync(victim, parts.path(digest))
    await expect(parts.truncate(digest, 10)).rejects.toMatchObject({ code: 'STORE' })
    expect(readFileSync(victim).equals(data)).toBe(true)
  })

  it('hands a finished file to the store, which moves it into its media folder', async () => {
    const store = openStore()
    const { parts } = journal(store.dir)
    await parts.write(digest, 0, data.subarray(0, 50_000))
    await parts.write(digest, 50_000, data.subarray(50_000))
    const file = parts.handOff(digest, data.byteLength, 'video/mp4')
    expect(file).toMatchObject({ sha256: digest, size: 100_000, mime: 'video/mp4' })
    expect((await bytesOf(file.stream())).equals(data)).toBe(true)
    await store.putMedia(file)
    expect(readFileSync(store.mediaPath(digest)).equals(data)).toBe(true)
    expect(await parts.list()).toEqual([])
    expect(await parts.size(digest)).toBe(0)
    store.close()
  })

  it('removes a file, and starts it over cleanly', async () => {
    const { parts } = journal()
    await parts.write(digest, 0, data.subarray(0, 1000))
    await parts.remove(digest)
    await parts.remove(digest) // gone already: no error
    expect(await parts.size(digest)).toBe(0)
    expect(await parts.list()).toEqual([])
    await parts.write(digest, 0, data)
    expect((await bytesOf(parts.read(digest, 100_000))).equals(data)).toBe(true)
  })

  it('lists only partial media files, from an earlier process too', async () => {
    const dir = tempDir()
    const first = journal(dir)
    const other = sha(bytes(10, 9))
    const empty = sha(new Uint8Array(0))
    await first.parts.write(digest, 0, data.subarray(0, 10))
    await first.parts.write(other, 0, bytes(5, 9))
    await first.parts.write(empty, 0, new Uint8Array(0))
    await first.close()
    const folder = join(dir, 'journal', 'parts')
    for (const stray of ['notes.txt', 'abc.part', `${'A'.repeat(64)}.part`]) writeFileSync(join(folder, stray), 'x')
    const again = journal(dir)
    expect((await again.parts.list()).sort()).toEqual([digest, other, empty].sort())
    expect(await again.parts.size(empty)).toBe(0)
    expect(existsSync(join(folder, `${empty}.part`))).toBe(true)
  })

  it('keeps its files to their user, and refuses a name that is not a sha256', async () => {
    const { parts } = journal()
    await parts.write(digest, 0, data.subarray(0, 10))
    expect(statSync(join(parts.root, `${digest}.part`)).mode & 0o077).toBe(0)
    for (const bad of ['../../x', 'A'.repeat(64), 'a'.repeat(63)]) {
      await expect(parts.write(bad, 0, data.subarray(0, 1))).rejects.toMatchObject({ code: 'BAD_INPUT' })
      await expect(parts.size(bad)).rejects.toMatchObject({ code: 'BAD_INPUT' })
      await expect(parts.remove(bad)).rejects.toMatchObject({ code: 'BAD_INPUT' })
      expect(() => parts.handOff(bad, 1, 'x/y')).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }))
    }
  })
})
