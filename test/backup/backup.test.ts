import { copyFileSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, exportText, fillStore, openStore, tempDir } from '../helpers/stores.js'
import { closeJournals, journalOf, runTransfer } from '../helpers/transfer.js'
import { backupPlaintext, openBackup, restoreBackup, writeBackup, type BackupOptions } from '../../src/backup/backup.js'
import { PREAMBLE_BYTES } from '../../src/backup/format.js'
import { segmentStarts } from '../helpers/backup-segments.js'
import { isFerryError } from '../../src/errors.js'
import { ferry } from '../helpers/ferry-sync.js'
import type { SqliteChatStore } from '../../src/store/sqlite-store.js'

// Backups on real SQLite stores: what a restore yields, resumption, and that every kind of damage to
// the file is refused with BAD_INPUT.

let source: SqliteChatStore
let sourceExport: string
let emptyExport: string
const FAST_KDF = { log2N: 4, r: 8, p: 1 } // tests only: new files cost 2^18 (kdf.test.ts)
const TRANSFER = { batchBytes: 4096, chunkBytes: 16 * 1024 }

beforeAll(async () => {
  source = openStore()
  await fillStore(source, { conversations: 4, messagesPerConversation: 150, mediaSizes: [70_000, 1, 0, 40_000, 33_333], hugeMessageBytes: 200_000 })
  sourceExport = await exportText(source)
  const empty = openStore()
  emptyExport = await exportText(empty)
  empty.close()
})

afterEach(async () => { await closeJournals() })
afterAll(() => { source.close(); cleanupTempDirs() })

async function backup (o: BackupOptions = {}, from: SqliteChatStore = source): Promise<string> {
  const file = join(tempDir(), 'phone.ferrybak')
  await writeBackup(from, file, { kdf: FAST_KDF, transfer: TRANSFER, ...o })
  return file
}

async function restore (store: SqliteChatStore, file: string, password?: string, chats?: string[]): ReturnType<typeof restoreBackup> {
  return await restoreBackup(store, journalOf(store), await openBackup(file, password), { chats })
}

async function expectBadInput (p: Promise<unknown>, message?: RegExp): Promise<Error> {
  const err = await p.then(() => undefined, (e: unknown) => e)
  expect(isFerryError(err, 'BAD_INPUT'), String(err)).toBe(true)
  if (message !== undefined) expect((err as Error).message).toMatch(message)
  return err as Error
}

