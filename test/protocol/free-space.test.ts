import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { TransferLog } from '../../src/journal/transfer-log.js'
import type { SqliteChatStore } from '../../src/store/sqlite-store.js'
import type { ferry } from '../../src/wire/codec.js'
import { cleanupTempDirs, exportText, fillStore, openStore } from '../helpers/stores.js'
import { closeJournals, journalOf, runTransfer } from '../helpers/transfer.js'

// The receiver asks how much space it has once the manifest says which media it lacks, before any of
// them come: a history that cannot fit stops there with STORE_FULL naming both numbers, and leaves
// nothing behind. The free space is injected (ReceiverInit.freeBytes); the same check on a real small
// disk is in test/e2e/disk-full.test.ts.

const SIZES = [40_000, 30_000, 20_000]
const TOTAL = SIZES.reduce((a, b) => a + b, 0)
const OPTIONS = { batchBytes: 4096, chunkBytes: 8 * 1024, windowBytes: 32 * 1024 }

let source: SqliteChatStore
let sourceExport: string
let fullBytes: number

beforeAll(async () => {
  source = openStore()
  await fillStore(source, { conversations: 2, messagesPerConversation: 12, mediaSizes: SIZES })
  sourceExport = await exportText(source)
  fullBytes = (await runTransfer(source, openStore(), { options: OPTIONS })).bytesAtoB
})

afterEach(async () => { await closeJournals() })

afterAll(() => {
  source.close()
  cleanupTempDirs()
})

const freeOf = (n: number) => async () => n

describe('free space for the media still to come', () => {
  it('a history whose media exceed the free space stops before anything is written, naming both numbers', async () => {
    const target = openStore()
    let asked = 0
    const dataFrames: string[] = []
    const r = await runTransfer(source, target, {
      options: OPTIONS,
      freeBytes: async () => { asked++; return 50_000 },
      onReceived: f => { if (f.body === 'batch' || f.body === 'chunk' || f.body === 'fragment') dataFrames.push(f.body) }
    })
    expect(r.receiverError?.code).toBe('STORE_FULL')
    expect(r.receiverError?.message).toBe('not enough free space for this history: its media still to come take 90,000 bytes (90.0 kB), ' +
      'this phone has 50,000 bytes (50.0 kB) free; free at least 40,000 bytes (40.0 kB) more and start again')
    expect(r.receiverError?.details).toEqual({ neededBytes: TOTAL, freeBytes: 50_000 })
    expect(asked).toBe(1)
    // The sender heard why; the receiver took no message and no file, and opened no transfer.
    expect(r.senderError?.code).toBe('PEER_ERROR')
    expect(r.senderError?.message).toMatch(/STORE_FULL/)
    // The old phone's person learns that nothing is lost and what carries the transfer on.
    expect(r.senderError?.message).toMatch(/what the new phone received stays there: free space on it, then send again \(no new code is needed\) to carry on$/)
    expect(r.receiver.progress.messagesReceived).toBe(0)
    expect(r.receiver.progress.mediaBytesReceived).toBe(0)
    expect(target.stats().messages).toBe(0)
    expect([...target.listMedia()]).toEqual([])
    expect(await new TransferLog(journalOf(target)).unfinished()).toEqual([])
    expect(await journalOf(target).parts.list()).toEqual([])
    target.close()
  })

  it('just enough space is enough; a probe that cannot answer does not stop the transfer', async () => {
    for (const freeBytes of [freeOf(TOTAL), async () => { throw new Error('ENOSYS: statfs') }]) {
      const target = openStore()
      const r = await runTransfer(source, target, { options: OPTIONS, freeBytes })
      expect(r.receiverError).toBeUndefined()
      expect(r.receiver.state).toBe('verified')
      expect(await exportText(target)).toBe(sourceExport)
      target.close()
    }
  })

  it('counts only what this phone still lacks: files it holds and the committed part of a partial file are not asked for again', async () => {
    const target = openStore()
    // Cut off inside the last file sent: two files are received, the third is partly in the journal.
    let firstOffset: number | undefined
    const first = await runTransfer(source, target, { options: OPTIONS, cutAtAtoB: fullBytes - 4000 })
    expect(first.receiver.state).toBe('media')
    const got = first.receiver.progress
    expect(got.mediaFilesReceived).toBe(2)
    const last = [...source.listMedia()].sort((a, b) => a.sha256 < b.sha256 ? -1 : 1)[2] // media go in sha256 order
    const committed = got.mediaBytesReceived - (TOTAL - last.size)
    expect(committed).toBeGreaterThan(0)
    expect(committed).toBeLessThan(last.size)
    const left = last.size - committed
    // One byte short of what is left: refused, and the message names what is left, not the whole.
    const short = await runTransfer(source, target, { options: OPTIONS, freeBytes: freeOf(left - 1) })
    expect(short.receiverError?.code).toBe('STORE_FULL')
    expect(short.receiverError?.details).toEqual({ neededBytes: left, freeBytes: left - 1 })
    expect(short.receiverError?.message).toContain(`take ${left.toLocaleString('en-US')} bytes`)
    // Exactly what is left: the rest comes, from where it stopped.
    const r = await runTransfer(source, target, {
      options: OPTIONS,
      freeBytes: freeOf(left),
      onReceived: f => { if (f.body === 'chunk') firstOffset ??= Number((f.chunk as ferry.MediaChunk).offset) }
    })
    expect(r.receiverError).toBeUndefined()
    expect(firstOffset).toBe(committed)
    expect(await exportText(target)).toBe(sourceExport)
    target.close()
  })
})
