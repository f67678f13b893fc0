import { appendFileSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { fromJson } from '../../src/journal/journal.js'
import type { SqliteChatStore } from '../../src/store/sqlite-store.js'
import type { ferry } from '../../src/wire/codec.js'
import { cleanupTempDirs, exportText, fillStore, openStore } from '../helpers/stores.js'
import { closeJournal, closeJournals, journalOf, runTransfer } from '../helpers/transfer.js'

// A large media file interrupted mid-way resumes from the length the journal committed for it, whatever
// the partial file on disk holds beyond or short of it, and never ends as a file with wrong bytes.

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

/** A receiver cut off mid-file: its committed length (from the journal) and the file's bytes on disk. */
async function interrupted (): Promise<{ target: SqliteChatStore, committed: number, part: string }> {
  const target = openStore()
  const first = await runTransfer(source, target, { options: OPTIONS, cutAtAtoB: fullBytes - SIZE / 2 })
  expect(first.receiver.state).toBe('media')
  const journal = journalOf(target)
  const committed = fromJson<number>(await journal.get(`p/${sha}`)) as number
  expect(committed).toBeGreaterThan(0)
  expect(committed).toBeLessThan(SIZE)
  expect(await journal.parts.size(sha)).toBe(committed)
  return { target, committed, part: journal.parts.path(sha) }
}

/** Runs the next session, noting where the file's chunks began again. */
async function resume (target: SqliteChatStore): Promise<{ error?: string, firstOffset?: number, bytes: number }> {
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
  return { error: r.receiverError?.code, firstOffset, bytes }
}

async function expectWhole (target: SqliteChatStore): Promise<void> {
  expect(await exportText(target)).toBe(sourceExport)
  expect(readFileSync(target.mediaPath(sha)).equals(readFileSync(source.mediaPath(sha)))).toBe(true)
  // Nothing of the partial file is left: neither its bytes nor its committed length.
  expect(await journalOf(target).parts.list()).toEqual([])
  const records: string[] = []
  for await (const [key] of journalOf(target).list('p/')) records.push(key)
  expect(records).toEqual([])
}

describe('a media file interrupted mid-way', () => {
  it('resumes at its committed length, re-sending none of it', async () => {
    const { target, committed } = await interrupted()
    const r = await resume(target)
    expect(r.error).toBeUndefined()
    expect(r).toMatchObject({ firstOffset: committed, bytes: SIZE - committed })
    await expectWhole(target)
    target.close()
  })

  it('drops a tail written but never committed (a crash between the write and its record)', async () => {
    const { target, committed, part } = await interrupted()
    appendFileSync(part, Buffer.alloc(20_000, 0xee))
    const r = await resume(target)
    expect(r.error).toBeUndefined()
    expect(r.firstOffset).toBe(committed)
    await expectWhole(target)
    target.close()
  })

  it('resumes from what is left when the file lost bytes its record claims (a power cut)', async () => {
    const { target, committed, part } = await interrupted()
    truncateSync(part, committed - 3000)
    const r = await resume(target)
    expect(r.error).toBeUndefined()
    expect(r.firstOffset).toBe(committed - 3000)
    await expectWhole(target)
    target.close()
  })

  it('starts a file over whose bytes were never recorded', async () => {
    const { target } = await interrupted()
    await journalOf(target).write([{ key: `p/${sha}` }])
    const r = await resume(target)
    expect(r.error).toBeUndefined()
    expect(r).toMatchObject({ firstOffset: 0, bytes: SIZE })
    await expectWhole(target)
    target.close()
  })

  it('starts over a file whose record outlived its bytes (the store took them, the record was not yet gone)', async () => {
    const { target, part } = await interrupted()
    // As the next process finds it: the part gone, its record still in the journal.
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
    expect(target.hasMediaFile(sha)).toBe(false)
    expect(await journalOf(target).parts.list()).toEqual([])
    expect(committed).toBeGreaterThan(200)
    const again = await resume(target)
    expect(again.error).toBeUndefined()
    await expectWhole(target)
    target.close()
  })
})
