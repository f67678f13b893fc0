import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { Message } from '../../src/store/model.js'
import type { SqliteChatStore } from '../../src/store/sqlite-store.js'
import type { Frame } from '../../src/wire/codec.js'
import { ferry } from '../helpers/ferry-sync.js'
import { cleanupTempDirs, exportText, fillStore, openStore, tempDir } from '../helpers/stores.js'
import { closeJournal, closeJournals, runTransfer, verifiedTransfer } from '../helpers/transfer.js'

// The new phone is in use while it receives: once its chats are ready the person or app may recall,
// edit or delete a message the transfer wrote, or import an export over it. A transfer refused or left
// unverified is undone, and that undo must take back only what is still as the transfer wrote it: a
// message someone took back must never return, and nothing the person wrote may go.

const OPTIONS = { batchBytes: 4096, chunkBytes: 16 * 1024, windowBytes: 64 * 1024 }

afterEach(async () => { await closeJournals(); cleanupTempDirs() })

async function oldPhone (): Promise<SqliteChatStore> {
  const source = openStore()
  await fillStore(source, { conversations: 3, messagesPerConversation: 200, mediaSizes: [200_000] })
  return source
}

/** Runs `write` on the new phone's store as the old phone's Done arrives: after chats-ready, before Done is checked. */
function atDone (write: () => void): (frame: Frame) => void {
  return frame => { if (frame.body === 'done') write() }
}

/**
 * Runs `write` once, while messages still arrive: at the first batch after `conversation`'s message
 * `id` is stored, before the chats are ready (an app that shows chats as they fill).
 */
function whileArriving (target: SqliteChatStore, conversation: string, id: string, write: () => void): (frame: Frame) => void {
  let done = false
  return frame => {
    if (done || (frame.body !== 'batch' && frame.body !== 'deflatedBatch') || stored(target, conversation, id) === undefined) return
    done = true
    write()
  }
}

const stored = (store: SqliteChatStore, conversation: string, id: string): Message | undefined =>
  [...store.listMessages({ conversations: [conversation] })].find(m => m.id === id)

describe('changes made on the new phone once its chats are ready', () => {
  // Every message was read back before chats-ready: what the person does from then on is theirs.
  const changes: Array<[string, (target: SqliteChatStore, m: Message) => void, (now: Message | undefined) => void]> = [
    ['a recall', (t, m) => t.putMessages([{ ...m, status: 'recalled' }]), now => expect(now?.status).toBe('recalled')],
    ['an edit', (t, m) => t.putMessages([{ ...m, text: 'edited here', editedAt: 1_960_000_000_000 }]), now => expect(now?.text).toBe('edited here')],
    ['a deletion', (t, m) => t.deleteMessage(m.conversation, m.id), now => expect(now).toBeUndefined()]
  ]
  for (const [what, change, check] of changes) {
    it(`${what} while the media goes on: verified, the change kept, and kept by the next transfer`, async () => {
      const source = await oldPhone()
      const target = openStore()
      const original = stored(source, 'c0', 'm5') as Message
      let ready = false
      // The first media chunk comes after chats-ready: the person opens the chat as the photos arrive.
      const r = await runTransfer(source, target, {
        options: OPTIONS,
        onReceived: f => { if (f.body === 'chunk' && !ready) { ready = true; change(target, original) } }
      })
      expect(ready).toBe(true)
      expect(r.receiverError).toBeUndefined()
      expect(r.receiver.state).toBe('verified')
      check(stored(target, 'c0', 'm5'))
      // Everything else the old phone holds is here.
      const others = (s: SqliteChatStore): string[] => [...s.listMessages()].filter(m => m.conversation !== 'c0' || m.id !== 'm5').map(m => JSON.stringify(m)).sort()
      expect(others(target)).toEqual(others(source))
      expect(target.stats().mediaPresent).toBe(source.stats().mediaPresent)

      const again = await runTransfer(source, target, { options: OPTIONS })
      expect(again.receiver.state).toBe('verified')
      expect(again.receiver.progress.messagesReceived).toBe(0)
      check(stored(target, 'c0', 'm5'))
      source.close()
      target.close()
    })
  }

  it('a second transfer: a message it replaced, deleted once the chats are ready, stays deleted', async () => {
    const source = await oldPhone()
    const target = openStore()
    await verifiedTransfer(source, target, { options: OPTIONS })
    const edited = { ...(stored(source, 'c2', 'm8') as Message), text: 'edited on the old phone', editedAt: 1_800_000_000_000 }
    source.putMessages([edited])
    const r = await runTransfer(source, target, { options: OPTIONS, onReceived: atDone(() => { target.deleteMessage('c2', 'm8') }) })
    expect(r.receiverError).toBeUndefined()
    expect(r.receiver.progress.messagesReceived).toBe(1)
    expect(stored(target, 'c2', 'm8')).toBeUndefined()
    expect(target.stats().messages).toBe(source.stats().messages - 1)
    const again = await runTransfer(source, target, { options: OPTIONS })
    expect(again.receiver.state).toBe('verified')
    expect(again.receiver.progress.messagesLeftDeleted).toBe(1)
    expect(stored(target, 'c2', 'm8')).toBeUndefined()
    source.close()
    target.close()
  })
})

