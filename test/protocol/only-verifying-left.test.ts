import { afterEach, describe, expect, it } from 'vitest'
import { cleanupTempDirs, fillStore, openStore } from '../helpers/stores.js'
import { closeJournals, journalOf } from '../helpers/transfer.js'
import { SenderMachine } from '../../src/protocol/sender.js'
import { ReceiverMachine } from '../../src/protocol/receiver.js'
import { runReceiver, runSender } from '../../src/protocol/session.js'
import { memoryPipe } from '../../src/wire/memory-duplex.js'
import type { HistorySink } from '../../src/store/history.js'

// With no media phase to overlap, the store's tidying after the messages (its deferred WAL checkpoint)
// would sit between "verified" and the process's exit: the receiver tells the store as the read-back
// begins, so it overlaps that instead. With media to come it is not told (the media phase overlaps it,
// and the read-back, the receiver's peak of memory, gets no thread beside it).

afterEach(async () => { await closeJournals(); cleanupTempDirs() })

async function transfer (mediaSizes: number[]): Promise<{ log: string[], stored: { messages: number } }> {
  const source = openStore()
  await fillStore(source, { conversations: 3, messagesPerConversation: 100, mediaSizes })
  const target = openStore()
  const log: string[] = []
  const sink = new Proxy<HistorySink>(target, {
    get (t, p) {
      const v = Reflect.get(t, p, t) as unknown
      if (typeof v !== 'function') return v
      const fn = (v as (...a: unknown[]) => unknown).bind(t)
      if (p !== 'onlyVerifyingLeft' && p !== 'flush') return fn
      return (...args: unknown[]) => { log.push(String(p)); return fn(...args) }
    }
  })
  const receiver = new ReceiverMachine({ sink, journal: journalOf(target) })
  receiver.onChatsReady = () => { log.push('chats-ready') }
  const pipe = memoryPipe()
  await Promise.all([runSender(new SenderMachine({ source }), pipe.a), runReceiver(receiver, pipe.b)])
  expect(receiver.state).toBe('verified')
  await target.checkpointsSettled()
  return { log, stored: target.stats() }
}

describe('the receiver tells the store only verifying is left', () => {
  it('as the read-back begins, when the transfer has no media', async () => {
    const { log, stored } = await transfer([])
    expect(log).toEqual(['onlyVerifyingLeft', 'chats-ready', 'flush'])
    expect(stored.messages).toBe(300)
  })

  it('not at all when media is to come after the messages', async () => {
    const { log } = await transfer([20_000, 30_000])
    expect(log).toEqual(['chats-ready', 'flush'])
  })
})
