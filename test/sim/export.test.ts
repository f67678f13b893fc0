import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { exportNdjson } from '../../src/sim/export.js'
import { importNdjson } from '../../src/sim/import.js'
import { parseLine } from '../../src/sim/ndjson.js'
import { compareKeys, compareStrings, type Contact, type Conversation, type MediaRecord, type Message } from '../../src/store/model.js'
import { cleanupTempDirs, exportText, fillStore, openStore, tempDir } from '../helpers/stores.js'

afterEach(() => cleanupTempDirs())

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'edge-cases.ndjson')

/** Sorts raw lines into canonical record order without re-serializing them (their bytes are the expectation). */
function canonicalOrder (lines: string[]): string[] {
  const rank = { contact: 0, conversation: 1, media: 2, message: 3 }
  const parsed = lines.map(text => ({ text, r: parseLine(text) }))
  return parsed.sort((a, b) => {
    if (a.r.type !== b.r.type) return rank[a.r.type] - rank[b.r.type]
    if (a.r.type === 'message' && b.r.type === 'message') return compareKeys(a.r, b.r)
    if (a.r.type === 'media' && b.r.type === 'media') return compareStrings(a.r.sha256, b.r.sha256)
    return compareStrings((a.r as Contact).id, (b.r as Contact).id)
  }).map(p => p.text)
}

describe('the hand-written edge-case fixture', () => {
  const lines = readFileSync(FIXTURE, 'utf8').trimEnd().split('\n')

  it('is out of order on purpose', () => {
    expect(canonicalOrder(lines)).not.toEqual(lines)
  })

  it('comes back from import + export as the same records, byte for byte, canonically ordered', async () => {
    const s = openStore()
    const r = await importNdjson(s, FIXTURE)
    expect(r).toMatchObject({ contacts: 6, conversations: 5, media: 5, mediaFiles: 4, messages: 19 })
    // Exporting the media beside the NDJSON as media/<sha256> gives the fixture's own paths.
    const out = tempDir()
    const chunks: Buffer[] = []
    const sink = new Writable({ write (c: Buffer, _e, cb) { chunks.push(c); cb() } })
    const result = await exportNdjson(s, sink, { mediaDir: join(out, 'media'), relativeTo: out })
    expect(result).toMatchObject({ contacts: 6, conversations: 5, media: 5, mediaFiles: 4, messages: 19 })
    expect(Buffer.concat(chunks).toString('utf8')).toBe(canonicalOrder(lines).join('\n') + '\n')
    // The copied files are the originals.
    for (const l of lines.map(parseLine)) {
      if (l.type !== 'media' || l.path === undefined) continue
      expect(createHash('sha256').update(readFileSync(join(out, l.path))).digest('hex')).toBe(l.sha256)
    }
    s.close()
  })

  it('round-trips through a second store to identical bytes', async () => {
    const a = openStore()
    await importNdjson(a, FIXTURE)
    const out = tempDir()
    const file = join(out, 'a.ndjson')
    const { createWriteStream } = await import('node:fs')
    const ws = createWriteStream(file)
    await exportNdjson(a, ws, { mediaDir: join(out, 'm'), relativeTo: out })
    await new Promise<void>(resolve => ws.end(resolve))
    const b = openStore()
    await importNdjson(b, file)
    expect(await exportText(b)).toBe(await exportText(a))
    expect(b.stats()).toEqual(a.stats())
    a.close()
    b.close()
  })
})

