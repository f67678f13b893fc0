import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { MediaFolder } from '../../src/store/media-folder.js'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'

afterEach(() => cleanupTempDirs())

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const file = (i: number): Buffer => Buffer.from(`photo ${i}`)

// Taking in received files is grouped: a file counts as present at once, gets its name after its
// group's flush, and each caller learns of its own file's failure. 100 files make two groups flushed
// with syncfs: the first 8, and the 92 that queued while that one ran.
describe('adopting received files', () => {
  it('names every adopted file once its group is on disk, and flush waits for all of them', async () => {
    const root = tempDir()
    const folder = new MediaFolder(join(root, 'media'))
    const incoming = join(root, 'incoming')
    mkdirSync(incoming)
    const files = Array.from({ length: 100 }, (_, i) => file(i))
    const done: string[] = []
    const adopted: Array<Promise<void>> = []
    for (const [i, f] of files.entries()) {
      const h = sha(f)
      if (i % 2 === 0) {
        const path = join(incoming, h)
        writeFileSync(path, f)
        adopted.push(folder.adopt(path, h).then(() => { done.push(h) }))
      } else {
        adopted.push(folder.adoptBytes(h, f).then(() => { done.push(h) }))
      }
      expect(folder.has(h)).toBe(true) // present before its rename
    }
    await folder.flush()
    await Promise.all(adopted)
    expect(done.sort()).toEqual(files.map(sha).sort())
    for (const f of files) expect(readFileSync(folder.path(sha(f))).equals(f)).toBe(true)
    expect(readdirSync(incoming)).toEqual([]) // moved, not copied
    expect(readdirSync(join(folder.root, '.tmp'))).toEqual([])
    await folder.flush() // nothing pending: returns at once
    folder.close()
  })

  it('rejects the one file that cannot take its name, and adopts the others', async () => {
    const root = tempDir()
    const folder = new MediaFolder(join(root, 'media'))
    const bad = file(1)
    const good = file(2)
    // A non-empty directory where the file's name should go: the rename fails (EISDIR / ENOTEMPTY).
    mkdirSync(folder.path(sha(bad)), { recursive: true })
    writeFileSync(join(folder.path(sha(bad)), 'in-the-way'), 'x')
    const badPath = join(root, 'bad')
    const goodPath = join(root, 'good')
    writeFileSync(badPath, bad)
    writeFileSync(goodPath, good)
    const results = await Promise.allSettled([folder.adopt(badPath, sha(bad)), folder.adopt(goodPath, sha(good))])
    expect(results[0]).toMatchObject({ status: 'rejected', reason: { code: 'STORE', message: expect.stringContaining(`storing media ${sha(bad)}`) } })
    expect(results[1].status).toBe('fulfilled')
    expect(readFileSync(folder.path(sha(good))).equals(good)).toBe(true)
    // The failed one is not present; its file stays where it was, for the caller to deal with.
    expect(folder.has(sha(bad))).toBe(false)
    expect(existsSync(badPath)).toBe(true)
    await folder.flush()
    folder.close()
  })
})
