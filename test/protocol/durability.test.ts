import { afterEach, describe, expect, it } from 'vitest'
import { cleanupTempDirs, fillStore, openStore } from '../helpers/stores.js'
import { closeJournals, journalOf } from '../helpers/transfer.js'
import { SenderMachine } from '../../src/protocol/sender.js'
import { ReceiverMachine } from '../../src/protocol/receiver.js'
import { runReceiver, runSender } from '../../src/protocol/session.js'
import { memoryPipe, type MemoryPipe } from '../../src/wire/memory-duplex.js'
import type { SqliteChatStore } from '../../src/store/sqlite-store.js'
import type { HistorySink } from '../../src/store/history.js'
import type { Journal } from '../../src/journal/journal.js'

// "Verified" tells the old phone its history is safe on the new one, and its owner may wipe it. So
// before the receiver says it, the store must have made every commit durable, and the journal must
// durably say the transfer is verified (an unverified transfer is undone at the next open). A power cut
// cannot be staged here; the order of the calls that promise durability can be checked.

afterEach(async () => { await closeJournals(); cleanupTempDirs() })

/** Wraps an object so that calls to `names` are recorded, in order, into `log`. */
function recording<T extends object> (target: T, names: string[], log: string[], prefix: string): T {
  return new Proxy(target, {
    get (t, p) {
      const v = Reflect.get(t, p, t) as unknown
      if (typeof v !== 'function') return v
      const fn = (v as (...a: unknown[]) => unknown).bind(t)
      if (!names.includes(String(p))) return fn
      return async (...args: unknown[]) => {
        const r = await fn(...args)
        log.push(`${prefix}.${String(p)}`)
        return r
      }
    }
  })
}

describe('before the receiver says verified', () => {
  it('the store has flushed every commit, then the journal durably recorded the verification', async () => {
    const source = openStore()
    await fillStore(source, { conversations: 3, messagesPerConversation: 200, mediaSizes: [20_000] })
    const target = openStore()
    const log: string[] = []
    const sink = recording<HistorySink>(target, ['commit', 'flush'], log, 'store')
    const journal = recording<Journal>(journalOf(target), ['write', 'flush'], log, 'journal')
    const pipe = memoryPipe()
    const sender = new SenderMachine({ source })
    const onFrame = sender.onFrame.bind(sender)
    sender.onFrame = async frame => {
      if (frame.body === 'verified') log.push('old phone told')
      await onFrame(frame)
    }
    const receiver = new ReceiverMachine({ sink, journal })
    await Promise.all([runSender(sender, pipe.a), runReceiver(receiver, pipe.b)])
    expect(receiver.state).toBe('verified')

    const told = log.indexOf('old phone told')
    const storeFlush = log.lastIndexOf('store.flush')
    const journalFlush = log.lastIndexOf('journal.flush')
    expect(told).toBeGreaterThan(0)
    expect(storeFlush).toBeGreaterThan(log.lastIndexOf('store.commit'))
    // The verification record is the journal's last write, between the store's flush and its own.
    expect(log.lastIndexOf('journal.write')).toBeGreaterThan(storeFlush)
    expect(journalFlush).toBeGreaterThan(log.lastIndexOf('journal.write'))
    expect(told).toBeGreaterThan(journalFlush)
  })
})

/** Two phones over an in-memory pipe, the old one holding a small history, the new one empty. */
async function pair (): Promise<{ source: SqliteChatStore, target: SqliteChatStore, pipe: MemoryPipe, sender: SenderMachine, receiver: ReceiverMachine }> {
  const source = openStore()
  await fillStore(source, { conversations: 2, messagesPerConversation: 50, mediaSizes: [30_000] })
  const target = openStore()
  return { source, target, pipe: memoryPipe(), sender: new SenderMachine({ source }), receiver: new ReceiverMachine({ sink: target, journal: journalOf(target) }) }
}

