import { describe, expect, it } from 'vitest'
import type { Libp2p } from '@libp2p/interface'
import { stoppedAfterEach } from '../helpers/stopped.js'
import { createFerry, type Ferry } from '../../src/create-ferry.js'
import { ErrorCode } from '../../src/errors.js'
import { TriedCodes } from '../../src/journal/tried-codes.js'
import type { FerryNode } from '../../src/net/node.js'
import { PAIR_PROTOCOL } from '../../src/net/pair-stream.js'
import type { JournalOp } from '../../src/journal/journal.js'
import { generateQrKey, parseCode } from '../../src/pairing/index.js'
import { encodeAbort, encodeMessage, MsgType } from '../../src/pairing/messages.js'
import { ristretto255 } from '@noble/curves/ed25519.js'
import { startImpostor, type Impostor, type ImpostorOptions } from '../e2e/helpers/impostor.js'
import { cutFirstPairings } from '../helpers/cut-pairings.js'
import { failure } from '../helpers/failure.js'
import { exportText, fillStore, tempDir } from '../helpers/stores.js'

// Someone nearby may pose as the old phone: each pairing the new phone runs against it tests one guess
// of the code. So the new phone, too, tries a typed code three times at most without pairing, counted
// in its journal so that starting the receive again grants no new guesses.

const listen = ['/ip4/127.0.0.1/tcp/0']
const CODE = parseCode('472-1180-3356')
/** What the impostor guesses: the nameplate is public (mDNS), the rest it must guess. */
const GUESS = '472-0000-0001'

const chargesATry = (ops: JournalOp[]): boolean => ops.some(o => 'key' in o && o.key === TriedCodes.key(CODE) && o.value !== undefined)

/**
 * Makes an impostor's reset land between this phone's charge of a try and its answer, every time: each
 * write that charges a try of CODE waits until the pairing stream it came in on is gone; the impostor
 * (its `cutAfterPakeB`) resets once that write began.
 */
function resetWhileCharging (phone: Ferry): () => Promise<void> {
  let charging = deferred()
  const write = phone.journal.write.bind(phone.journal)
  phone.journal.write = async ops => {
    if (chargesATry(ops)) {
      const stream = phone.node.getConnections().flatMap(c => c.streams).find(s => s.protocol === PAIR_PROTOCOL && s.status === 'open')
      const gone = stream === undefined ? Promise.resolve() : new Promise<void>(resolve => { stream.addEventListener('close', () => { resolve() }, { once: true }) })
      charging.resolve()
      await gone
    }
    await write(ops)
  }
  return async () => {
    await charging.promise
    charging = deferred()
  }
}

function deferred (): { promise: Promise<void>, resolve: () => void } {
  let resolve!: () => void
  const promise = new Promise<void>(r => { resolve = r })
  return { promise, resolve }
}