describe('changes made on the new phone while its messages still arrive', () => {
  it('a recall survives the refusal and the next transfer: the message stays recalled', async () => {
    const source = await oldPhone()
    const target = openStore()
    const original = stored(source, 'c0', 'm5') as Message
    expect(original.status).toBeUndefined()
    const r = await runTransfer(source, target, { options: OPTIONS, onReceived: whileArriving(target, 'c0', 'm5', () => { target.putMessages([{ ...original, status: 'recalled' }]) }) })
    expect(r.receiverError?.code).toBe('DIGEST_MISMATCH')
    expect(r.receiverError?.details).toMatchObject({ changedHere: true, conversation: 'c0', messageId: 'm5' })
    expect(r.receiverError?.message).toContain('changed or deleted on this phone')
    // The old phone is not told its history is damaged: what it hears names the new phone's changes.
    expect(r.senderError?.code).toBe('PEER_ERROR')
    expect(r.senderError?.message).toContain('changed or deleted on the new phone')
    // The refusal took back the rest of what the transfer wrote, and left the recall.
    expect([...target.listMessages()].map(m => [m.conversation, m.id, m.status])).toEqual([['c0', 'm5', 'recalled']])

    // The next transfer brings everything else, and the recalled message stays recalled.
    await verifiedTransfer(source, target, { options: OPTIONS })
    expect(stored(target, 'c0', 'm5')?.status).toBe('recalled')
    expect(target.stats().messages).toBe(source.stats().messages)
    source.close()
    target.close()
  })

  it('a deletion survives the refusal: the message stays deleted, the rest taken back', async () => {
    const source = await oldPhone()
    const target = openStore()
    const r = await runTransfer(source, target, { options: OPTIONS, onReceived: whileArriving(target, 'c0', 'm8', () => { target.deleteMessage('c0', 'm8') }) })
    expect(r.receiverError?.code).toBe('COUNT_MISMATCH')
    expect(r.receiverError?.details).toMatchObject({ changedHere: true, conversation: 'c0', messageId: 'm8' })
    expect(r.receiverError?.message).toContain('was deleted')
    expect(target.stats().messages).toBe(0)
    source.close()
    target.close()
  })

  it('an export imported over an interrupted transfer is kept when another transfer undoes it', async () => {
    const source = await oldPhone()
    let target = openStore()
    // The first transfer stops in its media: every message is in, unverified.
    const full = await runTransfer(source, openStore(), { options: OPTIONS })
    const first = await runTransfer(source, target, { options: OPTIONS, cutAtAtoB: full.bytesAtoB - 100_000 })
    expect(first.receiver.chatsReady).toBe(true)
    expect(first.receiver.state).not.toBe('verified')
    // The person imports an export of the same chats, edited in one place.
    const exported = (await exportText(source)).replace('"id":"m1","sender":"u1"', '"id":"m1","sender":"u1","editedAt":1800000000000')
    // With `ferry import`, the person's own command, while the store is not in use.
    const file = join(tempDir(), 'export.ndjson')
    writeFileSync(file, exported)
    await closeJournal(target)
    target.close()
    const imported = ferry('import', file, '--store', target.dir)
    expect(imported.stderr).toBe('')
    expect(imported.status).toBe(0)
    target = openStore(target.dir)
    // Every contact, chat, media record and message the person now holds.
    const lines = (await exportText(target)).split('\n').filter(l => l !== '')
    expect(lines.filter(l => l.includes('"type":"message"'))).toHaveLength(600)

    // A transfer from another phone undoes the first one: the imported messages stay.
    const other = openStore()
    other.putMetadata([{ id: 'u9', name: 'Zoe' }], [{ id: 'z', kind: 'direct', title: 'Zoe', members: ['u9', 'me'] }], [])
    other.putMessages([{ conversation: 'z', id: 'z1', sender: 'u9', ts: 1_700_000_000_000, kind: 'text', text: 'hi' }])
    await verifiedTransfer(other, target, { options: OPTIONS })
    const after = await exportText(target)
    for (const line of lines) expect(after).toContain(line)
    source.close()
    target.close()
    other.close()
  })
})
