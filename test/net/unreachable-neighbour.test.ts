// The code's first three digits are public, so a neighbour can answer the new phone's search for them
// with addresses nothing can connect to: the packets are dropped (which reads as a Wi-Fi that keeps
// devices apart, ISOLATED, and ended the receive at once) or refused (NO_PEER, retried with the same
// phone until the receive's time ran out). Either way the old phone beside it was never tried. Real
// libp2p nodes on loopback, found by the real sweep over a 127.x.y.0/24 (nothing leaves the machine),
// dialled through the CLI's own route (senderRoute: the race, and the isolation diagnosis); the first
// discovery port is asked on every host before another port on any, so the phone on the first port is
// always found first.
import { randomInt } from 'node:crypto'
import { createServer } from 'node:net'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { describe, expect, it } from 'vitest'
import { createFerry, type Ferry } from '../../src/create-ferry.js'
import { ErrorCode, isFerryError, type FerryError } from '../../src/errors.js'
import { TriedCodes } from '../../src/journal/tried-codes.js'
import { SenderSearch, senderRoute } from '../../src/net/find-sender.js'
import { startResponder } from '../../src/net/probe.js'
import type { LocalSubnet } from '../../src/net/subnets.js'
import type { FerryEvent } from '../../src/net/transfer-events.js'
import { parseCode } from '../../src/pairing/index.js'
import { startImpostor } from '../e2e/helpers/impostor.js'
import { silentPort } from '../helpers/silent-port.js'
import { stoppedAfterEach } from '../helpers/stopped.js'
import { exportText, fillStore, tempDir } from '../helpers/stores.js'

const listen = ['/ip4/127.0.0.1/tcp/0']
const CODE = parseCode('529-3817-4406')

