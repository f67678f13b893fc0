// A code's first three digits have 900 values: two transfers in one room can show the same ones, and the
// new phone's search may find the other transfer's old phone first. That phone checks the code (a valid
// PAKE_B: one try spent here, one of its own attempts there) and holds another: the receive must not end
// there while the old phone is to be found, nor try any phone twice, nor spend more tries than the
// code has. Real phones (createFerry) and real libp2p nodes on loopback, found by the real sweep over a
// 127.x.y.0/24; the phone on ports[0] is always found first.
import { describe, expect, it } from 'vitest'
import type { Ferry } from '../../src/create-ferry.js'
import { ErrorCode } from '../../src/errors.js'
import { TriedCodes } from '../../src/journal/tried-codes.js'
import type { FerryEvent } from '../../src/net/transfer-events.js'
import { parseCode, type PairingCode } from '../../src/pairing/index.js'
import { startImpostor, type Impostor } from '../e2e/helpers/impostor.js'
import { failure, interruptions } from '../helpers/failure.js'
import { expectMovedFrom, loopbackPhone, offeringPhone, type OldPhone } from '../helpers/loopback-phones.js'
import { stoppedAfterEach } from '../helpers/stopped.js'
import { sweptLan } from '../helpers/swept-lan.js'

const CODE = parseCode('483-2093-5518')
const NEIGHBOURS = parseCode('483-7710-0462')
const TYPO = parseCode('483-2093-5519')

