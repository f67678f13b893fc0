import { accessSync, constants, mkdirSync, statSync } from 'node:fs'
import { dirname } from 'node:path'
import { ErrorCode, FerryError, storeError } from './errors.js'

/**
 * Why `path` could not be used, in a person's words, for the filesystem failures a person causes and
 * can fix (a name that is not there, a file where a folder goes, a folder where a file goes, no right to
 * it). Node's own text ("ENOTDIR: not a directory, stat 'a/b'") names neither the culprit nor the way
 * out. Undefined for any other failure.
 */
export function fsReason (err: unknown, path: string): string | undefined {
  switch ((err as { code?: string })?.code) {
    case 'ENOENT': return `${path} does not exist`
    case 'EISDIR': return `${path} is a folder, not a file`
    case 'ENOTDIR': {
      const file = fileInTheWay(path)
      return file === undefined ? `a part of ${path} is a file, not a folder` : `${file} is a file, not a folder`
    }
    case 'EEXIST':
      return statSync(path, { throwIfNoEntry: false })?.isDirectory() === false ? `${path} is a file, not a folder` : `${path} already exists`
    case 'EACCES':
    case 'EPERM': return 'permission denied'
    case 'EROFS': return 'the file system is read-only'
    case 'ENAMETOOLONG': return 'the name is too long'
    default: return undefined
  }
}

/**
 * Why the input `path` cannot be read, naming it: as fsReason, but no right to it says which file and
 * whose right ("permission denied" alone leaves a person to guess between the input and the store).
 * Undefined for a failure fsReason does not explain either.
 */
export function readReason (err: unknown, path: string): string | undefined {
  const code = (err as { code?: string })?.code
  if (code === 'EACCES' || code === 'EPERM') return `${path}: this user cannot read it`
  return fsReason(err, path)
}

/**
 * A filesystem failure while `doing` something with `path` as a typed error: the failures fsReason
 * explains are the user's to fix (BAD_INPUT, exit 2); any other (a full disk, an I/O error) is the
 * store's, as storeError reports it.
 */
export function fsError (err: unknown, doing: string, path: string): FerryError {
  if (err instanceof FerryError) return err
  const reason = fsReason(err, path)
  if (reason === undefined) return storeError(err, doing)
  return new FerryError(ErrorCode.BAD_INPUT, `${doing}: ${reason}`, { path }, { cause: err })
}

/**
 * A filesystem failure in the store's own folders (its media), mid-write: no right to write there, or a
 * read-only disk, said as the store's (STORE) in a person's words, with the way out; any other failure
 * as storeError reports it. Node's own text ("EACCES: permission denied, mkdir '…/media/00'") names the
 * syscall, not what to do.
 */
export function storeFolderError (err: unknown, doing: string, path: string): FerryError {
  if (err instanceof FerryError) return err
  const code = (err as { code?: string })?.code
  if (code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS') return storeError(err, doing)
  const why = code === 'EROFS' ? 'the file system is read-only' : 'this user has no right to write there'
  return new FerryError(ErrorCode.STORE, `${doing}: cannot write in ${path} (${why}). ` +
    'Make the store\'s folder writable for the user that runs Ferry, then try again: what is in the store stays as it is', { path }, { cause: err })
}

/** The nearest ancestor of `path` that exists and is not a folder: what makes a path fail with ENOTDIR. */
export function fileInTheWay (path: string): string | undefined {
  // Walks the path as written, so that the answer reads as the user wrote it.
  let p = path
  for (;;) {
    const parent = dirname(p)
    if (parent === p) return undefined
    p = parent
    try {
      const st = statSync(p, { throwIfNoEntry: false })
      if (st !== undefined) return st.isDirectory() ? undefined : p
    } catch {
      // ENOTDIR again: the file is further up.
    }
  }
}

/**
 * mkdirSync(path, { recursive: true, mode }), returning the first folder it made (undefined when there
 * was none to make), and failing with the error of the folder that could not be made:
 * Node's recursive mkdir says ENOENT for the whole path when a parent cannot be made (a read-only file
 * system, no permission), which reads as a typo in the path rather than the disk it is.
 */
export function makeFolders (path: string, mode?: number): string | undefined {
  try {
    return mkdirSync(path, { recursive: true, mode })
  } catch (err) {
    if ((err as { code?: string })?.code !== 'ENOENT') throw err
    const missing: string[] = []
    for (let p = path; statSync(p, { throwIfNoEntry: false }) === undefined && dirname(p) !== p; p = dirname(p)) missing.push(p)
    const first = missing.at(-1)
    if (first !== undefined) mkdirSync(first, { mode }) // throws the real reason; when it does not, say Node's
    throw err
  }
}

/** Why no file can be written in the folder `dir` (read-only file system, no permission), or undefined. */
export function unwritable (dir: string): string | undefined {
  try {
    accessSync(dir, constants.W_OK)
    return undefined
  } catch (err) {
    const code = (err as { code?: string })?.code
    return code === 'EROFS' || code === 'EACCES' || code === 'EPERM' ? fsReason(err, dir) : undefined
  }
}
