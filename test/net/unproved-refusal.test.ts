// The code's first three digits are public (mDNS carries them, the sweep answers for them), so a
// neighbour can answer the new phone's search for them and refuse the code at once, before any PAKE_B:
// a refusal that checked nothing of the code. It must not end the receive while the old phone is there
// to be found: the phone that refused is set aside and the search goes on. Real libp2p nodes on
// loopback, found by the real sweep over a 127.x.y.0/24 (nothing leaves the machine); where each phone's
// discovery port sits decides which one the sweep finds first: the first port is asked on every host
// before another port is asked on any, so the impostor, on the first, is always found first.
import type { Stream } from '@libp2p/interface'
import { describe, expect, it } from 'vitest'
import type { Ferry } from '../../src/create-ferry.js'
import { ErrorCode } from '../../src/errors.js'
import { TriedCodes } from '../../src/journal/tried-codes.js'
import type { FerryEvent } from '../../src/net/transfer-events.js'
import { PAIR_PROTOCOL } from '../../src/net/pair-stream.js'
import { streamToDuplex } from '../../src/net/stream-duplex.js'
import { MAX_MESSAGE_BYTES, parseCode } from '../../src/pairing/index.js'
import { encodeAbort } from '../../src/pairing/messages.js'
import { prefix, readFrames } from '../../src/wire/framing.js'
import { rawNode } from '../e2e/helpers/raw-peer.js'
import { startImpostor, type Impostor, type ImpostorOptions } from '../e2e/helpers/impostor.js'
import { failure, interruptions } from '../helpers/failure.js'
import { expectMovedFrom, loopbackPhone, offeringPhone, type OldPhone } from '../helpers/loopback-phones.js'
import { stoppedAfterEach } from '../helpers/stopped.js'
import { sweptLan } from '../helpers/swept-lan.js'

const CODE = parseCode('647-2093-5518')
const GUESS = '647-0000-0001'

