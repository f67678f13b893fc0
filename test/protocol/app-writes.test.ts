import { afterEach, describe, expect, it } from 'vitest'
import { cleanupTempDirs, exportText, fillStore, openStore } from '../helpers/stores.js'
import { closeJournals, runTransfer } from '../helpers/transfer.js'
import type { Message } from '../../src/store/model.js'
import type { SqliteChatStore } from '../../src/store/sqlite-store.js'
import type { Frame } from '../../src/wire/codec.js'

// The new phone is in use while it receives: its app may store a message of its own in a chat the
// transfer is writing, after the messages arrived and before they are verified. Verification must
// judge only what the old phone sent: the transfer is verified and the app's message stays.

const OPTIONS = { batchBytes: 4096, chunkBytes: 16 * 1024, windowBytes: 64 * 1024 }

afterEach(async () => { await closeJournals(); cleanupTempDirs() })

async function oldPhone (): Promise<SqliteChatStore> {
  const source = openStore()
  await fillStore(source, { conversations: 3, messagesPerConversation: 200, mediaSizes: [20_000] })
  return source
}

/** A message of the app's own in `conversation`, timed between two of the old phone's there. */
function ownMessage (source: SqliteChatStore, conversation: string, id: string): Message {
  const there = [...source.listMessages({ conversations: [conversation] })]
  const mid = there[Math.floor(there.length / 2)]
  return { conversation, id, sender: 'me', ts: mid.ts, kind: 'text', text: `written by the app: ${id}` }
}

/** Stores `messages` on the new phone when the old phone's Done arrives, before it is checked. */
function writesBeforeDone (target: SqliteChatStore, messages: Message[]): (frame: Frame) => void {
  return frame => { if (frame.body === 'done') target.putMessages(messages) }
}

function messageLines (text: string): string[] {
  return text.split('\n').filter(l => l.includes('"type":"message"'))
}

describe('a transfer verified while the app writes', () => {
  it('into a chat the new phone held nothing of: verified, and the app\'s message kept', async () => {
    const source = await oldPhone()
    const target = openStore()
    const own = ownMessage(source, 'c-😀', 'app-1')
    const r = await runTransfer(source, target, { options: OPTIONS, onReceived: writesBeforeDone(target, [own]) })
    expect(r.receiverError).toBeUndefined()
    expect(r.receiver.state).toBe('verified')
    const after = await exportText(target)
    for (const line of messageLines(await exportText(source))) expect(after).toContain(line)
    expect(after).toContain('written by the app: app-1')
    expect(target.stats().messages).toBe(source.stats().messages + 1)

    // The next transfer from the same phone finds nothing to move, and takes nothing away.
    const again = await runTransfer(source, target, { options: OPTIONS })
    expect(again.receiver.state).toBe('verified')
    expect(again.receiver.progress.messagesReceived).toBe(0)
    expect(await exportText(target)).toBe(after)
    source.close()
    target.close()
  })

  it('into a chat whose newest messages are arriving (the new phone held the rest): verified, kept', async () => {
    const source = await oldPhone()
    const target = openStore()
    expect((await runTransfer(source, target, { options: OPTIONS })).receiver.state).toBe('verified')
    // The old phone goes on: new messages at the end of c0 and c2.
    const late: Message[] = [0, 1, 2].flatMap(i => ['c0', 'c2'].map(c => ({ conversation: c, id: `late-${c}-${i}`, sender: 'u1', ts: 1_950_000_000_000 + i, kind: 'text' as const, text: `late ${i}` })))
    source.putMessages(late)
    const own = [ownMessage(source, 'c0', 'app-2'), { ...ownMessage(source, 'c2', 'app-3'), ts: 1_950_000_000_001 }]
    const r = await runTransfer(source, target, { options: OPTIONS, onReceived: writesBeforeDone(target, own) })
    expect(r.receiverError).toBeUndefined()
    expect(r.receiver.state).toBe('verified')
    expect(r.receiver.progress.messagesReceived).toBe(late.length)
    const after = await exportText(target)
    for (const line of messageLines(await exportText(source))) expect(after).toContain(line)
    expect(after).toContain('written by the app: app-2')
    expect(after).toContain('written by the app: app-3')
    expect(target.stats().messages).toBe(source.stats().messages + 2)
    source.close()
    target.close()
  })

  it('still refuses a sender whose messages are not what it claims, with the app\'s message kept', async () => {
    const source = await oldPhone()
    const target = openStore()
    const own = ownMessage(source, 'c-😀', 'app-4')
    const r = await runTransfer(source, target, {
      options: OPTIONS,
      onReceived: writesBeforeDone(target, [own]),
      tamper: f => f.body === 'batch' ? [{ batch: { messages: (f.batch?.messages ?? []).map(m => ({ ...m, text: 'forged' })) } }] : [f]
    })
    expect(r.receiverError?.code).toBe('DIGEST_MISMATCH')
    // The forged messages read back as they were written: nothing was changed here, the sender lied.
    expect(r.receiverError?.details?.changedHere).toBeUndefined()
    const after = await exportText(target)
    expect(after).not.toContain('forged')
    expect(messageLines(after)).toEqual([expect.stringContaining('written by the app: app-4')])
    source.close()
    target.close()
  })
})

