import { closeSync, fsyncSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { ErrorCode, FerryError } from './errors.js'

/**
 * Refuses to write a file where a directory is: checked before the work, since the rename that would
 * find out comes after all of it (a whole export, a backup's key derivation and every segment).
 */
export function refuseDirectory (path: string, option: string, name: string): void {
  if (statSync(path, { throwIfNoEntry: false })?.isDirectory() === true) {
    throw new FerryError(ErrorCode.BAD_INPUT, `${option} ${path} is a directory: name the file to write, like ${join(path, name)}`)
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
