import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, exportText, fillStore, mediaFiles, openStore } from '../helpers/stores.js'
import { runTransfer } from '../helpers/transfer.js'
import type { SqliteChatStore } from '../../src/store/sqlite-store.js'
import type { ferry } from '../../src/wire/codec.js'

// A sender that lies is refused with a typed error naming the lie, and the receiver's store stays
// consistent: an honest transfer afterwards completes and verifies.

let source: SqliteChatStore
let sourceExport: string
const OPTIONS = { batchBytes: 4096, chunkBytes: 16 * 1024, windowBytes: 64 * 1024 }

beforeAll(async () => {
  source = openStore()
  await fillStore(source, { conversations: 3, messagesPerConversation: 60, mediaSizes: [50_000, 20_000] })
  sourceExport = await exportText(source)
})

afterAll(() => {
  source.close()
  cleanupTempDirs()
})

type Tamper = (f: ferry.Frame, n: number) => ferry.Frame.$Properties[]

/** What a new phone holds before anything came. */
const EMPTY = { contacts: 0, conversations: 0, messages: 0, media: 0, mediaPresent: 0, mediaMissing: 0, mediaBytesPresent: 0, mediaBytesMissing: 0 }

async function refusedThenHealed (tamper: Tamper, code: string, request?: { conversations: string[] }): Promise<SqliteChatStore> {
  const target = openStore()
  const bad = await runTransfer(source, target, { options: OPTIONS, tamper, request })
  expect(bad.receiver.state).toBe('failed')
  expect(bad.receiverError?.code).toBe(code)
  // The new phone is as it was: no message, contact, chat or media record of the liar's, and no file.
  expect(target.stats()).toEqual(EMPTY)
  expect(mediaFiles(target)).toEqual([])
  // The sender hears why.
  expect(bad.senderError?.code).toBe('PEER_ERROR')
  expect(bad.senderError?.details?.peerCode).toBe(code)
  const good = await runTransfer(source, target, { options: OPTIONS, request })
  expect(good.receiverError).toBeUndefined()
  expect(good.receiver.state).toBe('verified')
  if (request === undefined) expect(await exportText(target)).toBe(sourceExport)
  return target
}

let batches = 0
const onBatch = (fn: (b: ferry.MessageBatch) => ferry.Frame.$Properties[]): Tamper => f => f.body === 'batch' ? fn(f.batch as ferry.MessageBatch) : [f]
const onChunk = (fn: (c: ferry.MediaChunk) => ferry.Frame.$Properties[]): Tamper => f => f.body === 'chunk' ? fn(f.chunk as ferry.MediaChunk) : [f]

