import { execFileSync } from 'node:child_process'
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'
import { ferry, ROOT } from '../helpers/ferry-sync.js'

// Where the CLI writes and reads: paths a person gets wrong are refused with a sentence that names
// the path and the way out, exit 2, and nothing is harmed.

const FIXTURE = join(ROOT, 'test', 'fixtures', 'edge-cases.ndjson')

const dir = tempDir()
const store = join(dir, 'phone')
let db: Buffer
let exported: string

beforeAll(() => {
  expect(ferry('import', FIXTURE, '--store', store).status).toBe(0)
  db = readFileSync(join(store, 'history.db'))
  exported = ferry('export', '--store', store).stdout
}, 60_000)

afterAll(() => cleanupTempDirs())

function expectStoreUnchanged (): void {
  expect(readFileSync(join(store, 'history.db')).equals(db)).toBe(true)
  expect(ferry('export', '--store', store).stdout).toBe(exported)
}

describe('an --out or --media inside the store', () => {
  it('export and backup refuse to write over the store\'s own database', () => {
    const e = ferry('export', '--store', store, '--out', join(store, 'history.db'))
    expect(e.stderr).toMatch(/--out .*history\.db is inside the store .*phone: writing there would damage the store; choose a file outside it/)
    expect(e.status).toBe(2)
    expectStoreUnchanged()
    const b = ferry('backup', '--store', store, '--out', join(store, 'history.db'), '--no-password')
    expect(b.stderr).toMatch(/is inside the store .*: writing there would damage the store/)
    expect(b.status).toBe(2)
    expectStoreUnchanged()
  })

  it('sees through another spelling of the store: a symlink to it, a path through its subfolders', () => {
    const link = join(dir, 'link-to-phone')
    symlinkSync(store, link)
    const e = ferry('export', '--store', link, '--out', join(store, 'media', '..', 'history.db'))
    expect(e.stderr).toMatch(/is inside the store/)
    expect(e.status).toBe(2)
    const b = ferry('backup', '--store', store, '--out', join(link, 'chats.ferrybak'), '--no-password')
    expect(b.stderr).toMatch(/is inside the store/)
    expect(b.status).toBe(2)
    expect(existsSync(join(store, 'chats.ferrybak'))).toBe(false)
    expectStoreUnchanged()
  })

  it('export refuses an empty --media and a --media inside the store, creating nothing', () => {
    const empty = ferry('export', '--store', store, '--media', '')
    expect(empty.stderr).toMatch(/--media wants a folder name/)
    expect(empty.status).toBe(2)
    const inside = ferry('export', '--store', store, '--out', join(dir, 'x.ndjson'), '--media', join(store, 'copies'))
    expect(inside.stderr).toMatch(/--media .*copies is inside the store .*: writing there would damage the store; choose a folder outside it/)
    expect(inside.status).toBe(2)
    expect(existsSync(join(store, 'copies'))).toBe(false)
    expect(existsSync(join(dir, 'x.ndjson'))).toBe(false)
    expectStoreUnchanged()
  })
})

describe('a file where a folder of the path should be', () => {
  it('a store under a file: says which file, exit 2', () => {
    const file = join(dir, 'notes.txt')
    writeFileSync(file, 'x')
    const r = ferry('inspect', '--store', join(file, 'sub'))
    expect(r.stderr).toBe(`ferry: ${file} is a file, so ${join(file, 'sub')} cannot be a store [BAD_INPUT]\n`)
    expect(r.status).toBe(2)
  })

  it('export --out and backup --out under a file: says which file, exit 2', () => {
    const file = join(dir, 'notes.txt')
    writeFileSync(file, 'x')
    const e = ferry('export', '--store', store, '--out', join(file, 'x.ndjson'))
    expect(e.stderr).toBe(`ferry: --out ${join(file, 'x.ndjson')}: ${file} is a file, not a folder [BAD_INPUT]\n`)
    expect(e.status).toBe(2)
    const b = ferry('backup', '--store', store, '--out', join(file, 'x.ferrybak'), '--no-password')
    expect(b.stderr).toBe(`ferry: --out ${join(file, 'x.ferrybak')}: ${file} is a file, not a folder [BAD_INPUT]\n`)
    expect(b.status).toBe(2)
  })
})

