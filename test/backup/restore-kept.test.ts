import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, exportText, fillStore, openStore, putWithPlaces, tempDir } from '../helpers/stores.js'
import { closeJournals, journalOf, runTransfer, verifiedTransfer } from '../helpers/transfer.js'
import { openBackup, restoreBackup, writeBackup } from '../../src/backup/backup.js'
import { segmentStarts } from '../helpers/backup-segments.js'
import { TransferLog } from '../../src/journal/transfer-log.js'
import { NodeJournal } from '../../src/journal/node-journal.js'
import type { SqliteChatStore } from '../../src/store/sqlite-store.js'

// What a restore wrote is the person's: they chose the file. A restore that stopped part-way (a damaged
// copy of the file, Ctrl-C, a kill) is never verified, yet what it wrote stays, whatever this phone
// receives next: another transfer (from any phone, also the one the backup was made from), another
// restore. Only a transfer from a phone is still taken back when it is left unverified.

const FAST_KDF = { log2N: 4, r: 8, p: 1 } // tests only: new files cost 2^18 (kdf.test.ts)
const TRANSFER = { batchBytes: 4096, chunkBytes: 16 * 1024 }

let old: SqliteChatStore
let file: string
let damaged: string
let oldExport: string

beforeAll(async () => {
  old = openStore()
  await fillStore(old, { conversations: 4, messagesPerConversation: 150, mediaSizes: [70_000, 40_000, 33_333] })
  oldExport = await exportText(old)
  file = join(tempDir(), 'phone.ferrybak')
  await writeBackup(old, file, { password: 'pw', kdf: FAST_KDF, segmentBytes: 8192, transfer: TRANSFER })
  // Damaged among the media, which come after every message: the restore stops there, part-way.
  const starts = segmentStarts(file)
  const bytes = readFileSync(file)
  bytes[starts[starts.length - 3] + 50] ^= 0x10
  damaged = join(tempDir(), 'damaged.ferrybak')
  writeFileSync(damaged, bytes)
})

afterEach(async () => { await closeJournals() })
afterAll(() => { old.close(); cleanupTempDirs() })

async function restore (store: SqliteChatStore, path: string): ReturnType<typeof restoreBackup> {
  return await restoreBackup(store, journalOf(store), await openBackup(path, 'pw'))
}

/** A new phone that restored the damaged copy: it stopped with BAD_INPUT, part of the backup written. */
async function partlyRestored (): Promise<{ store: SqliteChatStore, messages: number, media: number, text: string }> {
  const store = openStore()
  const err = await restore(store, damaged).then(() => undefined, (e: unknown) => e)
  expect((err as { code?: string }).code).toBe('BAD_INPUT')
  const { messages, mediaPresent: media, mediaMissing } = store.stats()
  expect(messages).toBe(600)
  expect(media).toBeGreaterThan(0)
  expect(mediaMissing).toBeGreaterThan(0)
  return { store, messages, media, text: await exportText(store) }
}

/** Another phone, X, with one chat of its own, unrelated to the backup's. */
function phoneX (): SqliteChatStore {
  const x = openStore()
  putWithPlaces(x, [{ conversation: 'x0', id: 'x1', sender: 'me', ts: 1_600_000_000_000, kind: 'text', text: 'from X' }])
  return x
}

