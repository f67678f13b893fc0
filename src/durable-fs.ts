import { closeSync, fsyncSync, lstatSync, openSync, realpathSync, renameSync, rmSync, statSync, writeSync } from 'node:fs'
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path'
import { ErrorCode, FerryError } from './errors.js'
import { fsError } from './fs-errors.js'

/**
 * Refuses to write a file where a directory is: checked before the work, since the rename that would
 * find out comes after all of it (a whole export, a backup's key derivation and every segment).
 */
export function refuseDirectory (path: string, option: string, name: string): void {
  let isDirectory: boolean
  try {
    isDirectory = statSync(path, { throwIfNoEntry: false })?.isDirectory() === true
  } catch (err) {
    throw fsError(err, `${option} ${path}`, path)
  }
  if (isDirectory) {
    throw new FerryError(ErrorCode.BAD_INPUT, `${option} ${path} is a directory: name the file to write, like ${join(path, name)}`)
  }
}

/**
 * Refuses a FILE that is not a file on disk: the rename that ends the write replaces whatever entry is
 * at FILE, so a device, a pipe or a socket there (/dev/null, a FIFO), a link to one, or a name in /dev
 * or /proc (/dev/stdout, whose link leads to a file only while stdout is redirected to one) would be
 * swapped for a plain file holding the history, and what the person meant gets nothing. `tail` says
 * what to do instead.
 */
export function refuseSpecialFile (path: string, option: string, tail: string): void {
  let st, target
  try {
    st = lstatSync(path, { throwIfNoEntry: false })
    if (st === undefined) return
    target = st.isSymbolicLink() ? statSync(path, { throwIfNoEntry: false }) : st
  } catch (err) {
    throw fsError(err, `${option} ${path}`, path)
  }
  const folder = realPathOf(dirname(resolve(path)))
  const what = target !== undefined && !target.isFile() && !target.isDirectory()
    ? (st.isSymbolicLink() ? 'a link to a device, a pipe or a socket' : 'a device, a pipe or a socket')
    // /dev itself, not its subfolders: /dev/shm is a RAM disk a person may well write to.
    : folder === '/dev' || folder === '/proc' || folder.startsWith('/proc/') ? 'a name in /dev or /proc, like /dev/stdout' : undefined
  if (what !== undefined) throw new FerryError(ErrorCode.BAD_INPUT, `${option} ${path} is not a regular file (${what}): ${tail}`, { path })
}

/**
 * Refuses to write into a store's folder: a file there may be the store's own (an export or a backup
 * written over history.db destroys the history it was taken from), and the store owns every name in
 * it. Compared by real paths, so a symlinked or relative spelling of the store is caught too. A file
 * is replaced by a rename, which replaces a symlink rather than writing through it: only its folder's
 * real path counts; a folder is written through, so its own does.
 */
export function refuseInsideStore (path: string, option: string, storeDir: string, kind: 'file' | 'folder'): void {
  const store = realPathOf(storeDir)
  const target = kind === 'file' ? join(realPathOf(dirname(resolve(path))), basename(resolve(path))) : realPathOf(path)
  const rel = relative(store, target)
  const outside = rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)
  if (!outside) {
    throw new FerryError(ErrorCode.BAD_INPUT, `${option} ${path} is inside the store ${storeDir}: writing there would damage the store; choose a ${kind} outside it`)
  }
}

/** The real path of `path`, which need not exist: its nearest existing ancestor's, with the rest appended. */
function realPathOf (path: string): string {
  const rest: string[] = []
  let p = resolve(path)
  for (;;) {
    try {
      return join(realpathSync(p), ...rest.reverse())
    } catch {
      const parent = dirname(p)
      if (parent === p) return resolve(path)
      rest.push(basename(p))
      p = parent
    }
  }
}

/**
 * Makes a rename or link durable: the new directory entry is only on disk once the directory is synced.
 * Some filesystems refuse fsync on a directory; durability is then best effort.
 */
export function fsyncDir (dir: string): void {
  let fd: number | undefined
  try {
    fd = openSync(dir, 'r')
    fsyncSync(fd)
  } catch {
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

/** Writes a new file (failing if it exists) and fsyncs it before returning. */
export function writeSyncedFile (path: string, data: Uint8Array | string, mode: number): void {
  const fd = openSync(path, 'wx', mode)
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/** Replaces `path` through a synced temporary file and a rename: a crash leaves the old content or the new, never half. */
export function replaceFileDurably (path: string, data: Uint8Array | string, mode: number): void {
  const tmp = `${path}.tmp`
  rmSync(tmp, { force: true })
  writeSyncedFile(tmp, data, mode)
  renameSync(tmp, path)
  fsyncDir(dirname(path))
}
