import { afterEach, describe, expect, it } from 'vitest'
import type { ReceiverMachine } from '../../src/protocol/receiver.js'
import type { FerryError } from '../../src/errors.js'
import type { Message } from '../../src/store/model.js'
import type { SqliteChatStore } from '../../src/store/sqlite-store.js'
import { cleanupTempDirs, fillStore, keystream, openStore } from '../helpers/stores.js'
import { closeJournals, interruptedSession, journalOf, verifiedTransfer, type RunResult } from '../helpers/transfer.js'

// From chats-ready on the new phone is its person's (docs/cli.md): a photo message deleted while the media
// still arrive, with its photo as an app removes it, stays deleted, and the transfer verifies all the
// same, keeping the rest of what it brought. The photo must not come back either, as a record and file
// no message shows (the space the person freed stays free), at this transfer, a resumed session of it,
// or the next transfer.

const OPTIONS = { batchBytes: 4096, chunkBytes: 16 * 1024, windowBytes: 64 * 1024 }
const PHOTOS = 3

afterEach(async () => { await closeJournals(); cleanupTempDirs() })

const messagesOf = (s: SqliteChatStore, c: string): Message[] => [...s.listMessages({ conversations: [c] })]
const idsOf = (s: SqliteChatStore, c: string): string[] => messagesOf(s, c).map(m => m.id)

/** A photo message on the old phone: the file, its record and the message that shows it. */
async function photo (source: SqliteChatStore, conversation: string, id: string, ts: number, size: number): Promise<string> {
  const { sha256 } = await source.writeMedia(keystream(`${conversation}-${id}`, size))
  source.putMetadata([], [], [{ sha256, size, mime: 'image/jpeg' }])
  source.putMessages([{ conversation, id, sender: 'u1', ts, kind: 'image', media: sha256 }])
  return sha256
}

/** An old phone with three chats, c0 and c2 with photos p0..p2 each. */
async function oldPhone (): Promise<{ source: SqliteChatStore, photos: Map<string, string[]> }> {
  const source = openStore()
  await fillStore(source, { conversations: 3, messagesPerConversation: 100, mediaSizes: [] })
  const photos = new Map<string, string[]>()
  for (const c of ['c0', 'c2']) {
    const shas: string[] = []
    for (let k = 0; k < PHOTOS; k++) shas.push(await photo(source, c, `p${k}`, 1_600_000_000_000 + k, 60_000 + k))
    photos.set(c, shas)
  }
  return { source, photos }
}

/** New photo messages n0..n2 in c2 on the old phone since the first transfer. */
async function newPhotos (source: SqliteChatStore): Promise<string[]> {
  const shas: string[] = []
  for (let k = 0; k < PHOTOS; k++) shas.push(await photo(source, 'c2', `n${k}`, 1_950_000_000_000 + k, 70_000 + k))
  return shas
}

/** What the app does when its owner deletes a message that shows a photo only it shows. */
async function deletePhotoMessage (target: SqliteChatStore, conversation: string, id: string, sha256: string): Promise<void> {
  await target.commit({ remove: { messages: [{ conversation, id }], media: [sha256] } })
}

/**
 * One session in which `change` runs as the first media chunk comes (the chats are ready), before the
 * receiver takes it; `cut`: the link drops there too.
 */
async function duringMedia (source: SqliteChatStore, target: SqliteChatStore, change: (receiver: ReceiverMachine) => Promise<void>, cut = false): Promise<{ receiver: ReceiverMachine, error?: FerryError }> {
  const { reached, ...run } = await interruptedSession(source, target, {
    at: 'chunk',
    change: async r => { expect(r.chatsReady).toBe(true); await change(r) },
    cut,
    options: OPTIONS
  })
  expect(reached).toBe(true)
  return run
}

/** Every record has its file, every message's media both: nothing points at nothing. */
async function expectConsistent (store: SqliteChatStore): Promise<void> {
  for (const r of await store.media(undefined, 100_000)) expect(r.stored, `record ${r.sha256} without its file`).toBe(true)
  for (const c of store.listConversations()) {
    for (const m of messagesOf(store, c.id)) {
      if (m.media === undefined) continue
      expect(store.hasMediaRecord(m.media), `${c.id}/${m.id} points at a missing record`).toBe(true)
      expect(store.hasMediaFile(m.media), `${c.id}/${m.id} points at a missing file`).toBe(true)
    }
  }
}

/** The photo is gone from this phone: no record, no file. */
function expectGone (target: SqliteChatStore, sha256: string): void {
  expect(target.hasMediaRecord(sha256)).toBe(false)
  expect(target.hasMediaFile(sha256)).toBe(false)
}

