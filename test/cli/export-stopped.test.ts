import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { closeSync, constants, copyFileSync, existsSync, fstatSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'
import { ferry, FERRY, ROOT } from '../helpers/ferry-sync.js'
import { until } from '../helpers/until.js'
import { SqliteChatStore } from '../../src/store/sqlite-store.js'

// `ferry export --media DIR` stopped with Ctrl-C: half the media in a folder reads as an export to
// whoever finds it, so what the export copied goes again, as when it fails, and what was in the folder
// before stays. The export holds after its first copy (FERRY_TEST_HOLD_EXPORT_MEDIA), so the signal
// lands with some media copied and the rest not, deterministically.
// The folders an export made for --out go too, stopped or failed, as an empty folder reads as an export
// that went somewhere; folders that were there stay. A `kill` (SIGTERM) and the terminal closed (SIGHUP)
// stop it as Ctrl-C does, each with its shell's exit code.

const dir = tempDir()
const store = join(dir, 'phone')
const photos = ['the first photo', 'the second photo', 'the third photo'].map(text => ({
  text, sha256: createHash('sha256').update(text).digest('hex')
})).sort((a, b) => a.sha256 < b.sha256 ? -1 : 1)
// Exported in sha256 order: the first is copied before the hold, the last never while it holds.
const [first, , last] = photos

beforeAll(() => {
  const lines: object[] = [
    { type: 'contact', id: 'u1', name: 'Ann' },
    { type: 'conversation', id: 'c1', kind: 'direct', title: 'Ann', members: ['me', 'u1'] }
  ]
  photos.forEach((p, i) => {
    writeFileSync(join(dir, `${i}.jpg`), p.text)
    lines.push({ type: 'media', sha256: p.sha256, size: Buffer.byteLength(p.text), mime: 'image/jpeg', path: `${i}.jpg` })
    lines.push({ type: 'message', conversation: 'c1', id: `m${i}`, sender: 'u1', ts: 1_700_000_000_000 + i, kind: 'image', media: p.sha256 })
  })
  writeFileSync(join(dir, 'history.ndjson'), lines.map(l => JSON.stringify(l)).join('\n') + '\n')
  expect(ferry('import', join(dir, 'history.ndjson'), '--store', store).status).toBe(0)
})

afterAll(() => cleanupTempDirs())

/** Runs `ferry export ARGS`, held after its first media copy; sends `signal` once that copy is in `media`. */
async function stoppedExport (signal: NodeJS.Signals, media: string, ...args: string[]): Promise<{ exit: { code: number | null, signal: NodeJS.Signals | null }, stderr: string }> {
  const child = spawn(process.execPath, [FERRY, 'export', '--store', store, '--media', media, ...args], {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FERRY_TEST_HOLD_EXPORT_MEDIA: '1' }
  })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  child.stdout.resume()
  const closed = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => child.on('close', (code, signal) => resolve({ code, signal })))
  await until('the first media file is copied', () => existsSync(join(media, first.sha256)))
  child.kill(signal)
  return { exit: await closed, stderr }
}

