import { afterEach, describe, expect, it } from 'vitest'
import { cleanupTempDirs, fillStore, openStore } from '../helpers/stores.js'
import { closeJournals, runTransfer, verifiedTransfer } from '../helpers/transfer.js'
import type { Contact, Conversation } from '../../src/store/model.js'
import type { SqliteChatStore } from '../../src/store/sqlite-store.js'
import type { ferry, Frame } from '../../src/wire/codec.js'

// The new phone is in use while it receives: its person may rename a chat or a contact the transfer
// has just written. When that transfer is refused, its undo takes back what it wrote, and only that:
// the rename is the person's and stays, as an edit of a message does.

const OPTIONS = { batchBytes: 4096, chunkBytes: 16 * 1024, windowBytes: 64 * 1024 }

afterEach(async () => { await closeJournals(); cleanupTempDirs() })

async function oldPhone (): Promise<SqliteChatStore> {
  const source = openStore()
  await fillStore(source, { conversations: 3, messagesPerConversation: 40, mediaSizes: [] })
  return source
}

/** A sender whose messages are not what its digests say: the receiver refuses it and undoes what it wrote. */
const forged = (f: ferry.Frame): ferry.Frame.$Properties[] =>
  f.body === 'batch' ? [{ batch: { messages: (f.batch?.messages ?? []).map(m => ({ ...m, text: 'forged' })) } }] : [f]

/** Renames on the new phone when the old phone's Done arrives: the names are written by then, nothing verified. */
function renamesBeforeDone (target: SqliteChatStore, contacts: Contact[], conversations: Conversation[]): (frame: Frame) => void {
  return frame => { if (frame.body === 'done') target.putMetadata(contacts, conversations, []) }
}

const chatsOf = async (store: SqliteChatStore): Promise<Map<string, Conversation>> =>
  new Map((await store.conversations()).map(c => [c.conversation.id, c.conversation]))
const contactsOf = async (store: SqliteChatStore): Promise<Map<string, Contact>> =>
  new Map((await store.contacts()).map(c => [c.id, c]))

describe('a refused transfer and the names renamed here while it ran', () => {
  it('keeps a chat it brought that the person renamed, with its members; the rest of it goes', async () => {
    const source = await oldPhone()
    const target = openStore()
    const renamed: Conversation = { id: 'c0', kind: 'direct', title: 'Alice, renamed here', members: ['u1', 'me'] }
    const r = await runTransfer(source, target, { options: OPTIONS, tamper: forged, onReceived: renamesBeforeDone(target, [], [renamed]) })
    expect(r.receiverError?.code).toBe('DIGEST_MISMATCH')
    expect([...(await chatsOf(target)).values()]).toEqual([renamed])
    expect([...(await contactsOf(target)).keys()]).toEqual(['u1'])
    expect(target.stats().messages).toBe(0)

    // The chat left behind takes the next, honest transfer as any chat held here does.
    await verifiedTransfer(source, target, { options: OPTIONS })
    expect(target.stats().messages).toBe(source.stats().messages)
    source.close()
    target.close()
  })

  it('keeps a chat and a contact renamed here after the transfer wrote the old phone\'s names; puts back the others', async () => {
    const source = await oldPhone()
    const target = openStore()
    await verifiedTransfer(source, target, { options: OPTIONS })
    const held = { chats: await chatsOf(target), contacts: await contactsOf(target) }
    // The old phone goes on: new messages, and names changed there.
    source.putMessages([0, 1, 2].map(i => ({ conversation: 'c0', id: `late-${i}`, sender: 'u1', ts: 1_950_000_000_000 + i, kind: 'text' as const, text: `late ${i}` })))
    source.putMetadata([{ id: 'u1', name: 'Alice (old phone)' }, { id: 'u3', name: 'Maryam (old phone)' }],
      [{ id: 'c0', kind: 'direct', title: 'Chat 0 (old phone)', members: ['u1', 'me'] }, { id: 'c2', kind: 'direct', title: 'Chat 2 (old phone)', members: ['u1', 'me'] }], [])
    const r = await runTransfer(source, target, {
      options: OPTIONS,
      tamper: forged,
      onReceived: renamesBeforeDone(target, [{ id: 'u1', name: 'Al' }], [{ id: 'c0', kind: 'direct', title: 'Al and me', members: ['u1', 'me'] }])
    })
    expect(r.receiverError?.code).toBe('DIGEST_MISMATCH')
    const chats = await chatsOf(target)
    const contacts = await contactsOf(target)
    expect(chats.get('c0')?.title).toBe('Al and me')
    expect(contacts.get('u1')?.name).toBe('Al')
    // What nobody renamed here is as it was before the refused transfer.
    expect(chats.get('c2')).toEqual(held.chats.get('c2'))
    expect(contacts.get('u3')).toEqual(held.contacts.get('u3'))
    source.close()
    target.close()
  })
})