function expectHere (target: SqliteChatStore, sha256: string): void {
  expect(target.hasMediaRecord(sha256)).toBe(true)
  expect(target.hasMediaFile(sha256)).toBe(true)
}

/** The next transfer from the same old phone: verified, sends no file, and the photos stay deleted. */
async function nextKeeps (source: SqliteChatStore, target: SqliteChatStore, gone: string[]): Promise<RunResult> {
  const next = await verifiedTransfer(source, target, { options: OPTIONS })
  expect(next.sender.progress.mediaFilesSent).toBe(0)
  expect(next.receiver.progress.mediaLeftDeleted).toBe(gone.length)
  for (const sha of gone) expectGone(target, sha)
  await expectConsistent(target)
  return next
}

describe('a photo deleted on the new phone while the media arrive', () => {
  it('second transfer: a new photo message deleted stays deleted, and the rest it brought verifies', async () => {
    const { source } = await oldPhone()
    const target = openStore()
    await verifiedTransfer(source, target, { options: OPTIONS })
    const fresh = await newPhotos(source)
    const run = await duringMedia(source, target, async () => { await deletePhotoMessage(target, 'c2', 'n2', fresh[2]) })
    expect(run.error).toBeUndefined()
    expect(run.receiver.state).toBe('verified')
    expect(idsOf(target, 'c2').filter(id => id.startsWith('n'))).toEqual(['n0', 'n1'])
    expectHere(target, fresh[0])
    expectHere(target, fresh[1])
    // Whether its file had come before the deletion or after, it is not on this phone.
    expectGone(target, fresh[2])
    expect(run.receiver.progress.mediaLeftDeleted).toBe(1)
    await expectConsistent(target)
    const next = await nextKeeps(source, target, [fresh[2]])
    expect(idsOf(target, 'c2')).not.toContain('n2')
    expect(next.receiver.progress.messagesLeftDeleted).toBe(1)
  })

  it('second transfer: an old photo message deleted while a new photo comes stays deleted', async () => {
    const { source, photos } = await oldPhone()
    const target = openStore()
    await verifiedTransfer(source, target, { options: OPTIONS })
    const [fresh] = await newPhotos(source)
    const old = (photos.get('c0') as string[])[1]
    const run = await duringMedia(source, target, async () => { await deletePhotoMessage(target, 'c0', 'p1', old) })
    expect(run.error).toBeUndefined()
    expect(run.receiver.state).toBe('verified')
    expect(idsOf(target, 'c2')).toContain('n0')
    expectHere(target, fresh)
    expect(idsOf(target, 'c0')).not.toContain('p1')
    expectGone(target, old)
    expect(run.receiver.progress.mediaLeftDeleted).toBe(1)
    await expectConsistent(target)
    await nextKeeps(source, target, [old])
    expect(idsOf(target, 'c0')).not.toContain('p1')
  })

  it('first transfer: a chat deleted with its photos stays deleted, and the other chats verify', async () => {
    const { source, photos } = await oldPhone()
    const target = openStore()
    const gone = photos.get('c0') as string[]
    const run = await duringMedia(source, target, async () => {
      await target.commit({ remove: { messages: idsOf(target, 'c0').map(id => ({ conversation: 'c0', id })), conversations: ['c0'], media: gone } })
    })
    expect(run.error).toBeUndefined()
    expect(run.receiver.state).toBe('verified')
    expect(idsOf(target, 'c0')).toEqual([])
    expect(idsOf(target, 'c2')).toEqual(idsOf(source, 'c2'))
    for (const sha of photos.get('c2') as string[]) expectHere(target, sha)
    for (const sha of gone) expectGone(target, sha)
    expect(run.receiver.progress.mediaLeftDeleted).toBe(PHOTOS)
    await expectConsistent(target)
    const next = await nextKeeps(source, target, gone)
    expect(next.receiver.progress.chatsLeftDeleted).toBe(1)
    expect(target.listConversations().map(c => c.id)).not.toContain('c0')
  })

  it('a session cut in the media, the photo deleted before it resumes: it stays deleted, with no record or file', async () => {
    const { source } = await oldPhone()
    const target = openStore()
    await verifiedTransfer(source, target, { options: OPTIONS })
    const fresh = await newPhotos(source)
    const cut = await duringMedia(source, target, async () => {}, true)
    expect(cut.receiver.state).not.toBe('verified')
    await deletePhotoMessage(target, 'c2', 'n2', fresh[2])
    const resumed = await verifiedTransfer(source, target, { options: OPTIONS })
    expect(idsOf(target, 'c2').filter(id => id.startsWith('n'))).toEqual(['n0', 'n1'])
    expectHere(target, fresh[0])
    expectHere(target, fresh[1])
    expectGone(target, fresh[2])
    expect(resumed.receiver.progress.mediaLeftDeleted).toBe(1)
    await expectConsistent(target)
    await nextKeeps(source, target, [fresh[2]])
  })

  it('a session cut in the media resumes with restoreDeleted: the photo deleted comes back with its message', async () => {
    const { source } = await oldPhone()
    const target = openStore()
    await verifiedTransfer(source, target, { options: OPTIONS })
    const fresh = await newPhotos(source)
    await duringMedia(source, target, async () => {}, true)
    await deletePhotoMessage(target, 'c2', 'n2', fresh[2])
    const resumed = await verifiedTransfer(source, target, { options: OPTIONS, restoreDeleted: true })
    expect(idsOf(target, 'c2')).toContain('n2')
    for (const sha of fresh) expectHere(target, sha)
    expect(resumed.receiver.progress.mediaLeftDeleted).toBe(0)
    await expectConsistent(target)
  })
})

