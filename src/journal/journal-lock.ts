import type Database from 'better-sqlite3'
import { realpathSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { ErrorCode, FerryError, storeError } from '../errors.js'
import { makeDatabasePrivate } from '../private-files.js'
import { holderWords, lockedDatabase, readHolderFile, writeHolderFile } from '../store/store-lock.js'

// One open NodeJournal at a time writes a journal folder. Two write the same partial media files and
// the same transfer log: a restarted node beside one whose journal was never closed (an app that made
// it inline, then made a node again), or two processes given the same folder with a history of their
// own, which the store's lock does not cover.
//
// The lock is the store's (store-lock.ts): an OS file lock on an empty SQLite database, journal.lock,
// that dies with its process, and journal.lock.json naming the holder for the refusal. Unlike the
// store's, it is not shared within a process: a journal opened twice is always one too many, and is
// refused before SQLite is asked (a second connection would not tell this process from another).

export const JOURNAL_LOCK_FILE = 'journal.lock'
export const JOURNAL_HOLDER_FILE = 'journal.lock.json'

/** The journal folders (real paths) this process holds open. */
const held = new Set<string>()

export class JournalLock {
  private released = false

  private constructor (private readonly key: string, private readonly db: Database.Database) {}

  /** Takes the lock on the journal folder `dir` (which exists), or throws STORE_BUSY naming its holder. */
  static acquire (dir: string): JournalLock {
    let key: string
    try {
      key = realpathSync(dir)
    } catch (err) {
      throw storeError(err, `locking the journal in ${dir}`)
    }
    if (held.has(key)) {
      throw new FerryError(ErrorCode.STORE_BUSY,
        `the journal in ${dir} is open already in this process (${process.pid}): one journal at a time may use a folder; ` +
        'go on with the one open, or close() it (once the node that uses it stopped) before opening it again',
        { dir, pid: process.pid })
    }
    const path = join(key, JOURNAL_LOCK_FILE)
    let db: Database.Database
    try {
      makeDatabasePrivate(path)
      db = lockedDatabase(path)
    } catch (err) {
      if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw storeError(err, `locking the journal in ${dir}`)
      const h = readHolderFile(join(key, JOURNAL_HOLDER_FILE))
      throw new FerryError(ErrorCode.STORE_BUSY,
        `the journal in ${dir} is in use by ${holderWords(h)}: one Ferry process at a time may use a journal; wait for it to finish, or stop it`,
        { dir, pid: h?.pid, command: h?.command })
    }
    held.add(key)
    writeHolderFile(join(key, JOURNAL_HOLDER_FILE))
    return new JournalLock(key, db)
  }

  /** Gives the lock up, its holder file first: the next holder writes its own. Idempotent. */
  release (): void {
    if (this.released) return
    this.released = true
    rmSync(join(this.key, JOURNAL_HOLDER_FILE), { force: true })
    this.db.close()
    held.delete(this.key)
  }
}
