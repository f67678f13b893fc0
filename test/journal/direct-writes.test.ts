// Whole chunks written past the page cache (O_DIRECT) where the disk allows it, several landing at once.
// What a user needs of that: the part holds exactly what was sent, though the receiver reuses a chunk's
// buffer as soon as write() returns; a disk that fills mid-file leaves a part that is a prefix of the
// file (never a hole that a resume would trust) and the file carries on from it once there is room;
// tmpfs, which older kernels refuse direct I/O on and newer ones take it through the page cache, holds
// the same bytes. Real filesystems: the test's temporary directory, /dev/shm, and a small ext4 disk this
// test makes (root only).
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { NodeJournal } from '../../src/journal/node-journal.js'
import { cannotRun } from '../helpers/cannot-run.js'
import { bytesOf, cleanupTempDirs, tempDir } from '../helpers/stores.js'

const CHUNK = 256 * 1024
const O_DIRECT = 0o40000 // Linux's flag, as /proc shows a file's flags (octal)

const journals: NodeJournal[] = []
function journal (dir: string): NodeJournal {
  const j = NodeJournal.open(dir)
  journals.push(j)
  return j
}

afterEach(async () => {
  for (const j of journals.splice(0)) await j.close()
})

const mounts: string[] = []
afterAll(() => {
  for (const m of mounts.splice(0)) {
    try { execFileSync('umount', [m], { stdio: 'pipe' }) } catch { execFileSync('umount', ['-l', m], { stdio: 'pipe' }) }
  }
  cleanupTempDirs()
})

/** Bytes no run of zeros could pass for: a hole in a part reads as zeros. */
function fileBytes (n: number, seed: number): Buffer {
  const out = Buffer.alloc(n)
  let x = seed
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    out[i] = (x >>> 16) | 1
  }
  return out
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

/** Whether this process has `path` open for direct I/O right now. */
function openDirect (path: string): boolean {
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string
    try { target = readlinkSync(`/proc/self/fd/${fd}`) } catch { continue }
    if (target !== path) continue
    const flags = /flags:\s*([0-7]+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1]
    if (flags !== undefined && (parseInt(flags, 8) & O_DIRECT) !== 0) return true
  }
  return false
}

/**
 * Writes `file`'s bytes from `from` to `to` as a receiver does: chunk after chunk through one buffer it
 * overwrites as soon as write() returns, with as many writes unsettled as the part files take. Returns
 * the first failure, after every write has settled.
 */
async function receive (j: NodeJournal, file: Buffer, opts: { from?: number, to?: number, during?: () => void } = {}): Promise<unknown> {
  const digest = sha(file)
  const to = opts.to ?? file.byteLength
  const buffer = Buffer.alloc(CHUNK)
  const unsettled: Array<Promise<unknown>> = []
  let failure: unknown
  const settle = async (p: Promise<unknown>): Promise<void> => { await p.catch(err => { failure ??= err }) }
  for (let at = opts.from ?? 0; at < to && failure === undefined; at += CHUNK) {
    const n = Math.min(CHUNK, to - at)
    file.copy(buffer, 0, at, at + n)
    const written = j.parts.write(digest, at, buffer.subarray(0, n))
    written.catch(() => {}) // heard in turn below; a later write may fail before an earlier settles
    unsettled.push(written)
    buffer.fill(0) // the chunk's buffer is the next chunk's
    opts.during?.()
    while (unsettled.length >= (j.parts.writesAtOnce ?? 1)) await settle(unsettled.shift() as Promise<unknown>)
  }
  for (const p of unsettled) await settle(p)
  return failure
}