describe('an --out that is not a file on disk', () => {
  // The write ends with a rename over FILE, which would swap a pipe, a device, or a link to one (what
  // /dev/stdout is) for a plain file holding the history: the pipe's reader gets nothing, and the name
  // stops being what it was. A person who means standard output leaves --out out.
  it('export and backup refuse a FIFO, a link to one and a link to standard output, leaving each as it was', () => {
    const fifo = join(dir, 'out-pipe')
    execFileSync('mkfifo', [fifo])
    const toFifo = join(dir, 'link-to-pipe')
    symlinkSync(fifo, toFifo)
    const toStdout = join(dir, 'link-to-stdout')
    symlinkSync('/proc/self/fd/1', toStdout)
    const cases = [[fifo, 'a device, a pipe or a socket'], [toFifo, 'a link to a device, a pipe or a socket'], [toStdout, 'a link to a device, a pipe or a socket']]
    for (const [out, what] of cases) {
      const e = ferry('export', '--store', store, '--out', out)
      expect(e.stderr).toBe(`ferry: --out ${out} is not a regular file (${what}): the export is written to a file on disk, which it replaces; leave --out out to write to standard output [BAD_INPUT]\n`)
      expect(e.status).toBe(2)
      const b = ferry('backup', '--store', store, '--out', out, '--no-password')
      expect(b.stderr).toBe(`ferry: --out ${out} is not a regular file (${what}): a backup is written to a file on disk; name one [BAD_INPUT]\n`)
      expect(b.status).toBe(2)
    }
    expect(lstatSync(fifo).isFIFO()).toBe(true)
    expect(readlinkSync(toFifo)).toBe(fifo)
    expect(readlinkSync(toStdout)).toBe('/proc/self/fd/1')
    expect(readdirSync(dir).filter(f => f.includes('.tmp') || f.endsWith('.partial'))).toEqual([])
  })
})

describe('import into a --store that is a file', () => {
  it('says so (the cleanup of a refused import does not hide it) and leaves the file alone', () => {
    const file = join(dir, 'not-a-store')
    writeFileSync(file, 'mine')
    const r = ferry('import', FIXTURE, '--store', file)
    expect(r.stderr).toBe(`ferry: ${file} is a file, not a Ferry store (a store is a directory) [BAD_INPUT]\n`)
    expect(r.status).toBe(2)
    expect(readFileSync(file, 'utf8')).toBe('mine')
  })
})

describe('a folder where a file goes, a file where a folder goes, a name that is not there', () => {
  it('--password-file and --code-file naming a folder or nothing say so, not EISDIR', () => {
    const p = ferry('backup', '--store', store, '--out', join(dir, 'pw.ferrybak'), '--password-file', dir)
    expect(p.stderr).toBe(`ferry: cannot read the password file ${dir}: ${dir} is a folder, not a file [BAD_INPUT]\n`)
    expect(p.status).toBe(2)
    const missing = join(dir, 'no-such-file')
    const m = ferry('backup', '--store', store, '--out', join(dir, 'pw.ferrybak'), '--password-file', missing)
    expect(m.stderr).toBe(`ferry: cannot read the password file ${missing}: ${missing} does not exist [BAD_INPUT]\n`)
    expect(m.status).toBe(2)
    const target = join(dir, 'never')
    const c = ferry('receive', '--store', target, '--code-file', dir, '--no-mdns', '--no-sweep')
    expect(c.stderr).toBe(`ferry: cannot read the code file ${dir}: ${dir} is a folder, not a file [BAD_INPUT]\n`)
    expect(c.status).toBe(2)
    expect(existsSync(target)).toBe(false)
  })

  it('export --media naming a file: says it is a file, exit 2', () => {
    const file = join(dir, 'notes.txt')
    writeFileSync(file, 'x')
    const r = ferry('export', '--store', store, '--out', join(dir, 'm.ndjson'), '--media', file)
    expect(r.stderr).toBe(`ferry: cannot create the media folder ${file}: ${file} is a file, not a folder [BAD_INPUT]\n`)
    expect(r.status).toBe(2)
    expect(existsSync(join(dir, 'm.ndjson'))).toBe(false)
  })

  it('backup --out in a folder that does not exist yet makes it, as export does, and names the file written', () => {
    const out = join(dir, 'new-folder', 'sub', 'chats.ferrybak')
    const r = ferry('backup', '--store', store, '--out', out, '--no-password')
    expect(r.stderr).toContain(`Backed up 19 messages and 100 B of media to ${out} (`)
    expect(r.status).toBe(0)
    expect(existsSync(out)).toBe(true)
  })
})

