import Database from 'better-sqlite3'
import { createReadStream, existsSync, readdirSync } from 'node:fs'
import { makeDatabasePrivate, makePrivateDir } from '../private-files.js'
import { join, resolve } from 'node:path'
import { ErrorCode, FerryError, isDamagedDatabase, storeError } from '../errors.js'
import type { Journal, JournalOp } from './journal.js'
import { NodePartFiles } from './node-parts.js'
import { JournalLock } from './journal-lock.js'

/** Written by flush(): outside every prefix Ferry lists. */
const DURABLE_KEY = '~durable'

// The journal on Node: a small SQLite file of its own (key -> value) and a folder of partial media files,
// in `<dir>/journal/`. `dir` is normally the store's directory: the partial files must be on the same
// file system as the store's media, so that a finished file is handed over by a rename.

/**
 * Entries per read of a listing: no statement stays open across the caller's awaits. Small, because a
 * page stays alive while the caller works through it: an undo log's entries are a batch of keys each,
 * and a page of hundreds of them outlived the young generation and grew the receiver's heap.
 */
const PAGE = 16

export class NodeJournal implements Journal {
  readonly dir: string
  readonly parts: NodePartFiles
  private readonly db: Database.Database
  private readonly getStmt: Database.Statement<[string], { value: Buffer }>
  private readonly listStmt: Database.Statement<[string, string], { key: string, value: Buffer }>
  private readonly putStmt: Database.Statement<[string, Uint8Array]>
  private readonly delStmt: Database.Statement<[string]>
  private readonly delRangeStmt: Database.Statement<[string, string]>
  private readonly delPrefixStmt: Database.Statement<[string, string, string]>
  /**
   * One atomic write of ops, wrapped once: better-sqlite3's transaction() builds four functions and
   * defines five properties on each per call, and a receiver writes here once per media chunk.
   */
  private readonly writeOps: (ops: JournalOp[]) => void

  private constructor (dir: string, db: Database.Database, private readonly lock?: JournalLock) {
    this.dir = dir
    this.db = db
    this.getStmt = db.prepare('SELECT value FROM kv WHERE key = ?')
    this.listStmt = db.prepare('SELECT key, value FROM kv WHERE key > ? AND key >= ? ORDER BY key LIMIT ' + String(PAGE))
    this.putStmt = db.prepare('INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value')
    this.delStmt = db.prepare('DELETE FROM kv WHERE key = ?')
    this.delRangeStmt = db.prepare('DELETE FROM kv WHERE key >= ? AND key < ?')
    // For a prefix prefixEnd() cannot bound: every key from it on is checked.
    this.delPrefixStmt = db.prepare('DELETE FROM kv WHERE key >= ? AND substr(key, 1, length(?)) = ?')
    this.parts = new NodePartFiles(join(dir, 'parts'))
    this.writeOps = db.transaction((ops: JournalOp[]) => {
      for (const op of ops) {
        if ('prefix' in op) {
          const end = prefixEnd(op.prefix)
          if (end === undefined) this.delPrefixStmt.run(op.prefix, op.prefix, op.prefix)
          else this.delRangeStmt.run(op.prefix, end)
        } else if (op.value === undefined) this.delStmt.run(op.key)
        else this.putStmt.run(op.key, op.value)
      }
    })
  }

  /**
   * The journal of the store in `storeDir`, or undefined when it has none (it never received), opened
   * without its lock: for reading beside a phone that may hold it (ferry inspect, backup), or writing
   * under the store's lock, which every phone on that store holds too (ferry import).
   */
  static existing (storeDir: string): NodeJournal | undefined {
    return existsSync(join(resolve(storeDir), 'journal', 'journal.db')) ? NodeJournal.openIn(storeDir, false) : undefined
  }

  /**
   * Opens (creating when missing) the journal in `<storeDir>/journal`, for one user at a time: while it
   * is open, another open of it, in this process or another, is STORE_BUSY naming the process that has
   * it. close() it once the node that uses it stopped.
   */
  static open (storeDir: string): NodeJournal {
    return NodeJournal.openIn(storeDir, true)
  }

  private static openIn (storeDir: string, locked: boolean): NodeJournal {
    const dir = join(resolve(storeDir), 'journal')
    let db: Database.Database | undefined
    let lock: JournalLock | undefined
    try {
      // Private like the store: it holds pairing records (resume tokens) and the versions a transfer replaced.
      makePrivateDir(dir)
    } catch (err) {
      throw journalError(err, `opening the journal in ${dir}`, dir)
    }
    if (locked) lock = JournalLock.acquire(dir)
    try {
      makeDatabasePrivate(join(dir, 'journal.db'))
      db = new Database(join(dir, 'journal.db'))
      db.pragma('journal_mode = WAL')
      // A lost commit after a power cut is one the transfer makes again: it logs before it writes.
      db.pragma('synchronous = NORMAL')
      // better-sqlite3 builds SQLite with a 16 MiB page cache, and a transfer's log, written once and read
      // once in key order, filled it: a receiver's peak memory held 16 MiB of journal pages for nothing.
      db.pragma('cache_size = -1024')
      db.exec('CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID')
      return new NodeJournal(dir, db, lock)
    } catch (err) {
      db?.close()
      lock?.release()
      throw journalError(err, `opening the journal in ${dir}`, dir)
    }
  }

