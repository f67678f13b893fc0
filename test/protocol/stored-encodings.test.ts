import { afterEach, describe, expect, it } from 'vitest'
import { cleanupTempDirs, exportText, fillStore, openStore } from '../helpers/stores.js'
import { closeJournals, runTransfer } from '../helpers/transfer.js'
import { keepingEncodings, keyOf } from '../helpers/kept-encodings.js'
import { encodedMessage } from '../../src/protocol/leaves.js'
import type { Message } from '../../src/store/model.js'

// A new phone whose store keeps each message as its encoding (HistorySource.encodedMessages, as the
// browser phone's pages do) is read back through those bytes: the transfer verifies by hashing what the
// store kept, and a store whose kept bytes are not what the old phone sent is caught there. Its commits
// carry each message's bytes as they came, which for an honest old phone are the message's encoding.

afterEach(async () => { await closeJournals(); cleanupTempDirs() })

const OPTIONS = { batchBytes: 8 * 1024, chunkBytes: 16 * 1024, windowBytes: 128 * 1024 }

describe('a store that keeps messages as their encodings', () => {
  it('is verified by the bytes it kept, which are the bytes that came: no message is read and encoded again', async () => {
    const source = openStore()
    await fillStore(source, { conversations: 3, messagesPerConversation: 300, mediaSizes: [20_000], hugeMessageBytes: 40_000 })
    const target = keepingEncodings(openStore())
    const run = await runTransfer(source, target.sink, { options: OPTIONS })
    expect(run.receiverError).toBeUndefined()
    expect(run.receiver.state).toBe('verified')
    expect(target.calls.encodedMessages).toBeGreaterThan(0)
    expect(target.calls.messagesRead).toBe(0)
    expect(await exportText(target.sink)).toBe(await exportText(source))
    // Every message came with its bytes (the huge one in fragments), and they are its encoding.
    expect(target.calls.committed).toBe(3 * 300 + 1)
    expect(target.calls.committedWithBytes).toBe(target.calls.committed)
    for (const c of ['c0', 'c-😀', 'c2']) {
      for (const m of await source.messages(c, undefined, 10_000)) {
        expect(Buffer.from(target.kept.get(keyOf(c, m.id)) as Uint8Array).equals(Buffer.from(encodedMessage(m))), `${c}/${m.id}`).toBe(true)
      }
    }
  })

  it('refuses a transfer whose kept bytes are not what the old phone sent, and keeps what was verified before', async () => {
    const source = openStore()
    await fillStore(source, { conversations: 3, messagesPerConversation: 200, mediaSizes: [] })
    const target = keepingEncodings(openStore())
    expect((await runTransfer(source, target.sink, { options: OPTIONS })).receiver.state).toBe('verified')
    const verified = await exportText(target.sink)

    // The old phone edits a few messages and writes new ones; the new phone's store garbles one of them.
    const edited = (await source.messages('c2', undefined, 1000)).filter(m => m.kind === 'text').slice(0, 5).map(m => ({ ...m, text: `edited ${m.id}` }))
    const added = Array.from({ length: 20 }, (_, i): Message => ({ conversation: 'c0', id: `late-${i}`, sender: 'u1', ts: 1_900_000_000_000 + i, kind: 'text', text: `late ${i}` }))
    source.putMessages([...edited, ...added])
    target.garble('late-7')
    const refused = await runTransfer(source, target.sink, { options: OPTIONS })
    expect(refused.receiverError?.code).toBe('DIGEST_MISMATCH')
    expect(await exportText(target.sink)).toBe(verified)

    const again = await runTransfer(source, target.sink, { options: OPTIONS })
    expect(again.receiverError).toBeUndefined()
    expect(again.receiver.state).toBe('verified')
    expect(await exportText(target.sink)).toBe(await exportText(source))
  })
})
