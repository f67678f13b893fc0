import type Database from 'better-sqlite3'
import { closeSync, constants, fstatSync, lstatSync, openSync, rmSync } from 'node:fs'
import { ErrorCode, FerryError } from '../errors.js'
import { fsError } from '../fs-errors.js'
import { holderWords, lockedDatabase, readHolderFile, writeHolderFile, type LockHolder } from '../store/store-lock.js'
import { storeHolderName } from '../store/holder-name.js'

// A backup writes FILE.partial and renames it to FILE when complete. One stopped by a signal it cannot
// catch (SIGKILL, a power cut) leaves the partial file behind, and only the lock tells it apart from the
// file of a backup still running: so a backup holds this lock for as long as it writes the partial file,
// and a later one that gets the lock knows no process writes the file it finds, and removes it.
//
// The lock is the store lock's (store-lock.ts): an OS file lock, taken through SQLite on an empty
// database, FILE.partial.lock, that dies with its process; FILE.partial.lock.json beside it names the
// holder for the refusal. Both go when the backup ends. As the lock file is removed by its holder, a
// process may lock a file already unlinked (it opened it just before): it checks, once it holds the
// lock, that the path still names the file it opened, and tries again otherwise.

/**
 * The lock files this process holds, by device and inode. A second backup to the same file in this
 * process must be refused before it opens the file: closing its descriptor would release this
 * process's lock on it (POSIX record locks belong to the process, not the descriptor).
 */
const held = new Set<string>()
const inode = (st: { dev: number, ino: number }): string => `${st.dev}:${st.ino}`

export class PartialLock {
  private released = false

  private constructor (
    private readonly path: string,
    private readonly db: Database.Database,
    private readonly fd: number,
    private readonly key: string
  ) {}

  /**
   * Takes the lock on the backup's partial file `partial`, or throws STORE_BUSY naming the process
   * that holds it (`details.pid`, `details.command`): a backup to the same file that is running.
   */
  static acquire (partial: string): PartialLock {
    const path = `${partial}.lock`
    for (;;) {
      const there = lstatSync(path, { throwIfNoEntry: false })
      if (there !== undefined && held.has(inode(there))) throw busy(partial, { pid: process.pid, command: storeHolderName(), since: '' })
      let fd: number
      try {
        // Held open until the lock is released: closing any descriptor of the file would release the
        // process's lock on it (POSIX record locks), and an open file keeps its inode from being reused.
        fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600)
      } catch (err) {
        // Said of the backup's file: the lock beside it fails as it would (a read-only or full disk, a folder not its owner's).
        throw fsError(err, `cannot write the backup ${partial}`, partial)
      }
      let db: Database.Database
      try {
        db = lockedDatabase(path)
      } catch (err) {
        closeSync(fd)
        if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw fsError(err, `cannot lock the backup's partial file ${partial}`, path)
        throw busy(partial, readHolderFile(`${path}.json`))
      }
      const now = lstatSync(path, { throwIfNoEntry: false })
      const opened = fstatSync(fd)
      if (now !== undefined && now.ino === opened.ino && now.dev === opened.dev) {
        writeHolderFile(`${path}.json`)
        held.add(inode(opened))
        return new PartialLock(path, db, fd, inode(opened))
      }
      db.close()
      closeSync(fd)
    }
  }

  /** Gives the lock up, its files removed first: the next backup to the file makes its own. Idempotent. */
  release (): void {
    if (this.released) return
    this.released = true
    rmSync(`${this.path}.json`, { force: true })
    rmSync(this.path, { force: true })
    this.db.close()
    closeSync(this.fd)
    held.delete(this.key)
  }
}

function busy (partial: string, h: LockHolder | undefined): FerryError {
  return new FerryError(ErrorCode.STORE_BUSY,
    `${partial} is being written by ${holderWords(h)}, a backup to the same file: wait for it to finish, or stop it, or choose another --out`,
    { path: partial, pid: h?.pid, command: h?.command })
}