describe('a lying sender', () => {
  it('media bytes that do not match their sha256: those files are left out and counted, the rest verifies', async () => {
    // Indistinguishable from an old phone whose copies are damaged, and no more harmful than a sender
    // announcing the files missing: the history comes, without those files.
    const target = openStore()
    const bad = await runTransfer(source, target, {
      options: OPTIONS,
      tamper: onChunk(c => {
        const data = c.data.slice()
        data[0] ^= 1
        return [{ chunk: { index: c.index, offset: c.offset, data } }]
      })
    })
    expect(bad.receiverError).toBeUndefined()
    expect(bad.receiver.state).toBe('verified')
    expect(bad.receiver.progress.mediaFilesDamaged).toBe(2)
    expect(bad.receiver.progress.mediaFilesReceived).toBe(0)
    const notMedia = (t: string): string[] => t.split('\n').filter(l => !l.startsWith('{"type":"media"'))
    expect(notMedia(await exportText(target))).toEqual(notMedia(sourceExport))
    expect([...target.listMedia()].filter(m => target.hasMediaFile(m.sha256))).toEqual([])
    // An honest transfer then brings the files, and only them.
    const good = await runTransfer(source, target, { options: OPTIONS })
    expect(good.receiver.state).toBe('verified')
    expect(good.receiver.progress.mediaFilesReceived).toBe(2)
    expect(good.receiver.progress.messagesReceived).toBe(0)
    expect(await exportText(target)).toBe(sourceExport)
    target.close()
  })

  it('more media bytes than declared', async () => {
    (await refusedThenHealed(onChunk(c => [{ chunk: { index: c.index, offset: c.offset, data: new Uint8Array(c.data.byteLength + 60_000) } }]), 'SIZE_MISMATCH')).close()
  })

  it('a chunk at the wrong offset, or for the wrong media', async () => {
    (await refusedThenHealed(onChunk(c => [{ chunk: { index: c.index, offset: Number(c.offset) + 1, data: c.data } }]), 'ORDER')).close()
    ;(await refusedThenHealed(onChunk(c => [{ chunk: { index: c.index + 1, offset: c.offset, data: c.data } }]), 'ORDER')).close()
  })

  it('messages out of order, or the same batch twice', async () => {
    (await refusedThenHealed(onBatch(b => [{ batch: { messages: [...b.messages].reverse() } }]), 'ORDER')).close()
    batches = 0
    ;(await refusedThenHealed(onBatch(b => ++batches === 2 ? [{ batch: b }, { batch: b }] : [{ batch: b }]), 'ORDER')).close()
  })

  it('a message id repeated at a later time (in canonical order: only the key can tell)', async () => {
    let done = false
    ;(await refusedThenHealed(onBatch(b => {
      const ms = b.messages
      const i = ms.findIndex((m, j) => j > 0 && m.conversation === ms[j - 1].conversation && Number(m.ts) > Number(ms[j - 1].ts))
      if (done || i < 0) return [{ batch: b }]
      done = true
      return [{ batch: { messages: ms.map((m, j) => j === i ? { ...m, id: ms[i - 1].id } : m) } }]
    }), 'ORDER')).close()
    expect(done).toBe(true)
  })

  it('a message outside the selection', async () => {
    (await refusedThenHealed(onBatch(b => [{ batch: { messages: b.messages.map(m => ({ ...m, conversation: 'c2' })) } }]), 'SELECTION', { conversations: ['c0'] })).close()
  })

  it('altered message content with the original digest', async () => {
    (await refusedThenHealed(onBatch(b => [{ batch: { messages: b.messages.map(m => ({ ...m, sender: 'mallory' })) } }]), 'DIGEST_MISMATCH')).close()
  })

  it('a wrong digest or count in Done', async () => {
    (await refusedThenHealed(f => {
      if (f.body !== 'done') return [f]
      const d = f.done as ferry.Done
      return [{ done: { ...d, conversations: d.conversations.map((c, i) => i === 1 ? { ...c, digest: new Uint8Array(32) } : c) } }]
    }, 'DIGEST_MISMATCH')).close()
    ;(await refusedThenHealed(f => {
      if (f.body !== 'done') return [f]
      const d = f.done as ferry.Done
      return [{ done: { ...d, conversations: d.conversations.map(c => ({ ...c, count: Number(c.count) + 1 })) } }]
    }, 'COUNT_MISMATCH')).close()
  })

  it('a manifest whose counts do not add up, or fewer messages than declared', async () => {
    (await refusedThenHealed(f => f.body === 'manifest' ? [{ manifest: { ...(f.manifest as ferry.Manifest), totalMessages: 5 } }] : [f], 'COUNT_MISMATCH')).close()
    ;(await refusedThenHealed(onBatch(b => [{ batch: { messages: b.messages.slice(1) } }]), 'COUNT_MISMATCH')).close()
  })

  it('more messages than declared', async () => {
    (await refusedThenHealed(f => f.body === 'manifest'
      ? [{ manifest: { ...(f.manifest as ferry.Manifest), totalMessages: 10, conversations: (f.manifest as ferry.Manifest).conversations.map(c => ({ ...c, messageCount: c.id === 'c0' ? 10 : 0 })) } }]
      : [f], 'COUNT_MISMATCH')).close()
  })

  it('a manifest that lists media twice, or out of sha256 order', async () => {
    const media = (f: ferry.Frame): ferry.MediaInfo.$Properties[] => (f.manifest as ferry.Manifest).media
    ;(await refusedThenHealed(f => f.body === 'manifest'
      ? [{ manifest: { ...(f.manifest as ferry.Manifest), media: [...media(f), media(f)[0]] } }]
      : [f], 'MALFORMED_FRAME')).close()
    ;(await refusedThenHealed(f => f.body === 'manifest'
      ? [{ manifest: { ...(f.manifest as ferry.Manifest), media: [...media(f)].reverse() } }]
      : [f], 'MALFORMED_FRAME')).close()
  })

  it('data before the manifest', async () => {
    (await refusedThenHealed(f => f.body === 'manifest' ? [{ batch: { messages: [] } }] : [f], 'PROTOCOL')).close()
  })

  it('a manifest that never ends, in bytes rather than entries', async () => {
    const target = openStore()
    const padding = 'x'.repeat(50_000)
    const bad = await runTransfer(source, target, {
      options: { ...OPTIONS, maxManifestBytes: 200_000 },
      tamper: f => f.body === 'manifest'
        ? [...Array.from({ length: 10 }, () => ({ manifest: { ...(f.manifest as ferry.Manifest), sourceId: padding, media: [], more: true } })), { manifest: f.manifest as ferry.Manifest }]
        : [f]
    })
    expect(bad.receiverError?.code).toBe('TOO_LARGE')
    expect(target.stats().messages).toBe(0)
    target.close()
  })

  it('a frame that does not decode ends the session like any other lie', async () => {
    const target = openStore()
    let n = 0
    const bad = await runTransfer(source, target, {
      options: OPTIONS,
      // A valid batch, then garbage in place of the next one.
      tamper: f => f.body === 'batch' && ++n === 2 ? [{ batch: { messages: [{ conversation: 'c0', id: 'x', sender: 'u', ts: 1, kind: '\u0000bogus' }] } }] : [f]
    })
    expect(bad.receiver.state).toBe('failed')
    expect(['MALFORMED_FRAME', 'SELECTION', 'ORDER']).toContain(bad.receiverError?.code)
    const good = await runTransfer(source, target, { options: OPTIONS })
    expect(good.receiver.state).toBe('verified')
    expect(await exportText(target)).toBe(sourceExport)
    target.close()
  })
})

