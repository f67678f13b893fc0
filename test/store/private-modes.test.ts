import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { cleanupTempDirs, fillStore, keystream, tempDir } from '../helpers/stores.js'
import { SqliteChatStore } from '../../src/store/sqlite-store.js'
import { writeBackup } from '../../src/backup/backup.js'
import { NodeJournal } from '../../src/journal/node-journal.js'
import { PairingRecords } from '../../src/journal/pairing-records.js'
import { isFerryError } from '../../src/errors.js'

// The history at rest is its owner's alone: the store folder and every folder in it 0700, every file in
// it 0600, whatever the umask of the process that made them; the same for what Ferry writes elsewhere
// with history in it (backups, exports). Modes are read with lstat, as `ls -l` shows them.

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const FERRY = join(ROOT, 'bin', 'ferry.js')
const FIXTURE = join(ROOT, 'test', 'fixtures', 'edge-cases.ndjson')

/** Runs `ferry` under a given umask (a shell sets it, as a user's login would). */
function ferryUnder (umask: string, ...args: string[]): { status: number | null, stderr: string } {
  const r = spawnSync('sh', ['-c', `umask ${umask} && exec "$0" "$@"`, process.execPath, FERRY, ...args], { encoding: 'utf8', cwd: ROOT })
  return { status: r.status, stderr: r.stderr }
}

const mode = (path: string): number => lstatSync(path).mode & 0o7777
const octal = (m: number): string => m.toString(8).padStart(4, '0')

/** Every path under `dir` (itself included) with its mode, as 'path 0700'. */
function modes (dir: string): string[] {
  const out = [`. ${octal(mode(dir))}`]
  const walk = (d: string, rel: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name)
      out.push(`${rel}${e.name} ${octal(mode(p))}`)
      if (e.isDirectory()) walk(p, `${rel}${e.name}/`)
    }
  }
  walk(dir, '')
  return out
}

/** The entries whose mode is not the private one for their kind. */
function notPrivate (dir: string): string[] {
  return modes(dir).filter(line => {
    const [rel, m] = line.split(' ')
    const st = lstatSync(rel === '.' ? dir : join(dir, rel))
    return m !== (st.isDirectory() ? '0700' : '0600')
  })
}

const previousUmask = process.umask()
afterEach(() => { process.umask(previousUmask) })
afterAll(() => cleanupTempDirs())

describe('a store is private whatever the umask', () => {
  for (const umask of ['022', '000']) {
    it(`ferry import, backup and export under umask ${umask}: folders 0700, files 0600`, () => {
      const dir = tempDir()
      const store = join(dir, 'phones', 'old')
      expect(ferryUnder(umask, 'import', FIXTURE, '--store', store).status).toBe(0)
      expect(readdirSync(join(store, 'media')).length).toBeGreaterThan(2) // fan-out folders with files in them
      expect(notPrivate(store)).toEqual([])
      // The folder above the store holds no history: it keeps the umask's mode.
      expect(mode(join(dir, 'phones'))).toBe(0o777 & ~parseInt(umask, 8))

      const bak = join(dir, 'old.ferrybak')
      expect(ferryUnder(umask, 'backup', '--store', store, '--out', bak, '--no-password').status).toBe(0)
      expect(octal(mode(bak))).toBe('0600')

      const out = join(dir, 'export', 'history.ndjson')
      const media = join(dir, 'export', 'media')
      expect(ferryUnder(umask, 'export', '--store', store, '--out', out, '--media', media).status).toBe(0)
      expect(octal(mode(out))).toBe('0600')
      expect(readdirSync(media).length).toBeGreaterThan(0)
      expect(notPrivate(media)).toEqual([])
    })

    it(`an open store under umask ${umask}: history.db, its -wal and -shm, media, the journal and its partial files are 0600`, async () => {
      process.umask(parseInt(umask, 8))
      const dir = join(tempDir(), 'store')
      const store = SqliteChatStore.open(dir, { create: true })
      const journal = NodeJournal.open(dir)
      try {
        await fillStore(store, { conversations: 1, messagesPerConversation: 10, mediaSizes: [1000] })
        const sha = 'ab'.repeat(32)
        await journal.parts.write(sha, 0, new Uint8Array(100))
        await new PairingRecords(journal).save({ role: 'receiver', peerId: '12D3KooW', token: 'ab'.repeat(32), nameplate: '123', addrs: [], createdAt: 1 })
        await store.writeMedia(keystream('one more', 5000))
        // SQLite's own files exist while the store and the journal are open.
        for (const f of ['history.db-wal', 'history.db-shm', 'journal/journal.db-wal', 'journal/journal.db-shm', `journal/parts/${sha}.part`]) {
          expect(existsSync(join(dir, f)), f).toBe(true)
        }
        expect(notPrivate(dir)).toEqual([])
      } finally {
        await journal.close()
        store.close()
      }
    })
  }

  it('a store an older Ferry left readable by others is made private when opened', async () => {
    const dir = join(tempDir(), 'store')
    const first = SqliteChatStore.open(dir, { create: true })
    await fillStore(first, { conversations: 1, messagesPerConversation: 5, mediaSizes: [] })
    first.close()
    chmodSync(dir, 0o755)
    chmodSync(join(dir, 'history.db'), 0o644)
    writeFileSync(join(dir, 'history.db-wal'), '') // a leftover WAL (SQLite reads an empty one as none)
    chmodSync(join(dir, 'history.db-wal'), 0o644)
    const again = SqliteChatStore.open(dir)
    try {
      expect(again.stats().messages).toBe(5)
      expect(octal(mode(dir))).toBe('0700')
      for (const f of ['history.db', 'history.db-wal', 'history.db-shm']) expect(`${f} ${octal(mode(join(dir, f)))}`).toBe(`${f} 0600`)
    } finally {
      again.close()
    }
  })

  it('a journal an older Ferry or a copy left readable by others is made private when opened', async () => {
    const dir = tempDir()
    await NodeJournal.open(dir).close()
    chmodSync(join(dir, 'journal'), 0o755)
    chmodSync(join(dir, 'journal', 'journal.db'), 0o644)
    const again = NodeJournal.open(dir)
    try {
      expect(octal(mode(join(dir, 'journal')))).toBe('0700')
      expect(octal(mode(join(dir, 'journal', 'journal.db')))).toBe('0600')
    } finally {
      await again.close()
    }
  })
})

