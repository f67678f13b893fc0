import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { cannotRun } from '../helpers/cannot-run.js'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'

// A received photo is stored once putMedia resolves: the old phone may be wiped after "verified". Its
// bytes are synced before its rename, but the rename itself is on disk only once its directory is
// synced (XFS, btrfs and f2fs may bring the file back under its old name after a power cut), and a
// fan-out directory made for it only once the media root is. A power cut cannot be staged here; the
// system calls can be watched: a real MediaFolder in a child process under strace, which must sync
// (fsync the directory, or syncfs the filesystem) after each rename and each new fan-out directory,
// before it says the file is stored.

afterAll(() => cleanupTempDirs())

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const MEDIA_FOLDER = join(ROOT, 'src/store/media-folder.ts')

const straceWorks = spawnSync('strace', ['-qq', '-e', 'trace=none', 'true']).status === 0
const skip = cannotRun('the media durability trace', straceWorks ? undefined : 'strace is missing or may not trace here (apt-get install strace)')

interface Call { name: string, args: string, ok: boolean, start: number, end: number }

/** strace -f output as calls in completion order, each with where it started and ended in the trace. */
function parseTrace (text: string): Call[] {
  const calls: Call[] = []
  const open = new Map<string, { name: string, args: string, start: number }>()
  text.split('\n').forEach((line, n) => {
    const m = /^(\d+)\s+(.*)$/.exec(line)
    if (m === null) return
    const [, pid, rest] = m
    const unfinished = /^(\w+)\((.*) <unfinished \.\.\.>$/.exec(rest)
    if (unfinished !== null) { open.set(pid, { name: unfinished[1], args: unfinished[2], start: n }); return }
    const resumed = /^<\.\.\. (\w+) resumed>(.*)\) += (-?\d+)/.exec(rest)
    if (resumed !== null) {
      const o = open.get(pid)
      open.delete(pid)
      if (o !== undefined) calls.push({ name: o.name, args: o.args + resumed[2], ok: resumed[3] === '0', start: o.start, end: n })
      return
    }
    const whole = /^(\w+)\((.*)\) += (-?\d+)/.exec(rest)
    if (whole !== null) calls.push({ name: whole[1], args: whole[2], ok: whole[3] === '0', start: n, end: n })
  })
  return calls
}

const quoted = (args: string): string[] => [...args.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map(m => m[1])
/** The path strace -y printed for a call's file descriptor argument. */
const fdPath = (args: string): string | undefined => /^\d+<(.*)>$/.exec(args.trim())?.[1]

/**
 * For each rename into `folder`'s fan-out directories and each fan-out directory made there between
 * `from` and the marker, whether a sync of its directory (or of the whole filesystem) started after it
 * and ended before the marker: the names that would not survive a power cut.
 */
function unsyncedNames (calls: Call[], folder: string, marker: string): { renamed: number, made: number, unsynced: string[] } {
  const at = calls.find(c => c.name.startsWith('access') || c.name.startsWith('faccessat') ? quoted(c.args).includes(marker) : false)
  if (at === undefined) throw new Error(`the script never reached ${marker}`)
  const syncs = calls.filter(c => c.ok && (c.name === 'fsync' || c.name === 'fdatasync' || c.name === 'syncfs') && c.end < at.start)
  const syncedAfter = (dir: string, after: number): boolean =>
    syncs.some(s => s.start > after && (s.name === 'syncfs' || fdPath(s.args) === dir))
  const unsynced: string[] = []
  let renamed = 0
  let made = 0
  for (const c of calls) {
    if (!c.ok || c.end > at.start) continue
    const target = quoted(c.args).at(-1)
    if (target === undefined || !target.startsWith(folder + '/') || target.includes('/.tmp/')) continue
    if (c.name.startsWith('rename')) {
      renamed++
      if (!syncedAfter(join(target, '..'), c.end)) unsynced.push(`rename to ${target.slice(folder.length)}`)
    } else if (c.name.startsWith('mkdir') && /^[0-9a-f]{2}$/.test(target.slice(folder.length + 1))) {
      made++
      if (!syncedAfter(folder, c.end)) unsynced.push(`mkdir ${target.slice(folder.length)}`)
    }
  }
  return { renamed, made, unsynced }
}

describe.skipIf(skip)('a media file stored', () => {
  it('has its name and its fan-out directory synced before it counts as stored, in every way a file comes in', () => {
    const dir = tempDir()
    const script = join(dir, 'adopt.mts')
    // Three folders, one way each: a few received files (each fsynced alone), a group large enough
    // for syncfs, and a local copy (write). After each, the marker's access() says "stored".
    writeFileSync(script, `
      import { accessSync, mkdirSync, writeFileSync } from 'node:fs'
      import { createHash } from 'node:crypto'
      import { join } from 'node:path'
      import { MediaFolder } from ${JSON.stringify(MEDIA_FOLDER)}
      const dir = ${JSON.stringify(dir)}
      const marker = join(dir, 'marker')
      writeFileSync(marker, '')
      const sha = b => createHash('sha256').update(b).digest('hex')
      async function received (name, n) {
        const folder = new MediaFolder(join(dir, name))
        mkdirSync(join(dir, name + '-in'))
        const files = Array.from({ length: n }, (_, i) => Buffer.from(name + ' photo ' + i))
        await Promise.all(files.map((f, i) => {
          if (i % 2 === 1) return folder.adoptBytes(sha(f), f)
          const p = join(dir, name + '-in', sha(f))
          writeFileSync(p, f)
          return folder.adopt(p, sha(f))
        }))
        accessSync(marker + '-' + name)
        folder.close()
      }
      for (const n of ['few', 'many', 'copied']) writeFileSync(marker + '-' + n, '')
      await received('few', 3)
      await received('many', 64)
      const folder = new MediaFolder(join(dir, 'copied'))
      const source = join(dir, 'source')
      writeFileSync(source, 'a local photo')
      await folder.addFile(source)
      accessSync(marker + '-copied')
      folder.close()
    `)
    const trace = join(dir, 'trace')
    const r = spawnSync('strace', [
      '-f', '-qq', '-y', '-o', trace,
      '-e', 'trace=fsync,fdatasync,syncfs,rename,renameat,renameat2,mkdir,mkdirat,access,faccessat,faccessat2',
      process.execPath, '--import', 'tsx', script
    ], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 })
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    const calls = parseTrace(readFileSync(trace, 'utf8'))
    const few = unsyncedNames(calls, join(dir, 'few'), join(dir, 'marker-few'))
    const many = unsyncedNames(calls, join(dir, 'many'), join(dir, 'marker-many'))
    const copied = unsyncedNames(calls, join(dir, 'copied'), join(dir, 'marker-copied'))
    // Every file was renamed in, and fan-out directories were made: the check is not vacuous.
    expect([few.renamed, many.renamed, copied.renamed]).toEqual([3, 64, 1])
    expect(Math.min(few.made, many.made, copied.made)).toBeGreaterThan(0)
    expect({ few: few.unsynced, many: many.unsynced, copied: copied.unsynced }).toEqual({ few: [], many: [], copied: [] })
  }, 180_000)
})
