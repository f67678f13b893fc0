import { execFileSync, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'
import { ferry, FERRY, ROOT } from '../helpers/ferry-sync.js'
import { until } from '../helpers/until.js'

// `ferry import` stopped with Ctrl-C half way: an import is all or nothing, and a person who stops one
// is told what it left. Its history arrives on stdin, so the test holds it half read, deterministically.
// A `kill` (SIGTERM) and the terminal closed (SIGHUP) stop it as Ctrl-C does, each with its shell's code.

const FIXTURE = join(ROOT, 'test', 'fixtures', 'edge-cases.ndjson')

afterAll(() => cleanupTempDirs())

describe.each([['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const)('ferry import stopped with %s', (signal, code) => {
  it(`leaves no half-made store behind, says so and exits ${code}`, async () => {
    const store = join(tempDir(), 'new-phone')
    // --base: the media the first half names are found, so the import takes that half and waits for the
    // rest, rather than refusing a line before the Ctrl-C comes.
    const child = spawn(process.execPath, [FERRY, 'import', '-', '--store', store, '--base', dirname(FIXTURE)], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const closed = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => child.on('close', (code, signal) => resolve({ code, signal })))
    const lines = readFileSync(FIXTURE, 'utf8').split('\n')
    // Half the history in, the pipe left open: the import has made its store and waits for the rest.
    child.stdin.write(lines.slice(0, lines.length / 2).join('\n') + '\n')
    await until('the store is made', () => existsSync(join(store, 'history.db')))
    child.kill(signal)
    const exit = await closed
    child.stdin.destroy()
    expect(exit, stderr).toEqual({ code, signal: null })
    expect(stderr).toBe(`\nStopped: nothing was imported (the new store ${store} is removed). Run the same import again to import it.\n`)
    expect(existsSync(store)).toBe(false)
  })
})

type MediaFile = { path: string, sha256: string, size: number }

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex')

/** Files in `dir` to import: a photo of `text`, and an export whose chat shows each of `media`. */
function exportFiles (dir: string): { file: (name: string, text: string) => MediaFile, ndjson: (name: string, media: MediaFile[]) => string } {
  const file = (name: string, text: string): MediaFile => {
    const path = join(dir, name)
    writeFileSync(path, text)
    return { path, sha256: sha(text), size: Buffer.byteLength(text) }
  }
  const ndjson = (name: string, media: MediaFile[]): string => {
    const path = join(dir, name)
    writeFileSync(path, [
      { type: 'contact', id: 'u1', name: 'Ann' },
      { type: 'conversation', id: 'c1', kind: 'direct', title: 'Ann', members: ['me', 'u1'] },
      ...media.map(m => ({ type: 'media', sha256: m.sha256, size: m.size, mime: 'image/jpeg', path: m.path })),
      ...media.map((m, i) => ({ type: 'message', conversation: 'c1', id: `${name}-${i}`, sender: 'u1', ts: 1_700_000_000_000 + i, kind: 'image', media: m.sha256 }))
    ].map(l => JSON.stringify(l)).join('\n') + '\n')
    return path
  }
  return { file, ndjson }
}

describe('ferry import stopped with Ctrl-C into a store that was there', () => {
  it('removes the media files it copied, and none that was there before or that a record names', async () => {
    const dir = tempDir()
    const store = join(dir, 'phone')
    const { file, ndjson } = exportFiles(dir)
    // The store as it was: a photo it holds, and one whose record came without its file (as a transfer
    // that has not brought it yet leaves it).
    const held = file('held.jpg', 'a photo the store holds')
    const awaited = file('awaited.jpg', 'a photo the store has a record of, not the file')
    expect(ferry('import', ndjson('before.ndjson', [held, awaited]), '--store', store).status).toBe(0)
    const mediaPath = (s: string): string => join(store, 'media', s.slice(0, 2), s)
    rmSync(mediaPath(awaited.sha256))

    // The import to stop: it brings both again, a new photo, and last an empty file read from a FIFO, whose
    // copy waits on the test: the photos before it are in media/ by then, its transaction not committed.
    const added = file('new.jpg', 'a photo only this import brings')
    const fifo = join(dir, 'empty.fifo')
    execFileSync('mkfifo', [fifo])
    const empty = { path: fifo, sha256: sha(Buffer.alloc(0)), size: 0 }
    const child = spawn(process.execPath, [FERRY, 'import', ndjson('stopped.ndjson', [held, awaited, added, empty]), '--store', store], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const closed = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => child.on('close', (code, signal) => resolve({ code, signal })))
    // Read once to check it (an empty file), then, once the photos before it are copied, opened again to
    // copy it: that open, held without a byte, keeps the import waiting there for the Ctrl-C.
    await (await open(fifo, 'w')).close()
    await until('the photos before the FIFO are copied', () => existsSync(mediaPath(added.sha256)))
    const copying = await open(fifo, 'w')
    child.kill('SIGINT')
    // Ended at once, though the FIFO's writer is still there and has not written a byte: Ctrl-C does not
    // wait for a read that may never end.
    const exit = await closed
    await copying.close()
    expect(exit, stderr).toEqual({ code: 130, signal: null })
    expect(stderr).toBe('\nStopped: nothing was imported. Run the same import again to import it.\n')

    expect(existsSync(mediaPath(added.sha256)), 'the new photo, which no record names').toBe(false)
    expect(existsSync(mediaPath(empty.sha256)), 'the file it was copying').toBe(false)
    expect(existsSync(mediaPath(held.sha256)), 'a file the store held before').toBe(true)
    expect(existsSync(mediaPath(awaited.sha256)), 'a file a record the store held names').toBe(true)
    expect(readdirSync(join(store, 'media', '.tmp'))).toEqual([])
    // And the records are as they were: the stopped import's messages are not there.
    const exported = ferry('export', '--store', store)
    expect(exported.stdout).toContain('before.ndjson-1')
    expect(exported.stdout).not.toContain('stopped.ndjson')
  })
})

describe('ferry import killed outright (SIGKILL, a power cut)', () => {
  it('leaves its media files to the next writer of the store, which removes those no record names', async () => {
    const dir = tempDir()
    const store = join(dir, 'phone')
    const { file, ndjson } = exportFiles(dir)
    const mediaPath = (s: string): string => join(store, 'media', s.slice(0, 2), s)
    const mediaFiles = (): string[] => readdirSync(join(store, 'media')).filter(d => /^[0-9a-f]{2}$/.test(d))
      .flatMap(d => readdirSync(join(store, 'media', d))).sort()
    // The store as it was: a photo it holds, and one whose record came without its file.
    const held = file('held.jpg', 'a photo the store holds')
    const awaited = file('awaited.jpg', 'a photo the store has a record of, not the file')
    expect(ferry('import', ndjson('before.ndjson', [held, awaited]), '--store', store).status).toBe(0)
    rmSync(mediaPath(awaited.sha256))

    // Killed while copying its last media file, read from a FIFO the test holds open without a byte: the
    // files before it are complete in media/, its transaction never committed, and no handler runs.
    const added = file('new.jpg', 'a photo only this import brings')
    const also = file('also-new.jpg', 'another photo only this import brings')
    const fifo = join(dir, 'empty.fifo')
    execFileSync('mkfifo', [fifo])
    const empty = { path: fifo, sha256: sha(Buffer.alloc(0)), size: 0 }
    const exportFile = ndjson('killed.ndjson', [held, awaited, added, also, empty])
    const child = spawn(process.execPath, [FERRY, 'import', exportFile, '--store', store], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    const closed = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => child.on('close', (code, signal) => resolve({ code, signal })))
    await (await open(fifo, 'w')).close()
    await until('the photos before the FIFO are copied', () => existsSync(mediaPath(also.sha256)))
    const copying = await open(fifo, 'w')
    child.kill('SIGKILL')
    expect(await closed).toEqual({ code: null, signal: 'SIGKILL' })
    await copying.close()
    expect(mediaFiles(), 'what the killed import left').toEqual([held, awaited, added, also].map(f => f.sha256).sort())
    // A reader removes nothing, but says what is there and what will remove it.
    const inspected = ferry('inspect', '--store', store)
    expect(inspected.stdout).toContain(`  2 media files (${added.size + also.size} B) left by an import or seed that was killed, named by no record: ` +
      'the next command that writes the store (import, seed, receive, restore) removes them')
    expect(mediaFiles()).toHaveLength(4)

    // The next command that writes the store (here an import without media) takes back what no record
    // names, and keeps the file a record the store held names, though the killed import brought it.
    const text = join(dir, 'text.ndjson')
    writeFileSync(text, [
      { type: 'conversation', id: 'c2', kind: 'direct', title: 'Bo', members: ['me', 'u2'] },
      { type: 'message', conversation: 'c2', id: 't1', sender: 'u2', ts: 1_700_000_000_000, kind: 'text', text: 'hi' }
    ].map(l => JSON.stringify(l)).join('\n') + '\n')
    const next = ferry('import', text, '--store', store)
    expect(next.status, next.stderr).toBe(0)
    expect(mediaFiles(), 'the files records name').toEqual([held, awaited].map(f => f.sha256).sort())
    expect(readdirSync(join(store, 'media', '.tmp'))).toEqual([])
    expect(ferry('export', '--store', store).stdout).not.toContain('killed.ndjson')

    // And the same export imports whole afterwards (its last file a plain file now, empty as before).
    rmSync(fifo)
    writeFileSync(fifo, '')
    const again = ferry('import', exportFile, '--store', store)
    expect(again.status, again.stderr).toBe(0)
    expect(mediaFiles()).toEqual([held, awaited, added, also, empty].map(f => f.sha256).sort())
    expect(ferry('export', '--store', store).stdout).toContain('killed.ndjson-4')
  })
})
