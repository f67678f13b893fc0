import { afterEach, describe, expect, it } from 'vitest'
import type { ReceiverMachine } from '../../src/protocol/receiver.js'
import type { Message } from '../../src/store/model.js'
import type { SqliteChatStore } from '../../src/store/sqlite-store.js'
import { READ_BACK_BASES } from '../../src/journal/read-back-bases.js'
import { MESSAGE_BASES, PENDING_MESSAGE_BASES } from '../../src/journal/message-bases.js'
import { cleanupTempDirs, fillStore, keystream, openStore } from '../helpers/stores.js'
import { closeJournal, closeJournals, interruptedSession, journalOf, runTransfer } from '../helpers/transfer.js'

// From chats-ready on the new phone is its person's (docs/architecture.md): every message was read back,
// and a read mark, an edit or a deletion made while the media go on is theirs. When the link drops during
// the media, the resumed session is sent again the leaves those changes touched; the old phone's
// unchanged version must not undo them, and the stats must count each message once.

const OPTIONS = { batchBytes: 4096, chunkBytes: 16 * 1024, windowBytes: 64 * 1024 }

afterEach(async () => { await closeJournals(); cleanupTempDirs() })

const stored = (s: SqliteChatStore, c: string, id: string): Message | undefined => [...s.listMessages({ conversations: [c] })].find(m => m.id === id)

async function oldPhone (): Promise<SqliteChatStore> {
  const source = openStore()
  await fillStore(source, { conversations: 3, messagesPerConversation: 200, mediaSizes: [2_000_000, 2_000_000] })
  return source
}

/** One session that reaches the media, where `change` runs (the chats are ready) and the link drops. */
async function cutAtFirstChunk (source: SqliteChatStore, target: SqliteChatStore, change: () => void): Promise<ReceiverMachine> {
  const { receiver } = await interruptedSession(source, target, {
    at: 'chunk',
    change: r => { expect(r.chatsReady).toBe(true); change() },
    cut: true,
    options: OPTIONS
  })
  expect(receiver.state).not.toBe('verified')
  return receiver
}

