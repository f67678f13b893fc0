import { fc } from '../helpers/property.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SenderMachine } from '../../src/protocol/sender.js'
import { cleanupTempDirs, fillStore, openStore } from '../helpers/stores.js'
import { FUZZ_OPTIONS, makeFixture, runSenderCase, senderCase, type Fixture } from './harness.js'

// A hostile receiver: Hellos with odd requests, Resumes with impossible bitmaps and partials, Holdings
// made up or spliced into honest ones, Wants for what was never listed,
// acks beyond what was sent or going backwards, frames that only a sender sends. The sender, reading a
// real seeded store, refuses with a typed error and never sends more than its window allows.

let fx: Fixture
beforeAll(async () => { fx = await makeFixture(openStore as never, fillStore as never) })
afterAll(() => { fx.source.close(); fx.other.close(); cleanupTempDirs() })

describe('fuzz: a hostile receiver against the sender', () => {
  it('only typed errors, bounded work, the window holds', async () => {
    await fc.assert(fc.asyncProperty(senderCase, async ops => {
      const sender = new SenderMachine({ source: fx.source, options: FUZZ_OPTIONS })
      await runSenderCase(sender, ops, fx.corpus)
      const p = sender.progress
      expect(p.bytesAcked).toBeLessThanOrEqual(p.bytesSent)
    }), { numRuns: 3000 })
  })
})
