// libp2p bounds a stream's protocol negotiation only when it is given no signal of its own, and a
// receive always gives one (to cancel it): a phone that completes the connection and never echoes the
// protocol would hold the receive for good. The old phone itself can do that once (a stream lost on a
// bad link, its echo never sent): the receive must give that stream up and carry on. Real libp2p nodes
// on loopback. (A typed code's pairing stream: test/net/cutting-neighbour.test.ts.)
import { describe, expect, it } from 'vitest'
import { TRANSFER_PROTOCOL } from '../../src/net/receive-transfer.js'
import type { FerryEvent } from '../../src/net/transfer-events.js'
import { parseCode } from '../../src/pairing/index.js'
import { interruptions } from '../helpers/failure.js'
import { expectMovedFrom, loopbackPhone, offeringPhone } from '../helpers/loopback-phones.js'
import { neverAgree } from '../helpers/mss-echo.js'
import { stoppedAfterEach } from '../helpers/stopped.js'

const CODE = parseCode('274-6183-5092')

describe('a stream whose protocol is never agreed does not hold the receive', () => {
  const { phones } = stoppedAfterEach()

  it('the old phone\'s first transfer stream is never agreed: the receive gives it up, resumes and verifies', async () => {
    // The old phone's first transfer stream: everything it sends there, its echo of the protocol
    // first, is lost.
    let lost = (): number => 0
    const old = await offeringPhone(phones, 'negotiate-old-', CODE, async phone => { lost = neverAgree(phone.node, TRANSFER_PROTOCOL, 1) })
    const phone = await loopbackPhone(phones, 'negotiate-new-')
    const events: FerryEvent[] = []
    const got = await phone.receive({ addrs: old.phone.addresses(), code: CODE, retryForMs: 30_000, onEvent: e => events.push(e) })
    await expectMovedFrom(old, phone, got)
    expect(lost()).toBe(1)
    const interrupted = interruptions(events)
    expect(interrupted.map(e => e.message)).toEqual([expect.stringContaining('the other phone did not take the transfer stream within 10 s')])
    expect(interrupted[0].details).toMatchObject({ timedOut: true })
  })
})
