import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { cleanupTempDirs, fillStore, keystream, openStore, tempDir } from '../helpers/stores.js'
import { closeJournals, journalOf, verifiedTransfer, type RunResult } from '../helpers/transfer.js'
import { openBackup, restoreBackup, writeBackup, type RestoreResult } from '../../src/backup/backup.js'
import type { SqliteChatStore } from '../../src/store/sqlite-store.js'
import type { Contact, Conversation, Message } from '../../src/store/model.js'

// Restoring an older backup of the old phone onto the new phone in use: the backup is the old phone as
// it was, not as it is. It adds what the phone lacks (and brings back what was deleted here), but must
// not roll back what the phone got or did since, nor make the next transfer from the old phone bring
// back what is deleted here after the restore.

const OPTIONS = { batchBytes: 4096, chunkBytes: 16 * 1024, windowBytes: 64 * 1024 }
const FAST_KDF = { log2N: 4, r: 8, p: 1 } // tests only: new files cost 2^18 (kdf.test.ts)
const PASSWORD = 'correct horse'

afterEach(async () => { await closeJournals(); cleanupTempDirs() })

interface Phones { source: SqliteChatStore, target: SqliteChatStore, file: string }

/** An old phone, a new phone that verified a first transfer of it, and a backup of the old phone then. */
async function backedUp (): Promise<Phones> {
  const source = openStore()
  await fillStore(source, { conversations: 3, messagesPerConversation: 150, mediaSizes: [10_000] })
  const target = openStore()
  await transfer(source, target)
  const file = join(tempDir(), 'old-phone.ferrybak')
  await writeBackup(source, file, { password: PASSWORD, kdf: FAST_KDF, transfer: OPTIONS })
  return { source, target, file }
}

async function transfer (source: SqliteChatStore, target: SqliteChatStore): Promise<RunResult> {
  return await verifiedTransfer(source, target, { options: OPTIONS })
}

async function restore (target: SqliteChatStore, file: string): Promise<RestoreResult> {
  const r = await restoreBackup(target, journalOf(target), await openBackup(file, PASSWORD))
  expect(r.receiver.state).toBe('verified')
  return r
}

const chat = (store: SqliteChatStore, id: string): Conversation => store.listConversations().find(c => c.id === id) as Conversation
const messagesOf = (store: SqliteChatStore, conversation: string): Message[] => [...store.listMessages({ conversations: [conversation] })]
const has = (store: SqliteChatStore, conversation: string, id: string): boolean => messagesOf(store, conversation).some(m => m.id === id)

function rename (store: SqliteChatStore, id: string, change: Partial<Conversation>): void {
  store.putMetadata([], [{ ...chat(store, id), ...change }], [])
}

let added = 0
/** The old phone goes on being used after the backup: a photo more in `conversation`. */
async function photoOnOldPhone (source: SqliteChatStore, conversation: string): Promise<Message> {
  const id = `later-${++added}`
  const { sha256, size } = await source.writeMedia(keystream(id, 5000))
  source.putMetadata([], [], [{ sha256, size, mime: 'image/jpeg' }])
  const m: Message = { conversation, id, sender: 'u1', ts: 1_900_000_000_000 + added, kind: 'image', media: sha256 }
  source.putMessages([m])
  return m
}

const holdsMedia = async (store: SqliteChatStore, sha256: string): Promise<boolean> => (await store.media(undefined, 1000)).some(r => r.sha256 === sha256)