  /**
   * Whether the journal holds nothing at all: no key (no pairing, transfer, tried code) and no partial
   * file. Synchronous, so that nothing can be written between the look and what the caller does next.
   */
  holdsNothing (): boolean {
    try {
      return this.db.prepare('SELECT 1 FROM kv LIMIT 1').get() === undefined && readdirSync(this.parts.root).length === 0
    } catch (err) {
      throw journalError(err, 'reading the journal', this.dir)
    }
  }

  async get (key: string): Promise<Uint8Array | undefined> {
    try {
      const row = this.getStmt.get(key)
      return row === undefined ? undefined : new Uint8Array(row.value)
    } catch (err) {
      throw journalError(err, 'reading the journal', this.dir)
    }
  }

  async * list (prefix: string): AsyncGenerator<[string, Uint8Array]> {
    // The keys under a prefix are one run of the key order, which ends at the first key without it. (An
    // upper bound of prefix + U+FFFF would leave out keys that continue with a character past the BMP:
    // SQLite compares their UTF-8, where those sort after it.)
    let after = ''
    for (;;) {
      let rows: Array<{ key: string, value: Buffer }>
      try {
        rows = this.listStmt.all(after, prefix)
      } catch (err) {
        throw journalError(err, 'reading the journal', this.dir)
      }
      for (const r of rows) {
        if (!r.key.startsWith(prefix)) return
        // A view, not a copy: better-sqlite3 hands each row a Buffer of its own.
        yield [r.key, new Uint8Array(r.value.buffer, r.value.byteOffset, r.value.byteLength)]
      }
      if (rows.length < PAGE) return
      after = rows[rows.length - 1].key
    }
  }

  async write (ops: JournalOp[]): Promise<void> {
    try {
      this.writeOps(ops)
    } catch (err) {
      throw journalError(err, 'writing the journal', this.dir)
    }
  }

  /**
   * synchronous=NORMAL syncs the WAL only at checkpoints: one write under FULL syncs it now, with every
   * write before it (the WAL is a log: what precedes a synced frame is synced too).
   */
  async flush (): Promise<void> {
    try {
      this.db.pragma('synchronous = FULL')
      try {
        this.putStmt.run(DURABLE_KEY, new Uint8Array(0))
      } finally {
        this.db.pragma('synchronous = NORMAL')
      }
    } catch (err) {
      throw journalError(err, 'writing the journal', this.dir)
    }
  }

  async close (): Promise<void> {
    this.parts.close()
    if (this.db.open) this.db.close()
    this.lock?.release()
  }

  /** A file's bytes as a stream (used by parts' hand-off). */
  static stream (path: string): AsyncIterable<Uint8Array> {
    return createReadStream(path, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Uint8Array>
  }
}

/**
 * The least string above every key that starts with `prefix`: its last character raised by one. SQLite
 * compares keys as UTF-8 bytes, which order as code points do, so a key lies in [prefix, end) exactly
 * when it starts with the prefix. undefined when the last character has no plain successor (a surrogate
 * half, or none at all).
 */
function prefixEnd (prefix: string): string | undefined {
  const last = prefix.charCodeAt(prefix.length - 1)
  if (prefix.length === 0 || last >= 0xd7ff) return undefined
  return prefix.slice(0, -1) + String.fromCharCode(last + 1)
}

/**
 * A journal SQLite finds damaged. It is not the history (history.db and media/ are that): the advice for
 * a damaged store, to bring the history back from another copy, would have a person throw away a good
 * one. Set aside, the journal loses only Ferry's record of its transfers (docs/architecture.md).
 */
function journalError (err: unknown, what: string, dir: string): FerryError {
  if (!isDamagedDatabase(err)) return storeError(err, what)
  return new FerryError(ErrorCode.STORE, `${what}: Ferry's journal (journal.db) is damaged (SQLite: ${(err as Error).message}). ` +
    'It holds Ferry\'s record of its transfers, not the history (history.db and media/ hold that). ' +
    `To go on, move the folder ${dir} aside and Ferry starts a new journal: an unfinished transfer then starts again with a new code, ` +
    'and the next transfer from the same old phone may bring back what was deleted or renamed on this phone since the last one',
  { reason: 'damaged-journal', journal: dir }, { cause: err })
}
