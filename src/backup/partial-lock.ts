import Database from 'better-sqlite3'
import { closeSync, constants, fstatSync, lstatSync, openSync, rmSync } from 'node:fs'
import { ErrorCode, FerryError } from '../errors.js'
import { fsError } from '../fs-errors.js'
import { holderWords, readHolderFile, writeHolderFile } from '../store/store-lock.js'

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

export class PartialLock {
  private constructor (
    private readonly path: string,
    private readonly db: Database.Database,
    private readonly fd: number
  ) {}

  /**
   * Takes the lock on the backup's partial file `partial`, or throws STORE_BUSY naming the process
   * that holds it (`details.pid`, `details.command`): a backup to the same file that is running.
   */
  static acquire (partial: string): PartialLock {
    const path = `${partial}.lock`
    for (;;) {
      let fd: number
      try {
        // Held open until the lock is released: closing any descriptor of the file would release the
        // process's lock on it (POSIX record locks), and an open file keeps its inode from being reused.
        fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600)
      } catch (err) {
        // Said of the backup's file: the lock beside it fails as it would (a read-only or full disk, a folder not its owner's).
        throw fsError(err, `cannot write the backup ${partial}`, partial)
      }
      let db: Database.Database | undefined
      try {
        db = new Database(path, { timeout: 0 })
        db.pragma('locking_mode = EXCLUSIVE')
        db.pragma('journal_mode = MEMORY')
        db.exec('BEGIN EXCLUSIVE')
      } catch (err) {
        db?.close()
        closeSync(fd)
        if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw fsError(err, `cannot lock the backup's partial file ${partial}`, path)
        const h = readHolderFile(`${path}.json`)
        throw new FerryError(ErrorCode.STORE_BUSY,
          `${partial} is being written by ${holderWords(h)}, a backup to the same file: wait for it to finish, or stop it, or choose another --out`,
          { path: partial, pid: h?.pid, command: h?.command })
      }
      const now = lstatSync(path, { throwIfNoEntry: false })
      const opened = fstatSync(fd)
      if (now !== undefined && now.ino === opened.ino && now.dev === opened.dev) {
        writeHolderFile(`${path}.json`)
        return new PartialLock(path, db, fd)
      }
      db.close()
      closeSync(fd)
    }
  }

  /** Gives the lock up, its files removed first: the next backup to the file makes its own. */
  release (): void {
    rmSync(`${this.path}.json`, { force: true })
    rmSync(this.path, { force: true })
    this.db.close()
    closeSync(this.fd)
  }
}
