import { execFileSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from './stores.js'

/** A small file system a test mounted: `at`, or `why` it could not (for cannotRun). */
export type Mounted = { at: string, why?: undefined } | { at?: undefined, why: string }

/**
 * Mounts a tmpfs of `size` (as mount's `size=`, e.g. '2m') under a temporary folder: a disk that fills or
 * can be made read-only, with no image file or loop device. Root only; says why not where it cannot.
 */
export function mountTmpfs (prefix: string, size: string): Mounted {
  if (process.getuid?.() !== 0) return { why: 'needs root to mount a small tmpfs' }
  const at = join(tempDir(prefix), 'mnt')
  mkdirSync(at)
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', at], { stdio: 'pipe' })
    return { at }
  } catch (err) {
    return { why: `cannot mount tmpfs: ${((err as { stderr?: Buffer }).stderr ?? '').toString().trim() || (err as Error).message}` }
  }
}

/** Unmounts what mountTmpfs mounted (lazily if a process still holds a file there). */
export function unmount (at: string | undefined): void {
  if (at === undefined) return
  try { execFileSync('umount', [at], { stdio: 'pipe' }) } catch { execFileSync('umount', ['-l', at], { stdio: 'pipe' }) }
}
