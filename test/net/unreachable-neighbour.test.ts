// The code's first three digits are public, so a neighbour can answer the new phone's search for them
// with addresses nothing can connect to: the packets are dropped (which reads as a Wi-Fi that keeps
// devices apart, ISOLATED, and ended the receive at once) or refused (NO_PEER, retried with the same
// phone until the receive's time ran out). Either way the old phone beside it was never tried. Real
// libp2p nodes on loopback, found by the real sweep over a 127.x.y.0/24 (nothing leaves the machine),
// dialled through the CLI's own route (senderRoute: the race, and the isolation diagnosis); the first
// discovery port is asked on every host before another port on any, so the phone on the first port is
// always found first.
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { describe, expect, it } from 'vitest'
import type { Ferry } from '../../src/create-ferry.js'
import { ErrorCode, type FerryError } from '../../src/errors.js'
import { TriedCodes } from '../../src/journal/tried-codes.js'
import { senderRoute, type SenderSearch } from '../../src/net/find-sender.js'
import type { ReceiveOptions } from '../../src/net/receiving.js'
import type { FerryEvent } from '../../src/net/transfer-events.js'
import { parseCode } from '../../src/pairing/index.js'
import { startImpostor } from '../e2e/helpers/impostor.js'
import { failure, interruptions } from '../helpers/failure.js'
import { expectMovedFrom, loopbackPhone, offeringPhone, type OldPhone } from '../helpers/loopback-phones.js'
import { refusedPort } from '../helpers/refused-port.js'
import { silentPort } from '../helpers/silent-port.js'
import { stoppedAfterEach } from '../helpers/stopped.js'
import { sweptLan } from '../helpers/swept-lan.js'

const CODE = parseCode('529-3817-4406')