describe('backup and restore', () => {
  it('restores a password-protected backup into an empty store exactly, verified', async () => {
    const file = await backup({ password: 'correct horse' })
    expect(readFileSync(file).includes(Buffer.from('hello 1'))).toBe(false) // confidential
    const target = openStore()
    const r = await restore(target, file, 'correct horse')
    expect(r.receiver.state).toBe('verified')
    expect(await exportText(target)).toBe(sourceExport)
    target.close()
  })

  it('brings back a chat and its photos deleted since an earlier transfer from the same phone', async () => {
    // A live transfer first: the new phone keeps a base of what it verified, so a second live transfer
    // keeps a chat deleted here out. A restore is how the person gets it back.
    const target = openStore()
    expect((await runTransfer(source, target, { options: TRANSFER })).receiverError).toBeUndefined()
    const chat = 'c3'
    const gone = [...target.listMessages({ conversations: [chat] })]
    const photos = [...new Set(gone.flatMap(m => m.media === undefined ? [] : [m.media]))]
    expect(gone.length).toBeGreaterThan(0)
    await target.commit({ remove: { messages: gone.map(m => ({ conversation: chat, id: m.id })), conversations: [chat], media: photos } })
    const r = await restore(target, await backup(), undefined, [chat])
    expect(r.receiver.state).toBe('verified')
    expect(r.receiver.progress.chatsLeftDeleted).toBe(0)
    expect(r.receiver.progress.messagesLeftDeleted).toBe(0)
    expect([...target.listMessages({ conversations: [chat] })].length).toBe(gone.length)
    expect(await exportText(target)).toBe(sourceExport)
    target.close()
  })

  it('without a password the file is readable by anyone but still verified end to end', async () => {
    const file = await backup()
    const target = openStore()
    expect((await restore(target, file)).receiver.state).toBe('verified')
    expect(await exportText(target)).toBe(sourceExport)
    target.close()
  })

  it('restores only --chats, equal to a live selective transfer; a selective backup restores the same', async () => {
    const chats = ['c-😀', 'c3']
    const live = openStore()
    expect((await runTransfer(source, live, { request: { conversations: chats } })).receiverError).toBeUndefined()
    const liveExport = await exportText(live)
    const target = openStore()
    await restore(target, await backup({ password: 'pw' }), 'pw', chats)
    expect(await exportText(target)).toBe(liveExport)
    const target2 = openStore()
    await restore(target2, await backup({ selection: { conversations: chats } }))
    expect(await exportText(target2)).toBe(liveExport)
    await expectBadInput(restore(openStore(), await backup(), undefined, ['nope']), /no conversation 'nope'/)
    for (const s of [live, target, target2]) s.close()
  })

  it('restoring twice duplicates nothing', async () => {
    const file = await backup({ password: 'pw' })
    const target = openStore()
    await restore(target, file, 'pw')
    const again = await restore(target, file, 'pw')
    expect(again.receiver.state).toBe('verified')
    // A verified restore is history: restoring again re-applies the file (a newer backup of the same phone
    // has the same transfer id and may hold more) and changes nothing when it holds nothing new.
    expect(target.stats().messages).toBe(601)
    expect(await exportText(target)).toBe(sourceExport)
    target.close()
  })

  it('a truncated copy is refused before anything is written; the complete file then restores, verified', async () => {
    const file = await backup({ password: 'pw', segmentBytes: 8192 })
    const starts = segmentStarts(file)
    const target = openStore()
    for (const frac of [0.3, 0.6, 0.9]) {
      const cut = join(tempDir(), 'cut.ferrybak')
      copyFileSync(file, cut)
      truncateSync(cut, starts[Math.floor(starts.length * frac)] + 100)
      await expectBadInput(restore(target, cut, 'pw'), /is incomplete: it is cut off after \d+ bytes.*Nothing was restored from it/)
    }
    expect(await exportText(target)).toBe(emptyExport)
    const r = await restore(target, file, 'pw')
    expect(r.receiver.state).toBe('verified')
    expect(await exportText(target)).toBe(sourceExport)
    target.close()
  })

  it('a wrong or missing password is refused before the store is touched', async () => {
    const file = await backup({ password: 'right' })
    const target = openStore()
    await expectBadInput(restore(target, file, 'wrong'), /wrong password/)
    await expectBadInput(restore(target, file), /protected by a password/)
    expect(await exportText(target)).toBe(emptyExport)
    target.close()
  })

  it('a file without a password is refused when a password was given: anyone could have written it', async () => {
    // `ferry restore` reads the header, asks for the password, then opens the file again: a file
    // swapped in between for one without a password must not open silently, as if it had one.
    const file = await backup()
    const target = openStore()
    await expectBadInput(restore(target, file, 'pw'), /has no password/)
    expect(await exportText(target)).toBe(emptyExport)
    target.close()
  })

  it('a damaged segment stops the restore there: what came before stays, nothing after it', async () => {
    const file = await backup({ password: 'pw', segmentBytes: 8192 })
    const starts = segmentStarts(file)
    const bytes = readFileSync(file)
    bytes[starts[starts.length - 3] + 50] ^= 0x10
    const bad = join(tempDir(), 'bad.ferrybak')
    writeFileSync(bad, bytes)
    const target = openStore()
    await expectBadInput(restore(target, bad, 'pw'), new RegExp(`segment ${starts.length - 3} .*fails authentication`))
    expect(target.stats().messages).toBe(601) // messages come first, they were all before the damage
    // The good copy then finishes the restore without writing a message twice.
    const r = await restore(target, file, 'pw')
    expect(r.receiver.state).toBe('verified')
    expect(r.receiver.progress.messagesHeld).toBe(601)
    expect(r.receiver.progress.messagesReceived).toBe(0)
    expect(await exportText(target)).toBe(sourceExport)
    target.close()
  })

  it('a media file the app deletes while the backup runs leaves the backup whole but for it; the restore says so', async () => {
    const phone = openStore()
    await fillStore(phone, { conversations: 2, messagesPerConversation: 20, mediaSizes: [30_000, 20_000, 10_000] })
    const records = await phone.media(undefined, 10)
    const gone = records[1].sha256
    // The store as the backup reads it (through its snapshot), the file deleted just after the listing
    // that found it there.
    const deleting: typeof phone = Object.create(phone, {
      snapshot: { value: async () => {
        const taken = await phone.snapshot()
        return {
          ...taken,
          media: async (after: string | undefined, limit: number) => {
            const page = await taken.media(after, limit)
            rmSync(phone.mediaPath(gone), { force: true })
            return page
          }
        }
      } }
    })
    const file = join(tempDir(), 'phone.ferrybak')
    const written = await writeBackup(deleting, file, { kdf: FAST_KDF, transfer: TRANSFER })
    expect(written).toMatchObject({ mediaFilesShort: 1, mediaFilesMissing: 0 })
    const target = openStore()
    const r = await restore(target, file)
    expect(r.receiver.progress.mediaFilesDamaged).toBe(1)
    expect(target.hasMediaFile(gone)).toBe(false)
    expect(records.filter(m => m.sha256 !== gone).every(m => target.hasMediaFile(m.sha256))).toBe(true)
    // Every message, the one naming the deleted file too: shown without it.
    expect(await exportText(target)).toBe(await exportText(phone))
    phone.close()
    target.close()
  })

  it('a photo part this phone kept that went bad on its disk does not stop the restore: the photo comes whole, verified', async () => {
    const file = await backup()
    const target = openStore()
    // As an earlier restore cut off inside the photo left it, its bytes since damaged on this disk.
    const photo = (await source.media(undefined, 10)).find(m => m.size === 70_000) as { sha256: string }
    await journalOf(target).parts.write(photo.sha256, 0, new Uint8Array(20_000).fill(7))
    const r = await restore(target, file)
    expect(r.receiver.state).toBe('verified')
    expect(await exportText(target)).toBe(sourceExport)
    expect(readFileSync(target.mediaPath(photo.sha256)).equals(readFileSync(source.mediaPath(photo.sha256)))).toBe(true)
    expect(await journalOf(target).parts.list()).toEqual([])
    target.close()
  })

  it('a backup whose signal aborts stops with CANCELLED: no partial file, and an older backup at its path stays', async () => {
    const file = await backup()
    const older = readFileSync(file)
    // Past its first progress, a few MiB in, with more to write.
    const big = openStore()
    await fillStore(big, { conversations: 1, messagesPerConversation: 10, mediaSizes: [6e6] })
    const stop = new AbortController()
    const stopped = await writeBackup(big, file, {
      kdf: FAST_KDF, transfer: TRANSFER, signal: stop.signal, onProgress: () => { stop.abort() }
    }).then(() => 'written', (err: unknown) => err)
    expect(stopped).toSatisfy(e => isFerryError(e, 'CANCELLED'))
    expect(statSync(`${file}.partial`, { throwIfNoEntry: false })).toBeUndefined()
    expect(readFileSync(file).equals(older)).toBe(true)
    big.close()
    // Aborted before it began: nothing is made at all.
    const fresh = join(tempDir(), 'never.ferrybak')
    await expect(writeBackup(source, fresh, { kdf: FAST_KDF, signal: AbortSignal.abort() })).rejects.toSatisfy(e => isFerryError(e, 'CANCELLED'))
    expect(statSync(fresh, { throwIfNoEntry: false })).toBeUndefined()
    expect(statSync(`${fresh}.partial`, { throwIfNoEntry: false })).toBeUndefined()
  })

  it('two backups to one file in one process: the second is refused, and the first keeps its lock and ends whole', async () => {
    const file = join(tempDir(), 'twice.ferrybak')
    const big = openStore()
    await fillStore(big, { conversations: 1, messagesPerConversation: 10, mediaSizes: [6e6] })
    let second: unknown
    let other: ReturnType<typeof ferry> | undefined
    // At the first's first progress, its partial file half written: the second tries then.
    const first = await writeBackup(big, file, {
      kdf: FAST_KDF,
      transfer: TRANSFER,
      onProgress: async () => {
        if (second !== undefined) return
        second = await writeBackup(source, file, { kdf: FAST_KDF }).then(() => 'written', (err: unknown) => err)
        // Still held against other processes: a refusal that closed a descriptor of the lock file would
        // have released it, and a backup from another process would take the partial file away.
        other = ferry('backup', '--store', source.dir, '--out', file, '--no-password')
      }
    })
    expect(second).toSatisfy(e => isFerryError(e, 'STORE_BUSY') && e.details?.pid === process.pid)
    expect(other?.status, other?.stderr).toBe(1)
    expect(other?.stderr).toContain(`is being written by process ${process.pid} `)
    expect(first.progress.messagesSent).toBe(10)
    expect(statSync(`${file}.partial.lock`, { throwIfNoEntry: false })).toBeUndefined()
    const r = await restore(openStore(), file)
    expect(r.receiver.state).toBe('verified')
    big.close()
  })

  it('a newer format version is refused with a clear message', async () => {
    const file = await backup()
    const b = readFileSync(file)
    b[8] = 2
    writeFileSync(file, b)
    await expectBadInput(openBackup(file), /newer Ferry \(backup format version 2\).*reads version 1/)
  })

  it('not a backup, or an empty file, is refused', async () => {
    const f = join(tempDir(), 'x')
    writeFileSync(f, 'hello world, not a backup at all')
    await expectBadInput(openBackup(f), /not a Ferry backup/)
    writeFileSync(f, '')
    await expectBadInput(openBackup(f), /x is empty: it holds no backup/)
    await expectBadInput(openBackup(join(tempDir(), 'missing')), /no backup file/)
  })
})