describe('a restore that stopped part-way', () => {
  it('keeps what it wrote when a transfer from another phone comes next', async () => {
    const { store, messages, media } = await partlyRestored()
    const x = phoneX()
    await verifiedTransfer(x, store)
    expect(store.stats().messages).toBe(messages + 1)
    expect(store.stats().mediaPresent).toBe(media)
    // The same file, whole, then finishes the restore: nothing written twice, all of it verified.
    const r = await restore(store, file)
    expect(r.receiver.state).toBe('verified')
    expect(r.receiver.progress.messagesReceived).toBe(0)
    expect(store.stats().messages).toBe(messages + 1)
    x.close()
    store.close()
  })

  it('keeps what it wrote when a transfer from the phone the backup was made from is refused', async () => {
    const { store, text } = await partlyRestored()
    const [restoring] = await new TransferLog(journalOf(store)).unfinished()
    expect(restoring.restore).toBe(true)
    // The same phone and chats: the transfer has the restore's id, never its log. It lies about a
    // conversation's digest: refused, and only what it wrote itself could be taken back.
    let lied = false
    const run = await runTransfer(old, store, {
      tamper: f => {
        if (f.body !== 'done' || lied) return [f]
        lied = true
        const done = f.done as NonNullable<typeof f.done>
        const [first, ...rest] = done.conversations ?? []
        return [{ done: { ...done, conversations: [{ ...first, digest: new Uint8Array(32) }, ...rest] } }]
      }
    })
    expect(run.receiverError?.code).toBe('DIGEST_MISMATCH')
    expect(run.receiver.transfer?.transferId).toBe(restoring.transferId)
    expect(await exportText(store)).toBe(text)
    // An honest one then brings the rest, verified.
    await verifiedTransfer(old, store)
    expect(await exportText(store)).toBe(oldExport)
    store.close()
  })

  it('keeps what it wrote when another restore comes next', async () => {
    const { store, messages, media } = await partlyRestored()
    const x = phoneX()
    const other = join(tempDir(), 'x.ferrybak')
    await writeBackup(x, other, { password: 'pw', kdf: FAST_KDF, transfer: TRANSFER })
    expect((await restore(store, other)).receiver.state).toBe('verified')
    expect(store.stats().messages).toBe(messages + 1)
    expect(store.stats().mediaPresent).toBe(media)
    x.close()
    store.close()
  })

  it('that was killed keeps what it wrote when a transfer comes next', async () => {
    const store = openStore()
    store.close()
    const killed = restoreUntilKilled(store.dir, file)
    expect(killed.stderr).toBe('')
    expect(killed.signal).toBe('SIGKILL')
    const reopened = openStore(store.dir)
    const journal = NodeJournal.open(store.dir)
    expect(await new TransferLog(journal).unfinished()).toHaveLength(1)
    await journal.close()
    const messages = reopened.stats().messages
    expect(messages).toBeGreaterThan(0)
    const x = phoneX()
    await verifiedTransfer(x, reopened)
    expect(reopened.stats().messages).toBe(messages + 1)
    x.close()
    reopened.close()
  })
})

describe('a transfer from a phone left unverified', () => {
  it('is still undone by the restore that comes next, as by a transfer', async () => {
    const store = openStore()
    const x = phoneX()
    // X's transfer stops once its messages are written, before it verifies.
    const run = await runTransfer(x, store, { tamper: f => f.body === 'done' ? [{ error: { code: 'INTERNAL', message: 'stopped' } }] : [f] })
    expect(run.receiver.state).toBe('failed')
    expect(store.stats().messages).toBe(1)
    expect((await restore(store, file)).receiver.state).toBe('verified')
    expect(await exportText(store)).toBe(oldExport)
    x.close()
    store.close()
  })
})

const SRC = (path: string): string => JSON.stringify(fileURLToPath(new URL(`../../src/${path}`, import.meta.url)))

/** A real process restores `path` into the store at `dir` and is killed with SIGKILL after its third commit. */
function restoreUntilKilled (dir: string, path: string): { signal: string | null, stderr: string } {
  const script = join(tempDir(), 'restore.mts')
  writeFileSync(script, `
    import { SqliteChatStore } from ${SRC('store/sqlite-store.ts')}
    import { NodeJournal } from ${SRC('journal/node-journal.ts')}
    import { openBackup, restoreBackup } from ${SRC('backup/backup.ts')}
    const store = SqliteChatStore.open(${JSON.stringify(dir)})
    const journal = NodeJournal.open(${JSON.stringify(dir)})
    let commits = 0
    const commit = store.commit.bind(store)
    store.commit = async (change) => {
      const r = await commit(change)
      if (++commits === 3) process.kill(process.pid, 'SIGKILL')
      return r
    }
    await restoreBackup(store, journal, await openBackup(${JSON.stringify(path)}, 'pw'))
    console.log('restore finished without being killed')
  `)
  const r = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 60_000 })
  return { signal: r.signal, stderr: r.stderr }
}
