import { afterEach, describe, expect, it } from 'vitest'
import { cleanupTempDirs, fillStore, openStore } from '../helpers/stores.js'
import { closeJournals, journalOf, verifiedTransfer, type RunOptions, type RunResult } from '../helpers/transfer.js'
import { NAME_BASES } from '../../src/journal/name-bases.js'
import type { SqliteChatStore } from '../../src/store/sqlite-store.js'
import type { Contact, Conversation, Message } from '../../src/store/model.js'

// A contact the new phone's owner deleted must stay deleted through every later transfer from the same
// old phone, as a deleted chat does, unless they ask for what they deleted back (restoreDeleted); a
// contact the old phone added since arrives.

const OPTIONS = { batchBytes: 4096, chunkBytes: 16 * 1024, windowBytes: 64 * 1024 }

afterEach(async () => { await closeJournals(); cleanupTempDirs() })

interface Phones { source: SqliteChatStore, target: SqliteChatStore }

/** An old phone, and a new phone that verified a first transfer of its whole history. */
async function afterFirstTransfer (): Promise<Phones> {
  const source = openStore()
  await fillStore(source, { conversations: 3, messagesPerConversation: 40, mediaSizes: [10_000] })
  const target = openStore()
  await verified(source, target)
  expect(target.listContacts()).toEqual(source.listContacts())
  return { source, target }
}

async function verified (source: SqliteChatStore, target: SqliteChatStore, opts: RunOptions = {}): Promise<RunResult> {
  return await verifiedTransfer(source, target, { options: OPTIONS, ...opts })
}

const ids = (store: SqliteChatStore): string[] => store.listContacts().map(c => c.id)
const contact = (store: SqliteChatStore, id: string): Contact | undefined => store.listContacts().find(c => c.id === id)
const chat = (store: SqliteChatStore, id: string): Conversation => store.listConversations().find(c => c.id === id) as Conversation
const has = (store: SqliteChatStore, m: Message): boolean => [...store.listMessages({ conversations: [m.conversation] })].some(x => x.id === m.id)

/** The person deletes a contact on the new phone (the app keeps the chats and messages it is in). */
async function deleteContact (store: SqliteChatStore, id: string): Promise<void> {
  await store.commit({ remove: { contacts: [id] } })
  expect(contact(store, id)).toBeUndefined()
}

let written = 0
/** A message the deleted contact writes on the old phone, in the group they are a member of. */
function fromU2 (source: SqliteChatStore): Message {
  const m: Message = { conversation: 'c-😀', id: `from-u2-${++written}`, sender: 'u2', ts: 1_900_000_000_000 + written, kind: 'text', text: 'still writing' }
  source.putMessages([m])
  return m
}