describe('a phone the search found that cannot be reached does not block the receive', () => {
  const { phones, nodes } = stoppedAfterEach<Libp2p>()
  const net = `127.${randomInt(1, 255)}.${randomInt(0, 256)}`
  const host = `${net}.60`
  const self: LocalSubnet = { ifname: 'lo-test', address: `${net}.100`, prefix: 24, sweepPrefix: 24, virtual: false }
  const base = randomInt(50_000, 60_000)
  const ports = [base, base + 1, base + 2]

  /** Answers the sweep for the nameplate on `host`, at `port` only, with what `answer` says each time. */
  async function showNameplate (port: number, answer: () => { peer: string, addrs: string[] }): Promise<void> {
    const r = await startResponder({ nameplate: CODE.nameplate, host, ports: [port], answer })
    if (r === undefined) throw new Error(`port ${port} is taken`)
    nodes.push({ stop: async () => { await r.close() } } as unknown as Libp2p)
  }

  const newPeerId = async (): Promise<string> => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()

  /** A loopback port nothing listens on: a connect there is refused. */
  async function refusedPort (): Promise<number> {
    const server = createServer()
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as { port: number }).port
    await new Promise<void>(resolve => server.close(() => { resolve() }))
    return port
  }

  /** A neighbour showing the nameplate as a phone (a fresh peer id each time, with `fresh`) at `addr`. */
  async function neighbour (port: number, addr: string, fresh = false): Promise<() => number> {
    let answered = 0
    const first = await newPeerId()
    const ids = fresh ? await Promise.all(Array.from({ length: 64 }, newPeerId)) : []
    await showNameplate(port, () => {
      const peer = fresh ? ids[answered % ids.length] : first
      answered++
      return { peer, addrs: [`${addr}/p2p/${peer}`] }
    })
    return () => answered
  }

  async function oldPhone (port: number): Promise<{ phone: Ferry, offered: Promise<unknown> }> {
    const phone = await createFerry(tempDir('unreach-old-'), { listen, memory: false })
    phones.push(phone)
    await fillStore(phone.store, { conversations: 1, messagesPerConversation: 12, mediaSizes: [] })
    const offered = phone.send({ code: CODE })
    offered.catch(() => {})
    const peer = phone.node.peerId.toString()
    const addrs = phone.addresses().map(String)
    await showNameplate(port, () => ({ peer, addrs }))
    return { phone, offered }
  }

  async function newPhone (): Promise<Ferry> {
    const p = await createFerry(tempDir('unreach-new-'), { listen, memory: false })
    phones.push(p)
    return p
  }

  const search = (timeoutMs: number): SenderSearch => new SenderSearch({
    nameplate: CODE.nameplate, mdns: false, sweep: true, timeoutMs, sweepOptions: { subnets: [self], ports, ratePerSecond: 2000 }
  })

  const lookedOn = (events: FerryEvent[]): FerryError[] => events.flatMap(e => e.type === 'interrupted' && e.error.details?.unreachable === true ? [e.error] : [])

  async function failure (p: Promise<unknown>): Promise<FerryError> {
    const err = await p.then(() => undefined, (e: unknown) => e)
    expect(isFerryError(err), String(err)).toBe(true)
    return err as FerryError
  }

  it('found first, a phone whose address drops every packet is left: the receive pairs with the old phone and verifies', async () => {
    const silent = await silentPort()
    nodes.push(silent as unknown as Libp2p)
    await neighbour(ports[0], `/ip4/127.0.0.1/tcp/${silent.port}`)
    const { phone: old, offered } = await oldPhone(ports[1])
    const phone = await newPhone()
    const looking = search(60_000)
    const found = await looking.find()
    expect(found.addrs.map(String)[0]).toContain(`/tcp/${silent.port}/`)
    const events: FerryEvent[] = []
    const route = senderRoute({ via: found.via, preferHost: found.host, search: looking })
    const got = await phone.receive({ addrs: found.addrs, code: CODE, search: looking, route, retryForMs: 60_000, onEvent: e => events.push(e) })
    expect(got.progress.messages).toBe(12)
    await expect(offered).resolves.toBeDefined()
    expect(await exportText(phone.store)).toBe(await exportText(old.store))
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
    const { phone: old, offered } = await oldPhone(ports[1])
    const phone = await newPhone()
    const looking = search(30_000)
    const found = await looking.find()
    const events: FerryEvent[] = []
    const route = senderRoute({ via: found.via, preferHost: found.host, search: looking })
    const got = await phone.receive({ addrs: found.addrs, code: CODE, search: looking, route, retryForMs: 30_000, onEvent: e => events.push(e) })
    expect(got.progress.messages).toBe(12)
    await expect(offered).resolves.toBeDefined()
    expect(await exportText(phone.store)).toBe(await exportText(old.store))
    const said = lookedOn(events)
    expect(said).toHaveLength(1)
    expect(said[0].code).toBe(ErrorCode.NO_PEER)
    expect(said[0].message).toContain('refused the connection')
  }, 120_000)

  it('the old phone that could not be reached once is gone back to, at its new address, past a neighbour that refuses', async () => {
    // The old phone's first answer names an address it has left (nothing listens there); its later
    // answers, where it is. A neighbour showing the same digits refuses the code at once.
    const phone0 = await createFerry(tempDir('unreach-old-'), { listen, memory: false })
    phones.push(phone0)
    await fillStore(phone0.store, { conversations: 1, messagesPerConversation: 12, mediaSizes: [] })
    const offered = phone0.send({ code: CODE })
    offered.catch(() => {})
    const oldPeer = phone0.node.peerId.toString()
    const left = `/ip4/127.0.0.1/tcp/${await refusedPort()}/p2p/${oldPeer}`
    let answers = 0
    await showNameplate(ports[0], () => ({ peer: oldPeer, addrs: answers++ === 0 ? [left] : phone0.addresses().map(String) }))
    const fake = await startImpostor('529-0000-0001', { refuseAtOnce: ErrorCode.CODE_EXPIRED })
    nodes.push(fake.node)
    await showNameplate(ports[1], () => ({ peer: fake.node.peerId.toString(), addrs: [fake.addr] }))
    const phone = await newPhone()
    const looking = search(30_000)
    const found = await looking.find()
    expect(found.addrs.map(String)).toEqual([left])
    const events: FerryEvent[] = []
    const route = senderRoute({ via: found.via, preferHost: found.host, search: looking })
    const got = await phone.receive({ addrs: found.addrs, code: CODE, search: looking, route, lookOnMs: 2_000, retryForMs: 30_000, onEvent: e => events.push(e) })
    expect(got.progress.messages).toBe(12)
    await expect(offered).resolves.toBeDefined()
    expect(await exportText(phone.store)).toBe(await exportText(phone0.store))
    expect(lookedOn(events)).toHaveLength(1)
    expect(fake.streams, 'the neighbour refused once').toBe(1)
    expect(await new TriedCodes(phone.journal).load(CODE)).toBeUndefined()
  }, 120_000)

  it('with only a neighbour that announces a fresh peer id at a refused address each time, the receive still ends, with today\'s NO_PEER', async () => {
    const answered = await neighbour(ports[0], `/ip4/127.0.0.1/tcp/${await refusedPort()}`, true)
    const phone = await newPhone()
    // Short times, so that the test ends soon: only the bound on looking on ends it at all.
    const looking = search(3_000)
    const found = await looking.find()
    const events: FerryEvent[] = []
    const route = senderRoute({ via: found.via, preferHost: found.host, search: looking })
    const ended = await failure(phone.receive({ addrs: found.addrs, code: CODE, search: looking, route, lookOnMs: 1_000, retryForMs: 4_000, onEvent: e => events.push(e) }))
    expect(ended.code).toBe(ErrorCode.NO_PEER)
    expect(ended.message).toContain('refused the connection: is \'ferry send\' still running there?')
    expect(lookedOn(events).length, 'it looked past the neighbour\'s fresh ids').toBeGreaterThanOrEqual(1)
    expect(answered()).toBeGreaterThan(1)
  }, 120_000)
})