describe('what the person does once the chats are ready survives a resume', () => {
  it('a message marked read stays read when the link drops during the media', async () => {
    const source = await oldPhone()
    const target = openStore()
    const read = { ...(stored(source, 'c0', 'm5') as Message), status: 'read' as const }
    expect((stored(source, 'c0', 'm5') as Message).status).not.toBe('read')
    await cutAtFirstChunk(source, target, () => target.putMessages([read]))
    const again = await runTransfer(source, target, { options: OPTIONS })
    expect(again.receiverError).toBeUndefined()
    expect(again.receiver.state).toBe('verified')
    expect(stored(target, 'c0', 'm5')).toEqual(read)
    // Brought by this transfer once, not kept as if changed before it.
    expect(again.receiver.totals?.messagesReceived).toBe(600)
  })

  it('messages deleted stay deleted, are counted once, and the chat lists what it holds', async () => {
    const source = await oldPhone()
    const target = openStore()
    await cutAtFirstChunk(source, target, () => { for (let i = 0; i < 50; i++) target.deleteMessage('c0', `m${i}`) })
    const again = await runTransfer(source, target, { options: OPTIONS })
    expect(again.receiverError).toBeUndefined()
    expect(again.receiver.state).toBe('verified')
    for (let i = 0; i < 50; i++) expect(stored(target, 'c0', `m${i}`)).toBeUndefined()
    expect(stored(target, 'c0', 'm50')).toBeDefined()
    expect(again.receiver.totals?.messagesReceived).toBe(600)
    expect(again.receiver.progress.messagesLeftDeleted).toBe(50)
    expect(again.receiver.summary?.find(c => c.id === 'c0')?.messages).toBe(150)
  })

  it('an edit made here is kept and counted once', async () => {
    const source = await oldPhone()
    const target = openStore()
    const edited = { ...(stored(source, 'c2', 'm7') as Message), text: 'edited on the new phone', editedAt: 1_950_000_000_000 }
    await cutAtFirstChunk(source, target, () => target.putMessages([edited]))
    const again = await runTransfer(source, target, { options: OPTIONS })
    expect(again.receiver.state).toBe('verified')
    expect(stored(target, 'c2', 'm7')).toEqual(edited)
    expect(again.receiver.totals?.messagesReceived).toBe(600)
    expect(again.receiver.progress.messagesKept).toBe(1)
  })

  it('the receiver killed between the read-back and the media keeps what it read back', async () => {
    const source = await oldPhone()
    const target = openStore()
    const read = { ...(stored(source, 'c2', 'm150') as Message), status: 'read' as const }
    await cutAtFirstChunk(source, target, () => { target.putMessages([read]); target.deleteMessage('c2', 'm151') })
    // Nothing of the first session's machine lives on: only the store and the journal on disk.
    await closeJournal(target)
    const again = await runTransfer(source, target, { options: OPTIONS })
    expect(again.receiver.state).toBe('verified')
    expect(stored(target, 'c2', 'm150')).toEqual(read)
    expect(stored(target, 'c2', 'm151')).toBeUndefined()
  })

  it('a message the old phone changed since the read-back comes as it is there', async () => {
    const source = await oldPhone()
    const target = openStore()
    const edited = { ...(stored(source, 'c0', 'm9') as Message), text: 'edited on the old phone', editedAt: 1_950_000_000_000 }
    await cutAtFirstChunk(source, target, () => { target.deleteMessage('c0', 'm9'); source.putMessages([edited]) })
    const again = await runTransfer(source, target, { options: OPTIONS })
    expect(again.receiver.state).toBe('verified')
    expect(stored(target, 'c0', 'm9')).toEqual(edited)
  })

  it('restoreDeleted brings back what was deleted after the chats were ready', async () => {
    const source = await oldPhone()
    const target = openStore()
    await cutAtFirstChunk(source, target, () => target.deleteMessage('c0', 'm5'))
    const again = await runTransfer(source, target, { options: OPTIONS, restoreDeleted: true })
    expect(again.receiver.state).toBe('verified')
    expect(stored(target, 'c0', 'm5')).toEqual(stored(source, 'c0', 'm5'))
  })

  it('what a transfer read back joins the message bases at the next receive, and leaves the journal', async () => {
    const source = await oldPhone()
    const target = openStore()
    const count = async (prefix: string): Promise<number> => { let n = 0; for await (const _ of journalOf(target).list(prefix)) n++; return n }
    await cutAtFirstChunk(source, target, () => {})
    expect(await count(READ_BACK_BASES)).toBeGreaterThan(0)
    const again = await runTransfer(source, target, { options: OPTIONS })
    expect(again.receiver.state).toBe('verified')
    // Marked in the write that records the verification, not copied there (a whole history's digests).
    expect(await count(PENDING_MESSAGE_BASES)).toBe(1)
    expect(await count(MESSAGE_BASES)).toBe(0)
    const next = await runTransfer(source, target, { options: OPTIONS })
    expect(next.receiver.state).toBe('verified')
    expect(await count(MESSAGE_BASES)).toBeGreaterThan(0)
    // Taken over: what the last receive read back is gone, and nothing it brought (nothing changed) waits.
    expect(await count(READ_BACK_BASES)).toBe(0)
  })
})

