// The code's first three digits are public, so a neighbour can answer the new phone's search for them
// and then cut every pairing before its PAKE_B: nothing of the code is tested and no try is charged,
// yet a cut is what an honest phone on a bad link does too, and is retried. Retried for ever with the
// same phone, the neighbour would hold the receive until its time ran out, the old phone beside it never
// tried. Real libp2p nodes on loopback, found by the real sweep over a 127.x.y.0/24 (nothing leaves the
// machine); the first discovery port is asked on every host before another port on any, so the phone on
// the first port is always found first. (Refusals: test/net/unproved-refusal.test.ts.)
import type { Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { describe, expect, it } from 'vitest'
import type { Ferry } from '../../src/create-ferry.js'
import { ErrorCode, FerryError } from '../../src/errors.js'
import { TriedCodes } from '../../src/journal/tried-codes.js'
import type { SenderSearch } from '../../src/net/find-sender.js'
import { PAIR_PROTOCOL } from '../../src/net/pair-stream.js'
import { CUTS_BEFORE_LOOKING_ON } from '../../src/net/look-past.js'
import { streamToDuplex } from '../../src/net/stream-duplex.js'
import type { FerryEvent } from '../../src/net/transfer-events.js'
import { MAX_MESSAGE_BYTES, parseCode } from '../../src/pairing/index.js'
import { readFrames } from '../../src/wire/framing.js'
import { startImpostor, type Impostor, type ImpostorOptions } from '../e2e/helpers/impostor.js'
import { rawNode } from '../e2e/helpers/raw-peer.js'
import { cutFirstPairings } from '../helpers/cut-pairings.js'
import { failure, interruptions } from '../helpers/failure.js'
import { expectMovedFrom, loopbackPhone, offeringPhone, type OldPhone } from '../helpers/loopback-phones.js'
import { neverAgree } from '../helpers/mss-echo.js'
import { stoppedAfterEach } from '../helpers/stopped.js'
import { sweptLan } from '../helpers/swept-lan.js'

const CODE = parseCode('318-4452-0967')
const GUESS = '318-0000-0001'

describe('a phone that cuts the pairing before checking the code does not block the receive', () => {
  const { phones, nodes } = stoppedAfterEach()
  const lan = sweptLan(CODE.nameplate, nodes)
  const { ports } = lan

  async function impostor (port: number, opts: ImpostorOptions): Promise<Impostor> {
    const i = await startImpostor(GUESS, opts)
    nodes.push(i.node)
    await lan.showNameplate(port, { peer: i.node.peerId.toString(), addrs: [i.addr] })
    return i
  }

  /** A libp2p node that answers the search for the nameplate at `port` and speaks no pairing protocol. */
  async function mute (port: number): Promise<Awaited<ReturnType<typeof rawNode>>> {
    const node = await rawNode()
    nodes.push(node)
    await lan.showNameplate(port, { peer: node.peerId.toString(), addrs: node.getMultiaddrs().map(String) })
    return node
  }

  /**
   * The real old phone, offering CODE. Its first `cut` pairing streams go once the new phone's PAKE_A
   * is in, before its answer (a bad link); the streams after those go to its own handler.
   */
  async function oldPhone (port: number, cut = 0): Promise<OldPhone & { pairStreams: () => number }> {
    let pairStreams = (): number => 0
    const old = await offeringPhone(phones, 'cut-old-', CODE, async phone => {
      if (cut > 0) pairStreams = await cutFirstPairings(phone, cut)
    })
    await lan.showNameplate(port, old.shown())
    return { ...old, pairStreams: () => pairStreams() }
  }

  const newPhone = async (): Promise<Ferry> => await loopbackPhone(phones, 'cut-new-')

  /** Finds the phone the sweep reaches first (its peer id `first`, where given), and receives from there. */
  async function receiveFromFirstFound (phone: Ferry, looking: SenderSearch, first: string | undefined, opts: Omit<Parameters<Ferry['receive']>[0], 'addrs' | 'code' | 'search' | 'onEvent'>): Promise<{ got: Awaited<ReturnType<Ferry['receive']>>, events: FerryEvent[] }> {
    const found = await looking.find()
    if (first !== undefined) expect(found.peer, 'the sweep finds the phone on the first port first').toBe(first)
    const events: FerryEvent[] = []
    const got = await phone.receive({ ...opts, addrs: found.addrs, code: CODE, search: looking, onEvent: e => events.push(e) })
    return { got, events }
  }

  const lookedOn = (events: FerryEvent[]): FerryError[] => interruptions(events).filter(e => e.details?.unproved === true)

  /** The app (and the person) heard once that the phone found first stopped answering, and the receive looked elsewhere. */
  function expectOneStallHeard (events: FerryEvent[]): void {
    const said = lookedOn(events)
    expect(said).toHaveLength(1)
    expect(said[0].details).toMatchObject({ unproved: true, cut: true, timedOut: true })
    expect(said[0].message).toContain('stopped answering before the phones could check the code')
  }

  for (const cut of ['close', 'reset', 'connection'] as const) {
    it(`found first, a phone that cuts every pairing before PAKE_B (${cut}) is left after a few: the receive pairs with the old phone and verifies`, async () => {
      const fake = await impostor(ports[0], { cutEvery: cut })
      const old = await oldPhone(ports[1])
      const phone = await newPhone()
      // Time enough that only leaving the impostor, not running out of time, ends its turn.
      const { got, events } = await receiveFromFirstFound(phone, lan.search(30_000), fake.node.peerId.toString(), { retryForMs: 30_000 })
      await expectMovedFrom(old, phone, got)
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
    const old = await oldPhone(ports[1])
    const phone = await newPhone()
    // The pairing's own timeout, short for the test (the service's default is a minute).
    phone.node.services.ferry['init'].pairTimeoutMs = 1_000
    const { got, events } = await receiveFromFirstFound(phone, lan.search(30_000), fake.node.peerId.toString(), { retryForMs: 30_000 })
    await expectMovedFrom(old, phone, got)
    expect(fake.streams, 'one stall, and the receive looked elsewhere').toBe(1)
    expectOneStallHeard(events)
    expect(await new TriedCodes(phone.journal).load(CODE)).toBeUndefined()
  })

  it('found first, a phone that stops answering is left after its first reply is overdue, within a default receive\'s time', async () => {
    const fake = await impostor(ports[0], { cutEvery: 'stall' })
    const old = await oldPhone(ports[1])
    const phone = await newPhone()
    // As ferry receive runs by default: the pairing's own timeout is the service's (a minute), and the
    // search and the retry have --timeout's 60 s. Waiting out that timeout would spend them all.
    const { got, events } = await receiveFromFirstFound(phone, lan.search(60_000), fake.node.peerId.toString(), { retryForMs: 60_000 })
    await expectMovedFrom(old, phone, got)
    expect(fake.streams, 'one stall, and the receive looked elsewhere').toBe(1)
    expectOneStallHeard(events)
    expect(await new TriedCodes(phone.journal).load(CODE)).toBeUndefined()
  }, 120_000)

  it('found first, a phone that takes no pairing stream at all is left after a few, as one that cuts', async () => {
    const fake = await mute(ports[0])
    const old = await oldPhone(ports[1])
    const phone = await newPhone()
    const { got, events } = await receiveFromFirstFound(phone, lan.search(30_000), fake.peerId.toString(), { retryForMs: 30_000 })
    await expectMovedFrom(old, phone, got)
    expect(lookedOn(events).map(e => e.details)).toMatchObject([{ unproved: true, cut: true, cuts: CUTS_BEFORE_LOOKING_ON }])
    expect(await new TriedCodes(phone.journal).load(CODE)).toBeUndefined()
  })

  it('found first, a phone that never finishes agreeing the pairing protocol is left once its first reply is overdue', async () => {
    // A libp2p node that connects, answers pings, takes the pairing stream and swallows its echo of
    // the protocol: the new phone waits to hear it agreed, which libp2p bounds only when given no signal.
    const fake = await mute(ports[0])
    neverAgree(fake, PAIR_PROTOCOL)
    let asked = 0
    await fake.handle(PAIR_PROTOCOL, () => { asked++ })
    const old = await oldPhone(ports[1])
    const phone = await newPhone()
    phone.node.services.ferry['init'].pairFirstReplyMs = 1_000
    const { got, events } = await receiveFromFirstFound(phone, lan.search(30_000), fake.peerId.toString(), { retryForMs: 30_000 })
    await expectMovedFrom(old, phone, got)
    expect(asked, 'the stalling phone was asked once, and left').toBe(1)
    expectOneStallHeard(events)
    expect(await new TriedCodes(phone.journal).load(CODE)).toBeUndefined()
  })

  it('found first, a phone that hangs up just before its first reply is due is left once its cuts took about that deadline', async () => {
    // Each pairing it holds almost to the first-reply deadline, then hangs up: a cut, not a stall, and
    // three of them would outlast the search's time (the receive's --timeout), the old phone never tried.
    const firstReplyMs = 3_000
    const fake = await mute(ports[0])
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
    const old = await oldPhone(ports[1])
    const phone = await newPhone()
    phone.node.services.ferry['init'].pairFirstReplyMs = firstReplyMs
    // Time for two such cuts and a look, not for the three that count alone.
    const { got, events } = await receiveFromFirstFound(phone, lan.search(firstReplyMs * 2.5), fake.peerId.toString(), { retryForMs: 30_000 })
    await expectMovedFrom(old, phone, got)
    expect(asked, 'its cuts took the deadline\'s time before they were many: the receive looked elsewhere').toBeLessThan(CUTS_BEFORE_LOOKING_ON)
    const said = lookedOn(events)
    expect(said).toHaveLength(1)
    expect(said[0].details).toMatchObject({ unproved: true, cut: true, cuts: asked })
    expect(await new TriedCodes(phone.journal).load(CODE)).toBeUndefined()
  })

  it('the old phone alone on a bad link, its first pairings cut, still pairs: tried again once no other phone shows up', async () => {
    // One cut more than makes the receive look elsewhere: it finds nobody else, and goes back.
    const cuts = CUTS_BEFORE_LOOKING_ON + 1
    const old = await oldPhone(ports[0], cuts)
    const phone = await newPhone()
    const { got, events } = await receiveFromFirstFound(phone, lan.search(30_000), undefined, { lookOnMs: 1_000, retryForMs: 30_000 })
    await expectMovedFrom(old, phone, got)
    expect(old.pairStreams()).toBe(cuts + 1)
    // The person heard it looked elsewhere, and then that it tries this phone again.
    const said = lookedOn(events).map(e => e.message)
    expect(said).toHaveLength(2)
    expect(said[0]).toContain('the search looks for another phone showing them')
    expect(said[1]).toContain('no other phone showing this code\'s first three digits answered: trying the one that dropped the link again')
    expect(await new TriedCodes(phone.journal).load(CODE)).toBeUndefined()
  })

  it('the old phone gone back to after its cuts is not taken for one nothing reaches when a dial of it fails once', async () => {
    const old = await oldPhone(ports[0], CUTS_BEFORE_LOOKING_ON)
    const phone = await newPhone()
    const looking = lan.search(30_000)
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
    await expectMovedFrom(old, phone, got)
    expect(interruptions(events).some(e => e.code === ErrorCode.NO_PEER), 'the failed dial was heard').toBe(true)
    // A phone that answered is not said to be someone nearby that cannot be reached.
    expect(interruptions(events).filter(e => e.details?.unreachable === true)).toHaveLength(0)
  })

  it('with only phones that cut, the receive ends within its time with a clear error, no try spent', async () => {
    const first = await impostor(ports[0], { cutEvery: 'reset' })
    const second = await impostor(ports[1], { cutEvery: 'close' })
    const phone = await newPhone()
    // The search may look for ten minutes: the receive's own time (retryForMs) still ends it.
    const looking = lan.search(600_000)
    const found = await looking.find()
    expect(found.peer).toBe(first.node.peerId.toString())
    const events: FerryEvent[] = []
    const ended = await failure(phone.receive({ addrs: found.addrs, code: CODE, search: looking, lookOnMs: 1_000, retryForMs: 4_000, onEvent: e => events.push(e) }))
    expect(ended.code).toBe(ErrorCode.TRUNCATED)
    expect(ended.details).toMatchObject({ unproved: true, cut: true, phones: 2 })
    expect(ended.message).toContain('the 2 phones showing this code\'s first three digits cut the pairing off')
    expect(ended.message).toContain("before the phones could check the code, and no other phone showing them paired within the receive's time. No try of the code was spent")
    expect(ended.message).toMatch(/someone nearby may be cutting in its place$/)
    // A QR code to pair past it is the app's to offer (the CLI and the page do): an app may show none.
    expect(ended.message).not.toContain('QR')
    expect(ended.message).not.toContain('4452')
    // Both were tried, each a few times at least: the one found second too.
    expect(first.streams).toBeGreaterThanOrEqual(CUTS_BEFORE_LOOKING_ON)
    expect(second.streams).toBeGreaterThanOrEqual(CUTS_BEFORE_LOOKING_ON)
    expect(ended.details?.cuts).toBe(first.streams + second.streams)
    expect(await new TriedCodes(phone.journal).load(CODE)).toBeUndefined()
  })

  // Another transfer's phone showing the same first digits: it cut once (retried, as a bad link is), then
  // checked the code and holds another, so it is set aside. The old phone on a bad link cuts until the
  // search looks on and finds nobody: the receive goes back to a phone that cut, never to the one set
  // aside, which would hear a second guess from this receive and charge the code another try.
  async function wrongPhoneThenCuttingOldPhone (triesSpentBefore: number): Promise<void> {
    const other = await impostor(ports[0], { dropFirst: 1, cutAfterPakeB: async () => {} })
    const old = await oldPhone(ports[1], CUTS_BEFORE_LOOKING_ON)
    const phone = await newPhone()
    const tried = new TriedCodes(phone.journal)
    for (let i = 0; i < triesSpentBefore; i++) await (await tried.begin(CODE)).charge()
    const { got, events } = await receiveFromFirstFound(phone, lan.search(30_000), other.node.peerId.toString(), { lookOnMs: 1_000, retryForMs: 30_000 })
    await expectMovedFrom(old, phone, got)
    // The other phone heard its cut stream and one guess: no second guess from the same receive.
    expect(other.streams).toBe(2)
    expect(interruptions(events).filter(e => e.code === ErrorCode.WRONG_CODE)).toHaveLength(1)
  }

  it('a phone that checked the code and holds another is not gone back to after the old phone cut', async () => {
    await wrongPhoneThenCuttingOldPhone(0)
  })

  it('with a try spent before, the old phone on a bad link still pairs: the phone set aside is not asked again', async () => {
    await wrongPhoneThenCuttingOldPhone(1)
  })
})
