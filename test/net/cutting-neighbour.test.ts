// The code's first three digits are public, so a neighbour can answer the new phone's search for them
// and then cut every pairing before its PAKE_B: nothing of the code is tested and no try is charged,
// yet a cut is what an honest phone on a bad link does too, and is retried. Retried for ever with the
// same phone, the neighbour would hold the receive until its time ran out, the old phone beside it never
// tried. Real libp2p nodes on loopback, found by the real sweep over a 127.x.y.0/24 (nothing leaves the
// machine); the first discovery port is asked on every host before another port on any, so the phone on
// the first port is always found first. (Refusals: test/net/unproved-refusal.test.ts.)
import { randomInt } from 'node:crypto'
import type { Libp2p, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { describe, expect, it } from 'vitest'
import { createFerry, type Ferry } from '../../src/create-ferry.js'
import { ErrorCode, FerryError, isFerryError } from '../../src/errors.js'
import { TriedCodes } from '../../src/journal/tried-codes.js'
import { SenderSearch } from '../../src/net/find-sender.js'
import type { FerryNode } from '../../src/net/node.js'
import { PAIR_PROTOCOL } from '../../src/net/pair-stream.js'
import { startResponder } from '../../src/net/probe.js'
import { CUTS_BEFORE_LOOKING_ON } from '../../src/net/look-past.js'
import { streamToDuplex } from '../../src/net/stream-duplex.js'
import type { LocalSubnet } from '../../src/net/subnets.js'
import type { FerryEvent } from '../../src/net/transfer-events.js'
import { MAX_MESSAGE_BYTES, parseCode } from '../../src/pairing/index.js'
import { readFrames } from '../../src/wire/framing.js'
import { startImpostor, type Impostor, type ImpostorOptions } from '../e2e/helpers/impostor.js'
import { rawNode } from '../e2e/helpers/raw-peer.js'
import { echoes } from '../helpers/mss-echo.js'
import { stoppedAfterEach } from '../helpers/stopped.js'
import { exportText, fillStore, tempDir } from '../helpers/stores.js'

const listen = ['/ip4/127.0.0.1/tcp/0']
const CODE = parseCode('318-4452-0967')
const GUESS = '318-0000-0001'

describe('a phone that cuts the pairing before checking the code does not block the receive', () => {
  const { phones, nodes } = stoppedAfterEach<FerryNode | Libp2p>()
  const net = `127.${randomInt(1, 255)}.${randomInt(0, 256)}`
  const host = `${net}.60`
  const self: LocalSubnet = { ifname: 'lo-test', address: `${net}.100`, prefix: 24, sweepPrefix: 24, virtual: false }
  const base = randomInt(40_000, 50_000)
  const ports = [base, base + 1, base + 2]

  /** Answers the sweep for the nameplate on `host`, at `port` only, as `peer` at `addrs`. */
  async function showNameplate (port: number, peer: string, addrs: string[]): Promise<void> {
    const r = await startResponder({ nameplate: CODE.nameplate, host, ports: [port], answer: () => ({ peer, addrs }) })
    if (r === undefined) throw new Error(`port ${port} is taken`)
    nodes.push({ stop: async () => { await r.close() } } as unknown as Libp2p)
  }

  async function impostor (port: number, opts: ImpostorOptions): Promise<Impostor> {
    const i = await startImpostor(GUESS, opts)
    nodes.push(i.node)
    await showNameplate(port, i.node.peerId.toString(), [i.addr])
    return i
  }

  /**
   * The real old phone, offering CODE. Its first `cut` pairing streams go once the new phone's PAKE_A
   * is in, before its answer (a bad link); the streams after those go to its own handler.
   */
  async function oldPhone (port: number, cut = 0): Promise<{ phone: Ferry, offered: Promise<unknown>, pairStreams: () => number }> {
    const phone = await createFerry(tempDir('cut-old-'), { listen, memory: false })
    phones.push(phone)
    await fillStore(phone.store, { conversations: 1, messagesPerConversation: 12, mediaSizes: [] })
    let pairStreams = 0
    if (cut > 0) {
      const service = phone.node.services.ferry
      await phone.node.unhandle(PAIR_PROTOCOL)
      await phone.node.handle(PAIR_PROTOCOL, (stream: Stream, connection) => {
        if (++pairStreams > cut) {
          void service['onPairStream'](stream, connection)
          return
        }
        const duplex = streamToDuplex(stream)
        void (async () => {
          await readFrames(duplex.source, MAX_MESSAGE_BYTES)[Symbol.asyncIterator]().next()
          duplex.abort(new Error('the link drops'))
        })().catch(() => {})
      }, { maxInboundStreams: 2, maxOutboundStreams: 2 })
    }
    const offered = phone.send({ code: CODE })
    offered.catch(() => {})
    await showNameplate(port, phone.node.peerId.toString(), phone.addresses().map(String))
    return { phone, offered, pairStreams: () => pairStreams }
  }

  async function newPhone (): Promise<Ferry> {
    const p = await createFerry(tempDir('cut-new-'), { listen, memory: false })
    phones.push(p)
    return p
  }

  const search = (timeoutMs: number): SenderSearch => new SenderSearch({
    nameplate: CODE.nameplate, mdns: false, sweep: true, timeoutMs, sweepOptions: { subnets: [self], ports, ratePerSecond: 2000 }
  })

  async function failure (p: Promise<unknown>): Promise<FerryError> {
    const err = await p.then(() => undefined, (e: unknown) => e)
    expect(isFerryError(err), String(err)).toBe(true)
    return err as FerryError
  }

  const lookedOn = (events: FerryEvent[]): FerryError[] => events.flatMap(e => e.type === 'interrupted' && e.error.details?.unproved === true ? [e.error] : [])

  for (const cut of ['close', 'reset', 'connection'] as const) {
    it(`found first, a phone that cuts every pairing before PAKE_B (${cut}) is left after a few: the receive pairs with the old phone and verifies`, async () => {
      const fake = await impostor(ports[0], { cutEvery: cut })
      const { phone: old, offered } = await oldPhone(ports[1])
      const phone = await newPhone()
      const looking = search(30_000)
      const found = await looking.find()
      expect(found.peer, 'the sweep finds the impostor first').toBe(fake.node.peerId.toString())

      const events: FerryEvent[] = []
      // Time enough that only leaving the impostor, not running out of time, ends its turn.
      const got = await phone.receive({ addrs: found.addrs, code: CODE, search: looking, retryForMs: 30_000, onEvent: e => events.push(e) })
      expect(got.progress.messages).toBe(12)
      await expect(offered).resolves.toBeDefined()
      expect(await exportText(phone.store)).toBe(await exportText(old.store))
      expect(fake.streams, 'the phone that cut was tried a few times, then left').toBe(CUTS_BEFORE_LOOKING_ON)
      // The app (and the person) hears why the receive looked elsewhere.
      const said = lookedOn(events)
      expect(said).toHaveLength(1)
      expect(said[0].code).toBe(ErrorCode.TRUNCATED)
      expect(said[0].details).toMatchObject({ unproved: true, cut: true, cuts: CUTS_BEFORE_LOOKING_ON })
      expect(said[0].message).toContain(`dropped the link ${CUTS_BEFORE_LOOKING_ON} times before the phones could check the code`)
      expect(said[0].message).toContain('the search looks for another phone showing them')
      expect(await new TriedCodes(phone.journal).load(CODE), 'a cut before PAKE_B costs no try').toBeUndefined()
    })
  }

  it('found first, a phone that stops answering is left after its pairing times out once', async () => {
    const fake = await impostor(ports[0], { cutEvery: 'stall' })
    const { phone: old, offered } = await oldPhone(ports[1])
    const phone = await newPhone()
    // The pairing's own timeout, short for the test (the service's default is a minute).
    phone.node.services.ferry['init'].pairTimeoutMs = 1_000
    const looking = search(30_000)
    const found = await looking.find()
    expect(found.peer).toBe(fake.node.peerId.toString())
    const events: FerryEvent[] = []
    const got = await phone.receive({ addrs: found.addrs, code: CODE, search: looking, retryForMs: 30_000, onEvent: e => events.push(e) })
    expect(got.progress.messages).toBe(12)
    await expect(offered).resolves.toBeDefined()
    expect(await exportText(phone.store)).toBe(await exportText(old.store))
    expect(fake.streams, 'one stall, and the receive looked elsewhere').toBe(1)
    const said = lookedOn(events)
    expect(said).toHaveLength(1)
    expect(said[0].details).toMatchObject({ unproved: true, cut: true, timedOut: true })
    expect(said[0].message).toContain('stopped answering before the phones could check the code')
    expect(await new TriedCodes(phone.journal).load(CODE)).toBeUndefined()
  })

  it('found first, a phone that stops answering is left after its first reply is overdue, within a default receive\'s time', async () => {
    const fake = await impostor(ports[0], { cutEvery: 'stall' })
    const { phone: old, offered } = await oldPhone(ports[1])
    const phone = await newPhone()
    // As ferry receive runs by default: the pairing's own timeout is the service's (a minute), and the
    // search and the retry have --timeout's 60 s. Waiting out that timeout would spend them all.
    const looking = search(60_000)
    const found = await looking.find()
    expect(found.peer).toBe(fake.node.peerId.toString())
    const events: FerryEvent[] = []
    const got = await phone.receive({ addrs: found.addrs, code: CODE, search: looking, retryForMs: 60_000, onEvent: e => events.push(e) })
    expect(got.progress.messages).toBe(12)
    await expect(offered).resolves.toBeDefined()
    expect(await exportText(phone.store)).toBe(await exportText(old.store))
    expect(fake.streams, 'one stall, and the receive looked elsewhere').toBe(1)
    const said = lookedOn(events)
    expect(said).toHaveLength(1)
    expect(said[0].details).toMatchObject({ unproved: true, cut: true, timedOut: true })
    expect(said[0].message).toContain('stopped answering before the phones could check the code')
    expect(await new TriedCodes(phone.journal).load(CODE)).toBeUndefined()
  }, 120_000)

  it('found first, a phone that takes no pairing stream at all is left after a few, as one that cuts', async () => {
    // A libp2p node that answers the search for the nameplate and speaks no pairing protocol.
    const fake = await rawNode()
    nodes.push(fake)
    await showNameplate(ports[0], fake.peerId.toString(), fake.getMultiaddrs().map(String))
    const { phone: old, offered } = await oldPhone(ports[1])
    const phone = await newPhone()
    const looking = search(30_000)
    const found = await looking.find()
    expect(found.peer).toBe(fake.peerId.toString())
    const events: FerryEvent[] = []
    const got = await phone.receive({ addrs: found.addrs, code: CODE, search: looking, retryForMs: 30_000, onEvent: e => events.push(e) })
    expect(got.progress.messages).toBe(12)
    await expect(offered).resolves.toBeDefined()
    expect(await exportText(phone.store)).toBe(await exportText(old.store))
    expect(lookedOn(events).map(e => e.details)).toMatchObject([{ unproved: true, cut: true, cuts: CUTS_BEFORE_LOOKING_ON }])
    expect(await new TriedCodes(phone.journal).load(CODE)).toBeUndefined()
  })

  it('found first, a phone that never finishes agreeing the pairing protocol is left once its first reply is overdue', async () => {
    // A libp2p node that connects, answers pings, takes the pairing stream and swallows its echo of
    // the protocol: the new phone waits to hear it agreed, which libp2p bounds only when given no signal.
    const fake = await rawNode()
    nodes.push(fake)
    let asked = 0
    fake.addEventListener('connection:open', evt => {
      const muxer = (evt.detail as unknown as { muxer: EventTarget }).muxer
      muxer.addEventListener('stream', (e: Event) => {
        const stream = (e as CustomEvent<Stream>).detail
        const send = stream.send.bind(stream)
        stream.send = data => echoes(data.subarray(), PAIR_PROTOCOL) ? true : send(data)
      })
    })
    await fake.handle(PAIR_PROTOCOL, () => { asked++ })
    await showNameplate(ports[0], fake.peerId.toString(), fake.getMultiaddrs().map(String))
    const { phone: old, offered } = await oldPhone(ports[1])
    const phone = await newPhone()
    phone.node.services.ferry['init'].pairFirstReplyMs = 1_000
    const looking = search(30_000)
    const found = await looking.find()
    expect(found.peer).toBe(fake.peerId.toString())
    const events: FerryEvent[] = []
    const got = await phone.receive({ addrs: found.addrs, code: CODE, search: looking, retryForMs: 30_000, onEvent: e => events.push(e) })
    expect(got.progress.messages).toBe(12)
    await expect(offered).resolves.toBeDefined()
    expect(await exportText(phone.store)).toBe(await exportText(old.store))
    expect(asked, 'the stalling phone was asked once, and left').toBe(1)
    const said = lookedOn(events)
    expect(said).toHaveLength(1)
    expect(said[0].details).toMatchObject({ unproved: true, cut: true, timedOut: true })
    expect(said[0].message).toContain('stopped answering before the phones could check the code')
    expect(await new TriedCodes(phone.journal).load(CODE)).toBeUndefined()
  })

  it('found first, a phone that hangs up just before its first reply is due is left once its cuts took about that deadline', async () => {
    // Each pairing it holds almost to the first-reply deadline, then hangs up: a cut, not a stall, and
    // three of them would outlast the search's time (the receive's --timeout), the old phone never tried.
    const firstReplyMs = 3_000
    const fake = await rawNode()
    nodes.push(fake)
    let asked = 0
    await fake.handle(PAIR_PROTOCOL, (stream: Stream) => {
      asked++
      const duplex = streamToDuplex(stream)
      void (async () => {
        await readFrames(duplex.source, MAX_MESSAGE_BYTES)[Symbol.asyncIterator]().next()
        await new Promise(resolve => setTimeout(resolve, firstReplyMs - 200))
        await duplex.close()
      })().catch(() => {})
    })
    await showNameplate(ports[0], fake.peerId.toString(), fake.getMultiaddrs().map(String))
    const { phone: old, offered } = await oldPhone(ports[1])
    const phone = await newPhone()
    phone.node.services.ferry['init'].pairFirstReplyMs = firstReplyMs
    // Time for two such cuts and a look, not for the three that count alone.
    const looking = search(firstReplyMs * 2.5)
    const found = await looking.find()
    expect(found.peer).toBe(fake.peerId.toString())
    const events: FerryEvent[] = []
    const got = await phone.receive({ addrs: found.addrs, code: CODE, search: looking, retryForMs: 30_000, onEvent: e => events.push(e) })
    expect(got.progress.messages).toBe(12)
    await expect(offered).resolves.toBeDefined()
    expect(await exportText(phone.store)).toBe(await exportText(old.store))
    expect(asked, 'its cuts took the deadline\'s time before they were many: the receive looked elsewhere').toBeLessThan(CUTS_BEFORE_LOOKING_ON)
    const said = lookedOn(events)
    expect(said).toHaveLength(1)
    expect(said[0].details).toMatchObject({ unproved: true, cut: true, cuts: asked })
    expect(await new TriedCodes(phone.journal).load(CODE)).toBeUndefined()
  })

  it('the old phone alone on a bad link, its first pairings cut, still pairs: tried again once no other phone shows up', async () => {
    // One cut more than makes the receive look elsewhere: it finds nobody else, and goes back.
    const cuts = CUTS_BEFORE_LOOKING_ON + 1
    const { phone: old, offered, pairStreams } = await oldPhone(ports[0], cuts)
    const phone = await newPhone()
    const looking = search(30_000)
    const found = await looking.find()
    const events: FerryEvent[] = []
    const got = await phone.receive({ addrs: found.addrs, code: CODE, search: looking, lookOnMs: 1_000, retryForMs: 30_000, onEvent: e => events.push(e) })
    expect(got.progress.messages).toBe(12)
    await expect(offered).resolves.toBeDefined()
    expect(await exportText(phone.store)).toBe(await exportText(old.store))
    expect(pairStreams()).toBe(cuts + 1)
    // The person heard it looked elsewhere, and then that it tries this phone again.
    const said = lookedOn(events).map(e => e.message)
    expect(said).toHaveLength(2)
    expect(said[0]).toContain('the search looks for another phone showing them')
    expect(said[1]).toContain('no other phone showing this code\'s first three digits answered: trying the one that dropped the link again')
    expect(await new TriedCodes(phone.journal).load(CODE)).toBeUndefined()
  })

  it('the old phone gone back to after its cuts is not taken for one nothing reaches when a dial of it fails once', async () => {
    const { phone: old, offered } = await oldPhone(ports[0], CUTS_BEFORE_LOOKING_ON)
    const phone = await newPhone()
    const looking = search(30_000)
    const found = await looking.find()
    // Where to dial, as the CLI's route decides: once, just as the receive goes back to it, it finds
    // nothing (the phone's Wi-Fi blinked).
    let blink = false
    const route = async (addrs: Multiaddr[]): Promise<Multiaddr[]> => {
      if (!blink) return addrs
      blink = false
      throw new FerryError(ErrorCode.NO_PEER, 'cannot reach the other phone: its Wi-Fi blinked')
    }
    const events: FerryEvent[] = []
    const got = await phone.receive({
      addrs: found.addrs,
      code: CODE,
      search: looking,
      route,
      lookOnMs: 1_000,
      retryForMs: 30_000,
      onEvent: e => {
        events.push(e)
        if (e.type === 'interrupted' && e.error.message.includes('trying the one that dropped the link again')) blink = true
      }
    })
    expect(got.progress.messages).toBe(12)
    await expect(offered).resolves.toBeDefined()
    expect(await exportText(phone.store)).toBe(await exportText(old.store))
    expect(events.some(e => e.type === 'interrupted' && e.error.code === ErrorCode.NO_PEER), 'the failed dial was heard').toBe(true)
    // A phone that answered is not said to be someone nearby that cannot be reached.
    expect(events.filter(e => e.type === 'interrupted' && e.error.details?.unreachable === true)).toHaveLength(0)
  })

  it('with only phones that cut, the receive ends within its time with a clear error, no try spent', async () => {
    const first = await impostor(ports[0], { cutEvery: 'reset' })
    const second = await impostor(ports[1], { cutEvery: 'close' })
    const phone = await newPhone()
    // The search may look for ten minutes: the receive's own time (retryForMs) still ends it.
    const looking = search(600_000)
    const found = await looking.find()
    expect(found.peer).toBe(first.node.peerId.toString())
    const events: FerryEvent[] = []
    const ended = await failure(phone.receive({ addrs: found.addrs, code: CODE, search: looking, lookOnMs: 1_000, retryForMs: 4_000, onEvent: e => events.push(e) }))
    expect(ended.code).toBe(ErrorCode.TRUNCATED)
    expect(ended.details).toMatchObject({ unproved: true, cut: true, phones: 2 })
    expect(ended.message).toContain('the 2 phones showing this code\'s first three digits cut the pairing off')
    expect(ended.message).toContain("before the phones could check the code, and no other phone showing them paired within the receive's time. No try of the code was spent")
    expect(ended.message).toContain('someone nearby may be cutting in its place')
    expect(ended.message).toContain('QR code')
    expect(ended.message).not.toContain('4452')
    // Both were tried, each a few times at least: the one found second too.
    expect(first.streams).toBeGreaterThanOrEqual(CUTS_BEFORE_LOOKING_ON)
    expect(second.streams).toBeGreaterThanOrEqual(CUTS_BEFORE_LOOKING_ON)
    expect(ended.details?.cuts).toBe(first.streams + second.streams)
    expect(await new TriedCodes(phone.journal).load(CODE)).toBeUndefined()
  })
})
