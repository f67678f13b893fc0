import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { ReceivedMedia } from '../../src/store/history.js'
import { SqliteChatStore } from '../../src/store/sqlite-store.js'
import { cleanupTempDirs, keystream, openStore, tempDir } from '../helpers/stores.js'

// The store's content-addressed media folder: files appear under their sha256 only complete and
// correct. Partial files being received are the journal's (test/journal/node-parts.test.ts).

afterEach(() => cleanupTempDirs())

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const bytes = (n: number, seed = 1): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff))

async function * pieces (b: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let o = 0; o < b.byteLength; o += size) yield b.subarray(o, o + size)
}

describe('the media folder', () => {
  it('streams media in under its sha256, fanned out by its first two hex digits', async () => {
    const s = openStore()
    const data = bytes(300_000)
    const { sha256, size } = await s.writeMedia(pieces(data, 65_536))
    expect(sha256).toBe(sha(data))
    expect(size).toBe(300_000)
    expect(s.mediaPath(sha256)).toBe(join(s.dir, 'media', sha256.slice(0, 2), sha256))
    expect(s.hasMediaFile(sha256)).toBe(true)
    expect(Buffer.from(s.readMediaSync(sha256, 1000, 5000)).equals(data.subarray(1000, 6000))).toBe(true)
    expect(s.readMediaSync(sha256, 299_990, 100).byteLength).toBe(10) // short only at the end
    // Nothing is left behind in the working directory.
    expect(readdirSync(join(s.dir, 'media', '.tmp'))).toEqual([])
    s.close()
  })

  it('drops the copies a killed process left in its work folder when the store next opens to write, not to read', async () => {
    const dir = tempDir()
    const s = openStore(dir)
    const kept = await s.writeMedia(pieces(bytes(50_000), 16_384))
    s.close()
    // As `ferry import` killed mid-file leaves it: a copy cut short under a random name.
    const left = join(dir, 'media', '.tmp', '2f1c6a0e-5d7b-4f7e-9a51-0c3f3b7c9d11.tmp')
    writeFileSync(left, bytes(7_000))
    SqliteChatStore.open(dir, { readOnly: true }).close()
    expect(existsSync(left)).toBe(true)
    const again = SqliteChatStore.open(dir)
    expect(readdirSync(join(dir, 'media', '.tmp'))).toEqual([])
    expect(again.hasMediaFile(kept.sha256)).toBe(true)
    again.close()
  })

  it('takes back, at the next open to write, the listed files a writer killed before its commit added, but one a record names', async () => {
    const dir = tempDir()
    const s = openStore(dir)
    const named = bytes(3000, 5)
    const unnamed = bytes(4000, 6)
    // A record the store holds, its file not yet here (as a transfer leaves it until the file comes).
    s.putMetadata([], [], [{ sha256: sha(named), size: named.byteLength, mime: 'image/png' }])
    s.willAddMedia([sha(named), sha(unnamed)])
    await s.writeMedia(pieces(named, 1000))
    await s.writeMedia(pieces(unnamed, 1000))
    // Another user of the store in the same process shares its lock, and may open it meanwhile: the
    // files are still on their way to their records, and stay.
    SqliteChatStore.open(dir).close()
    expect(s.hasMediaFile(sha(unnamed))).toBe(true)
    // Ended as a killed process ends: nothing settled. A reader changes nothing either.
    s.close()
    SqliteChatStore.open(dir, { readOnly: true }).close()
    expect(existsSync(join(dir, 'media', sha(unnamed).slice(0, 2), sha(unnamed)))).toBe(true)
    const again = SqliteChatStore.open(dir)
    expect(again.hasMediaFile(sha(unnamed))).toBe(false)
    expect(again.hasMediaFile(sha(named))).toBe(true)
    expect(readdirSync(join(dir, 'media', '.tmp'))).toEqual([])
    again.close()
  })

  it('writes a large stream without holding it whole', async () => {
    const s = openStore()
    const { sha256, size } = await s.writeMedia(keystream('big', 8 * 1024 * 1024))
    const again = await s.writeMedia(keystream('big', 8 * 1024 * 1024))
    expect(again).toEqual({ sha256, size }) // same content, same single file
    expect(statSync(s.mediaPath(sha256)).size).toBe(8 * 1024 * 1024)
    s.close()
  })

  it('copies a file in only when its sha256 and size are the expected ones', async () => {
    const s = openStore()
    const src = join(tempDir(), 'photo.jpg')
    const data = bytes(1000, 7)
    writeFileSync(src, data)
    await expect(s.addMediaFromFile(src, { sha256: sha(data), size: 999 })).rejects.toMatchObject({ code: 'SIZE_MISMATCH' })
    await expect(s.addMediaFromFile(src, { sha256: 'f'.repeat(64), size: 1000 })).rejects.toMatchObject({ code: 'HASH_MISMATCH' })
    expect(s.hasMediaFile(sha(data))).toBe(false)
    expect(readdirSync(join(s.dir, 'media', '.tmp'))).toEqual([])
    expect(await s.addMediaFromFile(src, { sha256: sha(data), size: 1000 })).toEqual({ sha256: sha(data), size: 1000 })
    expect(readFileSync(s.mediaPath(sha(data))).equals(data)).toBe(true)
    s.close()
  })

  it('removes a file and keeps its record; the same file can come back', async () => {
    const s = openStore()
    const data = bytes(5000, 4)
    const { sha256, size } = await s.writeMedia(pieces(data, 1000))
    s.putMetadata([], [], [{ sha256, size, mime: 'image/png' }])
    expect(s.readMediaSync(sha256, 0, 10).byteLength).toBe(10) // the file is open for reading now
    s.removeMediaFile(sha256)
    expect(s.hasMediaFile(sha256)).toBe(false)
    expect(s.stats()).toMatchObject({ media: 1, mediaMissing: 1, mediaBytesMissing: 5000 })
    await s.writeMedia(pieces(data, 1000))
    expect(Buffer.from(s.readMediaSync(sha256, 0, 5000)).equals(data)).toBe(true)
    s.close()
  })

  it('stores and reads an empty file', async () => {
    const s = openStore()
    const empty = sha(new Uint8Array(0))
    expect(await s.writeMedia(pieces(Buffer.alloc(0), 10))).toEqual({ sha256: empty, size: 0 })
    expect(s.hasMediaFile(empty)).toBe(true)
    expect(s.readMediaSync(empty, 0, 10).byteLength).toBe(0)
    s.removeMediaFile(empty)
    const received: ReceivedMedia = { sha256: empty, size: 0, mime: 'text/plain', bytes: new Uint8Array(0), stream: async function * () {} }
    await s.putMedia(received)
    expect(s.hasMediaFile(empty)).toBe(true)
    s.close()
  })

  it('refuses a name that is not a lowercase sha256 before it reaches a path', async () => {
    const s = openStore()
    const outside = tempDir()
    for (const bad of [`../../../${outside.split('/').pop() as string}/x`, 'A'.repeat(64), 'a'.repeat(63)]) {
      expect(() => s.mediaPath(bad)).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }))
      expect(() => s.readMediaSync(bad, 0, 1)).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }))
      await expect(s.readMedia(bad, 0, 1)).rejects.toMatchObject({ code: 'BAD_INPUT' })
      const data = Buffer.from('not what it claims')
      const path = join(s.dir, 'incoming')
      writeFileSync(path, data)
      const stream = async function * (): AsyncGenerator<Uint8Array> { yield data }
      await expect(s.putMedia({ sha256: bad, size: data.byteLength, mime: 'x/y', bytes: data, stream })).rejects.toMatchObject({ code: 'BAD_INPUT' })
      await expect(s.putMedia({ sha256: bad, size: data.byteLength, mime: 'x/y', path, stream })).rejects.toMatchObject({ code: 'BAD_INPUT' })
      expect(existsSync(path)).toBe(true) // not moved anywhere
    }
    expect(readdirSync(outside)).toEqual([])
    expect(readdirSync(join(s.dir, 'media')).sort()).toEqual(['.tmp'])
    s.close()
  })
})

describe('media presence in bulk', () => {
  it('answers as hasMediaFile does, in order or not, from one listing per fan-out directory', async () => {
    const s = openStore()
    const present: string[] = []
    for (let i = 0; i < 40; i++) present.push((await s.writeMedia(keystream(`p${i}`, 100 + i))).sha256)
    const absent = Array.from({ length: 40 }, (_, i) => createHash('sha256').update(`absent ${i}`).digest('hex'))
    // A directory where a file's name would be, and a local copy cut short in .tmp, are not media files.
    const notAFile = createHash('sha256').update('a directory').digest('hex')
    mkdirSync(s.mediaPath(notAFile), { recursive: true })
    const cut = createHash('sha256').update('cut').digest('hex')
    writeFileSync(join(s.dir, 'media', '.tmp', cut), 'cut short')
    const all = [...present, ...absent, notAFile, cut].sort()
    const has = s.mediaPresence()
    for (const h of all) expect(has(h), h).toBe(s.hasMediaFile(h))
    const again = s.mediaPresence()
    for (const h of [...all].reverse()) expect(again(h), h).toBe(present.includes(h))
    s.close()
  })
})