/**
 * One session in which `change` runs as the first batch of messages comes (before the message showing
 * the photo is written); `cutAtDone`: the link drops as Done comes, every file taken.
 */
async function duringMessages (source: SqliteChatStore, target: SqliteChatStore, change: (receiver: ReceiverMachine) => Promise<void>, cutAtDone = false): Promise<{ receiver: ReceiverMachine, error?: FerryError }> {
  const { reached, ...run } = await interruptedSession(source, target, { at: 'batch', change, dropAt: cutAtDone ? 'done' : undefined, options: OPTIONS })
  expect(reached).toBe(true)
  return run
}

describe('a photo deleted here that a message arriving meanwhile shows', () => {
  /**
   * A second transfer in which the person deletes c0/p0 and its photo X as the messages come, and a
   * message that arrives after shows X (`reshown` changes the old phone so that one does). The photo
   * must be on this phone by the end, as the message shows it; the deleted message stays deleted.
   */
  async function shownAgain (reshown: (source: SqliteChatStore, x: string) => void): Promise<{ source: SqliteChatStore, target: SqliteChatStore, x: string }> {
    const { source, photos } = await oldPhone()
    const x = (photos.get('c0') as string[])[0]
    const target = openStore()
    await verifiedTransfer(source, target, { options: OPTIONS })
    reshown(source, x)
    const run = await duringMessages(source, target, async () => { await deletePhotoMessage(target, 'c0', 'p0', x) })
    // Not counted deleted: the session ends to fetch it, taking back nothing.
    expect(run.error).toMatchObject({ code: 'TRUNCATED', details: { fetchAgain: true, sha256: x } })
    expect(target.hasMediaRecord(x)).toBe(true)
    const resumed = await verifiedTransfer(source, target, { options: OPTIONS })
    expect(resumed.sender.progress.mediaFilesSent).toBe(1)
    expect(resumed.receiver.progress.mediaLeftDeleted).toBe(0)
    expectHere(target, x)
    await expectConsistent(target)
    return { source, target, x }
  }

  /** The history can go on to a third phone whole, and the next transfer from the old phone keeps X. */
  async function carriesOn (source: SqliteChatStore, target: SqliteChatStore, x: string): Promise<void> {
    const third = openStore()
    await verifiedTransfer(target, third, { options: OPTIONS })
    expectHere(third, x)
    const next = await verifiedTransfer(source, target, { options: OPTIONS })
    expect(next.sender.progress.mediaFilesSent).toBe(0)
    expect(next.receiver.progress.mediaLeftDeleted).toBe(0)
    expectHere(target, x)
    await expectConsistent(target)
  }

  it('the old phone forwarded the photo into another chat: the forward comes with it', async () => {
    const { source, target, x } = await shownAgain((source, x) => {
      source.putMessages([{ conversation: 'c2', id: 'fwd', sender: 'u1', ts: 1_950_000_000_000, kind: 'image', media: x }])
    })
    expect(messagesOf(target, 'c2').find(m => m.id === 'fwd')?.media).toBe(x)
    expect(idsOf(target, 'c0')).not.toContain('p0')
    await carriesOn(source, target, x)
  })

  it('the old phone captioned the message deleted here: it comes back, with its photo', async () => {
    const { source, target, x } = await shownAgain((source, x) => {
      source.putMessages([{ conversation: 'c0', id: 'p0', sender: 'u1', ts: 1_600_000_000_000, kind: 'image', media: x, text: 'captioned there' }])
    })
    const back = messagesOf(target, 'c0').find(m => m.id === 'p0')
    expect(back?.media).toBe(x)
    expect(back?.text).toBe('captioned there')
    await carriesOn(source, target, x)
  })

  it('a photo deleted here that the old phone sends all the same, session cut at Done: it stays deleted when it resumes', async () => {
    const { source, photos } = await oldPhone()
    const x = (photos.get('c2') as string[])[2]
    const target = openStore()
    await verifiedTransfer(source, target, { options: OPTIONS })
    await deletePhotoMessage(target, 'c2', 'p2', x)
    // A message beside the deleted one: the old phone sends the chat, and p2 with it, which stays deleted.
    source.putMessages([{ conversation: 'c2', id: 'beside', sender: 'u1', ts: 1_600_000_000_001, kind: 'text', text: 'beside it' }])
    const cut = await duringMessages(source, target, async () => {}, true)
    expect(cut.receiver.state).not.toBe('verified')
    const resumed = await verifiedTransfer(source, target, { options: OPTIONS })
    expect(idsOf(target, 'c2')).toContain('beside')
    expect(idsOf(target, 'c2')).not.toContain('p2')
    expectGone(target, x)
    expect(resumed.receiver.progress.mediaLeftDeleted).toBe(1)
    expect(await journalOf(target).parts.list()).toEqual([])
    await expectConsistent(target)
    await nextKeeps(source, target, [x])
  })
})

