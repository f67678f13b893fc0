import Database from 'better-sqlite3'
import { closeSync, readFileSync, realpathSync, renameSync, rmSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { logger } from '@libp2p/logger'
import { ErrorCode, FerryError, storeError } from '../errors.js'
import { createPrivateFile, makeDatabasePrivate } from '../private-files.js'
import { storeHolderName } from './holder-name.js'
import { pidAlive } from '../pid-alive.js'

// One process at a time writes a store. Two receivers on one store (a restarted app beside a lingering
// old instance) interleave their part files and checkpoints, and end in HASH_MISMATCH or worse.
//
// The lock is an OS file lock, so it dies with its process: nothing stale survives a SIGKILL or a power
// cut. Node has no flock(), so the lock is SQLite's: store.lock is an empty database held by a connection
// in EXCLUSIVE locking mode inside a transaction begun EXCLUSIVE, which takes fcntl's write lock on its
// lock bytes and keeps it until the connection closes or the process ends. Another process asking gets
// SQLITE_BUSY at once (no busy timeout). Beside it, store.lock.json names the holder (pid, command) for
// the refusal's message; it is written only by a process that holds the lock, so it is trusted only
// while the lock is held and a stale one is simply overwritten.
//
// Within one process the lock is shared: SQLite's own in-process bookkeeping would refuse a second
// connection in the same process, but opening a store twice from one process is the app's business.

export const LOCK_FILE = 'store.lock'
export const HOLDER_FILE = 'store.lock.json'

const log = logger('ferry:store-lock')

interface Held { db: Database.Database, refs: number, dir: string }
/** The locks this process holds, by the store folder's real path. */
const held = new Map<string, Held>()

export interface LockHolder {
  pid: number
  command: string
  since: string
}

/** An exclusive lock on a store folder; release() it when done (the process's end releases it too). */
/**
 * An empty SQLite database at `path` holding an exclusive OS lock for as long as it stays open, which
 * dies with its process. Throws SQLite's own error (`code` SQLITE_BUSY: another process holds it).
 */
export function lockedDatabase (path: string): Database.Database {
  const db = new Database(path, { timeout: 0 })
  try {
    db.pragma('locking_mode = EXCLUSIVE')
    // No journal file: the transaction never writes, and a journal left by a SIGKILL would look stale.
    db.pragma('journal_mode = MEMORY')
    db.exec('BEGIN EXCLUSIVE')
    return db
  } catch (err) {
    db.close()
    throw err
  }
}

export class StoreLock {
  private released = false

  /**
   * @param first whether this took the lock, rather than sharing one this process held already: only
   * then is nothing else in this process writing the store.
   */
  private constructor (private readonly key: string, readonly first: boolean) {}

  /** Takes the lock on the store folder `dir` (which exists), or throws STORE_BUSY naming its holder. */
  static acquire (dir: string): StoreLock {
    let key: string
    try {
      key = realpathSync(dir)
    } catch (err) {
      throw storeError(err, `locking the store ${dir}`)
    }
    const mine = held.get(key)
    if (mine !== undefined) {
      mine.refs++
      return new StoreLock(key, false)
    }
    const path = join(key, LOCK_FILE)
    let db: Database.Database
    try {
      makeDatabasePrivate(path)
      db = lockedDatabase(path)
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_BUSY') throw busy(dir, key)
      throw storeError(err, `locking the store ${dir}`)
    }
    held.set(key, { db, refs: 1, dir: key })
    writeHolderFile(join(key, HOLDER_FILE))
    return new StoreLock(key, true)
  }

  /** Gives the lock up (once this process's last user of the store lets go). Idempotent. */
  release (): void {
    if (this.released) return
    this.released = true
    const h = held.get(this.key)
    if (h === undefined || --h.refs > 0) return
    held.delete(this.key)
    // The holder file goes first: once the lock is free, the next holder writes its own.
    rmSync(join(h.dir, HOLDER_FILE), { force: true })
    h.db.close()
  }
}

/** Who holds the lock on the store `dir`, as its holder file says (undefined when it says nothing usable). */
export function readLockHolder (dir: string): LockHolder | undefined {
  return readHolderFile(join(dir, HOLDER_FILE))
}

/** Who a lock's holder file at `path` names (undefined when it says nothing usable). */
export function readHolderFile (path: string): LockHolder | undefined {
  try {
    const h = JSON.parse(readFileSync(path, 'utf8')) as LockHolder
    if (!Number.isSafeInteger(h.pid) || h.pid <= 0 || typeof h.command !== 'string') return undefined
    return h
  } catch {
    return undefined
  }
}

function busy (dir: string, key: string): FerryError {
  const h = readLockHolder(key)
  const who = holderWords(h)
  return new FerryError(ErrorCode.STORE_BUSY,
    `store ${dir} is in use by ${who}: one Ferry process at a time may use a store; wait for it to finish, or stop it`,
    { dir, pid: h?.pid, command: h?.command })
}

/**
 * "process 123 (ferry receive)", or "another process" when `h` names none alive: a holder file naming a
 * dead process was left by an earlier holder, and the lock's holder has not written its own yet.
 */
export function holderWords (h: LockHolder | undefined): string {
  return h !== undefined && pidAlive(h.pid) ? `process ${h.pid} (${h.command})` : 'another process'
}

/**
 * Writes the holder file at `path`, naming this process (new and private, then renamed into place), once
 * it holds the lock. Only informative: best effort.
 */
export function writeHolderFile (path: string): void {
  const holder: LockHolder = { pid: process.pid, command: storeHolderName(), since: new Date().toISOString() }
  const tmp = `${path}.${process.pid}.tmp`
  try {
    rmSync(tmp, { force: true })
    const fd = createPrivateFile(tmp)
    try {
      writeSync(fd, JSON.stringify(holder) + '\n')
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, path)
  } catch (err) {
    rmSync(tmp, { force: true })
    log('cannot write %s: %s', path, (err as Error).message)
  }
}
