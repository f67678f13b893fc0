// What docs/cli.md's "Secrets at rest" says of a backup's size: the file is its contents plus 60 bytes and
// 20 bytes a MiB segment, so its size tells about how much history it holds. Written by a real process.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'
import { ferry, jsonLines, ROOT } from '../helpers/ferry-sync.js'

afterAll(() => cleanupTempDirs())

describe('a backup\'s size', () => {
  it('is its contents plus 60 bytes and 20 bytes a MiB, as docs/cli.md says', () => {
    const dir = tempDir()
    const phone = join(dir, 'phone')
    expect(ferry('seed', '--store', phone, '--profile', 'tiny').status).toBe(0)
    writeFileSync(join(dir, 'pw'), 'correct horse battery staple\n')
    const r = ferry('backup', '--store', phone, '--out', join(dir, 'b.ferrybak'), '--password-file', join(dir, 'pw'), '--json')
    expect(r.status, r.stderr).toBe(0)
    const { fileBytes, plainBytes } = jsonLines(r.stdout).find(e => e.event === 'backup') as { fileBytes: number, plainBytes: number }
    expect(fileBytes).toBe(plainBytes + 60 + 20 * Math.ceil(plainBytes / 2 ** 20))
    const readme = readFileSync(join(ROOT, 'docs', 'cli.md'), 'utf8')
    expect(readme.replace(/\s+/g, ' ')).toContain('the file is its contents (messages compressed, media as they are) plus 60 bytes and 20 bytes a MiB')
  })
})