describe('tamper evidence', () => {
  let small: SqliteChatStore

  beforeAll(async () => {
    small = openStore()
    await fillStore(small, { conversations: 2, messagesPerConversation: 12, mediaSizes: [900] })
  })

  afterAll(() => small.close())

  const readAll = async (file: string, password?: string): Promise<number> => {
    let n = 0
    for await (const p of backupPlaintext(await openBackup(file, password))) n += p.byteLength
    return n
  }

  for (const password of [undefined, 'pw']) {
    it(`every byte flipped in turn is detected (${password === undefined ? 'no password' : 'password'})`, async () => {
      const file = await backup({ password, segmentBytes: 512 }, small)
      const good = readFileSync(file)
      expect(good.byteLength).toBeLessThan(8000)
      expect(await readAll(file, password)).toBeGreaterThan(0)
      const bad = join(tempDir(), 'flip.ferrybak')
      for (let i = 0; i < good.byteLength; i++) {
        const b = Buffer.from(good)
        b[i] ^= (i % 2 === 0 ? 0x01 : 0x80)
        writeFileSync(bad, b)
        await expectBadInput(readAll(bad, password))
      }
    })
  }

  it('truncation at every segment boundary (and inside segments) is detected', async () => {
    const file = await backup({ segmentBytes: 256 }, small)
    const starts = segmentStarts(file)
    expect(starts.length).toBeGreaterThan(10)
    const cut = join(tempDir(), 'cut.ferrybak')
    for (const at of [0, 5, PREAMBLE_BYTES - 1, ...starts.slice(0, -1), ...starts.slice(0, -1).map(s => s + 7)]) {
      copyFileSync(file, cut)
      truncateSync(cut, at)
      await expectBadInput(readAll(cut))
    }
    expect(await readAll(file)).toBeGreaterThan(0)
    expect(statSync(file).size).toBe(starts[starts.length - 1])
  })

  it('reordered segments, a segment from another file, and bytes after the end are detected', async () => {
    const a = await backup({ password: 'pw', segmentBytes: 256 }, small)
    const b = await backup({ password: 'pw', segmentBytes: 256 }, small)
    const A = readFileSync(a)
    const B = readFileSync(b)
    const sa = segmentStarts(a)
    const out = join(tempDir(), 'x.ferrybak')
    // swap segments 1 and 2 (same length: both full)
    const seg = (buf: Buffer, i: number): Buffer => buf.subarray(sa[i], sa[i + 1])
    writeFileSync(out, Buffer.concat([A.subarray(0, sa[1]), seg(A, 2), seg(A, 1), A.subarray(sa[3])]))
    await expectBadInput(readAll(out, 'pw'), /segment 1 .*fails authentication/)
    // segment 2 taken from the other backup of the same history and password
    writeFileSync(out, Buffer.concat([A.subarray(0, sa[2]), seg(B, 2), A.subarray(sa[3])]))
    await expectBadInput(readAll(out, 'pw'), /segment 2 .*fails authentication/)
    // the last segment dropped: the file now ends at a boundary without its end marker
    writeFileSync(out, A.subarray(0, sa[sa.length - 2]))
    await expectBadInput(readAll(out, 'pw'), /is incomplete: it is cut off/)
    writeFileSync(out, Buffer.concat([A, Buffer.from([0])]))
    await expectBadInput(readAll(out, 'pw'), /after its end marker/)
  })
})
