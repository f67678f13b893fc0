import { afterEach, describe, expect, it } from 'vitest'
import { cleanupTempDirs, exportText, fillStore, openStore } from '../helpers/stores.js'
import { closeJournals, journalOf, runTransfer, verifiedTransfer, type RunResult } from '../helpers/transfer.js'
import type { HistoryChange } from '../../src/store/history.js'
import type { Contact, Conversation } from '../../src/store/model.js'
import type { SqliteChatStore } from '../../src/store/sqlite-store.js'

// A transfer is verified by reading back what it stored: the contacts and the chats' titles and members
// too, not only the messages. A store that silently drops or mangles one must not pass as verified (the
// old phone's owner may wipe it then), and a phone whose owner renamed, added or deleted here must.

const OPTIONS = { batchBytes: 4096, chunkBytes: 16 * 1024, windowBytes: 64 * 1024 }

afterEach(async () => { await closeJournals(); cleanupTempDirs() })

async function oldPhone (): Promise<SqliteChatStore> {
  const source = openStore()
  await fillStore(source, { conversations: 3, messagesPerConversation: 30, mediaSizes: [] })
  return source
}

async function verified (source: SqliteChatStore, target: SqliteChatStore): Promise<RunResult> {
  return await verifiedTransfer(source, target, { options: OPTIONS })
}

/**
 * The store as a damaged one: it takes every change, but the first that `fault` rewrites is stored as
 * rewritten (`fault` returns undefined for a change it leaves alone). Later changes, the undo's among
 * them, are stored as given.
 */
function damaged (store: SqliteChatStore, fault: (change: HistoryChange) => HistoryChange | undefined): SqliteChatStore {
  let armed = true
  return new Proxy(store, {
    get (t, k) {
      if (k === 'commit') {
        return async (change: HistoryChange) => {
          const faulty = armed ? fault(change) : undefined
          if (faulty !== undefined) armed = false
          await t.commit(faulty ?? change)
        }
      }
      const v = Reflect.get(t, k, t)
      return typeof v === 'function' ? v.bind(t) : v
    }
  })
}

const withContacts = (change: HistoryChange, f: (cs: Contact[]) => Contact[]): HistoryChange | undefined =>
  change.contacts === undefined || change.contacts.length === 0 ? undefined : { ...change, contacts: f(change.contacts) }
const withChat = (change: HistoryChange, id: string, f: (c: Conversation) => Conversation): HistoryChange | undefined =>
  change.conversations?.some(c => c.id === id) !== true ? undefined : { ...change, conversations: change.conversations.map(c => c.id === id ? f(c) : c) }

const chat = (store: SqliteChatStore, id: string): Conversation | undefined => store.listConversations().find(c => c.id === id)

/** Runs a transfer into `store` damaged by `fault`: it must be refused, and leave the store as it was. */
async function refusedInto (source: SqliteChatStore, target: SqliteChatStore, fault: (change: HistoryChange) => HistoryChange | undefined): Promise<RunResult> {
  const before = await exportText(target)
  const bad = await runTransfer(source, damaged(target, fault), { options: OPTIONS, journal: journalOf(target) })
  expect(bad.receiver.state).toBe('failed')
  expect(bad.receiverError).toBeDefined()
  expect(await exportText(target)).toBe(before)
  return bad
}