describe('what the person does once the chats are ready survives another phone taking the transfer back', () => {
  it('a message the transfer brought and the person deleted stays deleted, an edit and a read mark stay, at the next transfer from that phone', async () => {
    const source = await oldPhone()
    const target = openStore()
    expect((await runTransfer(source, target, { options: OPTIONS })).receiver.state).toBe('verified')
    // The old phone goes on being used: a message more, an edit, and a photo that keeps the next transfer
    // in its media after the chats are ready.
    const { sha256 } = await source.writeMedia(keystream('later-photo', 2_000_000))
    source.putMetadata([], [], [{ sha256, size: 2_000_000, mime: 'image/jpeg' }])
    const editedThere = { ...(stored(source, 'c0', 'm20') as Message), text: 'edited on the old phone', editedAt: 1_950_000_000_000 }
    source.putMessages([
      { conversation: 'c0', id: 'oldnew1', sender: 'u1', ts: 1_900_000_000_001, kind: 'text', text: 'written on the old phone since' },
      { conversation: 'c2', id: 'photo', sender: 'u1', ts: 1_900_000_000_002, kind: 'image', media: sha256 },
      editedThere
    ])
    const editedHere = { ...editedThere, text: 'edited on the new phone after', editedAt: 1_960_000_000_000 }
    const read = { ...(stored(source, 'c2', 'photo') as Message), status: 'read' as const }
    await cutAtFirstChunk(source, target, () => {
      expect(stored(target, 'c0', 'oldnew1')).toBeDefined()
      target.deleteMessage('c0', 'oldnew1')
      target.putMessages([editedHere, read])
    })
    // Another old phone's transfer begins: the unfinished one is taken back, what the person changed stays.
    const other = openStore()
    await fillStore(other, { conversations: 3, messagesPerConversation: 50, mediaSizes: [] })
    const fromOther = await runTransfer(other, target, { options: OPTIONS, request: { conversations: ['c-😀'] } })
    expect(fromOther.receiver.state).toBe('verified')
    expect(stored(target, 'c0', 'oldnew1')).toBeUndefined()
    expect(stored(target, 'c0', 'm20')).toEqual(editedHere)

    for (let i = 0; i < 2; i++) {
      const again = await runTransfer(source, target, { options: OPTIONS })
      expect(again.receiverError).toBeUndefined()
      expect(again.receiver.state).toBe('verified')
      expect(stored(target, 'c0', 'oldnew1')).toBeUndefined()
      expect(stored(target, 'c0', 'm20')).toEqual(editedHere)
      expect(stored(target, 'c2', 'photo')).toEqual(read)
      expect(again.receiver.progress.messagesLeftDeleted).toBe(1)
    }
  })
})

describe('a resumed second transfer', () => {
  it('counts what the person changed once the chats were ready as kept, as a take-back would at the next transfer', async () => {
    const counts = async (takeBack: boolean): Promise<unknown> => {
      const source = openStore()
      await fillStore(source, { conversations: 3, messagesPerConversation: 200, mediaSizes: [] })
      const target = openStore()
      expect((await runTransfer(source, target, { options: OPTIONS })).receiver.state).toBe('verified')
      const { sha256 } = await source.writeMedia(keystream('later-photo', 2_000_000))
      source.putMetadata([], [], [{ sha256, size: 2_000_000, mime: 'image/jpeg' }])
      const editedThere = { ...(stored(source, 'c0', 'm20') as Message), text: 'edited on the old phone', editedAt: 1_950_000_000_000 }
      source.putMessages([{ conversation: 'c2', id: 'photo', sender: 'u1', ts: 1_900_000_000_002, kind: 'image', media: sha256 }, editedThere])
      // Edited here once the chats are ready: one the transfer brought (m20), one held before it (m30).
      const mine = [
        { ...editedThere, text: 'edited on the new phone after', editedAt: 1_960_000_000_000 },
        { ...(stored(source, 'c0', 'm30') as Message), text: 'edited on the new phone', editedAt: 1_960_000_000_000 }
      ]
      await cutAtFirstChunk(source, target, () => target.putMessages(mine))
      if (takeBack) {
        const other = openStore()
        await fillStore(other, { conversations: 3, messagesPerConversation: 50, mediaSizes: [] })
        expect((await runTransfer(other, target, { options: OPTIONS, request: { conversations: ['c-😀'] } })).receiver.state).toBe('verified')
      }
      const again = await runTransfer(source, target, { options: OPTIONS })
      expect(again.receiver.state).toBe('verified')
      for (const m of mine) expect(stored(target, m.conversation, m.id)).toEqual(m)
      return { ...again.receiver.totals, messagesKept: again.receiver.progress.messagesKept }
    }
    const resumed = await counts(false)
    expect(resumed).toMatchObject({ messagesReceived: 3, messagesHeld: 598, messagesKept: 2 })
    expect(resumed).toEqual(await counts(true))
  })
})
