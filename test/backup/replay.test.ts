import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, exportText, fillStore, openStore } from '../helpers/stores.js'
import { runTransfer } from '../helpers/transfer.js'
import { FileSender } from '../../src/protocol/file-sender.js'
import { FileReplay, SelectionScan } from '../../src/protocol/file-replay.js'
import { ReceiverMachine } from '../../src/protocol/receiver.js'
import type { SqliteChatStore } from '../../src/store/sqlite-store.js'
import type { Selection } from '../../src/store/model.js'

// The backup's plaintext is the sender's frame stream for a fresh receiver; replaying it into a
// ReceiverMachine (no files, no crypto here) must give what a live transfer gives.

let source: SqliteChatStore
let sourceExport: string
const OPTIONS = { batchBytes: 4096, chunkBytes: 16 * 1024 }

const concat = (parts: Uint8Array[]): Uint8Array => parts.length === 1 ? parts[0] : Buffer.concat(parts)

function record (selection?: Selection): Uint8Array[] {
  return [...new FileSender({ source, selection, options: OPTIONS }).frames()].map(concat)
}

async function replay (target: SqliteChatStore, frames: Uint8Array[], chats?: string[]): Promise<FileReplay> {
  let scan
  if (chats !== undefined) {
    const s = new SelectionScan(chats)
    for (const f of frames) s.push(f)
    scan = s.result
  }
  const receiver = new ReceiverMachine({ store: target, request: chats !== undefined ? { conversations: chats } : undefined })
  receiver.start()
  const r = new FileReplay({ receiver, chats, scan })
  for (const f of frames) await r.push(f)
  expect(receiver.state).toBe('verified')
  return r
}

beforeAll(async () => {
  source = openStore()
  await fillStore(source, { conversations: 4, messagesPerConversation: 150, mediaSizes: [70_000, 1, 0, 40_000, 33_333], hugeMessageBytes: 20_000 })
  sourceExport = await exportText(source)
})

afterAll(() => { source.close(); cleanupTempDirs() })

describe('frame stream replay', () => {
  it('restores a whole history, verified, and a second replay changes nothing', async () => {
    const frames = record()
    const target = openStore()
    await replay(target, frames)
    expect(await exportText(target)).toBe(sourceExport)
    await replay(target, frames)
    expect(target.stats().messages).toBe(601)
    expect(await exportText(target)).toBe(sourceExport)
    target.close()
  })

  it('a selective replay equals a live selective transfer', async () => {
    const chats = ['c-😀', 'c2']
    const live = openStore()
    expect((await runTransfer(source, live, { request: { conversations: chats } })).receiverError).toBeUndefined()
    const target = openStore()
    await replay(target, record(), chats)
    expect(await exportText(target)).toBe(await exportText(live))
    live.close()
    target.close()
  })

  it('resumes after any prefix: interrupted replays then a full one end verified and equal', async () => {
    const frames = record()
    const target = openStore()
    for (const cut of [3, 9, Math.floor(frames.length / 2), frames.length - 8, frames.length - 2, frames.length - 1]) {
      const receiver = new ReceiverMachine({ store: target })
      const r = new FileReplay({ receiver })
      for (const f of frames.slice(0, cut)) await r.push(f)
      expect(receiver.state, `cut ${cut}`).not.toBe('verified')
    }
    const r = await replay(target, frames)
    expect(r.stats.skippedMessages + r.stats.skippedMediaBytes).toBeGreaterThan(0)
    expect(await exportText(target)).toBe(sourceExport)
    target.close()
  })

  it('continues a media file the receiver holds in part, from its committed length (mid-chunk)', async () => {
    const frames = record()
    const target = openStore()
    const big = [...source.media()].find(m => m.size === 70_000)
    if (big === undefined) throw new Error('fixture lacks the 70 kB media')
    // 10 000 bytes committed by some earlier attempt: not a multiple of the backup's 16 KiB chunks.
    target.appendPart(big.sha256, 0, source.readMedia(big.sha256, 0, 10_000))
    const r = await replay(target, frames)
    expect(r.stats.skippedMediaBytes).toBe(10_000)
    expect(await exportText(target)).toBe(sourceExport)
    target.close()
  })
})