describe('a contact deleted on the new phone', () => {
  it('stays deleted through a second and a third transfer, while their messages arrive', async () => {
    const { source, target } = await afterFirstTransfer()
    await deleteContact(target, 'u2')
    const news = fromU2(source)

    const second = await verified(source, target)
    expect(ids(target)).toEqual(['u1', 'u3'])
    expect(second.receiver.progress.contactsLeftDeleted).toBe(1)
    expect(second.receiver.progress.namesKept).toBe(0)
    // Their messages and their place in the group are the chat's, not the contact's: they arrive.
    expect(has(target, news)).toBe(true)
    expect(chat(target, 'c-😀').members).toContain('u2')
    expect(contact(target, 'u1')).toEqual(contact(source, 'u1'))

    // Renamed on the old phone since, with a new number: as a chat renamed there after it was deleted
    // here, a name is no reason to bring it back.
    source.putMetadata([{ id: 'u2', name: 'Li Lei', phone: '+86 10 5678' }], [], [])
    const later = fromU2(source)
    const third = await verified(source, target)
    expect(ids(target)).toEqual(['u1', 'u3'])
    expect(third.receiver.progress.contactsLeftDeleted).toBe(1)
    expect(has(target, later)).toBe(true)
    source.close()
    target.close()
  })

  it('comes back, as the old phone has it, when the person asks for what was deleted back', async () => {
    const { source, target } = await afterFirstTransfer()
    await deleteContact(target, 'u2')
    await verified(source, target)
    expect(contact(target, 'u2')).toBeUndefined()

    source.putMetadata([{ id: 'u2', name: 'Li Lei', phone: '+86 10 5678' }], [], [])
    const restored = await verified(source, target, { restoreDeleted: true })
    expect(restored.receiver.progress.contactsLeftDeleted).toBe(0)
    expect(contact(target, 'u2')).toEqual({ id: 'u2', name: 'Li Lei', phone: '+86 10 5678' })
    // Back for good: the next transfer finds it here.
    const next = await verified(source, target)
    expect(next.receiver.progress.contactsLeftDeleted).toBe(0)
    expect(target.listContacts()).toEqual(source.listContacts())
    source.close()
    target.close()
  })

  it('does not keep out a contact the old phone added since', async () => {
    const { source, target } = await afterFirstTransfer()
    await deleteContact(target, 'u2')
    source.putMetadata([{ id: 'u9', name: 'Nina', phone: '+49 30 1234' }], [], [])

    const second = await verified(source, target)
    expect(contact(target, 'u9')).toEqual({ id: 'u9', name: 'Nina', phone: '+49 30 1234' })
    expect(ids(target)).toEqual(['u1', 'u3', 'u9'])
    expect(second.receiver.progress.contactsLeftDeleted).toBe(1)
    source.close()
    target.close()
  })

  it('arrives when the old phone adds it again under the same id after it was deleted there too', async () => {
    // Apps key contacts by phone number: the person deletes someone on both phones, then adds them again
    // on the old one. A whole transfer that no longer carries the contact forgets it was carried here.
    const { source, target } = await afterFirstTransfer()
    const u2 = contact(source, 'u2') as Contact
    await deleteContact(target, 'u2')
    await source.commit({ remove: { contacts: ['u2'] } })
    await verified(source, target)
    source.putMetadata([{ ...u2, name: 'Added again' }], [], [])
    const again = await verified(source, target)
    expect(contact(target, 'u2')).toEqual({ ...u2, name: 'Added again' })
    expect(again.receiver.progress.contactsLeftDeleted).toBe(0)
    source.close()
    target.close()
  })

  it('stays deleted past a transfer of other chats, whose people say nothing of it', async () => {
    // A selection carries only its chats' people: that the contact is not among them is no sign the
    // old phone no longer has it.
    const { source, target } = await afterFirstTransfer()
    await deleteContact(target, 'u2')
    const others = source.listConversations().filter(c => !c.members.includes('u2')).map(c => c.id)
    expect(others.length).toBeGreaterThan(0)
    await verified(source, target, { request: { conversations: others } })
    const whole = await verified(source, target)
    expect(contact(target, 'u2')).toBeUndefined()
    expect(whole.receiver.progress.contactsLeftDeleted).toBe(1)
    source.close()
    target.close()
  })
})

describe('a contact missing on the new phone without a base of this store', () => {
  it('a first transfer brings every contact, into a phone holding others of its own', async () => {
    const source = openStore()
    await fillStore(source, { conversations: 3, messagesPerConversation: 40, mediaSizes: [] })
    const target = openStore()
    target.putMetadata([{ id: 'mine', name: 'Only here' }], [], [])
    const first = await verified(source, target)
    expect(ids(target)).toEqual(['mine', 'u1', 'u2', 'u3'])
    expect(first.receiver.progress.contactsLeftDeleted).toBe(0)
    source.close()
    target.close()
  })

  it('from a journal whose bases do not say which store: it comes back once, then a deletion sticks', async () => {
    const { source, target } = await afterFirstTransfer()
    // Bases as a Ferry that kept no store in them wrote them.
    const older = []
    for await (const [k, v] of journalOf(target).list(NAME_BASES)) {
      const b = JSON.parse(Buffer.from(v).toString('utf8')) as Record<string, unknown>
      delete b.store
      older.push({ key: k, value: new TextEncoder().encode(JSON.stringify(b)) })
    }
    await journalOf(target).write(older)
    await deleteContact(target, 'u2')
    const second = await verified(source, target)
    expect(contact(target, 'u2')).toEqual(contact(source, 'u2'))
    expect(second.receiver.progress.contactsLeftDeleted).toBe(0)

    await deleteContact(target, 'u2')
    const third = await verified(source, target)
    expect(contact(target, 'u2')).toBeUndefined()
    expect(third.receiver.progress.contactsLeftDeleted).toBe(1)
    source.close()
    target.close()
  })

  it('a store made again beside the same journal takes every contact', async () => {
    const { source, target } = await afterFirstTransfer()
    const again = openStore()
    const run = await verified(source, again, { journal: journalOf(target) })
    expect(again.listContacts()).toEqual(source.listContacts())
    expect(run.receiver.progress.contactsLeftDeleted).toBe(0)
    source.close()
    target.close()
    again.close()
  })
})
