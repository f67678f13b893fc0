import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { prefetchFile } from '../../src/store/prefetch.js'
import { onPath } from '../../scripts/lib/test-tools.js'
import { cannotRun } from '../helpers/cannot-run.js'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'

// The page cache, as the kernel reports it (fincore), before and after a prefetch. GNU dd's
// oflag=nocache drops a file's pages, so each case starts cold.

afterAll(() => cleanupTempDirs())

const MiB = 1024 * 1024
const ROOT = fileURLToPath(new URL('../../', import.meta.url))

function evict (file: string): void {
  execFileSync('dd', ['if=/dev/null', `of=${file}`, 'oflag=nocache', 'conv=notrunc,fdatasync', 'count=0'], { stdio: 'ignore' })
}

function cachedBytes (file: string): number {
  return Number(execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', file], { encoding: 'utf8' }).trim())
}

/**
 * A 32 MiB file whose pages can be dropped, or why there is none. TMPDIR may be a tmpfs, which keeps
 * every page whatever dd asks: then the repository's own .tmp/ (on the clone's disk) is tried.
 */
function evictableFile (): { file?: string, reason?: string } {
  if (!onPath('fincore')) return { reason: "'fincore' is not installed (Debian package util-linux-extra)" }
  const parents = [tmpdir(), join(ROOT, '.tmp')]
  for (const parent of parents) {
    mkdirSync(parent, { recursive: true })
    const file = join(tempDir('ferry-prefetch-', parent), 'history.db')
    writeFileSync(file, randomBytes(32 * MiB))
    evict(file)
    if (cachedBytes(file) === 0) return { file }
  }
  return { reason: `neither ${parents.join(' nor ')} drops a file's pages after dd oflag=nocache (tmpfs?)` }
}

const { file, reason } = evictableFile()
const path = file ?? ''
const skip = cannotRun('the prefetch tests', reason)

describe.skipIf(skip)('prefetchFile', () => {
  it('reads a file into the page cache, up to the limit', async () => {
    evict(path)
    await prefetchFile(path, new AbortController().signal, 3 * MiB)
    const partly = cachedBytes(path)
    expect(partly).toBeGreaterThanOrEqual(3 * MiB)
    expect(partly).toBeLessThan(16 * MiB) // the kernel may read a little ahead of the last read
    await prefetchFile(path, new AbortController().signal, Number.MAX_SAFE_INTEGER)
    // Everything, but for the odd page the kernel may already have dropped again (a full run once saw
    // 9 pages of 8,192 gone with 19 GiB free): the point is far past the first prefetch's limit.
    expect(cachedBytes(path)).toBeGreaterThanOrEqual(31 * MiB)
  })

  it('reads nothing once aborted, and never fails', async () => {
    evict(path)
    const stop = new AbortController()
    stop.abort()
    await prefetchFile(path, stop.signal, Number.MAX_SAFE_INTEGER)
    expect(cachedBytes(path)).toBe(0)
    await expect(prefetchFile(join(tempDir(), 'missing.db'), new AbortController().signal, MiB)).resolves.toBeUndefined()
  })
})
