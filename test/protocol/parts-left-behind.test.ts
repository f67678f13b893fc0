import { afterEach, expect, it } from 'vitest'
import type { SqliteChatStore } from '../../src/store/sqlite-store.js'
import { cleanupTempDirs, fillStore, keystream, openStore } from '../helpers/stores.js'
import { closeJournals, interruptedSession, journalOf, verifiedTransfer } from '../helpers/transfer.js'

// A transfer cut while a large file arrived leaves its first part on the new phone, for the next session
// to resume. When the next session does not want that file (the old phone deleted it, or the person now
// asks for other chats), nothing will ever resume the part: it must not hold the new phone's disk for good.

afterEach(async () => { await closeJournals(); cleanupTempDirs() })

const OPTIONS = { batchBytes: 4096, chunkBytes: 16 * 1024, windowBytes: 64 * 1024 }
const VIDEO_BYTES = 400_000

/** An old phone with text chats and one video message in c0 and one in c2. */
async function oldPhone (): Promise<{ source: SqliteChatStore, videos: string[] }> {
  const source = openStore()
  await fillStore(source, { conversations: 3, messagesPerConversation: 50, mediaSizes: [] })
  const videos: string[] = []
  for (const [k, c] of ['c0', 'c2'].entries()) {
    const { sha256 } = await source.writeMedia(keystream(`${c}-video`, VIDEO_BYTES + k))
    source.putMetadata([], [], [{ sha256, size: VIDEO_BYTES + k, mime: 'video/mp4' }])
    source.putMessages([{ conversation: c, id: 'v0', sender: 'u1', ts: 1_600_000_000_000, kind: 'video', media: sha256 }])
    videos.push(sha256)
  }
  return { source, videos }
}

it('the part of a file the old phone deleted before the resume is not kept', async () => {
  const { source, videos } = await oldPhone()
  const target = openStore()
  const { receiver } = await interruptedSession(source, target, { at: 'chunk', cut: true, options: OPTIONS })
  expect(receiver.state).not.toBe('verified')
  const parts = await journalOf(target).parts.list()
  expect(parts).toHaveLength(1)
  const cutVideo = parts[0]
  expect(videos).toContain(cutVideo)
  // The person deletes that video's message on the old phone, and the app its file.
  const chat = cutVideo === videos[0] ? 'c0' : 'c2'
  await source.commit({ remove: { messages: [{ conversation: chat, id: 'v0' }], media: [cutVideo] } })

  await verifiedTransfer(source, target, { options: OPTIONS })
  expect(await journalOf(target).parts.list()).toEqual([])
  // The other video came whole, and the history is what the old phone holds.
  const other = videos.find(v => v !== cutVideo) as string
  expect(target.hasMediaFile(other)).toBe(true)
  expect(target.hasMediaFile(cutVideo)).toBe(false)
})

it('the part of a file in chats the person no longer asks for goes; the chats asked for arrive whole', async () => {
  const { source, videos } = await oldPhone()
  const target = openStore()
  const { receiver } = await interruptedSession(source, target, { at: 'chunk', cut: true, options: OPTIONS })
  expect(receiver.state).not.toBe('verified')
  const [cutVideo] = await journalOf(target).parts.list()
  expect(videos).toContain(cutVideo)
  // The person now asks only for the chat without that video: another transfer, the first one undone.
  const other = cutVideo === videos[0] ? 'c2' : 'c0'
  await verifiedTransfer(source, target, { options: OPTIONS, request: { conversations: [other] } })
  expect(await journalOf(target).parts.list()).toEqual([])
  expect(target.hasMediaFile(cutVideo)).toBe(false)
  expect(target.hasMediaFile(videos.find(v => v !== cutVideo) as string)).toBe(true)
  expect([...target.listMessages({ conversations: [other] })]).toHaveLength(51)
})

it('a part the next session wants is resumed, not dropped', async () => {
  const { source, videos } = await oldPhone()
  const target = openStore()
  await interruptedSession(source, target, { at: 'chunk', cut: true, options: OPTIONS })
  const [cutVideo] = await journalOf(target).parts.list()
  const committed = await journalOf(target).parts.size(cutVideo)
  expect(committed).toBeGreaterThan(0)
  const firstOffsets = new Map<number, number>()
  await verifiedTransfer(source, target, {
    options: OPTIONS,
    onReceived: f => {
      const c = f.chunk
      if (f.body === 'chunk' && c != null && !firstOffsets.has(Number(c.index))) firstOffsets.set(Number(c.index), Number(c.offset))
    }
  })
  // One file began where the cut left it, the other at its start.
  expect([...firstOffsets.values()].sort((a, b) => a - b)).toEqual([0, committed])
  expect(await journalOf(target).parts.list()).toEqual([])
  for (const v of videos) expect(target.hasMediaFile(v)).toBe(true)
})
