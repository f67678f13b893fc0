import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { SqliteChatStore } from '../../src/store/sqlite-store.js'
import { compareKeys, type Message } from '../../src/store/model.js'
import { cleanupTempDirs, putWithPlaces, tempDir } from '../helpers/stores.js'

// Stores written by earlier Ferry versions, laid out by hand as those versions laid them out, open in
// this one: every row of the history kept in canonical order, and the transfer bookkeeping that now
// lives in the journal gone from the app's tables. A transfer an old version left unverified is undone
// at the upgrade (its undo information is in the tables that go); a verified one's rows stay.

afterEach(() => cleanupTempDirs())

const FIELDS = `sender TEXT NOT NULL, ts INTEGER NOT NULL, kind TEXT NOT NULL, text TEXT, media TEXT,
  duration_ms INTEGER, lat REAL, lon REAL, label TEXT, reply_to TEXT, status TEXT,`
const COLS = 'conversation, id, sender, ts, kind, text, media, duration_ms, lat, lon, label, reply_to, status'

const COMMON = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE contacts (id TEXT PRIMARY KEY, name TEXT NOT NULL, phone TEXT) WITHOUT ROWID;
CREATE TABLE conversations (id TEXT PRIMARY KEY, kind TEXT NOT NULL, title TEXT NOT NULL, members TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE media (sha256 TEXT PRIMARY KEY, size INTEGER NOT NULL, mime TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE transfers (id INTEGER PRIMARY KEY, transfer_id BLOB NOT NULL UNIQUE, source_id TEXT NOT NULL, selection TEXT NOT NULL,
  cursor_conversation TEXT, cursor_ts INTEGER, cursor_id TEXT, messages INTEGER NOT NULL DEFAULT 0,
  state TEXT NOT NULL DEFAULT 'receiving', started_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE parts (sha256 TEXT PRIMARY KEY, length INTEGER NOT NULL) WITHOUT ROWID;
`
const UNDO = `
CREATE TABLE overwritten (owner INTEGER NOT NULL, conversation TEXT NOT NULL, id TEXT NOT NULL, ${FIELDS} xfer INTEGER,
  PRIMARY KEY (owner, conversation, id)) WITHOUT ROWID;
CREATE TRIGGER keep_overwritten BEFORE UPDATE ON messages
WHEN new.xfer IS NOT NULL AND new.xfer IS NOT old.xfer
BEGIN
  INSERT OR IGNORE INTO overwritten (owner, ${COLS}, xfer)
  VALUES (new.xfer, old.conversation, old.id, old.sender, old.ts, old.kind, old.text, old.media, old.duration_ms, old.lat, old.lon, old.label, old.reply_to, old.status, old.xfer);
END;
`
/** Schema 1 and 2: rows keyed by (conversation, id), the canonical order an index beside them. */
const KEYED_BY_ID = `
CREATE TABLE messages (conversation TEXT NOT NULL, id TEXT NOT NULL, ${FIELDS} xfer INTEGER, PRIMARY KEY (conversation, id)) WITHOUT ROWID;
CREATE INDEX messages_order ON messages (conversation, ts, id);
`
/** Schema 3: rows in canonical order, the key a unique index (dropped while a bulk load ran). */
const CANONICAL = `
CREATE TABLE messages (conversation TEXT NOT NULL, id TEXT NOT NULL, ${FIELDS} xfer INTEGER, PRIMARY KEY (conversation, ts, id)) WITHOUT ROWID;
CREATE UNIQUE INDEX messages_key ON messages (conversation, id);
`

const STORE_ID = '0c2a6f0e-3d7b-4b8e-9a51-5f0f2a7c9d11'

/** A history.db as Ferry `version` wrote it, with an open connection to write its rows as that Ferry did. */
function oldStore (version: 1 | 2 | 3): { dir: string, db: Database.Database } {
  const dir = tempDir()
  const db = new Database(join(dir, 'history.db'))
  db.pragma('journal_mode = WAL')
  db.exec(COMMON + (version === 3 ? CANONICAL : KEYED_BY_ID) + (version >= 2 ? UNDO : ''))
  const meta = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)')
  meta.run('store_id', STORE_ID)
  meta.run('schema_version', String(version))
  meta.run('created_at', '2026-01-01T00:00:00.000Z')
  mkdirSync(join(dir, 'media'))
  return { dir, db }
}

/** A transfer's row, with its local id. */
function transfer (db: Database.Database, id: number, state: 'receiving' | 'verified'): void {
  db.prepare('INSERT INTO transfers (id, transfer_id, source_id, selection, state, started_at, updated_at) VALUES (?, ?, ?, ?, ?, 1, 1)')
    .run(id, Buffer.alloc(16, id), `source-${id}`, '{}', state)
}

/** Writes messages as the old store did: an upsert by (conversation, id) tagging each row with its writer. */
function write (db: Database.Database, xfer: number | null, messages: Message[]): void {
  const put = db.prepare(`INSERT INTO messages (${COLS}, xfer) VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, NULL, NULL, NULL, NULL, NULL, ?)
    ON CONFLICT (conversation, id) DO UPDATE SET sender = excluded.sender, ts = excluded.ts, kind = excluded.kind, text = excluded.text, xfer = excluded.xfer`)
  for (const m of messages) put.run(m.conversation, m.id, m.sender, m.ts, m.kind, m.text ?? null, xfer)
}

const msg = (conversation: string, id: string, ts: number, text: string): Message => ({ conversation, id, sender: 'u1', ts, kind: 'text', text })
const sorted = (ms: Message[]): Message[] => [...ms].sort(compareKeys)

function layout (dir: string): { version: unknown, tables: unknown[], messageColumns: unknown[] } {
  const db = new Database(join(dir, 'history.db'), { readonly: true })
  try {
    return {
      version: db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get(),
      tables: db.prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger', 'index') AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all(),
      messageColumns: db.prepare("SELECT name FROM pragma_table_info('messages') ORDER BY cid").pluck().all()
    }
  } finally {
    db.close()
  }
}

const CURRENT_LAYOUT = {
  version: '6',
  // Schema 6's kept leaves, and the triggers that drop them when a message they cover changes.
  tables: ['contacts', 'conversations', 'leaves', 'leaves_on_delete', 'leaves_on_insert', 'leaves_on_update', 'media', 'messages', 'messages_key', 'meta'],
  // Schema 4's optional fields follow the old columns.
  messageColumns: [...COLS.split(', '), 'forwarded_from', 'via_bot', 'edited_at', 'pinned', 'file_name', 'links']
}

describe('upgrading a schema-3 store (transfer bookkeeping in the history)', () => {
  it('undoes a transfer left unverified, keeps a verified one\'s rows and the phone\'s own, and drops the bookkeeping', () => {
    const { dir, db } = oldStore(3)
    const own = [msg('c1', 'own-1', 100, 'written on this phone'), msg('c1', 'own-2', 200, 'also mine')]
    write(db, null, own)
    transfer(db, 1, 'verified')
    const verified = [msg('c1', 'v1', 150, 'from a verified transfer'), msg('c2', 'v2', 50, 'verified too')]
    write(db, 1, verified)
    // The unfinished transfer added rows and replaced one of the phone's and one of the verified
    // transfer's (one of them at another time, so at another place in the canonical order).
    transfer(db, 2, 'receiving')
    write(db, 2, [
      msg('c1', 'new-1', 120, 'unverified'), msg('c3', 'new-2', 10, 'unverified'),
      { ...own[0], ts: 999, text: 'forged' }, { ...verified[1], text: 'forged' }
    ])
    db.prepare('INSERT INTO parts (sha256, length) VALUES (?, ?)').run('a'.repeat(64), 10)
    expect(db.prepare('SELECT count(*) FROM overwritten').pluck().get()).toBe(2)
    db.close()

    const s = SqliteChatStore.open(dir)
    expect([...s.listMessages()]).toEqual(sorted([...own, ...verified]))
    expect(s.storeId).toBe(STORE_ID)
    s.close()
    expect(layout(dir)).toEqual(CURRENT_LAYOUT)
  })

  it('undoes transfers left unverified one over the other back to the rows before either', () => {
    const { dir, db } = oldStore(3)
    const own = msg('c1', 'own', 100, 'written on this phone')
    write(db, null, [own])
    transfer(db, 1, 'verified')
    const verified = msg('c1', 'v', 300, 'from a verified transfer')
    write(db, 1, [verified])
    // An interrupted transfer edits both and adds one; a second one (another code) edits all three again.
    transfer(db, 2, 'receiving')
    write(db, 2, [{ ...own, text: 'first edit' }, { ...verified, ts: 301, text: 'first edit' }, msg('c1', 'added', 200, 'added by 2')])
    transfer(db, 3, 'receiving')
    write(db, 3, [{ ...own, ts: 99, text: 'second edit' }, { ...verified, text: 'second edit' }, msg('c1', 'added', 250, 'edited by 3')])
    db.close()

    const s = SqliteChatStore.open(dir)
    expect([...s.listMessages()]).toEqual([own, verified])
    s.close()
    expect(layout(dir)).toEqual(CURRENT_LAYOUT)
  })

  it('drops the rows of a bulk load stopped half-way and builds the key it had dropped', () => {
    const { dir, db } = oldStore(3)
    db.exec('DROP INDEX messages_key')
    transfer(db, 1, 'receiving')
    // Plain inserts, as a load without the key wrote them; one message came twice.
    const ins = db.prepare(`INSERT INTO messages (${COLS}, xfer) VALUES (?, ?, 'u1', ?, 'text', ?, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 1)`)
    for (let i = 0; i < 50; i++) ins.run('c1', `m${i}`, i, `loaded ${i}`)
    ins.run('c1', 'm3', 60, 'again')
    db.close()

    const s = SqliteChatStore.open(dir)
    expect(s.stats().messages).toBe(0)
    putWithPlaces(s, [msg('c1', 'x', 1, 'one'), msg('c1', 'x', 2, 'the same message, edited')])
    expect([...s.listMessages()]).toEqual([msg('c1', 'x', 2, 'the same message, edited')])
    s.close()
    expect(layout(dir)).toEqual(CURRENT_LAYOUT)
  })
  it('removes the partial media files of the transfers it undid', () => {
    const { dir, db } = oldStore(3)
    transfer(db, 1, 'receiving')
    db.prepare('INSERT INTO parts (sha256, length) VALUES (?, ?)').run('b'.repeat(64), 3)
    db.close()
    mkdirSync(join(dir, 'media', '.part'))
    writeFileSync(join(dir, 'media', '.part', `${'b'.repeat(64)}.part`), 'abc')
    const photo = Buffer.from('a photo the phone holds')
    const sha = createHash('sha256').update(photo).digest('hex')
    mkdirSync(join(dir, 'media', sha.slice(0, 2)))
    writeFileSync(join(dir, 'media', sha.slice(0, 2), sha), photo)

    const s = SqliteChatStore.open(dir)
    expect(existsSync(join(dir, 'media', '.part'))).toBe(false)
    expect(s.hasMediaFile(sha)).toBe(true)
    expect(Buffer.from(s.readMediaSync(sha, 0, 100)).equals(photo)).toBe(true)
    s.close()
  })
})

describe('upgrading a schema-1 or schema-2 store (rows keyed by id)', () => {
  for (const version of [1, 2] as const) {
    it(`schema ${version}: keeps every row, in canonical order, and merges by (conversation, id) afterwards`, () => {
      const { dir, db } = oldStore(version)
      const own = [msg('b', 'z', 5, 'mine'), msg('a', 'q', 9, 'mine too')]
      write(db, null, own)
      transfer(db, 1, 'verified')
      const received = [msg('a', 'c', 3, 'received'), msg('a', 'b', 3, 'received'), msg('b', 'a', -1, 'received')]
      write(db, 1, received)
      db.close()

      const s = SqliteChatStore.open(dir)
      expect([...s.listMessages()]).toEqual(sorted([...own, ...received]))
      const moved = { ...received[0], ts: 100, text: 'edited' }
      putWithPlaces(s, [moved])
      expect([...s.listMessages({ conversations: ['a'] })].map(m => m.id)).toEqual(['b', 'q', 'c'])
      expect(s.stats().messages).toBe(5)
      s.close()
      expect(layout(dir)).toEqual(CURRENT_LAYOUT)
    })
  }
})

describe('a store from a newer Ferry', () => {
  it('is refused with a clear error, untouched', () => {
    const { dir, db } = oldStore(3)
    db.prepare("UPDATE meta SET value = '7' WHERE key = 'schema_version'").run()
    db.close()
    expect(() => SqliteChatStore.open(dir)).toThrow(expect.objectContaining({ code: 'BAD_INPUT', message: expect.stringMatching(/newer Ferry \(schema 7; .*\): update Ferry to open it$/) }))
    const check = new Database(join(dir, 'history.db'), { readonly: true })
    expect(check.prepare("SELECT name FROM sqlite_master WHERE name = 'transfers'").pluck().get()).toBe('transfers')
    check.close()
  })
})
