import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs'

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