describe('canonical export', () => {
  const contacts: Contact[] = [{ id: '𝒜', name: 'A' }, { id: 'ｚ', name: '' }, { id: 'b', name: 'B', phone: '' }]
  const conversations: Conversation[] = [
    { id: 'c2', kind: 'group', title: 'G', members: ['ｚ', 'me', 'b'] },
    { id: 'c1', kind: 'direct', title: '', members: ['b', 'me'] }
  ]
  const media: MediaRecord[] = [{ sha256: 'f'.repeat(64), size: 1, mime: 'a/b' }, { sha256: '0'.repeat(64), size: 2, mime: 'c/d' }]
  const messages: Message[] = [
    { conversation: 'c2', id: 'x', sender: 'b', ts: 10, kind: 'text', text: '' },
    { conversation: 'c1', id: 'm10', sender: 'b', ts: 10, kind: 'image', media: '0'.repeat(64) },
    { conversation: 'c1', id: 'm9', sender: 'me', ts: 10, kind: 'location', location: { lat: 1, lon: 2 } },
    { conversation: 'c1', id: 'a', sender: 'me', ts: 9, kind: 'system' }
  ]

  it('is byte-identical for equal content inserted in different orders and batches', async () => {
    const a = openStore()
    a.putMetadata(contacts, conversations, media)
    a.putMessages(messages)
    const b = openStore()
    // Messages before their conversations and media records: free within one transaction.
    b.transaction(() => {
      for (const m of [...messages].reverse()) b.putMessages([m])
      b.putMetadata([...contacts].reverse(), [], [])
      b.putMetadata([], [...conversations].reverse(), [...media].reverse())
    })
    const text = await exportText(a)
    expect(await exportText(b)).toBe(text)
    expect(await exportText(a)).toBe(text) // and stable
    expect(text.split('\n').slice(0, 3).map(l => JSON.parse(l).id)).toEqual(['b', 'ｚ', '𝒜'])
    a.close()
    b.close()
  })

  it('writes nothing for an empty store', async () => {
    const s = openStore()
    expect(await exportText(s)).toBe('')
    s.close()
  })

  it('waits for a slow reader instead of buffering the whole history', async () => {
    const s = openStore()
    s.putMetadata([], [{ id: 'c', kind: 'direct', title: '', members: [] }], [])
    const ms: Message[] = []
    for (let i = 0; i < 20_000; i++) ms.push({ conversation: 'c', id: `m${i}`, sender: 'me', ts: i, kind: 'text', text: 'x'.repeat(50) })
    s.putMessages(ms)
    let maxBuffered = 0
    let bytes = 0
    const slow = new Writable({
      highWaterMark: 16 * 1024,
      write (c: Buffer, _e, cb) { bytes += c.byteLength; maxBuffered = Math.max(maxBuffered, slow.writableLength); setImmediate(cb) }
    })
    const r = await exportNdjson(s, slow)
    expect(r.bytes).toBe(bytes)
    expect(r.messages).toBe(20_000)
    expect(maxBuffered).toBeLessThan(256 * 1024)
    s.close()
  })

  it('fails, rather than hangs, when the output breaks', async () => {
    const s = openStore()
    s.putMetadata([{ id: 'u', name: 'x'.repeat(100_000) }], [], [])
    const broken = new Writable({ write (_c, _e, cb) { cb(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' })) } })
    await expect(exportNdjson(s, broken)).rejects.toMatchObject({ code: 'STORE', message: expect.stringMatching(/EPIPE/) })
    s.close()
  })

  it('takes away the media it copied when the export fails at its very end (the file full, its rename refused)', async () => {
    const s = openStore()
    await fillStore(s, { conversations: 1, messagesPerConversation: 3, mediaSizes: [1000, 2000] })
    const dir = tempDir()
    const mediaDir = join(dir, 'media')
    const sink = new Writable({ write (_c, _e, cb) { cb() } })
    const full = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })
    const failed = await exportNdjson(s, sink, { mediaDir, relativeTo: dir, complete: async () => { throw full } }).catch((e: unknown) => e)
    expect(failed).toMatchObject({ code: 'STORE_FULL', message: expect.stringMatching(/^writing the export: the disk is full\. The export failed: the 2 media files it had copied into .* were removed again/) })
    expect(existsSync(mediaDir)).toBe(false)
    s.close()
  })

  it('copies media larger than one piece byte for byte, private to the user', async () => {
    const s = openStore()
    // Past the size copied in one call, and not a whole number of pieces: read and written piece by piece.
    const size = 2 * 1024 * 1024 + 12345
    await fillStore(s, { conversations: 1, messagesPerConversation: 3, mediaSizes: [size] })
    const [video] = await s.media(undefined, 10)
    const dir = tempDir()
    const sink = new Writable({ write (_c, _e, cb) { cb() } })
    const result = await exportNdjson(s, sink, { mediaDir: join(dir, 'media'), relativeTo: dir })
    expect(result.mediaFiles).toBe(1)
    const copy = join(dir, 'media', video.sha256)
    expect(createHash('sha256').update(readFileSync(copy)).digest('hex')).toBe(video.sha256)
    expect(statSync(copy).mode & 0o777).toBe(0o600)
    expect(readdirSync(join(dir, 'media'))).toEqual([video.sha256])
    s.close()
  })
})