describe('a phone that refuses the code before checking it does not end the receive', () => {
  const { phones, nodes } = stoppedAfterEach()
  const lan = sweptLan(CODE.nameplate, nodes)
  const { ports } = lan

  async function impostor (port: number, opts?: ImpostorOptions): Promise<Impostor> {
    const i = await startImpostor(GUESS, opts)
    nodes.push(i.node)
    await lan.showNameplate(port, { peer: i.node.peerId.toString(), addrs: [i.addr] })
    return i
  }

  async function oldPhone (port: number): Promise<OldPhone> {
    const old = await offeringPhone(phones, 'unproved-old-', CODE)
    await lan.showNameplate(port, old.shown())
    return old
  }

  const newPhone = async (): Promise<Ferry> => await loopbackPhone(phones, 'unproved-new-')

  // CANCELLED too: the old phone's person may cancel, and a neighbour may say it as well.
  for (const refusal of [ErrorCode.CODE_EXPIRED, ErrorCode.WRONG_CODE, ErrorCode.CANCELLED] as const) {
    it(`found first, a phone that refuses at once (${refusal}) is set aside: the receive pairs with the old phone and verifies`, async () => {
      const fake = await impostor(ports[0], { refuseAtOnce: refusal })
      const old = await oldPhone(ports[1])
      const phone = await newPhone()
      const looking = lan.search(20_000)
      const found = await looking.find()
      expect(found.peer, 'the sweep finds the impostor first').toBe(fake.node.peerId.toString())

      const events: FerryEvent[] = []
      const got = await phone.receive({ addrs: found.addrs, code: CODE, search: looking, onEvent: e => events.push(e) })
      await expectMovedFrom(old, phone, got)
      expect(fake.streams, 'the phone that refused was not asked again').toBe(1)
      // The app (and the person) hears why the receive went on looking.
      const interrupted = interruptions(events)
      expect(interrupted).toHaveLength(1)
      const said = interrupted[0]
      expect(said.code).toBe(refusal)
      expect(said.details).toMatchObject({ unproved: true, setAside: 1 })
      expect(said.message).toContain('refused the code before checking it')
      expect(said.message).toContain('the search goes on for the old phone')
      expect(await new TriedCodes(phone.journal).load(CODE)).toBeUndefined()
    })
  }

  it('with no other phone showing the digits, the receive ends with the refusal it heard, said as unproved, no try spent', async () => {
    const fake = await impostor(ports[0], { refuseAtOnce: ErrorCode.CODE_EXPIRED })
    const phone = await newPhone()
    const looking = lan.search(2_000)
    const found = await looking.find()
    const events: FerryEvent[] = []
    const refused = await failure(phone.receive({ addrs: found.addrs, code: CODE, search: looking, onEvent: e => events.push(e) }))
    // The code and details an app branches on stay those of the refusal; `unproved` says nothing checked it.
    expect(refused.code).toBe(ErrorCode.CODE_EXPIRED)
    expect(refused.details).toMatchObject({ from: 'sender', unproved: true, setAside: 1 })
    expect(refused.message).toContain('a phone showing this code\'s first three digits refused the code before checking it')
    // An old phone whose code did expire is still said to be that, in the refusal's own words.
    expect(refused.message).toContain('it said: the code has expired (already used by another phone, three wrong tries, or ten minutes old)')
    expect(refused.message).toContain('no other phone nearby shows them')
    expect(refused.message).toMatch(/someone nearby may be refusing in its place$/)
    // A QR code to pair past it is the app's to offer (the CLI and the page do): an app may show none.
    // (The refusal quoted is the other phone's own words.)
    expect(refused.message).not.toContain('which names it')
    expect(refused.message).not.toContain('2093')
    expect(interruptions(events)).toHaveLength(1)
    expect(fake.streams).toBe(1)
    expect(await new TriedCodes(phone.journal).load(CODE), 'a refusal that checked nothing costs no try').toBeUndefined()
  })

  it('an old phone whose code did expire is heard once the look past it is over, not when the whole search gives up', async () => {
    // Its refusal looks on the wire as the neighbour's does. The search is given ten minutes, as a patient
    // app might: the person must still hear "expired" once looking past that phone found nobody else, or
    // this test times out.
    const expired = await impostor(ports[0], { refuseAtOnce: ErrorCode.CODE_EXPIRED })
    const phone = await newPhone()
    const looking = lan.search(600_000)
    const found = await looking.find()
    const refused = await failure(phone.receive({ addrs: found.addrs, code: CODE, search: looking, lookOnMs: 1_000 }))
    expect(refused.code).toBe(ErrorCode.CODE_EXPIRED)
    expect(refused.details).toMatchObject({ unproved: true, setAside: 1 })
    expect(refused.message).toContain('it said: the code has expired')
    expect(expired.streams).toBe(1)
  })

  it('looking past refusals is no progress: a neighbour with fresh peer ids that refuses and then cuts does not stretch the receive\'s time', async () => {
    // Fresh peer ids, each refusing a while after PAKE_A, over more than the receive's time; then a
    // phone that cuts. Had each refusal started the time to retry over, the cuts would go on for it all again.
    // A phone set aside is passed by where it answered too, so each of the neighbour's ids answers on a
    // discovery port of its own, the cutter on the next.
    const wide = lan.morePorts(5)
    const refusers = await Promise.all(wide.slice(0, 4).map(async port => {
      const node = await rawNode()
      nodes.push(node)
      await node.handle(PAIR_PROTOCOL, (stream: Stream) => {
        const duplex = streamToDuplex(stream)
        void (async () => {
          await readFrames(duplex.source, MAX_MESSAGE_BYTES)[Symbol.asyncIterator]().next()
          await new Promise(resolve => setTimeout(resolve, 1_500))
          const abort = encodeAbort(ErrorCode.CODE_EXPIRED)
          await duplex.write([prefix([abort]), abort])
          await duplex.close()
        })().catch(() => {})
      })
      await lan.showNameplate(port, { peer: node.peerId.toString(), addrs: node.getMultiaddrs().map(String) })
      return node
    }))
    const cutter = await impostor(wide[4], { cutEvery: 'reset' })
    const phone = await newPhone()
    // One probe at a time: a host's other ports are asked in order, so its ids are found in turn.
    const looking = lan.search(30_000, { ports: wide, maxInFlight: 1 })
    const found = await looking.find()
    expect(found.peer).toBe(refusers[0].peerId.toString())
    const ended = await failure(phone.receive({ addrs: found.addrs, code: CODE, search: looking, lookOnMs: 1_000, retryForMs: 3_000 }))
    expect(ended.code).toBe(ErrorCode.TRUNCATED)
    expect(ended.details).toMatchObject({ unproved: true, cut: true })
    expect(cutter.streams, 'the receive\'s time was spent on the refusals: the first cut ended it').toBe(1)
    expect(await new TriedCodes(phone.journal).load(CODE)).toBeUndefined()
  })

  it('a guess charged on the next phone, with no other phone showing the digits, ends the receive as a wrong code', async () => {
    // Only a refusal is set aside free: a phone that answered with a valid PAKE_B had this phone check
    // the code against it, a try spent. It is looked past too (another transfer may show the same
    // digits: test/net/same-digits.test.ts), and with no other phone showing them its WRONG_CODE ends the receive.
    const refuser = await impostor(ports[0], { refuseAtOnce: ErrorCode.CODE_EXPIRED })
    const guesser = await impostor(ports[1])
    const phone = await newPhone()
    const looking = lan.search(20_000)
    const found = await looking.find()
    expect(found.peer).toBe(refuser.node.peerId.toString())
    const wrong = await failure(phone.receive({ addrs: found.addrs, code: CODE, search: looking }))
    expect(wrong.code).toBe(ErrorCode.WRONG_CODE)
    expect(wrong.details).toMatchObject({ triesLeft: 2, showing: 2, mismatched: 1 })
    expect(wrong.details?.unproved).toBeUndefined()
    expect(refuser.streams).toBe(1)
    expect(guesser.streams).toBe(1)
    expect(await new TriedCodes(phone.journal).load(CODE)).toMatchObject({ failed: 1 })
  })
})
