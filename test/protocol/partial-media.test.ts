import { appendFileSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Journal, JournalOp, PartFiles } from '../../src/journal/journal.js'
import type { NodeJournal } from '../../src/journal/node-journal.js'
import type { SqliteChatStore } from '../../src/store/sqlite-store.js'
import type { ferry } from '../../src/wire/codec.js'
import { cleanupTempDirs, exportText, fillStore, openStore } from '../helpers/stores.js'
import { closeJournal, closeJournals, journalOf, runTransfer } from '../helpers/transfer.js'

// A large media file interrupted mid-way resumes from the length its partial file holds, re-sending none
// of it, and never ends as a file with wrong bytes.

const OPTIONS = { batchBytes: 4096, chunkBytes: 16 * 1024, windowBytes: 64 * 1024 }
const SIZE = 300_000

let source: SqliteChatStore
let sourceExport: string
let sha: string
let fullBytes: number

beforeAll(async () => {
  source = openStore()
  await fillStore(source, { conversations: 2, messagesPerConversation: 12, mediaSizes: [SIZE] })
  sourceExport = await exportText(source)
  sha = [...source.listMedia()][0].sha256
  fullBytes = (await runTransfer(source, openStore(), { options: OPTIONS })).bytesAtoB
})

afterEach(async () => { await closeJournals() })

afterAll(() => {
  source.close()
  cleanupTempDirs()
})

/** A receiver cut off mid-file: the length its part holds, and the part's path. */
async function interrupted (): Promise<{ target: SqliteChatStore, committed: number, part: string }> {
  const target = openStore()
  const first = await runTransfer(source, target, { options: OPTIONS, cutAtAtoB: fullBytes - SIZE / 2 })
  expect(first.receiver.state).toBe('media')
  const journal = journalOf(target)
  const committed = await journal.parts.size(sha)
  expect(committed).toBeGreaterThan(0)
  expect(committed).toBeLessThan(SIZE)
  return { target, committed, part: journal.parts.path(sha) }
}

/** Runs the next session, noting where the file's chunks began again. */
async function resume (target: SqliteChatStore): Promise<{ error?: string, message?: string, firstOffset?: number, bytes: number }> {
  let firstOffset: number | undefined
  let bytes = 0
  const r = await runTransfer(source, target, {
    options: OPTIONS,
    onReceived: f => {
      if (f.body !== 'chunk') return
      const c = f.chunk as ferry.MediaChunk
      firstOffset ??= Number(c.offset)
      bytes += c.data.byteLength
    }
  })
  return { error: r.receiverError?.code, message: r.receiverError?.message, firstOffset, bytes }
}

async function expectWhole (target: SqliteChatStore): Promise<void> {
  expect(await exportText(target)).toBe(sourceExport)
  expect(readFileSync(target.mediaPath(sha)).equals(readFileSync(source.mediaPath(sha)))).toBe(true)
  // Nothing of the partial file is left, nor any record of it.
  expect(await journalOf(target).parts.list()).toEqual([])
  const records: string[] = []
  for await (const [key] of journalOf(target).list('p/')) records.push(key)
  expect(records).toEqual([])
}

/** The journal a receiver writes to, counting the writes made while it handles a media chunk. */
class CountingJournal implements Journal {
  inChunk = false
  writesInChunks = 0
  constructor (private readonly j: NodeJournal) {}
  get parts (): PartFiles { return this.j.parts }
  async get (key: string): Promise<Uint8Array | undefined> { return await this.j.get(key) }
  list (prefix: string): AsyncIterable<[string, Uint8Array]> { return this.j.list(prefix) }
  async write (ops: JournalOp[]): Promise<void> {
    if (this.inChunk) this.writesInChunks++
    await this.j.write(ops)
  }

  async flush (): Promise<void> { await this.j.flush() }
  async close (): Promise<void> { await this.j.close() }
}

