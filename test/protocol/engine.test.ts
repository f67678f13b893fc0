import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, exportText, fillStore, openStore } from '../helpers/stores.js'
import { journalOf, runTransfer } from '../helpers/transfer.js'
import type { SqliteChatStore } from '../../src/store/sqlite-store.js'
import type { ferry } from '../../src/wire/codec.js'
import { SLICE } from '../../src/protocol/breathe.js'

// The engine over an in-memory pipe against real SQLite stores: full transfer, selection, interruption
// at many points, and what reaches the receiver's store.

let source: SqliteChatStore
let sourceExport: string
const OPTIONS = { batchBytes: 4096, chunkBytes: 16 * 1024, windowBytes: 64 * 1024 }

beforeAll(async () => {
  source = openStore()
  await fillStore(source, { conversations: 4, messagesPerConversation: 150, mediaSizes: [70_000, 1, 0, 40_000, 33_333], hugeMessageBytes: 20_000 })
  sourceExport = await exportText(source)
})

afterAll(() => {
  source.close()
  cleanupTempDirs()
})

describe('transfer engine', () => {
  it('moves a whole history: the receiver exports exactly what the sender does', async () => {
    const target = openStore()
    const r = await runTransfer(source, target, { options: OPTIONS })
    expect(r.receiverError).toBeUndefined()
    expect(r.senderError).toBeUndefined()
    expect(r.receiver.state).toBe('verified')
    expect(r.sender.state).toBe('verified')
    expect(await exportText(target)).toBe(sourceExport)
    expect(r.receiver.summary?.reduce((n, c) => n + c.messages, 0)).toBe(601)
    target.close()
  })

  it('moves with the default options too (large batches and chunks)', async () => {
    const target = openStore()
    const r = await runTransfer(source, target)
    expect(r.receiverError).toBeUndefined()
    expect(await exportText(target)).toBe(sourceExport)
    target.close()
  })

  it('merges into a phone that already holds other chats, and a second run duplicates nothing', async () => {
    const target = openStore()
    target.putMetadata([{ id: 'z9', name: 'Zed' }], [{ id: 'zz', kind: 'direct', title: 'Mine', members: ['z9', 'me'] }], [])
    target.putMessages([{ conversation: 'zz', id: 'x', sender: 'z9', ts: 1, kind: 'text', text: 'kept' }])
    expect((await runTransfer(source, target, { options: OPTIONS })).receiverError).toBeUndefined()
    const once = await exportText(target)
    expect(once).toContain('"text":"kept"')
    const again = await runTransfer(source, target, { options: OPTIONS })
    expect(again.receiverError).toBeUndefined()
    expect(again.receiver.state).toBe('verified')
    expect(await exportText(target)).toBe(once)
    expect(target.stats().messages).toBe(602)
    target.close()
  })

  it('moves only the selection: conversations and a date range', async () => {
    const target = openStore()
    const since = 1_700_000_010_000
    const until = 1_700_000_050_000
    const r = await runTransfer(source, target, { offer: { conversations: ['c0', 'c-😀', 'c3'] }, request: { conversations: ['c-😀', 'c2'], since, until }, options: OPTIONS })
    expect(r.receiverError).toBeUndefined()
    const lines = (await exportText(target)).trim().split('\n').map(l => JSON.parse(l))
    const msgs = lines.filter(l => l.type === 'message')
    expect(new Set(msgs.map(m => m.conversation))).toEqual(new Set(['c-😀']))
    expect(msgs.every(m => m.ts >= since && m.ts < until)).toBe(true)
    expect(msgs.length).toBe(80)
    expect(lines.filter(l => l.type === 'conversation').map(c => c.id)).toEqual(['c-😀'])
    // Only media the selected messages use came over.
    const used = new Set(msgs.filter(m => m.media !== undefined).map(m => m.media))
    expect(new Set(lines.filter(l => l.type === 'media').map(m => m.sha256))).toEqual(used)
    for (const sha of used) expect(target.hasMediaFile(sha)).toBe(true)
    target.close()
  })

  it('carries a message larger than a frame intact', async () => {
    const target = openStore()
    const r = await runTransfer(source, target, { options: { ...OPTIONS, batchBytes: 1024 } })
    expect(r.receiverError).toBeUndefined()
    const huge = [...target.listMessages({ conversations: ["c0"] })].find(m => m.id === 'huge')
    expect(huge?.text).toBe('x'.repeat(20_000))
    target.close()
  })
})