describe('a phone the search found that cannot be reached does not block the receive', () => {
  const { phones, nodes } = stoppedAfterEach()
  const lan = sweptLan(CODE.nameplate, nodes)
  const { ports } = lan

  const newPeerId = async (): Promise<string> => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()

  /** A neighbour showing the nameplate as a phone (a fresh peer id each time, with `fresh`) at `addr`. */
  async function neighbour (port: number, addr: string, fresh = false): Promise<() => number> {
    let answered = 0
    const first = await newPeerId()
    const ids = fresh ? await Promise.all(Array.from({ length: 64 }, newPeerId)) : []
    await lan.showNameplate(port, () => {
      const peer = fresh ? ids[answered % ids.length] : first
      answered++
      return { peer, addrs: [`${addr}/p2p/${peer}`] }
    })
    return () => answered
  }

  async function oldPhone (port: number): Promise<OldPhone> {
    const old = await offeringPhone(phones, 'unreach-old-', CODE)
    await lan.showNameplate(port, old.shown())
    return old
  }

  const newPhone = async (): Promise<Ferry> => await loopbackPhone(phones, 'unreach-new-')

  const lookedOn = (events: FerryEvent[]): FerryError[] => interruptions(events).filter(e => e.details?.unreachable === true)

  /** A receive from what the search found first, dialled through the CLI's route, as `ferry receive` asks it. */
  async function routed (looking: SenderSearch): Promise<Pick<ReceiveOptions, 'addrs' | 'code' | 'search' | 'route'>> {
    const found = await looking.find()
    return { addrs: found.addrs, code: CODE, search: looking, route: senderRoute({ via: found.via, preferHost: found.host, search: looking }) }
  }

  it('found first, a phone whose address drops every packet is left: the receive pairs with the old phone and verifies', async () => {
    const silent = await silentPort()
    nodes.push(silent)
    await neighbour(ports[0], `/ip4/127.0.0.1/tcp/${silent.port}`)
    const old = await oldPhone(ports[1])
    const phone = await newPhone()
    const dial = await routed(lan.search(60_000))
    expect(dial.addrs.map(String)[0]).toContain(`/tcp/${silent.port}/`)
    const events: FerryEvent[] = []
    const got = await phone.receive({ ...dial, retryForMs: 60_000, onEvent: e => events.push(e) })
    await expectMovedFrom(old, phone, got)
    // The person heard the dial's own diagnosis at once, and that the search went on.
    const said = lookedOn(events)
    expect(said).toHaveLength(1)
    expect(said[0].code).toBe(ErrorCode.ISOLATED)
    expect(said[0].message).toContain('a phone showing this code\'s first three digits cannot be reached')
    expect(said[0].message).toContain('this Wi-Fi seems to keep devices apart')
    expect(said[0].message).toContain('the search looks for another phone showing them')
    expect(await new TriedCodes(phone.journal).load(CODE), 'nothing was tried').toBeUndefined()
  }, 120_000)

  it('found first, a phone whose address refuses every connection is left: the receive pairs with the old phone and verifies', async () => {
    await neighbour(ports[0], `/ip4/127.0.0.1/tcp/${await refusedPort()}`)
    const old = await oldPhone(ports[1])
    const phone = await newPhone()
    const events: FerryEvent[] = []
    const got = await phone.receive({ ...await routed(lan.search(30_000)), retryForMs: 30_000, onEvent: e => events.push(e) })
    await expectMovedFrom(old, phone, got)
    const said = lookedOn(events)
    expect(said).toHaveLength(1)
    expect(said[0].code).toBe(ErrorCode.NO_PEER)
    expect(said[0].message).toContain('refused the connection')
  }, 120_000)

  it('the old phone that could not be reached once is gone back to, at its new address, past a neighbour that refuses', async () => {
    // The old phone's first answer names an address it has left (nothing listens there); its later
    // answers, where it is. A neighbour showing the same digits refuses the code at once.
    const old = await offeringPhone(phones, 'unreach-old-', CODE)
    const oldPeer = old.phone.node.peerId.toString()
    const left = `/ip4/127.0.0.1/tcp/${await refusedPort()}/p2p/${oldPeer}`
    let answers = 0
    await lan.showNameplate(ports[0], () => answers++ === 0 ? { peer: oldPeer, addrs: [left] } : old.shown())
    const fake = await startImpostor('529-0000-0001', { refuseAtOnce: ErrorCode.CODE_EXPIRED })
    nodes.push(fake.node)
    await lan.showNameplate(ports[1], { peer: fake.node.peerId.toString(), addrs: [fake.addr] })
    const phone = await newPhone()
    const dial = await routed(lan.search(30_000))
    expect(dial.addrs.map(String)).toEqual([left])
    const events: FerryEvent[] = []
    const got = await phone.receive({ ...dial, lookOnMs: 2_000, retryForMs: 30_000, onEvent: e => events.push(e) })
    await expectMovedFrom(old, phone, got)
    expect(lookedOn(events)).toHaveLength(1)
    expect(fake.streams, 'the neighbour refused once').toBe(1)
    expect(await new TriedCodes(phone.journal).load(CODE)).toBeUndefined()
  }, 120_000)

  it('with only a neighbour that announces a fresh peer id at a refused address each time, the receive still ends, with today\'s NO_PEER', async () => {
    const answered = await neighbour(ports[0], `/ip4/127.0.0.1/tcp/${await refusedPort()}`, true)
    const phone = await newPhone()
    // Short times, so that the test ends soon: only the bound on looking on ends it at all.
    const events: FerryEvent[] = []
    const ended = await failure(phone.receive({ ...await routed(lan.search(3_000)), lookOnMs: 1_000, retryForMs: 4_000, onEvent: e => events.push(e) }))
    expect(ended.code).toBe(ErrorCode.NO_PEER)
    expect(ended.message).toContain('refused the connection: is \'ferry send\' still running there?')
    expect(lookedOn(events).length, 'it looked past the neighbour\'s fresh ids').toBeGreaterThanOrEqual(1)
    expect(answered()).toBeGreaterThan(1)
  }, 120_000)
})