describe('media chunks written past the page cache', () => {
  it('land several at once from a buffer reused at once, and the part reads back exactly what was sent', async () => {
    const dir = tempDir()
    const j = journal(dir)
    const file = fileBytes(5 * CHUNK + 1000, 7)
    const part = join(dir, 'journal', 'parts', `${sha(file)}.part`)
    let direct = false
    expect(await receive(j, file, { during: () => { direct ||= openDirect(part) } })).toBeUndefined()
    // Whether they went direct: on a disk that refuses it the rest still holds, and CI=true fails.
    cannotRun('the direct-write check', direct ? undefined : `${dir} is on a filesystem that refuses O_DIRECT`)
    expect(await j.parts.size(sha(file))).toBe(file.byteLength)
    expect((await bytesOf(j.parts.read(sha(file), file.byteLength))).equals(file)).toBe(true)
    // Handed to the store whole: nothing of it still landing.
    const handed = j.parts.handOff(sha(file), file.byteLength, 'video/mp4')
    expect((await bytesOf(handed.stream())).equals(file)).toBe(true)
  })

  it('resumes a part written direct at its length, in a later process', async () => {
    const dir = tempDir()
    const file = fileBytes(6 * CHUNK + 77, 11)
    const digest = sha(file)
    const first = journal(dir)
    expect(await receive(first, file, { to: 3 * CHUNK })).toBeUndefined()
    await first.close()
    const again = journal(dir)
    expect(await again.parts.size(digest)).toBe(3 * CHUNK)
    expect(await receive(again, file, { from: 3 * CHUNK })).toBeUndefined()
    expect((await bytesOf(again.parts.read(digest, file.byteLength))).equals(file)).toBe(true)
  })

  it('tmpfs holds the same bytes, whether its kernel takes direct writes or refuses them', async (ctx) => {
    if (cannotRun('the tmpfs part-file test', readdirSync('/dev').includes('shm') ? undefined : 'no /dev/shm here')) { ctx.skip(); return }
    const dir = tempDir('ferry-test-', '/dev/shm')
    const j = journal(dir)
    const file = fileBytes(3 * CHUNK + 5, 3)
    expect(await receive(j, file)).toBeUndefined()
    expect((await bytesOf(j.parts.read(sha(file), file.byteLength))).equals(file)).toBe(true)
  })

  it('a disk that fills mid-file says so (STORE_FULL), keeps a prefix of the file, and carries on from it once there is room', async (ctx) => {
    const disk = smallExt4()
    if (typeof disk !== 'string') {
      cannotRun('the full-disk part-file test', disk.why)
      ctx.skip()
      return
    }
    // The disk has ~2 MiB free once this filler is there; the file is 4 MiB.
    const filler = join(disk, 'filler')
    const free = (): number => Number(execFileSync('df', ['--output=avail', '-B1', disk]).toString().split('\n')[1])
    writeFileSync(filler, Buffer.alloc(Math.max(0, free() - 2 * 1024 * 1024)))
    const j = journal(join(disk, 'phone'))
    const file = fileBytes(16 * CHUNK + 300, 5)
    const digest = sha(file)
    const failure = await receive(j, file)
    // The file named for apps and logs; the line a person reads says what failed, not a sha256.
    expect(failure).toMatchObject({ code: 'STORE_FULL', message: 'writing a media file as it arrives: the disk is full', details: { sha256: digest } })
    const kept = await j.parts.size(digest)
    expect(kept).toBeLessThan(file.byteLength)
    // What the part holds is the file's start, to its last byte: no hole, nothing else.
    expect((await bytesOf(j.parts.read(digest, kept))).equals(file.subarray(0, kept))).toBe(true)
    rmSync(filler)
    expect(await receive(j, file, { from: kept })).toBeUndefined()
    expect((await bytesOf(j.parts.read(digest, file.byteLength))).equals(file)).toBe(true)
  })
})

/** A 24 MiB ext4 disk mounted for this test, or why not. */
function smallExt4 (): string | { why: string } {
  if (process.getuid?.() !== 0) return { why: 'needs root to mount a small ext4 disk' }
  const dir = tempDir('ferry-direct-disk-')
  const image = join(dir, 'disk.img')
  const mnt = join(dir, 'mnt')
  try {
    execFileSync('truncate', ['-s', '24M', image])
    execFileSync('mkfs.ext4', ['-q', '-F', image], { stdio: 'pipe' })
    execFileSync('mkdir', [mnt])
    execFileSync('mount', ['-o', 'loop', image, mnt], { stdio: 'pipe' })
  } catch (err) {
    return { why: `cannot make a small ext4 disk: ${((err as { stderr?: Buffer }).stderr ?? '').toString().trim() || (err as Error).message}` }
  }
  mounts.push(mnt)
  return mnt
}