describe('the new phone bounds how often it tries a code', () => {
  const { phones, nodes } = stoppedAfterEach<FerryNode | Libp2p>()

  async function newPhone (dir: string): Promise<Ferry> {
    const p = await createFerry(dir, { listen, memory: false })
    phones.push(p)
    return p
  }

  async function impostor (opts?: ImpostorOptions): Promise<Impostor> {
    const i = await startImpostor(GUESS, opts)
    nodes.push(i.node)
    return i
  }


  it('three failed tries, then the code is refused before any CPace, also after a restart', async () => {
    const dir = tempDir('tries-new-')
    const fake = await impostor()
    let phone = await newPhone(dir)
    // Each wrong try says how many are left, so a person knows whether to type again. A QR code to scan
    // instead is the app's to mention (the CLI's and the page's words do): an app may show none.
    const said = ['2 tries of this code left on this phone', '1 try of this code left on this phone',
      'no tries of this code are left on this phone: ask the old phone for a new code']
    for (let i = 1; i <= 3; i++) {
      const wrong = await failure(phone.receive({ addrs: [fake.addr], code: CODE }))
      expect(wrong.code).toBe(ErrorCode.WRONG_CODE)
      expect(wrong.details).toMatchObject({ triesLeft: 3 - i })
      expect(wrong.message).toMatch(new RegExp(`; ${said[i - 1]}$`))
      expect(wrong.message).not.toContain('QR')
      expect(wrong.message).not.toContain('472-1180-3356')
      expect(fake.streams).toBe(i)
    }
    // The phone restarts on the same folder: its journal still counts the three.
    await phone.stop()
    phone = await newPhone(dir)
    const refused = await failure(phone.receive({ addrs: [fake.addr], code: CODE }))
    expect(refused.code).toBe(ErrorCode.CODE_EXPIRED)
    expect(refused.message).toContain('tried 3 times without pairing')
    expect(refused.message).toContain('posing as the old phone')
    expect(refused.message).not.toContain('QR')
    expect(refused.message).toContain('Ask the old phone for a new code')
    expect(refused.message).not.toContain('472-1180-3356')
    expect(refused.details).toMatchObject({ from: 'receiver', state: 'tried', tried: 3 })
    // Nothing of CPace went out: the impostor never saw a fourth pairing stream.
    expect(fake.streams).toBe(3)
  })

  it('a link that fails before the other phone answers PAKE_A tests no guess and is not counted', async () => {
    const dir = tempDir('tries-drop-')
    // Four dropped links (the receive redials after each), then a wrong guess answered in full.
    const fake = await impostor({ dropFirst: 4 })
    const phone = await newPhone(dir)
    const wrong = await failure(phone.receive({ addrs: [fake.addr], code: CODE }))
    expect(wrong.code).toBe(ErrorCode.WRONG_CODE)
    expect(wrong.details, 'the dropped links cost no try').toMatchObject({ triesLeft: 2 })
    expect(fake.streams).toBe(5)
    expect(await new TriedCodes(phone.journal).load(CODE)).toMatchObject({ failed: 1 })
    // Two more guesses are left.
    for (let i = 0; i < 2; i++) expect((await failure(phone.receive({ addrs: [fake.addr], code: CODE }))).code).toBe(ErrorCode.WRONG_CODE)
    expect(fake.streams).toBe(7)
    expect((await failure(phone.receive({ addrs: [fake.addr], code: CODE }))).code).toBe(ErrorCode.CODE_EXPIRED)
    expect(fake.streams).toBe(7)
  })

  it('an answer to PAKE_A that is no valid PAKE_B tests no guess and is not counted', async () => {
    // Refused as a protocol error whatever the code is, so the refusal tells the other phone nothing of
    // it: only a PAKE_B this phone would answer according to the code may cost a try.
    const point = ristretto255.Point.BASE.multiply(7n).toBytes() // a valid share, from no code
    const tag = new Uint8Array(64).fill(9)
    const pakeB = encodeMessage(MsgType.PAKE_B, point, new Uint8Array(0), tag)
    const malformed: Array<[string, Uint8Array, ErrorCode]> = [
      ['a share that is no ristretto255 element', encodeMessage(MsgType.PAKE_B, new Uint8Array(32).fill(0xff), new Uint8Array(0), tag), ErrorCode.PROTOCOL],
      ['the identity element as the share', encodeMessage(MsgType.PAKE_B, new Uint8Array(32), new Uint8Array(0), tag), ErrorCode.PROTOCOL],
      ['a share of the wrong length', encodeMessage(MsgType.PAKE_B, point.subarray(1), new Uint8Array(0), tag), ErrorCode.PROTOCOL],
      ['a tag of the wrong length', encodeMessage(MsgType.PAKE_B, point, new Uint8Array(0), tag.subarray(1)), ErrorCode.PROTOCOL],
      ['trailing bytes', Uint8Array.of(...pakeB, 0), ErrorCode.PROTOCOL],
      ['another pairing version', Uint8Array.of(2, ...pakeB.subarray(1)), ErrorCode.VERSION],
      ['a message that is not a PAKE_B', encodeMessage(MsgType.CONFIRM_A, tag), ErrorCode.PROTOCOL],
      ['a refusal', encodeAbort(ErrorCode.WRONG_CODE), ErrorCode.WRONG_CODE]
    ]
    const fake = await impostor({ answers: malformed.map(([, bytes]) => bytes) })
    const phone = await newPhone(tempDir('tries-malformed-'))
    for (const [what, , code] of malformed) {
      const err = await failure(phone.receive({ addrs: [fake.addr], code: CODE }))
      expect(err.code, what).toBe(code)
      expect(await new TriedCodes(phone.journal).load(CODE), what).toBeUndefined()
    }
    expect(fake.streams).toBe(malformed.length)
    // A PAKE_B that does test a guess still costs one, and three remain for it.
    const wrong = await failure(phone.receive({ addrs: [fake.addr], code: CODE }))
    expect(wrong.code).toBe(ErrorCode.WRONG_CODE)
    expect(wrong.details).toMatchObject({ triesLeft: 2 })
  })

  it('pairing with the real old phone clears the count', async () => {
    const dir = tempDir('tries-clear-')
    const fake = await impostor()
    const phone = await newPhone(dir)
    for (let i = 0; i < 2; i++) expect((await failure(phone.receive({ addrs: [fake.addr], code: CODE }))).code).toBe(ErrorCode.WRONG_CODE)

    const old = await createFerry(tempDir('tries-old-'), { listen, memory: false })
    phones.push(old)
    await fillStore(old.store, { conversations: 1, messagesPerConversation: 10, mediaSizes: [] })
    const offered = old.send({ code: CODE })
    offered.catch(() => {})
    const got = await phone.receive({ addrs: old.addresses(), code: CODE })
    expect(got.progress.messages).toBe(10)
    await expect(offered).resolves.toBeDefined()
    expect(await exportText(phone.store)).toBe(await exportText(old.store))
    expect(await new TriedCodes(phone.journal).load(CODE)).toBeUndefined()

    // The count starts over: three more tries with the code reach the other phone.
    for (let i = 0; i < 3; i++) expect((await failure(phone.receive({ addrs: [fake.addr], code: CODE }))).code).toBe(ErrorCode.WRONG_CODE)
    expect(fake.streams).toBe(5)
  })

  it('pairings with the QR code\'s key are neither counted nor refused: the key cannot be guessed', async () => {
    const dir = tempDir('tries-qr-')
    const fake = await impostor()
    const phone = await newPhone(dir)
    for (let i = 0; i < 3; i++) expect((await failure(phone.receive({ addrs: [fake.addr], code: CODE }))).code).toBe(ErrorCode.WRONG_CODE)
    // The impostor cannot prove a key it never saw; the scan still tries, and is refused by the key.
    const scanned = await failure(phone.receive({ addrs: [fake.addr], code: CODE, qrKey: generateQrKey() }))
    expect(scanned.code).toBe(ErrorCode.WRONG_CODE)
    expect(scanned.details?.triesLeft, 'a scan spends no try, so it counts none').toBeUndefined()
    expect(fake.streams).toBe(4)
    expect(await new TriedCodes(phone.journal).load(CODE)).toMatchObject({ failed: 3 })
  })
  it('a link cut once the other phone\'s PAKE_B is in ends the receive at once: one try spent, no retry', async () => {
    // Someone posing as the old phone answers with a valid PAKE_B and resets the stream: this phone's
    // answer never goes out, yet the try must stay charged (an answer may get out). Were the cut retried
    // as a dropped link is, one receive would spend every try of the code before the person saw anything.
    const phone = await newPhone(tempDir('tries-cut-'))
    const fake = await impostor({ cutAfterPakeB: resetWhileCharging(phone) })
    const cut = await failure(phone.receive({ addrs: [fake.addr], code: CODE }))
    expect(cut.code).toBe(ErrorCode.WRONG_CODE)
    expect(cut.details).toMatchObject({ linkDropped: true, triesLeft: 2 })
    expect(cut.message).toContain('the link to the other phone dropped while the phones were checking the code')
    expect(cut.message).toContain('This counted as one try of the code: 2 tries of it left on this phone. Try again with the same code')
    expect(cut.message).not.toContain('QR')
    expect(cut.message).not.toContain('472-1180-3356')
    expect(fake.streams, 'the cut was not retried').toBe(1)
    expect(await new TriedCodes(phone.journal).load(CODE)).toMatchObject({ failed: 1 })

    // Run again, it tries again: the person chose to spend another try.
    const again = await failure(phone.receive({ addrs: [fake.addr], code: CODE }))
    expect(again.details).toMatchObject({ linkDropped: true, triesLeft: 1 })
    expect(again.message).toContain('1 try of it left on this phone')
    expect(fake.streams).toBe(2)
    const last = await failure(phone.receive({ addrs: [fake.addr], code: CODE }))
    expect(last.details).toMatchObject({ linkDropped: true, triesLeft: 0 })
    expect(last.message).toMatch(/no tries of it are left on this phone: ask the old phone for a new code$/)
    expect(fake.streams).toBe(3)
  })

  it('a link that drops before the other phone\'s PAKE_B is still retried, free, and the real old phone pairs', async () => {
    const old = await createFerry(tempDir('tries-drop-old-'), { listen, memory: false })
    phones.push(old)
    await fillStore(old.store, { conversations: 1, messagesPerConversation: 10, mediaSizes: [] })
    // The old phone's first pairing stream goes once the new phone's PAKE_A is in, before its answer.
    const pairStreams = await cutFirstPairings(old, 1)
    const offered = old.send({ code: CODE })
    offered.catch(() => {})
    const phone = await newPhone(tempDir('tries-drop-new-'))
    const interrupted: string[] = []
    const got = await phone.receive({ addrs: old.addresses(), code: CODE, onEvent: e => { if (e.type === 'interrupted') interrupted.push(e.error.code) } })
    expect(got.progress.messages).toBe(10)
    await expect(offered).resolves.toBeDefined()
    expect(interrupted).toEqual([ErrorCode.TRUNCATED])
    expect(pairStreams()).toBe(2)
    expect(await exportText(phone.store)).toBe(await exportText(old.store))
    expect(await new TriedCodes(phone.journal).load(CODE)).toBeUndefined()
  })
})
