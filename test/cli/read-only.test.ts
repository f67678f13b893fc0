// The CLI on a read-only file system (a disk mounted read-only, a card whose lock is on): a tmpfs this
// test mounts read-only (root only; skipped with the reason otherwise, a failure under CI=true). Every
// command says the file system is read-only in one line, exit 2, instead of Node's "EROFS: ..." or
// SQLite's "unable to open database file", nor "does not exist" for a folder it could not make.
import { execFileSync } from 'node:child_process'
import { cpSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'
import { ferry, ROOT } from '../helpers/ferry-sync.js'
import { cannotRun } from '../helpers/cannot-run.js'
import { mountTmpfs, unmount } from '../helpers/tmpfs.js'

const FIXTURE = join(ROOT, 'test', 'fixtures', 'edge-cases.ndjson')
const dir = tempDir()
const phone = join(dir, 'phone')
const pw = join(dir, 'pw')
const bak = join(dir, 'phone.ferrybak')
let mnt: string | undefined

/** Mounts a tmpfs holding a copy of the store, then makes it read-only; says why not where it cannot. */
function mountReadOnly (): string | undefined {
  const m = mountTmpfs('ferry-read-only-', '8m')
  if (m.at === undefined) return m.why
  const at = m.at
  mnt = at
  try {
    cpSync(phone, join(at, 'phone'), { recursive: true })
    // As a writer that closed it last leaves it: the backup, a reader, made an -shm (and an empty -wal).
    expect(statSync(join(at, 'phone', 'history.db-wal'), { throwIfNoEntry: false })?.size ?? 0).toBe(0)
    rmSync(join(at, 'phone', 'history.db-wal'), { force: true })
    rmSync(join(at, 'phone', 'history.db-shm'), { force: true })
    execFileSync('mount', ['-o', 'remount,ro', at], { stdio: 'pipe' })
    return undefined
  } catch (err) {
    return `cannot mount tmpfs: ${((err as { stderr?: Buffer }).stderr ?? '').toString().trim() || (err as Error).message}`
  }
}

beforeAll(() => {
  // A store closed cleanly has no -wal or -shm: SQLite must make them to open it, even to read.
  expect(ferry('import', FIXTURE, '--store', phone).status).toBe(0)
  writeFileSync(pw, 'correct horse battery staple\n')
  expect(ferry('backup', '--store', phone, '--out', bak, '--password-file', pw).status).toBe(0)
  cannotRun('the read-only file system tests', mountReadOnly())
}, 60_000)

afterAll(() => {
  unmount(mnt)
  cleanupTempDirs()
})

function expectReadOnly (r: { status: number | null, stderr: string }, line: string): void {
  expect(r.stderr).toBe(`ferry: ${line} [BAD_INPUT]\n`)
  expect(r.status).toBe(2)
}

describe('a read-only file system', () => {
  it('backup --out there, in it or in a folder to make there, says it is read-only', (ctx) => {
    if (mnt === undefined) { ctx.skip(); return } // cannotRun said why (and threw under CI=true)
    expectReadOnly(ferry('backup', '--store', phone, '--out', join(mnt, 'b.ferrybak'), '--password-file', pw),
      `cannot write the backup ${join(mnt, 'b.ferrybak')}.partial: the file system is read-only`)
    expectReadOnly(ferry('backup', '--store', phone, '--out', join(mnt, 'new', 'b.ferrybak'), '--password-file', pw),
      `cannot create the folder of --out ${join(mnt, 'new', 'b.ferrybak')}: the file system is read-only`)
  })

  it('export --out there, or in a folder to make there, says it is read-only', (ctx) => {
    if (mnt === undefined) { ctx.skip(); return }
    expectReadOnly(ferry('export', '--store', phone, '--out', join(mnt, 'new', 'history.ndjson')),
      `cannot create the folder of --out ${join(mnt, 'new', 'history.ndjson')}: the file system is read-only`)
    expectReadOnly(ferry('export', '--store', phone, '--out', join(mnt, 'history.ndjson')),
      `cannot write the export ${join(mnt, 'history.ndjson')}: the file system is read-only`)
    expectReadOnly(ferry('export', '--store', phone, '--media', join(mnt, 'media')),
      `cannot create the media folder ${join(mnt, 'media')}: the file system is read-only`)
  })

  it('restore and import into a new store there say it is read-only', (ctx) => {
    if (mnt === undefined) { ctx.skip(); return }
    const target = join(mnt, 'deep', 'new-phone')
    expectReadOnly(ferry('restore', '--store', target, '--in', bak, '--password-file', pw), `creating the store ${target}: the file system is read-only`)
    expectReadOnly(ferry('import', FIXTURE, '--store', target), `creating the store ${target}: the file system is read-only`)
  })

  it('a store kept there: readers and writers alike say why it cannot be opened and what to do', (ctx) => {
    if (mnt === undefined) { ctx.skip(); return }
    const store = join(mnt, 'phone')
    const line = `cannot open the store ${store}: the file system is read-only, and SQLite writes beside history.db even to read it; copy the store to a folder you can write in`
    expectReadOnly(ferry('inspect', '--store', store), line)
    expectReadOnly(ferry('export', '--store', store), line)
    expectReadOnly(ferry('backup', '--store', store, '--out', join(dir, 'from-ro.ferrybak'), '--password-file', pw), line)
    expectReadOnly(ferry('restore', '--store', store, '--in', bak, '--password-file', pw), line)
    expectReadOnly(ferry('import', FIXTURE, '--store', store), line)
  })
})
