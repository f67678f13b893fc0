import Database from 'better-sqlite3'
import { randomBytes } from 'node:crypto'
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'
import { ferry } from '../helpers/ferry-sync.js'

// A store whose history.db was damaged (a disk fault, a copy cut short): the commands that read it say
// that the database is damaged and where another copy of the history comes from, in one line and not
// as SQLite's "database disk image is malformed" alone; exit 1; and they leave nothing half-written.

const dir = tempDir()
const phone = join(dir, 'phone')

beforeAll(() => {
  expect(ferry('seed', '--store', phone, '--profile', 'tiny').status).toBe(0)
}, 60_000)

afterAll(() => cleanupTempDirs())

const DAMAGED = /^ferry: [^\n]*: the store's database \(history\.db\) is damaged, so its history cannot be read in full \(SQLite: database disk image is malformed\)\. Bring the history back from another copy into a new store: 'ferry restore' from a backup, or 'ferry receive' from the old phone[^\n]* \[STORE\]\n$/

function damagedCopy (name: string, damage: (db: string) => void): string {
  const copy = join(dir, name)
  cpSync(phone, copy, { recursive: true })
  damage(join(copy, 'history.db'))
  return copy
}

/** Overwrites the first page that holds messages (SQLite's dbstat says which), as a bad sector would. */
function damageMessages (db: string): void {
  const d = new Database(db, { readonly: true })
  const pageSize = d.pragma('page_size', { simple: true }) as number
  const page = d.prepare("SELECT min(pageno) AS p FROM dbstat WHERE name = 'messages' AND pagetype = 'leaf'").get() as { p: number }
  d.close()
  const bytes = readFileSync(db)
  bytes.fill(0xaa, (page.p - 1) * pageSize, page.p * pageSize)
  writeFileSync(db, bytes)
}

describe('a damaged store', () => {
  it('cut short: inspect, export and backup say it is damaged and what to do, and change nothing', () => {
    const store = damagedCopy('cut', db => { truncateSync(db, Math.floor(statSync(db).size / 2)) })
    const before = readFileSync(join(store, 'history.db'))
    for (const args of [['inspect'], ['export'], ['backup', '--out', join(dir, 'cut.ferrybak'), '--no-password']]) {
      const r = ferry(...args, '--store', store)
      expect(r.stderr, args[0]).toMatch(DAMAGED)
      expect(r.status, args[0]).toBe(1)
    }
    expect(readFileSync(join(store, 'history.db')).equals(before)).toBe(true)
    expect(readdirSync(dir).filter(f => f.startsWith('cut.'))).toEqual([])
  })

  it('damaged where its messages are: inspect says so, export --out and backup stop with the reason and leave no file', () => {
    const store = damagedCopy('bad-page', damageMessages)
    // Its counts come from indexes, which are whole: inspect reads every page to see the damage too.
    const i = ferry('inspect', '--store', store)
    expect(i.stderr).toMatch(DAMAGED)
    expect(i.stdout, 'no report of a store that reads well').toBe('')
    expect(i.status).toBe(1)
    const j = ferry('inspect', '--store', store, '--json')
    expect(JSON.parse(j.stdout)).toMatchObject({ event: 'error', code: 'STORE' })
    expect(j.status).toBe(1)
    const out = join(dir, 'bad-page.ndjson')
    const e = ferry('export', '--store', store, '--out', out, '--media', join(dir, 'bad-page-media'))
    expect(e.stderr).toMatch(DAMAGED)
    expect(e.status).toBe(1)
    expect(existsSync(out)).toBe(false)
    expect(existsSync(join(dir, 'bad-page-media'))).toBe(false)
    const bak = join(dir, 'bad-page.ferrybak')
    const b = ferry('backup', '--store', store, '--out', bak, '--no-password')
    expect(b.stderr).toMatch(DAMAGED)
    expect(b.status).toBe(1)
    expect(readdirSync(dir).filter(f => f.startsWith('bad-page.'))).toEqual([])
  })

  it('with a damaged journal beside a good history: inspect and receive name the journal and how to set it aside', async () => {
    const copy = join(dir, 'bad-journal')
    cpSync(phone, copy, { recursive: true })
    const journal = join(copy, 'journal')
    mkdirSync(journal, { recursive: true })
    writeFileSync(join(journal, 'journal.db'), randomBytes(16 * 1024))
    const history = readFileSync(join(copy, 'history.db'))
    const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const runs = [['inspect', '--store', copy],
      ['receive', '--store', copy, '--code', '123-4567-8901', '--peer', `/ip4/127.0.0.1/tcp/9/p2p/${peer}`, '--no-mdns', '--no-sweep']]
    for (const args of runs) {
      const r = ferry(...args)
      expect(r.stderr, args[0]).toMatch(new RegExp(`^ferry: opening the journal in ${escape(journal)}: Ferry's journal \\(journal\\.db\\) is damaged \\(SQLite: [^)]+\\)\\. ` +
        `It holds Ferry's record of its transfers, not the history \\(history\\.db and media/ hold that\\)\\. To go on, move the folder ${escape(journal)} aside[^\\n]* \\[STORE\\]\\n$`))
      expect(r.stderr, args[0]).not.toMatch(/history\.db\) is damaged|ferry restore/)
      expect(r.status, args[0]).toBe(1)
    }
    expect(readFileSync(join(copy, 'history.db')).equals(history)).toBe(true)
    // As it says: the folder set aside, the history reads whole.
    renameSync(journal, join(copy, 'journal.damaged'))
    const i = ferry('inspect', '--store', copy, '--json')
    expect(i.status).toBe(0)
    expect(JSON.parse(i.stdout).stats.messages).toBeGreaterThan(0)
  })
})

function escape (s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