describe('after the receiver says verified', () => {
  it('waits for the old phone to hang up, which it does once it has read Verified', async () => {
    const { pipe, sender, receiver } = await pair()
    let receiverDone = false
    let senderHeard = false
    const onFrame = sender.onFrame.bind(sender)
    sender.onFrame = async frame => {
      await onFrame(frame)
      // The receiver is still waiting when Verified is read: it returns only once the sender hung up.
      if (frame.body === 'verified') { senderHeard = true; expect(receiverDone).toBe(false) }
    }
    await Promise.all([runSender(sender, pipe.a), runReceiver(receiver, pipe.b).then(() => { receiverDone = true })])
    expect(senderHeard).toBe(true)
    expect(receiver.state).toBe('verified')
  })

  it('lets the old phone forget what must not outlive the transfer before it hangs up', async () => {
    // The hang-up tells the new phone it was heard, and it is then done: an old phone killed after it
    // must not come back still paired, waiting for that phone.
    const { pipe, sender, receiver } = await pair()
    const order: string[] = []
    const hangUp = { ...pipe.a, close: async () => { order.push('hang-up'); await pipe.a.close() } }
    await Promise.all([
      runSender(sender, hangUp, { onVerified: async () => { order.push('verified, forgotten') } }),
      runReceiver(receiver, pipe.b)
    ])
    expect(order).toEqual(['verified, forgotten', 'hang-up'])
    expect(receiver.state).toBe('verified')
  })

  it('keeps what the old phone\'s hang-up proves before it reports anything more', async () => {
    // The hang-up says the old phone heard and forgot the pairing: a new phone stopped after it must
    // start again knowing so, not dial a phone that is done with it.
    const { pipe, sender, receiver } = await pair()
    const order: string[] = []
    await Promise.all([
      runSender(sender, pipe.a),
      runReceiver(receiver, pipe.b, {
        onHeard: async () => { order.push('heard') },
        onProgress: () => { if (receiver.finished) order.push('progress') }
      })
    ])
    expect(order).toEqual(['heard', 'progress'])
    expect(receiver.state).toBe('verified')
  })

  it('says verified once the old phone hung up, though its own close is never acknowledged', async () => {
    // A WebRTC stream's close waits for the peer's acknowledgement, which a sender that exited at once
    // never sends: the receiver reported verified only at the stream's own timeout.
    const { source, target, pipe, sender, receiver } = await pair()
    let closeAsked = false
    const unanswered = { ...pipe.b, close: async () => { closeAsked = true; await new Promise<never>(() => {}) } }
    let aborted: unknown
    unanswered.abort = err => { aborted = err; pipe.b.abort(err) }
    await Promise.all([runSender(sender, pipe.a), runReceiver(receiver, unanswered, { goodbyeMs: 50 })])
    expect(receiver.state).toBe('verified')
    expect(closeAsked).toBe(true)
    expect(aborted).toMatchObject({ code: 'TRUNCATED' })
    expect(target.stats().messages).toBe(source.stats().messages)
  })

  it('takes a hang-up that never comes for a dead link (TRUNCATED: the next session says it again), its history verified all the same', async () => {
    const { source, target, pipe, sender, receiver } = await pair()
    // As a link that died as the transfer ended: the old phone's hang-up never arrives.
    const senderSide = { ...pipe.a, close: async () => {} }
    let heard = false
    const [, received] = await Promise.allSettled([runSender(sender, senderSide), runReceiver(receiver, pipe.b, { heardMs: 300, onHeard: async () => { heard = true } })])
    expect(received.status).toBe('rejected')
    expect(heard, 'a hang-up that never came was not heard').toBe(false)
    expect((received as PromiseRejectedResult).reason).toMatchObject({ code: 'TRUNCATED', message: expect.stringContaining('may not have heard it') })
    expect(receiver.state).toBe('verified')
    expect(target.stats().messages).toBe(source.stats().messages)
    pipe.b.abort(new Error('test over'))
  })
})
