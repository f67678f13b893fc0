// A neighbour answering the search for the code's public first three digits picks its own peer ids:
// set aside by peer id alone, it could answer each find with a fresh one and, reached first, win every
// round of the sweep, the old phone beside it never tried. Set aside where it answered the sweep from
// too, it is passed by. (Over mDNS a phone is set aside by peer id alone: the addresses it announces
// are its own word, and a neighbour announcing the old phone's would have it passed by.) Real libp2p nodes on loopback, found by the real sweep over a 127.x.y.0/24 (nothing leaves
// the machine); the first discovery port is asked on every host before another port on any, so the
// neighbour on the first port is always found first. (One peer id: test/net/unproved-refusal.test.ts.)
import { describe, expect, it } from 'vitest'
import { ErrorCode } from '../../src/errors.js'
import { TriedCodes } from '../../src/journal/tried-codes.js'
import type { FerryEvent } from '../../src/net/transfer-events.js'
import { parseCode } from '../../src/pairing/index.js'
import { startImpostor, type Impostor } from '../e2e/helpers/impostor.js'
import { interruptions } from '../helpers/failure.js'
import { expectMovedFrom, loopbackPhone, offeringPhone } from '../helpers/loopback-phones.js'
import { stoppedAfterEach } from '../helpers/stopped.js'
import { sweptLan } from '../helpers/swept-lan.js'

const CODE = parseCode('529-6614-0382')
const GUESS = '529-0000-0001'
/** Peer ids the neighbour holds, each a phone that refuses at once; it answers the sweep with the next each time. */
const IDS = 6

describe('a neighbour answering each search with a fresh peer id is passed by where it answers', () => {
  const { phones, nodes } = stoppedAfterEach()
  const lan = sweptLan(CODE.nameplate, nodes)
  const { ports } = lan

  it('found first with a fresh peer id each round, refusing at once: the receive pairs with the old phone and verifies', async () => {
    const fakes: Impostor[] = []
    for (let i = 0; i < IDS; i++) {
      const f = await startImpostor(GUESS, { refuseAtOnce: ErrorCode.CODE_EXPIRED })
      nodes.push(f.node)
      fakes.push(f)
    }
    let answered = 0
    await lan.showNameplate(ports[0], () => {
      const f = fakes[answered++ % IDS]
      return { peer: f.node.peerId.toString(), addrs: [f.addr] }
    })
    const old = await offeringPhone(phones, 'fresh-ids-old-', CODE)
    await lan.showNameplate(ports[1], old.shown)
    const phone = await loopbackPhone(phones, 'fresh-ids-new-')

    const looking = lan.search(30_000)
    const found = await looking.find()
    expect(found.peer, 'the sweep finds the neighbour first').toBe(fakes[0].node.peerId.toString())

    const events: FerryEvent[] = []
    const got = await phone.receive({ addrs: found.addrs, code: CODE, search: looking, onEvent: e => events.push(e) })
    await expectMovedFrom(old, phone, got)
    // Once it refused, its place was passed by: none of its other peer ids was tried.
    expect(fakes.map(f => f.streams), 'only the neighbour\'s first peer id was asked').toEqual([1, ...Array(IDS - 1).fill(0)])
    const said = interruptions(events)
    expect(said).toHaveLength(1)
    expect(said[0].details).toMatchObject({ unproved: true, setAside: 1 })
    expect(await new TriedCodes(phone.journal).load(CODE), 'a refusal that checked nothing costs no try').toBeUndefined()
  })
})
