import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import { exportNdjson } from '../../src/sim/export.js'
import { importNdjson } from '../../src/sim/import.js'
import type { SqliteChatStore } from '../../src/store/sqlite-store.js'
import { cleanupTempDirs, exportText, fillStore, openStore, tempDir } from '../helpers/stores.js'

// A store whose copy of a file is not the file its record names (a bad sector, a file cut short) must
// not turn an export with --media into one that cannot be imported: the export leaves that file out and
// says so, and the import of what it wrote brings everything else.

afterEach(() => cleanupTempDirs())

/** Past one copy piece and not a whole number of them: copied piece by piece (or cloned). */
const LARGE = 2 * 1024 * 1024 + 12345
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

async function store (): Promise<SqliteChatStore> {
  const s = openStore()
  await fillStore(s, { conversations: 2, messagesPerConversation: 30, mediaSizes: [50_000, 20_000, LARGE] })
  return s
}

const DAMAGE: Record<string, (path: string) => void> = {
  'a flipped bit': path => { const b = readFileSync(path); b[5] ^= 1; writeFileSync(path, b) },
  'a file cut short': path => { truncateSync(path, 1000) }
}

async function exportTo (s: SqliteChatStore, dir: string, afterMediaCopy?: () => Promise<void>): Promise<{ file: string, result: Awaited<ReturnType<typeof exportNdjson>> }> {
  const chunks: Buffer[] = []
  const out = new Writable({ write (c: Buffer, _e, cb) { chunks.push(Buffer.from(c)); cb() } })
  const result = await exportNdjson(s, out, { mediaDir: join(dir, 'media'), relativeTo: dir, afterMediaCopy })
  const file = join(dir, 'history.ndjson')
  writeFileSync(file, Buffer.concat(chunks))
  return { file, result }
}

function mediaLines (file: string): Array<{ sha256: string, path?: string }> {
  return readFileSync(file, 'utf8').trimEnd().split('\n').map(l => JSON.parse(l)).filter(r => r.type === 'media')
}

describe('an export with --media of a store holding a damaged file', () => {
  for (const [how, damage] of Object.entries(DAMAGE)) {
    for (const which of ['small', 'large'] as const) {
      it(`leaves out a ${which} file with ${how}, and the export imports whole but for it`, async () => {
        const s = await store()
        const records = await s.media(undefined, 10)
        const bad = records.find(m => which === 'large' ? m.size === LARGE : m.size === 20_000)?.sha256 as string
        damage(s.mediaPath(bad))
        const dir = tempDir()
        const { file, result } = await exportTo(s, dir)
        expect(result).toMatchObject({ media: 3, mediaFiles: 2, mediaFilesDamaged: 1 })
        // The others copied byte for byte; the damaged one not at all, its line without a path.
        expect(readdirSync(join(dir, 'media')).sort()).toEqual(records.map(m => m.sha256).filter(h => h !== bad).sort())
        for (const name of readdirSync(join(dir, 'media'))) expect(sha(readFileSync(join(dir, 'media', name)))).toBe(name)
        expect(mediaLines(file).map(m => [m.sha256, m.path !== undefined])).toEqual(records.map(m => [m.sha256, m.sha256 !== bad]))

        const b = openStore()
        const imported = await importNdjson(b, file)
        expect(imported).toMatchObject({ messages: 60, media: 3, mediaFiles: 2, mediaFilesDamaged: 0 })
        // Every message, the damaged file's ones too, its record kept without the file: shown as missing.
        expect(await exportText(b)).toBe(await exportText(s))
        expect(b.hasMediaFile(bad)).toBe(false)
        expect(b.stats()).toMatchObject({ mediaMissing: 1 })
        s.close()
        b.close()
      })
    }
  }

  it('copies of a file grown past its record the bytes it names, as a transfer sends them', async () => {
    const s = await store()
    const records = await s.media(undefined, 10)
    for (const m of records) writeFileSync(s.mediaPath(m.sha256), Buffer.from('tail'), { flag: 'a' })
    const dir = tempDir()
    const { file, result } = await exportTo(s, dir)
    expect(result).toMatchObject({ media: 3, mediaFiles: 3, mediaFilesDamaged: 0 })
    for (const m of records) expect(sha(readFileSync(join(dir, 'media', m.sha256)))).toBe(m.sha256)
    const b = openStore()
    await expect(importNdjson(b, file)).resolves.toMatchObject({ messages: 60, mediaFiles: 3, mediaFilesDamaged: 0 })
    s.close()
    b.close()
  })

  it('leaves out a file the app deletes while the export runs, its line without a path', async () => {
    const s = await store()
    const records = await s.media(undefined, 10)
    const dir = tempDir()
    // Deleted once the first file is copied, after the page of records naming it as stored was read.
    const last = records[records.length - 1].sha256
    const { file, result } = await exportTo(s, dir, async () => { rmSync(s.mediaPath(last), { force: true }) })
    expect(result).toMatchObject({ media: 3, mediaFiles: 2, mediaFilesDamaged: 0 })
    expect(existsSync(join(dir, 'media', last))).toBe(false)
    expect(mediaLines(file).find(m => m.sha256 === last)?.path).toBeUndefined()
    const b = openStore()
    await expect(importNdjson(b, file)).resolves.toMatchObject({ messages: 60, mediaFiles: 2 })
    s.close()
    b.close()
  })
})