describe('resume after an interruption', () => {
  // A seeded spread of cut points over the sender->receiver byte stream, plus the edges.
  function cutPoints (total: number, n: number, seed: number): number[] {
    let x = seed
    const rnd = (): number => { x = (x * 1103515245 + 12345) % 2 ** 31; return x / 2 ** 31 }
    const pts = new Set([1, 10, 200, total - 300, total - 40, total - 1])
    while (pts.size < n) pts.add(1 + Math.floor(rnd() * (total - 2)))
    return [...pts].filter(p => p > 0 && p < total).sort((a, b) => a - b)
  }

  it('loses and duplicates nothing, and re-sends at most one batch and one chunk, wherever the link is cut', async () => {
    const full = await runTransfer(source, openStore(), { options: OPTIONS })
    const total = full.bytesAtoB
    const points = cutPoints(total, 40, 7)
    let midChunk = 0
    let midBatch = 0
    for (const cut of points) {
      const target = openStore()
      const delivered1 = { keys: new Set<string>(), chunks: [] as Array<[number, number, number]> }
      const first = await runTransfer(source, target, {
        options: OPTIONS,
        cutAtAtoB: cut,
        onReceived: f => {
          if (f.body === 'batch') for (const m of (f.batch as ferry.MessageBatch).messages) delivered1.keys.add(`${m.conversation}/${m.id}`)
          if (f.body === 'chunk') { const c = f.chunk as ferry.MediaChunk; delivered1.chunks.push([c.index, Number(c.offset), c.data.byteLength]) }
        }
      })
      expect(first.receiver.state).not.toBe('verified')
      expect(first.receiverError?.code).toBe('TRUNCATED')
      if (first.receiver.state === 'media') midChunk++
      if (first.receiver.state === 'messages') midBatch++
      let resentMessages = 0
      let resentMediaBytes = 0
      const second = await runTransfer(source, target, {
        options: OPTIONS,
        onReceived: f => {
          if (f.body === 'batch') for (const m of (f.batch as ferry.MessageBatch).messages) if (delivered1.keys.has(`${m.conversation}/${m.id}`)) resentMessages++
          if (f.body === 'chunk') {
            const c = f.chunk as ferry.MediaChunk
            for (const [i, o, n] of delivered1.chunks) {
              if (i === c.index) resentMediaBytes += Math.max(0, Math.min(o + n, Number(c.offset) + c.data.byteLength) - Math.max(o, Number(c.offset)))
            }
          }
        }
      })
      expect(second.receiverError, `cut at ${cut}`).toBeUndefined()
      expect(second.receiver.state).toBe('verified')
      expect(await exportText(target)).toBe(sourceExport)
      // Each frame commits as it is processed, so over a pipe nothing the receiver saw comes again; only a
      // process killed inside a commit re-receives that one batch or chunk (test/e2e covers kills).
      expect(resentMessages).toBe(0)
      expect(resentMediaBytes).toBe(0)
      target.close()
    }
    expect(midChunk).toBeGreaterThan(3)
    expect(midBatch).toBeGreaterThan(3)
  })

  it('survives a cut in the acknowledgement direction and several cuts in a row', async () => {
    const target = openStore()
    const cuts = [{ cutAtBtoA: 60 }, { cutAtAtoB: 30_000 }, { cutAtAtoB: 5_000 }, { cutAtBtoA: 40 }]
    let interrupted = 0
    for (const cut of cuts) {
      const r = await runTransfer(source, target, { options: OPTIONS, ...cut })
      if (r.receiver.state !== 'verified') {
        interrupted++
        expect(r.receiverError?.code).toBe('TRUNCATED')
      }
    }
    expect(interrupted).toBeGreaterThanOrEqual(3)
    const last = await runTransfer(source, target, { options: OPTIONS })
    expect(last.receiverError).toBeUndefined()
    expect(await exportText(target)).toBe(sourceExport)
    target.close()
  })

  it('resumes after a committed prefix longer than a slice, re-sending none of it, and verifies', async () => {
    // 3 x 7,000 messages: the receiver's prefix spans slice boundaries (SLICE messages per turn).
    const big = openStore()
    await fillStore(big, { conversations: 3, messagesPerConversation: 7000, mediaSizes: [30_000] })
    const bigExport = await exportText(big)
    const target = openStore()
    const full = await runTransfer(big, openStore(), { options: OPTIONS })
    const first = await runTransfer(big, target, { options: OPTIONS, cutAtAtoB: Math.floor(full.bytesAtoB * 0.9) })
    expect(first.receiverError?.code).toBe('TRUNCATED')
    const committed = first.receiver.progress.messages
    expect(committed).toBeGreaterThan(2 * SLICE)

    // The resumed session sends only what the receiver lacks: both phones read what they hold (in
    // slices, answering the link meanwhile) and compare, and nothing the receiver committed comes again.
    const second = await runTransfer(big, target, { options: OPTIONS })
    expect(second.receiverError).toBeUndefined()
    expect(second.receiver.state).toBe('verified')
    expect(second.sender.progress.skippedMessages).toBe(committed)
    expect(second.sender.progress.messagesSent).toBe(21_000 - committed)
    expect(second.receiver.progress.messagesHeld).toBe(committed)
    expect(await exportText(target)).toBe(bigExport)
    target.close()
    big.close()
  })

  it('promotes a part that was complete when the process died before its rename', async () => {
    const target = openStore()
    const first = await runTransfer(source, target, { options: OPTIONS, cutAtAtoB: 1000 })
    expect(first.receiver.state).not.toBe('verified')
    // The largest media file, fully written as a part, never handed to the store.
    const m = [...source.listMedia()].sort((a, b) => b.size - a.size)[0]
    const journal = journalOf(target)
    await journal.parts.write(m.sha256, 0, source.readMediaSync(m.sha256, 0, m.size))
    let resent = 0
    const second = await runTransfer(source, target, {
      options: OPTIONS,
      onReceived: f => { if (f.body === 'chunk' && first.receiver.expected?.media.sha256((f.chunk as ferry.MediaChunk).index) === m.sha256) resent++ }
    })
    expect(second.receiverError).toBeUndefined()
    expect(resent).toBe(0)
    expect(target.hasMediaFile(m.sha256)).toBe(true)
    expect(await journal.parts.list()).toEqual([])
    expect(await exportText(target)).toBe(sourceExport)
    target.close()
  })
})