describe('a media file interrupted mid-way', () => {
  it('costs the journal no write per chunk: the part holds its own committed length', async () => {
    const target = openStore()
    const journal = new CountingJournal(journalOf(target))
    let chunks = 0
    const r = await runTransfer(source, target, {
      options: OPTIONS,
      journal,
      onReceived: f => {
        journal.inChunk = f.body === 'chunk'
        if (journal.inChunk) chunks++
      }
    })
    expect(r.receiver.state).toBe('verified')
    expect(chunks).toBeGreaterThanOrEqual(Math.ceil(SIZE / OPTIONS.chunkBytes))
    expect(journal.writesInChunks).toBe(0)
    await expectWhole(target)
    target.close()
  })

  it('resumes at the length its part holds, re-sending none of it', async () => {
    const { target, committed } = await interrupted()
    const r = await resume(target)
    expect(r.error).toBeUndefined()
    expect(r).toMatchObject({ firstOffset: committed, bytes: SIZE - committed })
    await expectWhole(target)
    target.close()
  })

  it('resumes mid-chunk from a part a kill cut short inside a write', async () => {
    const { target, committed, part } = await interrupted()
    // As the next process finds it.
    await closeJournal(target)
    truncateSync(part, committed - 3000)
    const r = await resume(target)
    expect(r.error).toBeUndefined()
    expect(r).toMatchObject({ firstOffset: committed - 3000, bytes: SIZE - committed + 3000 })
    await expectWhole(target)
    target.close()
  })

  it('never keeps a file whose part grew bytes it was never sent (a disk that lied in a power cut): that session is refused, the next one completes', async () => {
    const { target, committed, part } = await interrupted()
    // As the next process finds it.
    await closeJournal(target)
    appendFileSync(part, Buffer.alloc(20_000, 0xee))
    const r = await resume(target)
    expect(r.firstOffset).toBe(committed + 20_000)
    expect(r.error).toBe('HASH_MISMATCH')
    // Not blamed on the sender: the bytes at fault were this phone's own.
    expect(r.message).toContain('the part this phone kept from an earlier attempt')
    expect(target.hasMediaFile(sha)).toBe(false)
    expect(await journalOf(target).parts.list()).toEqual([])
    const again = await resume(target)
    expect(again.error).toBeUndefined()
    expect(again).toMatchObject({ firstOffset: 0, bytes: SIZE })
    await expectWhole(target)
    target.close()
  })

  it('clears the committed lengths an earlier version recorded, and resumes from the part', async () => {
    const { target, committed } = await interrupted()
    // As a version that recorded a length per chunk left it: a record behind the part.
    await journalOf(target).write([{ key: `p/${sha}`, value: new TextEncoder().encode('16384') }])
    const r = await resume(target)
    expect(r.error).toBeUndefined()
    expect(r).toMatchObject({ firstOffset: committed, bytes: SIZE - committed })
    await expectWhole(target)
    target.close()
  })

  it('starts over a file whose part is gone (the store took it, or it was deleted)', async () => {
    const { target, part } = await interrupted()
    // As the next process finds it: the part gone.
    await closeJournal(target)
    rmSync(part)
    const r = await resume(target)
    expect(r.error).toBeUndefined()
    expect(r).toMatchObject({ firstOffset: 0, bytes: SIZE })
    await expectWhole(target)
    target.close()
  })

  it('never keeps a file whose committed bytes were damaged: that session is refused, the next one completes', async () => {
    const { target, committed, part } = await interrupted()
    const bytes = readFileSync(part)
    bytes.fill(0, 100, 200)
    writeFileSync(part, bytes)
    const r = await resume(target)
    expect(r.error).toBe('HASH_MISMATCH')
    expect(r.message).toContain('the part this phone kept from an earlier attempt')
    expect(target.hasMediaFile(sha)).toBe(false)
    expect(await journalOf(target).parts.list()).toEqual([])
    expect(committed).toBeGreaterThan(200)
    const again = await resume(target)
    expect(again.error).toBeUndefined()
    await expectWhole(target)
    target.close()
  })
})
