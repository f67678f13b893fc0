import { afterEach, expect, it } from 'vitest'
import type { SqliteChatStore } from '../../src/store/sqlite-store.js'
import { cleanupTempDirs, fillStore, keystream, openStore } from '../helpers/stores.js'
import { closeJournals, interruptedSession, verifiedTransfer } from '../helpers/transfer.js'

// The old phone's person deletes a photo message, and the app its photo, while a transfer to the new
// phone is cut off. Moving never deletes: what came stays. But a message here must not point at a file
// with nothing said of it, and the new phone must not keep a record of a file no one will bring.

afterEach(async () => { await closeJournals(); cleanupTempDirs() })

const OPTIONS = { batchBytes: 4096, chunkBytes: 16 * 1024, windowBytes: 64 * 1024 }
const ids = (s: SqliteChatStore, c: string): string[] => [...s.listMessages({ conversations: [c] })].map(m => m.id)

/** An old phone with text chats and a photo message (its own photo) in c0 and c2. */
async function oldPhone (): Promise<{ source: SqliteChatStore, photo: string }> {
  const source = openStore()
  await fillStore(source, { conversations: 3, messagesPerConversation: 100, mediaSizes: [] })
  const photos: string[] = []
  for (const [k, c] of ['c0', 'c2'].entries()) {
    const { sha256 } = await source.writeMedia(keystream(`${c}-photo`, 60_000 + k))
    source.putMetadata([], [], [{ sha256, size: 60_000 + k, mime: 'image/jpeg' }])
    source.putMessages([{ conversation: c, id: 'p0', sender: 'u1', ts: 1_600_000_000_000, kind: 'image', media: sha256 }])
    photos.push(sha256)
  }
  return { source, photo: photos[0] }
}

/** A transfer whose link drops as the first frame of `body` reaches the new phone. */
async function cutAt (source: SqliteChatStore, target: SqliteChatStore, body: 'batch' | 'chunk'): Promise<void> {
  const { receiver } = await interruptedSession(source, target, { at: body, cut: true, options: OPTIONS })
  expect(receiver.state).not.toBe('verified')
}

it('a photo message that came before the cut stays, its photo counted as no longer on the old phone', async () => {
  const { source, photo } = await oldPhone()
  const target = openStore()
  // Every message is here, no photo yet.
  await cutAt(source, target, 'chunk')
  expect(ids(target, 'c0')).toContain('p0')
  expect(target.hasMediaFile(photo)).toBe(false)
  await source.commit({ remove: { messages: [{ conversation: 'c0', id: 'p0' }], media: [photo] } })

  const resumed = await verifiedTransfer(source, target, { options: OPTIONS })
  expect(ids(target, 'c0')).toContain('p0')
  // Shown as missing, as a file the old phone announces missing is, and said so.
  expect(target.hasMediaRecord(photo)).toBe(true)
  expect(target.hasMediaFile(photo)).toBe(false)
  expect(resumed.receiver.progress.mediaFilesMissing).toBe(1)
  expect(target.stats()).toMatchObject({ media: 2, mediaPresent: 1, mediaMissing: 1 })
})

it('a photo whose message had not come leaves no record behind', async () => {
  const { source, photo } = await oldPhone()
  const target = openStore()
  // The manifest's records are in; no message is.
  await cutAt(source, target, 'batch')
  expect(target.hasMediaRecord(photo)).toBe(true)
  expect(ids(target, 'c0')).toEqual([])
  await source.commit({ remove: { messages: [{ conversation: 'c0', id: 'p0' }], media: [photo] } })

  const resumed = await verifiedTransfer(source, target, { options: OPTIONS })
  expect(ids(target, 'c0')).not.toContain('p0')
  expect(target.hasMediaRecord(photo)).toBe(false)
  expect(resumed.receiver.progress.mediaFilesMissing).toBe(0)
  expect(target.stats()).toMatchObject({ media: 1, mediaPresent: 1, mediaMissing: 0 })
})
