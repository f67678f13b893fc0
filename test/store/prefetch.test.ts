import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { prefetchFile } from '../../src/store/prefetch.js'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'

// The page cache, as the kernel reports it (fincore), before and after a prefetch. GNU dd's
// oflag=nocache drops a file's pages, so each case starts cold.

afterAll(() => cleanupTempDirs())

const MiB = 1024 * 1024
const path = join(tempDir(), 'history.db')
writeFileSync(path, randomBytes(32 * MiB))

function evict (): void {
  execFileSync('dd', ['if=/dev/null', `of=${path}`, 'oflag=nocache', 'conv=notrunc,fdatasync', 'count=0'], { stdio: 'ignore' })
}

function cachedBytes (): number {
  return Number(execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', path], { encoding: 'utf8' }).trim())
}

evict()
const canEvict = cachedBytes() === 0
if (!canEvict) console.log(`prefetch tests skipped: this filesystem keeps ${path} cached after dd oflag=nocache (tmpfs?)`)

describe.skipIf(!canEvict)('prefetchFile', () => {
  it('reads a file into the page cache, up to the limit', async () => {
    evict()
    await prefetchFile(path, new AbortController().signal, 3 * MiB)
    const partly = cachedBytes()
    expect(partly).toBeGreaterThanOrEqual(3 * MiB)
    expect(partly).toBeLessThan(16 * MiB) // the kernel may read a little ahead of the last read
    await prefetchFile(path, new AbortController().signal, Number.MAX_SAFE_INTEGER)
    expect(cachedBytes()).toBe(32 * MiB)
  })

  it('reads nothing once aborted, and never fails', async () => {
    evict()
    const stop = new AbortController()
    stop.abort()
    await prefetchFile(path, stop.signal, Number.MAX_SAFE_INTEGER)
    expect(cachedBytes()).toBe(0)
    await expect(prefetchFile(join(tempDir(), 'missing.db'), new AbortController().signal, MiB)).resolves.toBeUndefined()
  })
})
