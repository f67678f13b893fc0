import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs'
import { dirname } from 'node:path'

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