describe('a transfer into a store that loses what it was given of the address book', () => {
  it('is refused when a contact is dropped, names it by id, and the store is left as it was', async () => {
    const source = await oldPhone()
    const target = openStore()
    const bad = await refusedInto(source, target, c => withContacts(c, cs => cs.filter(x => x.id !== 'u2')))
    expect(bad.receiverError?.code).toBe('COUNT_MISMATCH')
    expect(bad.receiverError?.message).toContain('contact u2')
    expect(bad.receiverError?.message).not.toContain('李雷')
    expect(bad.receiverError?.details).toEqual({ contact: 'u2' })
    // The next, honest store takes it all.
    await verified(source, target)
    expect(await exportText(target)).toBe(await exportText(source))
  })

  it('is refused when a contact\'s number is dropped', async () => {
    const source = await oldPhone()
    const target = openStore()
    const bad = await refusedInto(source, target, c => withContacts(c, cs => cs.map(x => x.id === 'u2' ? { id: x.id, name: x.name } : x)))
    expect(bad.receiverError?.code).toBe('DIGEST_MISMATCH')
    expect(bad.receiverError?.message).toContain('contact u2')
    expect(bad.receiverError?.message).not.toContain('+86')
  })

  it('is refused when a chat\'s title is altered, naming the chat by id and not by its title', async () => {
    const source = await oldPhone()
    const target = openStore()
    const bad = await refusedInto(source, target, c => withChat(c, 'c-😀', x => ({ ...x, title: 'Chat ?' })))
    expect(bad.receiverError?.code).toBe('DIGEST_MISMATCH')
    expect(bad.receiverError?.message).toContain('conversation c-😀')
    expect(bad.receiverError?.message).not.toContain('Chat')
    expect(bad.receiverError?.details).toEqual({ conversation: 'c-😀' })
  })

  it('is refused when a chat is dropped', async () => {
    const source = await oldPhone()
    const target = openStore()
    const bad = await refusedInto(source, target, c => c.conversations === undefined ? undefined : { ...c, conversations: c.conversations.filter(x => x.id !== 'c2') })
    expect(bad.receiverError?.code).toBe('COUNT_MISMATCH')
    expect(bad.receiverError?.message).toContain('conversation c2')
  })

  it('is refused at a second transfer when a member this phone added is dropped, and the undo keeps this phone\'s names', async () => {
    const source = await oldPhone()
    const target = openStore()
    await verified(source, target)
    // This phone renames c0 and adds a member; the old phone adds another: both are kept, as the union.
    const mine = chat(target, 'c0') as Conversation
    target.putMetadata([], [{ ...mine, title: 'Family', members: [...mine.members, 'u3'] }], [])
    source.putMetadata([], [{ ...(chat(source, 'c0') as Conversation), members: ['u1', 'me', 'u2'] }], [])
    const bad = await refusedInto(source, target, c => withChat(c, 'c0', x => ({ ...x, members: x.members.filter(m => m !== 'u3') })))
    expect(bad.receiverError?.code).toBe('DIGEST_MISMATCH')
    expect(bad.receiverError?.message).toContain('conversation c0: 1 of its 4 members are not stored')
    expect(chat(target, 'c0')).toEqual({ ...mine, title: 'Family', members: [...mine.members, 'u3'] })
    const good = await verified(source, target)
    expect(good.receiver.progress.namesKept).toBe(1)
    expect(chat(target, 'c0')).toEqual({ ...mine, title: 'Family', members: ['u1', 'me', 'u2', 'u3'] })
  })

  it('is refused at a second transfer when a member the old phone removed stays stored, and the next honest one removes it', async () => {
    const source = await oldPhone()
    const target = openStore()
    await verified(source, target)
    const mine = chat(target, 'c-😀') as Conversation
    expect(mine.members).toContain('u3')
    // Someone left the group on the old phone: the three-way rule removes them here too.
    source.putMetadata([], [{ ...(chat(source, 'c-😀') as Conversation), members: mine.members.filter(m => m !== 'u3') }], [])
    // A store that merges a chat's members into those it holds instead of replacing them keeps u3.
    const bad = await refusedInto(source, target, c => withChat(c, 'c-😀', x => ({ ...x, members: [...x.members, 'u3'] })))
    expect(bad.receiverError?.code).toBe('DIGEST_MISMATCH')
    expect(bad.receiverError?.message).toContain('conversation c-😀: 1 member removed by this transfer is still stored')
    expect(bad.receiverError?.details).toEqual({ conversation: 'c-😀' })
    expect(chat(target, 'c-😀')).toEqual(mine)
    await verified(source, target)
    expect(chat(target, 'c-😀')?.members).toEqual(mine.members.filter(m => m !== 'u3'))
  })
})

describe('a transfer into an honest store', () => {
  it('verifies at the second transfer with names kept here, a member added here and a chat deleted here', async () => {
    const source = await oldPhone()
    const target = openStore()
    await verified(source, target)
    const c0 = chat(target, 'c0') as Conversation
    target.putMetadata([{ id: 'u1', name: 'Mum' }], [{ ...c0, title: 'Family', members: [...c0.members, 'u3'] }], [])
    const gone = [...target.listMessages({ conversations: ['c2'] })].map(m => ({ conversation: 'c2', id: m.id }))
    await target.commit({ remove: { messages: gone, conversations: ['c2'] } })
    source.putMessages([{ conversation: 'c0', id: 'later', sender: 'u1', ts: 1_900_000_000_000, kind: 'text', text: 'since' }])

    const second = await verified(source, target)
    expect(second.receiver.progress.namesKept).toBe(2)
    expect(second.receiver.progress.chatsLeftDeleted).toBe(1)
    expect(chat(target, 'c2')).toBeUndefined()
    expect(chat(target, 'c0')).toEqual({ ...c0, title: 'Family', members: [...c0.members, 'u3'] })
    expect(target.listContacts().find(c => c.id === 'u1')).toEqual({ id: 'u1', name: 'Mum' })
    // And once more, unchanged on both sides.
    const third = await verified(source, target)
    expect(third.sender.progress.messagesSent).toBe(0)
  })

  it('verifies, keeping the app\'s names, when the app renames a chat and a contact while the transfer runs', async () => {
    const source = await oldPhone()
    const target = openStore()
    // The person renames on the new phone once messages flow, before the old phone says it is done:
    // the app's write, not a store that mangled the transfer's.
    let renamed = false
    const run = await runTransfer(source, target, {
      options: OPTIONS,
      onReceived: frame => {
        if (renamed || frame.body !== 'batch') return
        renamed = true
        const c0 = chat(target, 'c0') as Conversation
        target.putMetadata([{ id: 'u1', name: 'Mum' }], [{ ...c0, title: 'Renamed while it ran' }], [])
      }
    })
    expect(renamed).toBe(true)
    expect(run.receiverError).toBeUndefined()
    expect(run.receiver.state).toBe('verified')
    expect(chat(target, 'c0')?.title).toBe('Renamed while it ran')
    expect(target.listContacts().find(c => c.id === 'u1')?.name).toBe('Mum')
  })
})
