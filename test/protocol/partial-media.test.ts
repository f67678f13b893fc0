import { appendFileSync, closeSync, openSync, readFileSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Journal, JournalOp, PartFiles } from '../../src/journal/journal.js'
import { ReceiverMachine } from '../../src/protocol/receiver.js'
import { SenderMachine } from '../../src/protocol/sender.js'
import { runReceiver, runSender } from '../../src/protocol/session.js'
import { memoryPipe } from '../../src/wire/memory-duplex.js'
import type { NodeJournal } from '../../src/journal/node-journal.js'
import type { SqliteChatStore } from '../../src/store/sqlite-store.js'
import type { ferry, Frame } from '../../src/wire/codec.js'
import { cleanupTempDirs, exportText, fillStore, openStore } from '../helpers/stores.js'
import { closeJournal, closeJournals, journalOf, runTransfer, type RunResult } from '../helpers/transfer.js'

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

/** An export's lines but the media's: what a person reads in the chats. */
const chatLines = (text: string): string[] => text.trim().split('\n').filter(l => !l.startsWith('{"type":"media"'))

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

  it('never keeps a file whose part grew bytes it was never sent (a disk that lied in a power cut): that session ends keeping the chats, the next one brings the file whole', async () => {
    const { target, committed, part } = await interrupted()
    // As the next process finds it.
    await closeJournal(target)
    appendFileSync(part, Buffer.alloc(20_000, 0xee))
    const r = await resume(target)
    expect(r.firstOffset).toBe(committed + 20_000)
    expect(chatLines(await exportText(target))).toEqual(chatLines(sourceExport))
    // Not blamed on the sender (the bytes at fault were this phone's own): a session to run again.
    expect(r.error).toBe('TRUNCATED')
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

  it('never keeps a file whose kept part went bad on this phone\'s disk, and takes back none of the chats for it: the next session brings the file whole', async () => {
    const { target, committed, part } = await interrupted()
    const bytes = readFileSync(part)
    bytes.fill(0, 100, 200)
    writeFileSync(part, bytes)
    const r = await resume(target)
    // The chats the person may already have open stay as they came.
    expect(chatLines(await exportText(target))).toEqual(chatLines(sourceExport))
    expect(r.error).toBe('TRUNCATED')
    expect(r.message).toContain('the part this phone kept from an earlier attempt')
    expect(target.hasMediaFile(sha)).toBe(false)
    expect(await journalOf(target).parts.list()).toEqual([])
    expect(committed).toBeGreaterThan(200)
    const again = await resume(target)
    expect(again.error).toBeUndefined()
    expect(again).toMatchObject({ firstOffset: 0, bytes: SIZE })
    await expectWhole(target)
    target.close()
  })
})

describe('a media file resumed from a part, that the old phone\'s copy no longer matches', () => {
  const VIDEO = 1_000_000

  /** An old phone with a video, and a new phone whose link to it dropped `chunks` chunks into the video. */
  async function cutInsideTheVideo (chunks = 20): Promise<{ source: SqliteChatStore, target: SqliteChatStore, video: string, chats: string[] }> {
    const source = openStore()
    await fillStore(source, { conversations: 3, messagesPerConversation: 40, mediaSizes: [VIDEO] })
    const video = [...source.listMedia()][0].sha256
    const target = openStore()
    const pipe = memoryPipe()
    const receiver = new ReceiverMachine({ sink: target, journal: journalOf(target), options: OPTIONS })
    const onFrame = receiver.onFrame.bind(receiver)
    let n = 0
    receiver.onFrame = async (f, size) => {
      const out = await onFrame(f, size)
      if (f.body === 'chunk' && ++n === chunks) pipe.break('link dropped')
      return out
    }
    await Promise.allSettled([runSender(new SenderMachine({ source, options: OPTIONS }), pipe.a), runReceiver(receiver, pipe.b)])
    expect(receiver.chatsReady).toBe(true)
    expect(await journalOf(target).parts.size(video)).toBeGreaterThan(0)
    return { source, target, video, chats: chatLines(await exportText(source)) }
  }

  /** The session after the cut: it must take back nothing, and leave the part out for the next to fetch whole. */
  async function resumedSessionKeepsTheChats (source: SqliteChatStore, target: SqliteChatStore, video: string, chats: string[], hear?: (f: Frame) => void): Promise<RunResult> {
    const r = await runTransfer(source, target, { options: OPTIONS, onReceived: hear })
    expect(chatLines(await exportText(target))).toEqual(chats)
    expect(r.receiverError).toMatchObject({ code: 'TRUNCATED', details: { fetchAgain: true, sha256: video } })
    expect(r.receiverError?.message).toContain('Nothing that arrived is taken back')
    // Not a lie to refuse: the old phone takes it for a dropped link and waits for the new phone.
    expect(r.senderError?.code).toBe('TRUNCATED')
    expect(target.hasMediaFile(video)).toBe(false)
    expect(await journalOf(target).parts.list()).toEqual([])
    return r
  }

  it('keeps every chat that came when the old phone\'s copy went bad past the part, and leaves the video out as damaged there', async () => {
    const { source, target, video, chats } = await cutInsideTheVideo()
    const fd = openSync(source.mediaPath(video), 'r+')
    writeSync(fd, Buffer.alloc(50_000, 7), 0, 50_000, 800_000)
    closeSync(fd)
    await resumedSessionKeepsTheChats(source, target, video, chats)
    const again = await runTransfer(source, target, { options: OPTIONS })
    expect(again.receiverError).toBeUndefined()
    expect(again.receiver.state).toBe('verified')
    expect(again.receiver.progress).toMatchObject({ mediaFilesDamaged: 1, mediaFilesReceived: 0 })
    expect(chatLines(await exportText(target))).toEqual(chats)
    expect(target.hasMediaFile(video)).toBe(false)
    expect(await journalOf(target).parts.list()).toEqual([])
    source.close()
    target.close()
  }, 60_000)

  it('keeps every chat that came when the app deletes the video on the old phone as the resumed session sends it, and leaves it out', async () => {
    const first = await cutInsideTheVideo()
    const { target, video, chats } = first
    // The old phone's app started again (it holds no file open), and deletes the video once the
    // resumed session listed it.
    first.source.close()
    const source = openStore(first.source.dir)
    let deleted = false
    const resumed = await resumedSessionKeepsTheChats(source, target, video, chats, f => {
      if (f.body !== 'manifest' || deleted) return
      rmSync(source.mediaPath(video))
      deleted = true
    })
    // The sender sent the rest of it as zeros.
    expect(resumed.sender.progress.mediaFilesShort).toBe(1)
    const again = await runTransfer(source, target, { options: OPTIONS })
    expect(again.receiverError).toBeUndefined()
    expect(again.receiver.state).toBe('verified')
    // Gone there now, it is one the old phone lacks: its message came without it.
    expect(again.receiver.progress.mediaFilesMissing).toBe(1)
    expect(chatLines(await exportText(target))).toEqual(chats)
    expect(target.hasMediaFile(video)).toBe(false)
    source.close()
    target.close()
  }, 60_000)
})
