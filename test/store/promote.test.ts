import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { MediaFolder } from '../../src/store/media-folder.js'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'

afterEach(() => cleanupTempDirs())

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const file = (i: number): Buffer => Buffer.from(`photo ${i}`)

// Promotion is grouped: a file counts as present at once, gets its name after its group's flush, and a
// failure shows up at flush(). 100 files make one group flushed with syncfs (64) and one gathered group.
describe('promoting received files', () => {
  it('names every promoted file once its group is on disk, and flush waits for all of them', async () => {
    const folder = new MediaFolder(join(tempDir(), 'media'))
    const files = Array.from({ length: 100 }, (_, i) => file(i))
    const done: string[] = []
    for (const f of files) {
      const h = sha(f)
      folder.writeWhole(h, f)
      folder.promotePart(h, () => done.push(h))
      expect(folder.has(h)).toBe(true) // present before its rename
    }
    await folder.flush()
    expect(done.sort()).toEqual(files.map(sha).sort())
    for (const f of files) expect(readFileSync(folder.path(sha(f))).equals(f)).toBe(true)
    expect(readdirSync(join(folder.root, '.part'))).toEqual([])
    await folder.flush() // nothing pending: returns at once
    folder.close()
  })

  it('reports a file that cannot take its name at flush, and promotes the others', async () => {
    const folder = new MediaFolder(join(tempDir(), 'media'))
    const bad = file(1)
    const good = file(2)
    // A non-empty directory where the file's name should go: the rename fails (EISDIR / ENOTEMPTY).
    mkdirSync(folder.path(sha(bad)), { recursive: true })
    writeFileSync(join(folder.path(sha(bad)), 'in-the-way'), 'x')
    const done: string[] = []
    for (const f of [bad, good]) {
      folder.writeWhole(sha(f), f)
      folder.promotePart(sha(f), () => done.push(sha(f)))
    }
    await expect(folder.flush()).rejects.toMatchObject({ message: expect.stringContaining(`storing media ${sha(bad)}`) })
    expect(done).toEqual([sha(good)])
    expect(readFileSync(folder.path(sha(good))).equals(good)).toBe(true)
    // The failed one is no longer pending; its part stays for the receiver to deal with.
    expect(folder.has(sha(bad))).toBe(false)
    expect(existsSync(folder.partPath(sha(bad)))).toBe(true)
    await folder.flush() // the error was reported once
    folder.close()
  })
})