/**
 * The receive ends where the records gone are put back and not yet removed again, as a process killed
 * there does: nothing after it runs (test/e2e/killed-at-put-back.test.ts kills a real one there).
 */
function dieAtPutBack (receiver: ReceiverMachine): void {
  receiver.onPutBack = async () => { throw new Error('killed between the put-back and the removal') }
}

describe('a receive that dies between the put-back of the records gone and their removal', () => {
  it('nothing new on the old phone, a photo deleted as Done comes: the resumed session leaves it deleted and fetches nothing', async () => {
    const { source, photos } = await oldPhone()
    const x = (photos.get('c0') as string[])[1]
    const target = openStore()
    await verifiedTransfer(source, target, { options: OPTIONS })
    const { reached, ...died } = await interruptedSession(source, target, {
      at: 'done',
      change: async r => { dieAtPutBack(r); await deletePhotoMessage(target, 'c0', 'p1', x) },
      options: OPTIONS
    })
    expect(reached).toBe(true)
    expect(died.receiver.state).not.toBe('verified')
    // What the process left: the record of the photo the person deleted, with no file.
    expect(target.hasMediaRecord(x)).toBe(true)
    expect(target.hasMediaFile(x)).toBe(false)
    const resumed = await verifiedTransfer(source, target, { options: OPTIONS })
    expect(resumed.sender.progress.mediaFilesSent).toBe(0)
    expect(resumed.receiver.progress.mediaLeftDeleted).toBe(1)
    expect(resumed.receiver.progress.messagesLeftDeleted).toBe(1)
    expectGone(target, x)
    expect(idsOf(target, 'c0')).not.toContain('p1')
    await expectConsistent(target)
    await nextKeeps(source, target, [x])
  })

  it('a photo deleted while a message that shows it comes: the resumed session fetches it', async () => {
    const { source, photos } = await oldPhone()
    const x = (photos.get('c0') as string[])[0]
    const target = openStore()
    await verifiedTransfer(source, target, { options: OPTIONS })
    // The old phone forwarded it into another chat since.
    source.putMessages([{ conversation: 'c2', id: 'fwd', sender: 'u1', ts: 1_950_000_000_000, kind: 'image', media: x }])
    const died = await duringMessages(source, target, async r => {
      dieAtPutBack(r)
      await deletePhotoMessage(target, 'c0', 'p0', x)
    })
    expect(died.receiver.state).not.toBe('verified')
    expect(target.hasMediaFile(x)).toBe(false)
    const resumed = await verifiedTransfer(source, target, { options: OPTIONS })
    expect(resumed.sender.progress.mediaFilesSent).toBe(1)
    expect(resumed.receiver.progress.mediaLeftDeleted).toBe(0)
    expectHere(target, x)
    expect(messagesOf(target, 'c2').find(m => m.id === 'fwd')?.media).toBe(x)
    expect(idsOf(target, 'c0')).not.toContain('p0')
    await expectConsistent(target)
  })
})
