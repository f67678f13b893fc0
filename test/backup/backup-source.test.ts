import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, exportText, fillStore, openStore, tempDir } from '../helpers/stores.js'
import { closeJournals, journalOf, runTransfer } from '../helpers/transfer.js'
import { openBackup, writeBackup } from '../../src/backup/backup.js'
import { BackupSource } from '../../src/backup/backup-source.js'
import { exportNdjson } from '../../src/sim/export.js'
import type { SqliteChatStore } from '../../src/store/sqlite-store.js'
import { Writable } from 'node:stream'

// A backup read as the phone it was made from: restoring is a transfer from it, so it is resumable
// wherever it stops and sends nothing twice.

let source: SqliteChatStore
let sourceExport: string
let file: string
const TRANSFER = { batchBytes: 4096, chunkBytes: 16 * 1024 }

beforeAll(async () => {
  source = openStore()
  await fillStore(source, { conversations: 4, messagesPerConversation: 150, mediaSizes: [70_000, 1, 0, 40_000, 33_333], hugeMessageBytes: 20_000 })
  sourceExport = await exportText(source)
  file = join(tempDir(), 'phone.ferrybak')
  await writeBackup(source, file, { password: 'pw', kdf: { log2N: 4, r: 8, p: 1 }, transfer: TRANSFER, segmentBytes: 8192 })
})

afterEach(async () => { await closeJournals() })
afterAll(() => { source.close(); cleanupTempDirs() })

async function open (): Promise<BackupSource> {
  return await BackupSource.open(await openBackup(file, 'pw'))
}

async function text (s: BackupSource): Promise<string> {
  const chunks: Buffer[] = []
  await exportNdjson(s, new Writable({ write (c: Buffer, _e, cb) { chunks.push(Buffer.from(c)); cb() } }))
  return Buffer.concat(chunks).toString('utf8')
}

describe('a backup as a history source', () => {
  it('reads back exactly the history it was made from', async () => {
    const s = await open()
    expect(s.historyId).toBe(source.storeId)
    expect(await text(s)).toBe(sourceExport)
    for (const m of source.listMedia()) {
      if (!source.hasMediaFile(m.sha256)) continue
      expect(Buffer.from(await s.readMedia(m.sha256, 0, m.size))).toEqual(Buffer.from(source.readMediaSync(m.sha256, 0, m.size)))
    }
    await s.close()
  })

  it('restores wherever it is cut, re-sending nothing the store already took', async () => {
    const s = await open()
    const full = await runTransfer(s, openStore(), { options: TRANSFER })
    expect(full.receiver.state).toBe('verified')
    for (const frac of [0.05, 0.3, 0.55, 0.8, 0.97]) {
      const target = openStore()
      const first = await runTransfer(s, target, { options: TRANSFER, cutAtAtoB: Math.floor(full.bytesAtoB * frac) })
      expect(first.receiver.state).not.toBe('verified')
      const held = { messages: target.stats().messages }
      const second = await runTransfer(s, target, { options: TRANSFER })
      expect(second.receiverError).toBeUndefined()
      expect(second.receiver.state).toBe('verified')
      expect(second.receiver.progress.messagesHeld).toBe(held.messages)
      expect(second.sender.progress.messagesSent).toBe(601 - held.messages)
      expect(await exportText(target)).toBe(sourceExport)
      target.close()
    }
    await s.close()
  })

  it('continues a media file the store holds in part, from its committed length (mid-chunk)', async () => {
    const s = await open()
    const target = openStore()
    const big = [...source.listMedia()].find(m => m.size === 70_000)
    if (big === undefined) throw new Error('fixture lacks the 70 kB media')
    // 10 000 bytes written by some earlier attempt: not a multiple of the backup's 16 KiB chunks.
    const journal = journalOf(target)
    await journal.parts.write(big.sha256, 0, source.readMediaSync(big.sha256, 0, 10_000))
    const r = await runTransfer(s, target, { options: TRANSFER })
    expect(r.receiver.state).toBe('verified')
    expect(r.sender.progress.skippedMediaBytes).toBe(10_000)
    expect(await exportText(target)).toBe(sourceExport)
    target.close()
    await s.close()
  })
})