describe.each([['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const)('ferry export --media stopped with %s', (signal, code) => {
  it('takes back the files it copied into a folder that was there, keeps the folder\'s own, writes no FILE', async () => {
    const media = join(dir, signal, 'backup', 'media')
    mkdirSync(media, { recursive: true })
    // The folder as it was: a file of its own, and one of the photos, copied there by an earlier export.
    writeFileSync(join(media, 'notes.txt'), 'mine')
    writeFileSync(join(media, last.sha256), last.text)
    const out = join(dir, signal, 'backup', 'history.ndjson')

    const { exit, stderr } = await stoppedExport(signal, media, '--out', out)
    expect(exit, stderr).toEqual({ code, signal: null })
    expect(stderr).toBe(`\nStopped: nothing was exported (${out} is not written; the media file it copied into ${media} is removed again, what was there before is kept). Run the same export again to export.\n`)
    expect(readdirSync(media).sort()).toEqual([last.sha256, 'notes.txt'].sort())
    expect(readFileSync(join(media, last.sha256), 'utf8')).toBe(last.text)
    expect(readdirSync(join(dir, signal, 'backup')), 'no history.ndjson, nor its copy in the making').toEqual(['media'])

    // The store is as it was: the same export, run again, exports all of it.
    const again = ferry('export', '--store', store, '--out', out, '--media', media)
    expect(again.status, again.stderr).toBe(0)
    expect(readdirSync(media).sort()).toEqual([...photos.map(p => p.sha256), 'notes.txt'].sort())
  })

  it('removes a folder it made, and says the history on stdout is incomplete', async () => {
    const media = join(dir, `new-media-${signal}`)
    const { exit, stderr } = await stoppedExport(signal, media)
    expect(exit, stderr).toEqual({ code, signal: null })
    expect(stderr).toBe(`\nStopped: the history written to standard output is incomplete (the media file it copied into ${media} is removed again, what was there before is kept). Run the same export again to export it whole.\n`)
    expect(existsSync(media)).toBe(false)
  })
})

describe('ferry export --media stopped with Ctrl-C', () => {
  it('removes the folders it made for --out, and never one that was there', async () => {
    const kept = join(dir, 'kept')
    mkdirSync(kept)
    writeFileSync(join(kept, 'mine.txt'), 'mine')
    const out = join(kept, 'new', 'deeper', 'history.ndjson')
    const { exit, stderr } = await stoppedExport('SIGINT', join(dir, 'stopped-media'), '--out', out)
    expect(exit, stderr).toEqual({ code: 130, signal: null })
    expect(readdirSync(kept), 'kept/new is gone, kept and its file stay').toEqual(['mine.txt'])
    expect(existsSync(join(dir, 'stopped-media'))).toBe(false)
  })
})

describe('ferry export that fails', () => {
  it('removes the folders it made for --out, and never one that was there', () => {
    // Media are copied in sha256 order: a folder where the last one goes fails the export after the others.
    const media = join(dir, 'failing-media')
    mkdirSync(join(media, last.sha256), { recursive: true })
    const kept = join(dir, 'kept-on-failure')
    mkdirSync(kept)
    const out = join(kept, 'new', 'deeper', 'history.ndjson')
    const r = ferry('export', '--store', store, '--out', out, '--media', media)
    expect(r.stderr).toMatch(/^ferry: cannot copy media into .*The export failed/)
    expect(r.status).toBe(2)
    expect(readdirSync(kept), 'kept/new is gone, kept stays').toEqual([])
    expect(readdirSync(media)).toEqual([last.sha256])
  })
})

// One large video: a copy made in one synchronous call would hold the Ctrl-C until the whole file is
// copied. The video is a sparse file (a gigabyte of zeros that takes no room on the disk), planted where
// the store keeps its media; the copy is caught in the making by opening its partial file, which the
// test then holds open: once the export has removed it, what it holds tells how far the copy got.
describe('ferry export --media stopped with Ctrl-C in the middle of a large file', () => {
  const VIDEO_BYTES = 1024 * 1024 * 1024
  const big = tempDir()
  const bigStore = join(big, 'phone')
  let sha256 = ''
  let video = ''

  beforeAll(() => {
    const zeros = Buffer.alloc(8 * 1024 * 1024)
    const hash = createHash('sha256')
    for (let n = 0; n < VIDEO_BYTES; n += zeros.byteLength) hash.update(zeros)
    sha256 = hash.digest('hex')
    const lines: object[] = [
      { type: 'contact', id: 'u1', name: 'Ann' },
      { type: 'conversation', id: 'c1', kind: 'direct', title: 'Ann', members: ['me', 'u1'] },
      { type: 'media', sha256, size: VIDEO_BYTES, mime: 'video/mp4' },
      { type: 'message', conversation: 'c1', id: 'm1', sender: 'u1', ts: 1_700_000_000_000, kind: 'video', media: sha256 }
    ]
    writeFileSync(join(big, 'history.ndjson'), lines.map(l => JSON.stringify(l)).join('\n') + '\n')
    const imported = ferry('import', join(big, 'history.ndjson'), '--store', bigStore)
    expect(imported.status, imported.stderr).toBe(0)
    const store = SqliteChatStore.open(bigStore)
    try {
      video = store.mediaPath(sha256)
    } finally {
      store.close()
    }
    mkdirSync(dirname(video), { recursive: true })
    const fd = openSync(video, 'w')
    try { ftruncateSync(fd, VIDEO_BYTES) } finally { closeSync(fd) }
  })

  it('stops in the middle of the copy and takes the partial file away, the store untouched', async (ctx) => {
    // A filesystem that clones (btrfs, XFS, APFS) copies any file at once: there is no middle to stop in.
    let clones = true
    try {
      copyFileSync(video, join(big, 'clone'), constants.COPYFILE_FICLONE_FORCE)
      rmSync(join(big, 'clone'))
    } catch {
      clones = false
    }
    if (clones) ctx.skip('this filesystem clones files: a copy has no middle to stop in')
    const before = statSync(video)
    const records = ferry('export', '--store', bigStore).stdout
    const backup = join(big, 'backup')
    const out = join(backup, 'history.ndjson')
    const media = join(backup, 'media')
    const child = spawn(process.execPath, [FERRY, 'export', '--store', bigStore, '--out', out, '--media', media], {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe']
    })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    child.stdout.resume()
    const closed = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => child.on('close', (code, signal) => resolve({ code, signal })))
    const partial = join(media, `${sha256}.${child.pid ?? 0}.tmp`)
    let held: number | undefined
    try {
      await until('the copy of the video to begin', () => {
        try {
          held = openSync(partial, 'r')
          return true
        } catch {
          return child.exitCode !== null
        }
      })
      expect(held, `no partial copy seen; the export said: ${stderr}`).toBeDefined()
      child.kill('SIGINT')
      expect(await closed, stderr).toEqual({ code: 130, signal: null })
      const copy = fstatSync(held as number)
      expect(copy.nlink, 'the partial copy is removed').toBe(0)
      expect(copy.size, 'stopped before the copy could end').toBeLessThan(VIDEO_BYTES)
    } finally {
      if (held !== undefined) closeSync(held)
      if (child.exitCode === null) child.kill('SIGKILL')
    }
    expect(stderr).toBe(`\nStopped: nothing was exported (${out} is not written). Run the same export again to export.\n`)
    expect(existsSync(backup), 'the folders it made are gone, with nothing partial in them').toBe(false)
    const after = statSync(video)
    expect([after.ino, after.size, after.mtimeMs]).toEqual([before.ino, before.size, before.mtimeMs])
    expect(ferry('export', '--store', bigStore).stdout).toBe(records)
  })
})