describe('restoring an older backup onto the new phone in use', () => {
  it('keeps the titles the phone has now: renamed on both phones since the backup, or on the old phone only', async () => {
    const { source, target, file } = await backedUp()
    rename(source, 'c0', { title: 'Trip' })
    rename(source, 'c2', { title: 'Work' })
    await transfer(source, target)
    rename(target, 'c0', { title: 'Holiday' })

    await restore(target, file)
    expect(chat(target, 'c0').title).toBe('Holiday')
    expect(chat(target, 'c2').title).toBe('Work')
    // The old phone's bases are untouched: a later rename there still arrives, this phone's stays.
    rename(source, 'c2', { title: 'Office' })
    await transfer(source, target)
    expect(chat(target, 'c0').title).toBe('Holiday')
    expect(chat(target, 'c2').title).toBe('Office')
    source.close()
    target.close()
  })

  it('keeps the names and numbers of contacts the phone has now: changed on the old phone since the backup, or here', async () => {
    const { source, target, file } = await backedUp()
    const contact = (store: SqliteChatStore, id: string): Contact | undefined => store.listContacts().find(c => c.id === id)
    const [first, second] = target.listContacts().map(c => c.id)
    source.putMetadata([{ id: first, name: 'Ana María', phone: '+34 600 000 001' }], [], [])
    await transfer(source, target)
    target.putMetadata([{ id: second, name: 'Grandma', phone: '+34 600 000 002' }], [], [])
    const now = [contact(target, first), contact(target, second)]
    expect(now.map(c => c?.name)).toEqual(['Ana María', 'Grandma'])

    await restore(target, file)
    expect([contact(target, first), contact(target, second)]).toEqual(now)
    source.close()
    target.close()
  })

  it('keeps a member the old phone added to a group since the backup, and one it removed stays out', async () => {
    const { source, target, file } = await backedUp()
    const group = 'c-😀'
    rename(source, group, { members: [...chat(source, group).members.filter(m => m !== 'u2'), 'u1'] })
    await transfer(source, target)
    expect(chat(target, group).members).toEqual(chat(source, group).members)

    await restore(target, file)
    expect(chat(target, group).members).toEqual(chat(source, group).members)
    // And the next transfer from the old phone, unchanged, leaves the group as it is.
    await transfer(source, target)
    expect(chat(target, group).members).toEqual(chat(source, group).members)
    source.close()
    target.close()
  })

  it('keeps a message recalled here, though the backup holds a later edit of it', async () => {
    const source = openStore()
    await fillStore(source, { conversations: 3, messagesPerConversation: 150, mediaSizes: [10_000] })
    const m = messagesOf(source, 'c0').find(x => x.status === undefined && x.editedAt === undefined) as Message
    source.putMessages([{ ...m, text: 'edited on the old phone', editedAt: m.ts + 1000 }])
    const file = join(tempDir(), 'old-phone.ferrybak')
    await writeBackup(source, file, { password: PASSWORD, kdf: FAST_KDF, transfer: OPTIONS })
    const target = openStore()
    await transfer(source, target)
    const held = messagesOf(target, 'c0').find(x => x.id === m.id) as Message
    target.putMessages([{ ...held, status: 'recalled', editedAt: undefined }])
    await restore(target, file)
    expect(messagesOf(target, 'c0').find(x => x.id === m.id)?.status).toBe('recalled')
  })

  it('keeps a message status the old phone moved on since the backup', async () => {
    const { source, target, file } = await backedUp()
    const m = messagesOf(source, 'c0').find(x => x.status === undefined && x.editedAt === undefined) as Message
    source.putMessages([{ ...m, status: 'read' }])
    await transfer(source, target)

    await restore(target, file)
    expect(messagesOf(target, 'c0').find(x => x.id === m.id)?.status).toBe('read')
    source.close()
    target.close()
  })

  for (const restored of [true, false]) {
    it(`leaves deleted at the next transfer a photo deleted here ${restored ? 'after a restore' : '(no restore: the control)'}`, async () => {
      const { source, target, file } = await backedUp()
      const later = await photoOnOldPhone(source, 'c2')
      const photo = later.media as string
      await transfer(source, target)
      if (restored) await restore(target, file)
      expect(has(target, 'c2', later.id) && await holdsMedia(target, photo)).toBe(true)

      await target.commit({ remove: { messages: [{ conversation: 'c2', id: later.id }], media: [photo] } })
      const next = await transfer(source, target)
      expect(has(target, 'c2', later.id)).toBe(false)
      expect(await holdsMedia(target, photo)).toBe(false)
      expect(next.receiver.progress.messagesLeftDeleted).toBe(1)
      expect(next.receiver.progress.mediaLeftDeleted).toBe(1)
      source.close()
      target.close()
    })
  }
})
