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
    const after = await exportText(target)
    expect(after).not.toContain('forged')
    expect(messageLines(after)).toEqual([expect.stringContaining('written by the app: app-4')])
    source.close()
    target.close()
  })
})
