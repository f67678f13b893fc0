import { execFile } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { SqliteChatStore } from '../../src/store/sqlite-store.js'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'

// The bench's media-heavy history made the way people bring one in (WhatsApp exports, then `ferry
// import`): every message and file written lands in the store, whole, for `npm run bench -- --store`.

const ROOT = join(import.meta.dirname, '..', '..')

async function run (args: string[]): Promise<{ code: number, stderr: string }> {
  return await new Promise(resolve => {
    execFile(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/bench/whatsapp-history.ts'), ...args], { cwd: ROOT }, (err, _stdout, stderr) => {
      resolve({ code: err === null ? 0 : (err as { code?: number }).code ?? 1, stderr })
    })
  })
}

afterAll(() => { cleanupTempDirs() })

describe('scripts/bench/whatsapp-history.ts', () => {
  it('writes the exports and imports every message and media file of them into a store', async () => {
    const out = join(tempDir(), 'history')
    const { code, stderr } = await run(['--out', out, '--chats', '3', '--messages', '400', '--photos', '4', '--videos', '1', '--video-mb', '1', '--seed', '3'])
    expect(code, stderr).toBe(0)
    const exports = readdirSync(join(out, 'exports'))
    expect(exports.sort()).toEqual(['chat-1', 'chat-2', 'chat-3'])
    const written = exports.flatMap(d => readdirSync(join(out, 'exports', d)).filter(f => !f.endsWith('.txt')))
    // Photos, voice notes and the one video.
    expect(written.filter(f => f.startsWith('IMG-'))).toHaveLength(12)
    expect(written.filter(f => f.startsWith('VID-'))).toHaveLength(1)
    const store = SqliteChatStore.open(join(out, 'store'))
    try {
      const stats = store.stats()
      expect(stats.conversations).toBe(3)
      expect(stats.messages).toBe(1200)
      expect(stats.mediaPresent).toBe(written.length)
      expect(stats.mediaMissing).toBe(0)
    } finally {
      store.close()
    }
  })

  it('writes the video asked for where a photo falls half-way through', async () => {
    // 200 messages and 3 photos: the second photo is message 100, where the video would go.
    const out = join(tempDir(), 'history')
    const { code, stderr } = await run(['--out', out, '--chats', '1', '--messages', '200', '--photos', '3', '--videos', '1', '--video-mb', '1'])
    expect(code, stderr).toBe(0)
    const written = readdirSync(join(out, 'exports', 'chat-1'))
    expect(written.filter(f => f.startsWith('IMG-'))).toHaveLength(3)
    expect(written.filter(f => f.startsWith('VID-'))).toHaveLength(1)
  })

  it('refuses an --out that exists, and a count that is not one, with exit 2', async () => {
    const dir = tempDir()
    const taken = await run(['--out', dir])
    expect(taken.code).toBe(2)
    expect(taken.stderr).toContain('exists already')
    const bad = await run(['--out', join(dir, 'new'), '--photos', 'many'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain("--photos takes a whole number, not 'many'")
    const crowded = await run(['--out', join(dir, 'new'), '--messages', '10', '--photos', '11'])
    expect(crowded.code).toBe(2)
    expect(crowded.stderr).toContain('--photos 11 is more than the 10 messages of a chat')
  })
})