describe('import of an NDJSON without a message', () => {
  it('an empty file or contacts alone: refused as --help says, exit 2, no store created', () => {
    const empty = join(dir, 'empty.ndjson')
    writeFileSync(empty, '')
    const target = join(dir, 'imported')
    const e = ferry('import', empty, '--store', target)
    // An empty file is no export of any kind: the format detection refuses it before the NDJSON reader.
    expect(e.stderr).toBe(`ferry: ${empty}: not a recognised chat export (tried: canonical NDJSON, Telegram JSON, WhatsApp text) [BAD_INPUT]\n`)
    expect(e.status).toBe(2)
    const contacts = join(dir, 'contacts.ndjson')
    writeFileSync(contacts, exported.split('\n').filter(l => l.startsWith('{"type":"contact"')).join('\n') + '\n')
    const c = ferry('import', contacts, '--store', target)
    expect(c.stderr).toMatch(/^ferry: no message in .*contacts\.ndjson \(only \d+ contacts\): nothing was imported \[BAD_INPUT\]\n$/)
    expect(c.status).toBe(2)
    expect(existsSync(target)).toBe(false)
  })

  it('into an empty folder made for it: refused, the folder left empty', () => {
    const folder = join(dir, 'made-for-it')
    mkdirSync(folder)
    const contacts = join(dir, 'contacts-only.ndjson')
    writeFileSync(contacts, '{"type":"contact","id":"someone","name":"Someone"}\n')
    const r = ferry('import', contacts, '--store', folder)
    expect(r.status).toBe(2)
    expect(readdirSync(folder)).toEqual([])
  })

  it('into an existing store: refused, the store unchanged', () => {
    const contacts = join(dir, 'contacts.ndjson')
    writeFileSync(contacts, '{"type":"contact","id":"someone-new","name":"New"}\n')
    const r = ferry('import', contacts, '--store', store)
    expect(r.status).toBe(2)
    expectStoreUnchanged()
  })
})

describe('a folder that is not a Ferry store', () => {
  it('an empty history.db is said as such, not as a missing one', () => {
    const folder = join(dir, 'empty-db')
    mkdirSync(folder)
    writeFileSync(join(folder, 'history.db'), '')
    const r = ferry('inspect', '--store', folder)
    expect(r.stderr).toBe(`ferry: no Ferry store at ${folder} (its history.db is empty) [BAD_INPUT]\n`)
    expect(r.status).toBe(2)
  })

  it('a history.db that is not SQLite: the wrong folder, exit 2', () => {
    const folder = join(dir, 'random-db')
    mkdirSync(folder)
    writeFileSync(join(folder, 'history.db'), randomBytes(5000))
    for (const args of [['inspect', '--store', folder], ['export', '--store', folder]]) {
      const r = ferry(...args)
      expect(r.stderr).toBe(`ferry: ${folder} is not a Ferry store (history.db is not a SQLite database) [BAD_INPUT]\n`)
      expect(r.status).toBe(2)
    }
  })
})

describe('ferry help COMMAND', () => {
  it('prints that command\'s help, as COMMAND --help does', () => {
    const r = ferry('help', 'seed')
    expect(r.stdout).toBe(ferry('seed', '--help').stdout)
    expect(r.stdout).toMatch(/^Usage: ferry seed /)
    expect(r.status).toBe(0)
  })
})
