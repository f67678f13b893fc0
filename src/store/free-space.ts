import { statfs } from 'node:fs/promises'

/**
 * The receiver's `freeBytes` on Node: the space the file system holding `dir` grants an unprivileged
 * writer (f_bavail, not f_bfree: the blocks reserved for root are not this phone's to fill). `dir` is the
 * store's folder; its media and the journal's partial files live on the same file system.
 */
export function freeSpaceOf (dir: string): () => Promise<number> {
  return async () => {
    const s = await statfs(dir)
    return Number(s.bavail) * Number(s.bsize)
  }
}
