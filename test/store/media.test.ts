import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync, appendFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { SqliteChatStore } from '../../src/store/sqlite-store.js'
import { cleanupTempDirs, keystream, openStore, tempDir } from '../helpers/stores.js'

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
    expect(Buffer.from(s.readMedia(sha256, 1000, 5000)).equals(data.subarray(1000, 6000))).toBe(true)
    expect(s.readMedia(sha256, 299_990, 100).byteLength).toBe(10) // short only at the end
    // Nothing is left behind in the working directories.
    expect(readdirSync(join(s.dir, 'media', '.tmp'))).toEqual([])
    s.close()
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

  it('refuses a name that is not a lowercase sha256 before it reaches a path', () => {
    const s = openStore()
    for (const bad of ['../../etc/passwd', 'A'.repeat(64), 'a'.repeat(63)]) {
      expect(() => s.mediaPath(bad)).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }))
      expect(() => s.appendPart(bad, 0, new Uint8Array(1))).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }))
    }
    s.close()
  })
})

describe('media presence in bulk', () => {
  it('answers as hasMediaFile does, in order or not, from one listing per fan-out directory', async () => {
    const s = openStore()
    const present: string[] = []
    for (let i = 0; i < 40; i++) present.push((await s.writeMedia(keystream(`p${i}`, 100 + i))).sha256)
    const absent = Array.from({ length: 40 }, (_, i) => createHash('sha256').update(`absent ${i}`).digest('hex'))
    // A complete part not yet promoted, and a directory entry that is not a file, are not media files.
    const part = createHash('sha256').update('part').digest('hex')
    s.appendPart(part, 0, new Uint8Array([1, 2, 3]))
    const all = [...present, ...absent, part].sort()
    const has = s.mediaPresence()
    for (const sha of all) expect(has(sha), sha).toBe(s.hasMediaFile(sha))
    const again = s.mediaPresence()
    for (const sha of [...all].reverse()) expect(again(sha), sha).toBe(present.includes(sha))
    // A resume asks partLength only about these.
    expect(s.partials()).toEqual(new Set([part]))
    s.close()
  })
})

