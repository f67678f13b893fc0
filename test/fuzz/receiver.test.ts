import { fc } from '../helpers/property.js'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ReceiverMachine } from '../../src/protocol/receiver.js'
import type { SqliteChatStore } from '../../src/store/sqlite-store.js'
import { cleanupTempDirs, fillStore, openStore } from '../helpers/stores.js'
import { closeJournal, closeJournals, journalOf } from '../helpers/transfer.js'
import { nodeBatchDeflate } from '../../src/wire/deflate-node.js'
import { decodeFrame, encodeDeflatedBatch } from '../../src/wire/codec.js'
import { concat, FUZZ_OPTIONS, honestTransfer, makeFixture, receiverCase, receiverFrames, runReceiverCase, type Fixture } from './harness.js'

// A hostile sender: the honest frame stream reordered, repeated, cut, spliced with another transfer's
// frames and with structural lies, also while the two phones reconcile what the receiver already holds.
// The receiver (on a real SqliteChatStore and its journal) refuses with a typed error, never allocates a
// message buffer above its limit, and its store stays good: the next honest transfer verifies at once.

const MAX_MESSAGE = FUZZ_OPTIONS.maxMessageBytes as number
// Cases that each open a store of their own and then run an honest transfer into it: a few dozen per run
// of the suite, drawn afresh from each run's printed seed. `FERRY_FUZZ_STORE_RUNS=1000 npx vitest run
// test/fuzz/receiver.test.ts` is the long run (`npm run fuzz` shares one store across its cases).
const STORE_RUNS = Number(process.env.FERRY_FUZZ_STORE_RUNS ?? 40)
let fx: Fixture
let shared: SqliteChatStore
beforeAll(async () => {
  fx = await makeFixture(openStore as never, fillStore as never)
  shared = openStore()
})
afterEach(async () => { await closeJournals() })
afterAll(() => { shared.close(); fx.source.close(); fx.other.close(); cleanupTempDirs() })

const receiverFor = (store: SqliteChatStore): ReceiverMachine => {
  const r = new ReceiverMachine({ sink: store, journal: journalOf(store), options: FUZZ_OPTIONS })
  r.emit = () => {}
  r.start()
  return r
}

describe('fuzz: a hostile sender against the receiver', () => {
  it('only typed errors, bounded memory (one shared store), and an honest transfer then verifies at once', async () => {
    await fc.assert(fc.asyncProperty(receiverCase, async edits => {
      // Each case is a finite list of frames: a case that never ends shows as the test's timeout, not a clock check.
      await runReceiverCase(receiverFor(shared), receiverFrames(edits, fx.corpus), MAX_MESSAGE)
    }), { numRuns: 3000 })
    const honest = await honestTransfer(fx.source, shared)
    expect(honest.receiver.error).toBeUndefined()
    expect(honest.receiver.state).toBe('verified')
  })

  it('the same lies inside deflated batches, some of them corrupted, to a receiver that takes them', async () => {
    const store = openStore()
    const receiver = (): ReceiverMachine => {
      const r = new ReceiverMachine({ sink: store, journal: journalOf(store), options: FUZZ_OPTIONS, inflate: nodeBatchDeflate.inflate })
      r.emit = () => {}
      r.start()
      return r
    }
    const isBatch = (body: Uint8Array): boolean => { try { return decodeFrame(body).body === 'batch' } catch { return false } }
    let deflatedSent = 0
    const refusals = new Set<string>()
    await fc.assert(fc.asyncProperty(receiverCase, fc.nat(), fc.nat(), async (edits, corrupt, at) => {
      let batches = 0
      const bodies = receiverFrames(edits, fx.corpus).map(body => {
        if (!isBatch(body)) return body
        const deflated = Uint8Array.from(nodeBatchDeflate.deflate(body))
        // One batch in four, somewhere in the stream, has a byte of its DEFLATE stream flipped.
        if (batches++ % 4 === corrupt % 4) deflated[at % deflated.byteLength] ^= 0x5a
        deflatedSent++
        return concat(encodeDeflatedBatch(deflated))
      })
      const out = await runReceiverCase(receiver(), bodies, MAX_MESSAGE)
      if (out.error !== undefined) refusals.add(out.error.code)
    }), { numRuns: 500 })
    // The cases reached the inflating path, and a flipped byte was caught there or by the checks after.
    expect(deflatedSent).toBeGreaterThan(500)
    expect([...refusals]).toEqual(expect.arrayContaining(['MALFORMED_FRAME']))
    const honest = await honestTransfer(fx.source, store)
    expect(honest.receiver.error).toBeUndefined()
    expect(honest.receiver.state).toBe('verified')
    await closeJournal(store)
    store.close()
  }, 300_000)

  it('after any rejection, an honest transfer into the same store verifies at once', async () => {
    await fc.assert(fc.asyncProperty(receiverCase, async edits => {
      const store = openStore()
      try {
        await runReceiverCase(receiverFor(store), receiverFrames(edits, fx.corpus), MAX_MESSAGE)
        const honest = await honestTransfer(fx.source, store)
        expect(honest.receiver.error?.message).toBeUndefined()
        expect(honest.receiver.state).toBe('verified')
      } finally {
        await closeJournal(store)
        store.close()
      }
    }), { numRuns: STORE_RUNS })
    // A hang detector sized for the work (a store, a hostile session and an honest transfer per run), not a clock check.
  }, 300_000)

  it('lies while reconciling (plans, listed messages, what was asked for): the phone keeps what it held and verifies next time', async () => {
    await fc.assert(fc.asyncProperty(receiverCase, async edits => {
      const store = openStore()
      try {
        await fx.fillPartial(store as never)
        const before = [...store.listMessages()]
        const receiver = receiverFor(store)
        await runReceiverCase(receiver, receiverFrames(edits, fx.corpus, fx.corpus.reconcile), MAX_MESSAGE)
        // A refusal took back everything the liar wrote: the phone holds what it held before.
        if (receiver.state === 'failed' && receiver.error?.code !== 'PEER_ERROR') expect([...store.listMessages()]).toEqual(before)
        const honest = await honestTransfer(fx.source, store)
        expect(honest.receiver.error?.message).toBeUndefined()
        expect(honest.receiver.state).toBe('verified')
        expect([...store.listMessages()].some(m => m.id === 'own')).toBe(true)
      } finally {
        await closeJournal(store)
        store.close()
      }
    }), { numRuns: STORE_RUNS })
  }, 300_000)
})