describe('two transfers whose codes share the first three digits', () => {
  const { phones, nodes } = stoppedAfterEach()
  const lan = sweptLan(CODE.nameplate, nodes)
  const { ports } = lan

  async function oldPhone (port: number, code: PairingCode, name: string): Promise<OldPhone> {
    const old = await offeringPhone(phones, `same-digits-${name}-`, code)
    await lan.showNameplate(port, old.shown())
    return old
  }

  const newPhone = async (name = 'new'): Promise<Ferry> => await loopbackPhone(phones, `same-digits-${name}-`)
  const events: FerryEvent[] = []
  const onEvent = (e: FerryEvent): void => { events.push(e) }

  it('the other transfer\'s phone, found first, is set aside: the receive pairs with the old phone, and the neighbour still pairs with its own code', async () => {
    events.length = 0
    const neighbour = await oldPhone(ports[0], NEIGHBOURS, 'neighbour')
    const old = await oldPhone(ports[1], CODE, 'old')
    const phone = await newPhone()
    const looking = lan.search(20_000)
    const found = await looking.find()
    expect(found.peer, 'the sweep finds the neighbour\'s phone first').toBe(neighbour.shown().peer)

    const got = await phone.receive({ addrs: found.addrs, code: CODE, search: looking, onEvent })
    await expectMovedFrom(old, phone, got)
    // The person heard why it looked on: one try spent on a phone holding another code.
    const said = interruptions(events)
    expect(said).toHaveLength(1)
    expect(said[0].code).toBe(ErrorCode.WRONG_CODE)
    expect(said[0].details).toMatchObject({ triesLeft: 2, mismatched: 1 })
    expect(said[0].message).toContain('the phone that answered does not hold this code, and that counted as one try (2 tries of it left here)')
    expect(said[0].message).toContain('another transfer\'s phone showing the same first three digits (483), so the search looks for another phone showing them')
    expect(said[0].message).not.toContain('2093')
    // The pairing cleared the code's count here.
    expect(await new TriedCodes(phone.journal).load(CODE)).toBeUndefined()

    // The neighbour's phone lost one of its three attempts to that try, and pairs its own new phone.
    const theirs = await newPhone('theirs')
    const theirsGot = await theirs.receive({ addrs: neighbour.shown().addrs, code: NEIGHBOURS })
    await expectMovedFrom(neighbour, theirs, theirsGot)
  })

  it('with one phone showing the digits, a wrong code ends the receive as before: check the digits', async () => {
    events.length = 0
    const old = await oldPhone(ports[0], CODE, 'old')
    const phone = await newPhone()
    const looking = lan.search(20_000)
    const found = await looking.find()
    const wrong = await failure(phone.receive({ addrs: found.addrs, code: TYPO, search: looking, onEvent }))
    expect(wrong.code).toBe(ErrorCode.WRONG_CODE)
    expect(wrong.details).toMatchObject({ triesLeft: 2 })
    expect(wrong.details?.showing, 'only one phone showed the digits: the words stay a wrong code\'s').toBeUndefined()
    expect(wrong.message).toContain('2 tries of this code left on this phone')
    expect(interruptions(events)).toHaveLength(1)
    // The old phone heard one guess, and still pairs with its code.
    const again = await phone.receive({ addrs: found.addrs, code: CODE })
    await expectMovedFrom(old, phone, again)
  })

  it('a mistyped code with two phones showing the digits tries each once and says there were two', async () => {
    const neighbour = await oldPhone(ports[0], NEIGHBOURS, 'neighbour')
    const old = await oldPhone(ports[1], CODE, 'old')
    const phone = await newPhone()
    const looking = lan.search(20_000)
    const found = await looking.find()
    const wrong = await failure(phone.receive({ addrs: found.addrs, code: TYPO, search: looking }))
    expect(wrong.code).toBe(ErrorCode.WRONG_CODE)
    expect(wrong.details).toMatchObject({ triesLeft: 1, showing: 2, mismatched: 2 })
    expect(wrong.message).toBe('pairing: 2 phones nearby show codes starting 483, and none of the 2 that checked this code holds it: ' +
      'the digits may be mistyped, or the old phone is not among them; 1 try of this code left on this phone')
    expect(await new TriedCodes(phone.journal).load(TYPO)).toMatchObject({ failed: 2 })
    // Each phone heard one guess: both still pair with their own codes (the corrected code has its own tries).
    const got = await phone.receive({ addrs: old.shown().addrs, code: CODE })
    await expectMovedFrom(old, phone, got)
    const theirs = await newPhone('theirs')
    await expectMovedFrom(neighbour, theirs, await theirs.receive({ addrs: neighbour.shown().addrs, code: NEIGHBOURS }))
  })

  it('phones posing as the old phone, one per discovery port, get no more tries than the code has, and each gets one at most', async () => {
    const wide = lan.morePorts(4)
    const impostors: Impostor[] = []
    for (const port of wide) {
      const i = await startImpostor(`${CODE.nameplate}-0000-000${impostors.length + 1}`)
      nodes.push(i.node)
      await lan.showNameplate(port, { peer: i.node.peerId.toString(), addrs: [i.addr] })
      impostors.push(i)
    }
    const phone = await newPhone()
    const looking = lan.search(30_000, { ports: wide, maxInFlight: 1 })
    const found = await looking.find()
    const wrong = await failure(phone.receive({ addrs: found.addrs, code: CODE, search: looking }))
    expect(wrong.code).toBe(ErrorCode.WRONG_CODE)
    expect(wrong.details).toMatchObject({ triesLeft: 0, showing: 3, mismatched: 3 })
    expect(wrong.message).toContain('no tries of this code are left on this phone')
    expect(impostors.map(i => i.streams), 'three tries, one phone each; the fourth is never asked').toEqual([1, 1, 1, 0])
    // The count is this phone's: a receive again refuses the code before dialling anything.
    const spent = await failure(phone.receive({ addrs: impostors[3].node.getMultiaddrs(), code: CODE, search: lan.search(5_000) }))
    expect(spent.code).toBe(ErrorCode.CODE_EXPIRED)
    expect(spent.details).toMatchObject({ from: 'receiver', state: 'tried' })
    expect(impostors[3].streams).toBe(0)
  })

  it('a refusal that ends the receive after a phone holding another code says the try spent there', async () => {
    const neighbour = await oldPhone(ports[0], NEIGHBOURS, 'neighbour')
    const refuser = await startImpostor(`${CODE.nameplate}-0000-0001`, { refuseAtOnce: ErrorCode.CODE_EXPIRED })
    nodes.push(refuser.node)
    await lan.showNameplate(ports[1], { peer: refuser.node.peerId.toString(), addrs: [refuser.addr] })
    const phone = await newPhone()
    const looking = lan.search(20_000)
    const found = await looking.find()
    expect(found.peer).toBe(neighbour.shown().peer)
    const ended = await failure(phone.receive({ addrs: found.addrs, code: CODE, search: looking, lookOnMs: 2_000 }))
    expect(ended.code).toBe(ErrorCode.CODE_EXPIRED)
    expect(ended.details).toMatchObject({ unproved: true, setAside: 1, mismatched: 1, triesLeft: 2 })
    expect(ended.message).toContain('and no other phone nearby shows them but one that checks the code and holds another ' +
      '(one try of the code spent there, 2 left on this phone). It proved nothing of the code')
    expect(refuser.streams).toBe(1)
  })

  it('with addresses given (no search), a wrong code ends the receive at once, one try spent', async () => {
    const fake = await startImpostor(`${CODE.nameplate}-0000-0001`)
    nodes.push(fake.node)
    await oldPhone(ports[0], CODE, 'old')
    const phone = await newPhone()
    const wrong = await failure(phone.receive({ addrs: [fake.addr], code: CODE }))
    expect(wrong.code).toBe(ErrorCode.WRONG_CODE)
    expect(wrong.details).toMatchObject({ triesLeft: 2 })
    expect(wrong.details?.showing).toBeUndefined()
    expect(fake.streams).toBe(1)
  })
})