// A second transfer of a chat that only grew on the old phone (a prefix plan): the person reads the
// chat's latest messages on the new phone while the rest arrives, and their app marks one read, or they
// edit or delete it. Those messages were this phone's before the transfer began: what the person did to
// them is theirs, and the transfer still verifies what the old phone sent.
describe('a second transfer while the person changes the chat\'s latest held messages', () => {
  async function grown (): Promise<{ source: SqliteChatStore, target: SqliteChatStore, latest: Message }> {
    const source = await oldPhone()
    const target = openStore()
    expect((await runTransfer(source, target, { options: OPTIONS })).receiver.state).toBe('verified')
    source.putMessages([0, 1, 2].map(i => ({ conversation: 'c0', id: `late-${i}`, sender: 'u1', ts: 1_950_000_000_000 + i, kind: 'text' as const, text: `late ${i}` })))
    const held = [...target.listMessages({ conversations: ['c0'] })]
    return { source, target, latest: held[held.length - 1] }
  }

  // The last field: whether the change outlasts the next transfer from the unchanged old phone (an edit
  // and a deletion do; a read mark is the old phone's to overwrite, as any change without an edit mark).
  const changes: Array<[string, (target: SqliteChatStore, latest: Message) => void, (now: Message | undefined, latest: Message) => void, boolean]> = [
    ['marks the latest read', (t, m) => t.putMessages([{ ...m, status: 'read' }]), now => expect(now?.status).toBe('read'), false],
    ['edits the latest', (t, m) => t.putMessages([{ ...m, text: 'edited here', editedAt: 1_960_000_000_000 }]), now => expect(now?.text).toBe('edited here'), true],
    ['deletes the latest', (t, m) => t.deleteMessage(m.conversation, m.id), now => expect(now).toBeUndefined(), true]
  ]
  for (const [what, change, check, lasts] of changes) {
    it(`${what}: verified, the new messages in, and the change kept`, async () => {
      const { source, target, latest } = await grown()
      let changed = false
      const r = await runTransfer(source, target, {
        options: OPTIONS,
        // Once the new messages are in, before the old phone's Done is checked.
        onReceived: f => { if (f.body === 'done' && !changed) { changed = true; change(target, latest) } }
      })
      expect(changed).toBe(true)
      expect(r.receiverError).toBeUndefined()
      expect(r.receiver.state).toBe('verified')
      expect(r.receiver.progress.messagesReceived).toBe(3)
      expect((await target.findMessages('c0', ['late-0', 'late-1', 'late-2'])).map(m => m.text)).toEqual(['late 0', 'late 1', 'late 2'])
      check((await target.findMessages('c0', [latest.id]))[0], latest)
      if (lasts) {
        const again = await runTransfer(source, target, { options: OPTIONS })
        expect(again.receiver.state).toBe('verified')
        expect(again.receiver.progress.messagesReceived).toBe(0)
        check((await target.findMessages('c0', [latest.id]))[0], latest)
      }
      source.close()
      target.close()
    })
  }
})