describe('partial media (.part files)', () => {
  const data = bytes(100_000, 3)
  const digest = sha(data)

  it('appends at the committed length, hashes, and promotes into the folder', async () => {
    const s = openStore()
    expect(s.partLength(digest)).toBe(0)
    s.appendPart(digest, 0, data.subarray(0, 40_000))
    s.appendPart(digest, 40_000, data.subarray(40_000, 70_000))
    expect(s.partLength(digest)).toBe(70_000)
    expect(s.partDigest(digest)).toBe(sha(data.subarray(0, 70_000)))
    s.appendPart(digest, 70_000, data.subarray(70_000))
    expect(s.partDigest(digest)).toBe(digest)
    expect(s.parts()).toEqual([{ sha256: digest, length: 100_000 }])
    expect(s.hasMediaFile(digest)).toBe(false)
    s.promotePart(digest)
    expect(s.hasMediaFile(digest)).toBe(true)
    await s.flushMedia()
    expect(readFileSync(s.mediaPath(digest)).equals(data)).toBe(true)
    expect(s.parts()).toEqual([])
    expect(existsSync(join(s.dir, 'media', '.part', `${digest}.part`))).toBe(false)
    s.close()
  })

  it('refuses an append anywhere but at the committed length', () => {
    const s = openStore()
    s.appendPart(digest, 0, data.subarray(0, 10))
    expect(() => s.appendPart(digest, 5, data.subarray(5, 20))).toThrow(expect.objectContaining({ code: 'ORDER' }))
    expect(() => s.appendPart(digest, 11, data.subarray(11, 20))).toThrow(expect.objectContaining({ code: 'ORDER' }))
    expect(() => s.appendPart('e'.repeat(64), 1, data.subarray(0, 1))).toThrow(expect.objectContaining({ code: 'ORDER' }))
    expect(s.partLength(digest)).toBe(10)
    s.close()
  })

  it('drops a tail that was written but never committed (a crash between write and record)', async () => {
    const dir = tempDir()
    let s = SqliteChatStore.open(dir, { create: true })
    s.appendPart(digest, 0, data.subarray(0, 30_000))
    s.close()
    // The bytes of a next chunk reached the file, its length never reached the database.
    const part = join(dir, 'media', '.part', `${digest}.part`)
    appendFileSync(part, data.subarray(30_000, 50_000))
    s = SqliteChatStore.open(dir)
    expect(s.partLength(digest)).toBe(30_000)
    expect(statSync(part).size).toBe(30_000)
    // A new process has no running hash: the digest comes from the committed bytes on disk.
    expect(s.partDigest(digest)).toBe(sha(data.subarray(0, 30_000)))
    s.appendPart(digest, 30_000, data.subarray(30_000))
    expect(s.partDigest(digest)).toBe(digest)
    s.promotePart(digest)
    await s.flushMedia()
    expect(readFileSync(s.mediaPath(digest)).equals(data)).toBe(true)
    s.close()
  })

  it('overwrites an uncommitted tail when appending without asking the length first', () => {
    const dir = tempDir()
    const s = SqliteChatStore.open(dir, { create: true })
    s.appendPart(digest, 0, data.subarray(0, 1000))
    appendFileSync(join(dir, 'media', '.part', `${digest}.part`), Buffer.alloc(5000, 0xee))
    s.appendPart(digest, 1000, data.subarray(1000))
    expect(s.partDigest(digest)).toBe(digest)
    s.close()
  })

  it('keeps what remains valid when the file lost bytes its record claims', () => {
    const dir = tempDir()
    const s = SqliteChatStore.open(dir, { create: true })
    s.appendPart(digest, 0, data.subarray(0, 1000))
    truncateSync(join(dir, 'media', '.part', `${digest}.part`), 600)
    expect(s.partLength(digest)).toBe(600)
    expect(s.partDigest(digest)).toBe(sha(data.subarray(0, 600)))
    s.close()
  })

  it('discards a part and its record', () => {
    const s = openStore()
    s.appendPart(digest, 0, data.subarray(0, 1000))
    s.discardPart(digest)
    expect(s.partLength(digest)).toBe(0)
    expect(s.parts()).toEqual([])
    expect(existsSync(join(s.dir, 'media', '.part', `${digest}.part`))).toBe(false)
    s.appendPart(digest, 0, data) // starts over cleanly
    expect(s.partDigest(digest)).toBe(digest)
    s.close()
  })

  it('knows the parts an earlier process recorded, and forgets one when its file then comes whole', async () => {
    const dir = tempDir()
    const other = bytes(50_000, 9)
    const first = SqliteChatStore.open(dir, { create: true })
    first.appendPart(digest, 0, data.subarray(0, 30_000))
    first.appendPart(sha(other), 0, other.subarray(0, 10_000))
    first.close()
    const s = SqliteChatStore.open(dir)
    // Asked without a listing first: the lengths come from what the store read when it opened.
    expect(() => s.appendPart(digest, 0, data)).toThrow(/30000 bytes are committed/)
    expect(s.partials()).toEqual(new Set([digest, sha(other)]))
    s.putWholeMedia(digest, data)
    await s.flushMedia()
    expect(s.parts()).toEqual([{ sha256: sha(other), length: 10_000 }])
    expect(readFileSync(s.mediaPath(digest)).equals(data)).toBe(true)
    s.appendPart(sha(other), 10_000, other.subarray(10_000))
    expect(s.partDigest(sha(other))).toBe(sha(other))
    s.close()
  })

  it('handles an empty media file', async () => {
    const s = openStore()
    const empty = sha(new Uint8Array(0))
    s.appendPart(empty, 0, new Uint8Array(0))
    expect(s.partDigest(empty)).toBe(empty)
    s.promotePart(empty)
    await s.flushMedia()
    expect(s.hasMediaFile(empty)).toBe(true)
    expect(s.readMedia(empty, 0, 10).byteLength).toBe(0)
    s.close()
  })
})
