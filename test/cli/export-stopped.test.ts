import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'
import { ferry, FERRY, ROOT } from '../helpers/ferry-sync.js'
import { until } from '../helpers/until.js'

// `ferry export --media DIR` stopped with Ctrl-C: half the media in a folder reads as an export to
// whoever finds it, so what the export copied goes again, as when it fails, and what was in the folder
// before stays. The export holds after its first copy (FERRY_TEST_HOLD_EXPORT_MEDIA), so the signal
// lands with some media copied and the rest not, deterministically.
// The folders an export made for --out go too, stopped or failed, as an empty folder reads as an export
// that went somewhere; folders that were there stay.

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

/** Runs `ferry export ARGS`, held after its first media copy; sends Ctrl-C once that copy is in `media`. */
async function stoppedExport (media: string, ...args: string[]): Promise<{ exit: { code: number | null, signal: NodeJS.Signals | null }, stderr: string }> {
  const child = spawn(process.execPath, [FERRY, 'export', '--store', store, '--media', media, ...args], {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FERRY_TEST_HOLD_EXPORT_MEDIA: '1' }
  })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  child.stdout.resume()
  const closed = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => child.on('close', (code, signal) => resolve({ code, signal })))
  await until('the first media file is copied', () => existsSync(join(media, first.sha256)))
  child.kill('SIGINT')
  return { exit: await closed, stderr }
}

describe('ferry export --media stopped with Ctrl-C', () => {
  it('takes back the files it copied into a folder that was there, keeps the folder\'s own, writes no FILE', async () => {
    const media = join(dir, 'backup', 'media')
    mkdirSync(media, { recursive: true })
    // The folder as it was: a file of its own, and one of the photos, copied there by an earlier export.
    writeFileSync(join(media, 'notes.txt'), 'mine')
    writeFileSync(join(media, last.sha256), last.text)
    const out = join(dir, 'backup', 'history.ndjson')

    const { exit, stderr } = await stoppedExport(media, '--out', out)
    expect(exit, stderr).toEqual({ code: 130, signal: null })
    expect(stderr).toBe(`\nStopped: nothing was exported (${out} is not written; the media file it copied into ${media} is removed again, what was there before is kept). Run the same export again to export.\n`)
    expect(readdirSync(media).sort()).toEqual([last.sha256, 'notes.txt'].sort())
    expect(readFileSync(join(media, last.sha256), 'utf8')).toBe(last.text)
    expect(readdirSync(join(dir, 'backup')), 'no history.ndjson, nor its copy in the making').toEqual(['media'])

    // The store is as it was: the same export, run again, exports all of it.
    const again = ferry('export', '--store', store, '--out', out, '--media', media)
    expect(again.status, again.stderr).toBe(0)
    expect(readdirSync(media).sort()).toEqual([...photos.map(p => p.sha256), 'notes.txt'].sort())
  })

  it('removes a folder it made, and says the history on stdout is incomplete', async () => {
    const media = join(dir, 'new-media')
    const { exit, stderr } = await stoppedExport(media)
    expect(exit, stderr).toEqual({ code: 130, signal: null })
    expect(stderr).toBe(`\nStopped: the history written to standard output is incomplete (the media file it copied into ${media} is removed again, what was there before is kept). Run the same export again to export it whole.\n`)
    expect(existsSync(media)).toBe(false)
  })

  it('removes the folders it made for --out, and never one that was there', async () => {
    const kept = join(dir, 'kept')
    mkdirSync(kept)
    writeFileSync(join(kept, 'mine.txt'), 'mine')
    const out = join(kept, 'new', 'deeper', 'history.ndjson')
    const { exit, stderr } = await stoppedExport(join(dir, 'stopped-media'), '--out', out)
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
