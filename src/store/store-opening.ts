import { readdirSync, statSync, type Stats } from 'node:fs'
import { ErrorCode, FerryError, storeError } from '../errors.js'
import { fileInTheWay, fsError, unwritable } from '../fs-errors.js'

// What opening a store checks of its folder, and the words for what it finds: a person names a folder,
// and a wrong one (someone else's files, a file, a folder they may not write) must be said as such.

/** Ferry's own names at the top of a store; anything else makes a directory someone else's. */
const STORE_NAMES = /^(?:history\.db(?:-wal|-shm|-journal)?|media|journal|peer\.key(?:\..+\.tmp)?|store\.lock(?:\.json)?|webrtc-cert\.json(?:\..+)?)$/

/** Whether `name`, at the top of a store's folder, is one of Ferry's own files or folders. */
export const isStoreName = (name: string): boolean => STORE_NAMES.test(name)

/** What `dir` holds besides a store's own files (nothing when it does not exist). */
export function foreignEntries (dir: string): string[] {
  try {
    return readdirSync(dir).filter(n => !STORE_NAMES.test(n)).sort()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw storeError(err, `reading ${dir}`)
  }
}

/**
 * stat() for opening a store, undefined when nothing is there. The failures a person can fix (a file
 * where a folder of the path should be, a folder they may not read) are said as such: Node's own text
 * names neither the culprit nor what it means for the store.
 */
export function statStore (path: string, store: string): Stats | undefined {
  try {
    return statSync(path, { throwIfNoEntry: false })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOTDIR') {
      const file = fileInTheWay(path) ?? 'a part of the path'
      throw new FerryError(ErrorCode.BAD_INPUT, `${file} is a file, so ${store} cannot be a store`, { path }, { cause: err })
    }
    throw fsError(err, `cannot read the store ${store}`, path)
  }
}

/** A failure to open a store's database. A history.db SQLite cannot read is the person's to fix: they named the wrong folder. */
export function openError (err: unknown, store: string): FerryError {
  const code = (err as { code?: string })?.code
  if (code === 'SQLITE_NOTADB') {
    return new FerryError(ErrorCode.BAD_INPUT, `${store} is not a Ferry store (history.db is not a SQLite database)`, undefined, { cause: err })
  }
  // SQLite's "unable to open database file": it writes beside history.db (its -wal and -shm files) even
  // to read a store, so a folder it cannot write in fails every command, the readers' too.
  const why = code === 'SQLITE_CANTOPEN' || code?.startsWith('SQLITE_READONLY') === true ? unwritable(store) : undefined
  if (why !== undefined) {
    return new FerryError(ErrorCode.BAD_INPUT, `cannot open the store ${store}: ${why}, and SQLite writes beside history.db even to read it; ` +
      'copy the store to a folder you can write in', { path: store }, { cause: err })
  }
  return storeError(err, `opening the store ${store}`)
}
