import { chmodSync, closeSync, constants, fchmodSync, fstatSync, lstatSync, mkdirSync, openSync, readFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { logger } from '@libp2p/logger'
import { makeFolders } from './fs-errors.js'

// A chat history is private to the phone's owner, so is every file that holds a piece of it or a secret
// that opens it: the store's folder is 0700 and each file Ferry writes into it, or writes elsewhere with
// history in it (a backup, an export), is 0600, whatever the umask. The folder's mode is what keeps other
// local users out (they cannot reach anything inside it); the files' own modes keep a file private
// wherever it goes next (moved out of the folder, copied with its mode, a folder loosened later).

export const PRIVATE_DIR_MODE = 0o700
export const PRIVATE_FILE_MODE = 0o600
const OTHERS = 0o077

const log = logger('ferry:private-files')

/**
 * Makes `dir` a private folder: created 0700 when missing (its missing parents get the umask's usual
 * modes: they hold no history), and an existing one that group or others may enter is tightened, as an
 * older Ferry or a copy tool may have left it.
 */
export function makePrivateDir (dir: string): void {
  makeFolders(dirname(dir))
  try {
    mkdirSync(dir, { mode: PRIVATE_DIR_MODE })
    // Exact, whatever the umask took away.
    chmodSync(dir, PRIVATE_DIR_MODE)
    return
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  }
  tighten(dir)
}

/**
 * Takes group's and others' access away from an existing file or folder (a symlink is left alone). Best
 * effort: a filesystem without Unix modes (FAT on a memory card) or a folder owned by someone else
 * refuses the change, and the history stays usable there.
 */
export function tighten (path: string): void {
  const st = lstatSync(path, { throwIfNoEntry: false })
  if (st === undefined || st.isSymbolicLink() || (st.mode & OTHERS) === 0) return
  try {
    chmodSync(path, st.mode & 0o7700)
  } catch (err) {
    log('cannot make %s private: %s', path, (err as Error).message)
  }
}

/**
 * Creates a new private file for writing and returns its descriptor. Never opens what is already there
 * (O_EXCL), so never writes through a symlink another user planted, nor into someone else's file: an
 * existing file or link at `path` fails with EEXIST, for the caller to explain.
 */
export function createPrivateFile (path: string): number {
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, PRIVATE_FILE_MODE)
  try {
    fchmodSync(fd, PRIVATE_FILE_MODE)
  } catch (err) {
    log('cannot make %s private: %s', path, (err as Error).message)
  }
  return fd
}

/**
 * Reads a file that holds a secret, tightening it first when others may read it: a store copied between
 * machines (backup tools, adb pull) often loses its modes, and refusing would strand the phone.
 * Throws ENOENT as readFileSync does.
 */
export function readPrivateFile (path: string): Buffer {
  const fd = openSync(path, 'r')
  try {
    const mode = fstatSync(fd).mode
    if ((mode & OTHERS) !== 0) {
      try {
        fchmodSync(fd, mode & 0o7700)
      } catch (err) {
        log('cannot make %s private: %s', path, (err as Error).message)
      }
    }
    return readFileSync(fd)
  } finally {
    closeSync(fd)
  }
}

/**
 * Makes an SQLite database private before SQLite opens it. SQLite creates a database file 0644 (not
 * even the umask narrows it), but gives its -wal, -shm and -journal files the database file's mode, so
 * a database file made 0600 here keeps all of them 0600. Files an older Ferry left looser are tightened.
 */
export function makeDatabasePrivate (dbPath: string): void {
  try {
    closeSync(createPrivateFile(dbPath))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    tighten(dbPath)
  }
  for (const suffix of ['-wal', '-shm', '-journal']) tighten(dbPath + suffix)
}