describe('a backup is written to a new private file, never through a symlink', () => {
  let source: SqliteChatStore | undefined
  afterAll(() => source?.close())
  const KDF = { log2N: 4, r: 8, p: 1 }

  it('is 0600 under umask 000', async () => {
    process.umask(0)
    source ??= SqliteChatStore.open(tempDir(), { create: true })
    const file = join(tempDir(), 'b.ferrybak')
    await writeBackup(source, file, { kdf: KDF })
    expect(octal(mode(file))).toBe('0600')
  })

  it('refuses a symlink planted at FILE.partial, writing nothing where it points', async () => {
    source ??= SqliteChatStore.open(tempDir(), { create: true })
    const dir = tempDir()
    const victim = join(dir, 'readable-by-the-attacker')
    writeFileSync(victim, 'untouched')
    const file = join(dir, 'b.ferrybak')
    symlinkSync(victim, `${file}.partial`)
    const err = await writeBackup(source, file, { kdf: KDF }).then(() => undefined, (e: unknown) => e)
    expect(isFerryError(err, 'STORE'), String(err)).toBe(true)
    expect((err as Error).message).toMatch(/b\.ferrybak\.partial is a symbolic link: Ferry never writes a backup through one/)
    expect(readFileSync(victim, 'utf8')).toBe('untouched')
    expect(readlinkSync(`${file}.partial`)).toBe(victim) // left for the user to look at
    expect(existsSync(file)).toBe(false)
  })

  it('removes a FILE.partial no backup holds (one killed left it) and writes the backup in its place', async () => {
    source ??= SqliteChatStore.open(tempDir(), { create: true })
    const dir = tempDir()
    const file = join(dir, 'b.ferrybak')
    // What a backup killed part-way leaves: its header's start, or nothing yet.
    for (const left of ['FERRYBAK and a backup killed part-way', '']) {
      writeFileSync(`${file}.partial`, left)
      await writeBackup(source, file, { kdf: KDF })
      expect(lstatSync(file).mode & 0o777).toBe(0o600)
      expect(readdirSync(dir)).toEqual(['b.ferrybak'])
      rmSync(file)
    }
  })

  it('leaves a FILE.partial that is no backup\'s (the person\'s own file of that name) and refuses', async () => {
    source ??= SqliteChatStore.open(tempDir(), { create: true })
    const dir = tempDir()
    const file = join(dir, 'thesis')
    writeFileSync(`${file}.partial`, 'My thesis draft, chapter 3')
    const err = await writeBackup(source, file, { kdf: KDF }).then(() => undefined, (e: unknown) => e)
    expect(isFerryError(err, 'STORE'), String(err)).toBe(true)
    expect((err as Error).message).toMatch(/thesis\.partial already exists and is not a file a backup left: remove it, or choose another --out/)
    expect(readFileSync(`${file}.partial`, 'utf8')).toBe('My thesis draft, chapter 3')
    expect(readdirSync(dir)).toEqual(['thesis.partial'])
  })

  it('refuses a FILE.partial that no backup leaves (a folder) and leaves it alone', async () => {
    source ??= SqliteChatStore.open(tempDir(), { create: true })
    const file = join(tempDir(), 'b.ferrybak')
    mkdirSync(`${file}.partial`)
    const err = await writeBackup(source, file, { kdf: KDF }).then(() => undefined, (e: unknown) => e)
    expect(isFerryError(err, 'STORE'), String(err)).toBe(true)
    expect((err as Error).message).toMatch(/b\.ferrybak\.partial already exists and is not a file a backup left: remove it/)
    expect(statSync(`${file}.partial`).isDirectory()).toBe(true)
    expect(existsSync(file)).toBe(false)
  })

  it('replaces a symlink at FILE itself rather than writing through it', async () => {
    source ??= SqliteChatStore.open(tempDir(), { create: true })
    const dir = tempDir()
    const victim = join(dir, 'elsewhere')
    writeFileSync(victim, 'untouched')
    const file = join(dir, 'b.ferrybak')
    symlinkSync(victim, file)
    await writeBackup(source, file, { kdf: KDF })
    expect(readFileSync(victim, 'utf8')).toBe('untouched')
    expect(lstatSync(file).isFile()).toBe(true)
    expect(octal(mode(file))).toBe('0600')
  })
})
