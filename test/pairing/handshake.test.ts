import { describe, expect, it } from 'vitest'
import { ErrorCode } from '../../src/errors.js'
import { CodeLifetime } from '../../src/pairing/attempts.js'
import { generateCode, parseCode, type PairingCode } from '../../src/pairing/code.js'
import { ReceiverHandshake, SenderHandshake, type HandshakeOptions, type PairingResult } from '../../src/pairing/handshake.js'
import { decodeMessage, encodeMessage, MsgType } from '../../src/pairing/messages.js'
import { hex, run } from './helpers.js'

const RECEIVER = '12D3KooWReceiverPeerIdForTestsOnlyAAAAAAAAAAAAAAAAAA'
const SENDER = '12D3KooWSenderPeerIdForTestsOnlyBBBBBBBBBBBBBBBBBBBB'
const MALLORY = '12D3KooWMalloryPeerIdForTestsOnlyCCCCCCCCCCCCCCCCCCC'
const CODE = parseCode('123-4567-8901')

interface Setup {
  code?: PairingCode
  receiverCode?: PairingCode
  receiverView?: Partial<HandshakeOptions>
  senderView?: Partial<HandshakeOptions>
  lifetime?: CodeLifetime
}

function pair (s: Setup = {}) {
  const lifetime = s.lifetime ?? new CodeLifetime({ now: () => 0 })
  const receiver = new ReceiverHandshake({ code: s.receiverCode ?? s.code ?? CODE, localPeerId: RECEIVER, remotePeerId: SENDER, ...s.receiverView })
  const sender = new SenderHandshake({ code: s.code ?? CODE, localPeerId: SENDER, remotePeerId: RECEIVER, lifetime, ...s.senderView })
  return { ...run<PairingResult, PairingResult>(receiver.start(), receiver, sender), lifetime, machines: { receiver, sender } }
}

describe('pairing handshake', () => {
  it('the right code pairs: same session key and resume token on both sides, four messages', () => {
    const r = pair()
    expect(r.receiver.error).toBeUndefined()
    expect(r.sender.error).toBeUndefined()
    const a = r.receiver.result!
    const b = r.sender.result!
    expect(a.sessionKey.length).toBe(32)
    expect(a.resumeToken.length).toBe(32)
    expect(hex(a.sessionKey)).toBe(hex(b.sessionKey))
    expect(hex(a.resumeToken)).toBe(hex(b.resumeToken))
    expect(hex(a.sessionKey)).not.toBe(hex(a.resumeToken))
    expect(r.wire.map((m) => m.dir)).toEqual(['r>s', 's>r', 'r>s', 's>r'])
    expect(r.wire.map((m) => m.bytes[1])).toEqual([MsgType.PAKE_A, MsgType.PAKE_B, MsgType.CONFIRM_A, MsgType.PAIRED])
    expect(r.machines.receiver.status).toBe('done')
    expect(r.machines.sender.status).toBe('done')
    expect(r.lifetime.state).toBe('used')
  })

  it('every run yields fresh keys', () => {
    const one = pair().receiver.result!
    const two = pair().receiver.result!
    expect(hex(one.sessionKey)).not.toBe(hex(two.sessionKey))
    expect(hex(one.resumeToken)).not.toBe(hex(two.resumeToken))
  })

  it('associated data travels and is authenticated', () => {
    const enc = new TextEncoder()
    const r = pair({ receiverView: { ad: enc.encode('New Pixel') }, senderView: { ad: enc.encode('Old iPhone') } })
    expect(new TextDecoder().decode(r.receiver.result!.peerAd)).toBe('Old iPhone')
    expect(new TextDecoder().decode(r.sender.result!.peerAd)).toBe('New Pixel')
  })

  it('a wrong code fails on both sides with WRONG_CODE, and costs one attempt', () => {
    const r = pair({ receiverCode: parseCode('123-4567-8902') })
    expect(r.receiver.error?.code).toBe(ErrorCode.WRONG_CODE)
    expect(r.sender.error?.code).toBe(ErrorCode.WRONG_CODE)
    expect(r.receiver.result).toBeUndefined()
    expect(r.sender.result).toBeUndefined()
    expect(r.lifetime.failures).toBe(1)
    expect(r.lifetime.state).toBe('live')
  })

  it('a different nameplate with the same secret fails (the nameplate is in CI)', () => {
    const r = pair({ receiverCode: parseCode('124-4567-8901') })
    expect(r.receiver.error?.code).toBe(ErrorCode.WRONG_CODE)
    expect(r.sender.error?.code).toBe(ErrorCode.WRONG_CODE)
  })

  it('a man in the middle: each side sees a different peer id, so the run fails even with the right code', () => {
    // The receiver's Noise session ends at Mallory, who relays to the sender from its own peer id.
    const r = pair({ receiverView: { remotePeerId: MALLORY }, senderView: { remotePeerId: MALLORY } })
    expect(r.receiver.error?.code).toBe(ErrorCode.WRONG_CODE)
    expect(r.sender.error?.code).toBe(ErrorCode.WRONG_CODE)
    expect(r.receiver.result).toBeUndefined()
    expect(r.sender.result).toBeUndefined()
  })

  it('the same two peer ids bound in the other role order fail (CI orders ids by role)', () => {
    // The receiver wrongly puts the sender's id in the receiver's slot: a reflection or role confusion.
    const receiver = new ReceiverHandshake({ code: CODE, localPeerId: SENDER, remotePeerId: RECEIVER })
    const sender = new SenderHandshake({ code: CODE, localPeerId: SENDER, remotePeerId: RECEIVER, lifetime: new CodeLifetime() })
    const r = run(receiver.start(), receiver, sender)
    expect(r.receiver.error?.code).toBe(ErrorCode.WRONG_CODE)
  })

  it('a splice: messages from one session fed into another get nowhere', () => {
    // Two honest sessions on the same code; Mallory swaps their second halves.
    const lifetime = new CodeLifetime({ now: () => 0, maxFailures: 10 })
    const r1 = new ReceiverHandshake({ code: CODE, localPeerId: RECEIVER, remotePeerId: SENDER })
    const s1 = new SenderHandshake({ code: CODE, localPeerId: SENDER, remotePeerId: RECEIVER, lifetime })
    const r2 = new ReceiverHandshake({ code: CODE, localPeerId: RECEIVER, remotePeerId: SENDER })
    const s2 = new SenderHandshake({ code: CODE, localPeerId: SENDER, remotePeerId: RECEIVER, lifetime })
    const a1 = r1.start().send[0]
    const a2 = r2.start().send[0]
    expect(s1.onMessage(a1).error).toBeUndefined()
    const b2 = s2.onMessage(a2).send[0]
    expect(r1.onMessage(b2).error?.code).toBe(ErrorCode.WRONG_CODE)
    const ok2 = r2.onMessage(b2)
    expect(ok2.error).toBeUndefined()
    expect(s1.onMessage(ok2.send[0]).error?.code).toBe(ErrorCode.WRONG_CODE)
  })

  it('a replayed transcript of a successful run gets nowhere: the sender answers with fresh randomness', () => {
    const lifetime = new CodeLifetime({ now: () => 0 })
    const first = pair({ lifetime: new CodeLifetime({ now: () => 0 }) })
    expect(first.sender.result).toBeDefined()
    const [pakeA, pakeB, confirmA] = first.wire.map((m) => m.bytes)

    // Against a new sender session on a code with the same digits: the old PAKE_A is answered with a new
    // Yb, and the old confirmation no longer matches.
    const sender = new SenderHandshake({ code: CODE, localPeerId: SENDER, remotePeerId: RECEIVER, lifetime })
    const answer = sender.onMessage(pakeA)
    expect(answer.error).toBeUndefined()
    expect(hex(answer.send[0])).not.toBe(hex(pakeB))
    const replay = sender.onMessage(confirmA)
    expect(replay.error?.code).toBe(ErrorCode.WRONG_CODE)
    expect(replay.result).toBeUndefined()
    expect(lifetime.failures).toBe(1)

    // Against a new receiver session: the old PAKE_B does not confirm its fresh share.
    const receiver = new ReceiverHandshake({ code: CODE, localPeerId: RECEIVER, remotePeerId: SENDER })
    receiver.start()
    expect(receiver.onMessage(pakeB).error?.code).toBe(ErrorCode.WRONG_CODE)
  })

  it('invalid CPace shares are refused with PROTOCOL before the code\'s budget is touched', () => {
    // Each change of the budget is a journal write the sender awaits (code-budgets.ts), in the queue an
    // honest attempt's charge waits in: a flood of invalid shares must cause none.
    const changes: number[] = []
    const lifetime = new CodeLifetime({ now: () => 0, onChange: s => changes.push(s.charged) })
    // The identity, a non-canonical encoding, and bytes that decode to no element.
    const invalid = [new Uint8Array(32), new Uint8Array(32).fill(0xff), Uint8Array.from({ length: 32 }, (_, i) => i === 0 ? 1 : 0)]
    for (let i = 0; i < 30; i++) {
      const sender = new SenderHandshake({ code: CODE, localPeerId: SENDER, remotePeerId: RECEIVER, lifetime })
      const step = sender.onMessage(encodeMessage(MsgType.PAKE_A, new Uint8Array(16), invalid[i % invalid.length], new Uint8Array(0)))
      expect(step.error?.code).toBe(ErrorCode.PROTOCOL)
      expect(step.send.length).toBe(1) // ABORT(PROTOCOL)
    }
    expect(changes).toEqual([])
    expect(lifetime.failures).toBe(0)
    expect(lifetime.remaining).toBe(3)
    // The phone with the code still pairs.
    const honest = pair({ lifetime })
    expect(honest.receiver.result).toBeDefined()
    expect(honest.sender.result).toBeDefined()

    // The receiver aborts on an identity Yb too.
    const receiver = new ReceiverHandshake({ code: CODE, localPeerId: RECEIVER, remotePeerId: SENDER })
    receiver.start()
    const bad = receiver.onMessage(encodeMessage(MsgType.PAKE_B, new Uint8Array(32), new Uint8Array(0), new Uint8Array(64)))
    expect(bad.error?.code).toBe(ErrorCode.PROTOCOL)
  })

  it('malformed, out-of-order and other-version messages are refused', () => {
    const lifetime = new CodeLifetime({ now: () => 0 })
    const mk = (): SenderHandshake => new SenderHandshake({ code: CODE, localPeerId: SENDER, remotePeerId: RECEIVER, lifetime })
    const good = new ReceiverHandshake({ code: CODE, localPeerId: RECEIVER, remotePeerId: SENDER }).start().send[0]
    expect(mk().onMessage(good.slice(0, -1)).error?.code).toBe(ErrorCode.PROTOCOL) // truncated
    expect(mk().onMessage(Uint8Array.of(...good, 0)).error?.code).toBe(ErrorCode.PROTOCOL) // trailing byte
    expect(mk().onMessage(Uint8Array.of(2, ...good.slice(1))).error?.code).toBe(ErrorCode.VERSION)
    expect(mk().onMessage(encodeMessage(MsgType.CONFIRM_A, new Uint8Array(64))).error?.code).toBe(ErrorCode.PROTOCOL)
    expect(mk().onMessage(new Uint8Array(0)).error?.code).toBe(ErrorCode.PROTOCOL)
    expect(mk().onMessage(new Uint8Array(5000)).error?.code).toBe(ErrorCode.PROTOCOL)
    // A non-minimal LEB128 length.
    const nonMinimal = Uint8Array.of(1, MsgType.PAKE_A, 0x90, 0x00, ...new Uint8Array(16))
    expect(mk().onMessage(nonMinimal).error?.code).toBe(ErrorCode.PROTOCOL)
    expect(lifetime.failures).toBe(0) // nothing was exposed, nothing charged
    expect(lifetime.remaining).toBe(3)
  })

  it('an ABORT from the peer ends the handshake with its reason, and a message after the end is refused', () => {
    const r = pair({ receiverCode: parseCode('000-0000-0000') })
    expect(r.sender.error?.code).toBe(ErrorCode.WRONG_CODE)
    expect(r.sender.error?.details).toEqual({ from: 'receiver' })
    const late = r.machines.sender.onMessage(r.wire[0].bytes)
    expect(late.error?.code).toBe(ErrorCode.PROTOCOL)
    expect(late.send).toEqual([])
  })

  it('a receiver that vanishes after reading Tb has spent its guess', () => {
    const lifetime = new CodeLifetime({ now: () => 0 })
    const receiver = new ReceiverHandshake({ code: generateCode(), localPeerId: RECEIVER, remotePeerId: SENDER })
    const sender = new SenderHandshake({ code: CODE, localPeerId: SENDER, remotePeerId: RECEIVER, lifetime })
    sender.onMessage(receiver.start().send[0]) // Tb is out: the attacker can test one guess offline
    expect(lifetime.remaining).toBe(2)
    const step = sender.abort() // the driver saw the stream close
    expect(step.error?.code).toBe(ErrorCode.CANCELLED)
    expect(lifetime.failures).toBe(1)
    expect(sender.abort()).toEqual({ send: [] }) // idempotent
    expect(lifetime.failures).toBe(1)
  })

  it('rejects bad options', () => {
    expect(() => new ReceiverHandshake({ code: CODE, localPeerId: RECEIVER, remotePeerId: RECEIVER })).toThrow(/own peer id/)
    expect(() => new ReceiverHandshake({ code: { nameplate: '12', secret: '45678901' }, localPeerId: RECEIVER, remotePeerId: SENDER })).toThrow()
    expect(() => new ReceiverHandshake({ code: CODE, localPeerId: RECEIVER, remotePeerId: SENDER, ad: new Uint8Array(257) })).toThrow()
    expect(() => new SenderHandshake({ code: CODE, localPeerId: SENDER, remotePeerId: RECEIVER } as any)).toThrow(/lifetime/)
  })

  it('pairs twenty times in a row (each exchange timed and printed, never asserted)', () => {
    pair() // warm up
    const n = 20
    const t0 = performance.now()
    for (let i = 0; i < n; i++) expect(pair().receiver.result).toBeDefined()
    const ms = (performance.now() - t0) / n
    console.log(`one pairing exchange (both sides, in memory): ${ms.toFixed(2)} ms`)
  })
})

describe('pairing handshake with the code lifetime', () => {
  it('the third failure kills the code; the right code is then CODE_EXPIRED on both sides', () => {
    const lifetime = new CodeLifetime({ now: () => 0 })
    for (let i = 0; i < 3; i++) {
      const r = pair({ lifetime, receiverCode: parseCode(`123-0000-000${i}`) })
      expect(r.sender.error?.code).toBe(ErrorCode.WRONG_CODE)
    }
    expect(lifetime.state).toBe('exhausted')
    const r = pair({ lifetime })
    expect(r.sender.error?.code).toBe(ErrorCode.CODE_EXPIRED)
    expect(r.receiver.error?.code).toBe(ErrorCode.CODE_EXPIRED)
    expect(r.receiver.result).toBeUndefined()
  })

  it('success after two failures still works, and uses the code up', () => {
    const lifetime = new CodeLifetime({ now: () => 0 })
    pair({ lifetime, receiverCode: parseCode('123-0000-0001') })
    pair({ lifetime, receiverCode: parseCode('123-0000-0002') })
    expect(lifetime.failures).toBe(2)
    const ok = pair({ lifetime })
    expect(ok.sender.result).toBeDefined()
    expect(ok.receiver.result).toBeDefined()
    expect(pair({ lifetime }).receiver.error?.code).toBe(ErrorCode.CODE_EXPIRED)
  })

  it('after ten minutes the right code is CODE_EXPIRED', () => {
    let now = 1_000_000
    const lifetime = new CodeLifetime({ now: () => now })
    now += 10 * 60 * 1000 - 1
    expect(lifetime.state).toBe('live')
    now += 1
    const r = pair({ lifetime })
    expect(r.receiver.error?.code).toBe(ErrorCode.CODE_EXPIRED)
    expect(r.sender.error?.code).toBe(ErrorCode.CODE_EXPIRED)
  })

  it('a code pairs one phone: a second phone that had begun with the same code is refused at its confirmation', () => {
    // Two phones holding the code (the right phone, and one whose user saw the code over a shoulder)
    // both begin before either confirms. The one that confirms second must not pair too: at the
    // service it would replace the first pairing, stopping that phone's transfer and taking the history.
    const lifetime = new CodeLifetime({ now: () => 0 })
    const runs = [RECEIVER, MALLORY].map((id) => {
      const r = new ReceiverHandshake({ code: CODE, localPeerId: id, remotePeerId: SENDER })
      const s = new SenderHandshake({ code: CODE, localPeerId: SENDER, remotePeerId: id, lifetime })
      const pakeB = s.onMessage(r.start().send[0])
      return { r, s, confirm: r.onMessage(pakeB.send[0]) }
    })
    // Having confirmed, neither receiver calls itself paired yet: that is the sender's to say.
    expect(runs.map(x => [x.confirm.result, x.r.status])).toEqual([[undefined, 'wait-verdict'], [undefined, 'wait-verdict']])
    const first = runs[0].s.onMessage(runs[0].confirm.send[0])
    expect(first.result).toBeDefined()
    expect(lifetime.state).toBe('used')
    expect(first.send.map((m) => m[1])).toEqual([MsgType.PAIRED])
    expect(hex(runs[0].r.onMessage(first.send[0]).result?.resumeToken)).toBe(hex(first.result?.resumeToken))
    const second = runs[1].s.onMessage(runs[1].confirm.send[0])
    expect(second.result).toBeUndefined()
    expect(second.error?.code).toBe(ErrorCode.CODE_EXPIRED)
    // ...and that phone is told why, as part of pairing: it never holds a pairing it does not have.
    expect(second.send.map((m) => hex(m))).toEqual([hex(encodeMessage(MsgType.ABORT, Uint8Array.of(1)))])
    const refused = runs[1].r.onMessage(second.send[0])
    expect(refused.result).toBeUndefined()
    expect(refused.error?.code).toBe(ErrorCode.CODE_EXPIRED)
    expect(refused.error?.message).toMatch(/this code has already paired another phone; ask for a new code/)
    expect(refused.error?.details).toEqual({ from: 'sender', state: 'used' })
    expect(runs[1].r.status).toBe('failed')
  })

  it('a confirmation that does not prove the code is refused as a wrong code, even once the code is used', () => {
    // "Already paired another phone" is said only to a peer whose confirmation proved the code (which
    // it knew from Tb anyway): a guesser learns nothing from the verdict.
    const lifetime = new CodeLifetime({ now: () => 0 })
    const guesser = new ReceiverHandshake({ code: parseCode('123-0000-0000'), localPeerId: MALLORY, remotePeerId: SENDER })
    const sender = new SenderHandshake({ code: CODE, localPeerId: SENDER, remotePeerId: MALLORY, lifetime })
    sender.onMessage(guesser.start().send[0])
    expect(pair({ lifetime }).sender.result).toBeDefined()
    expect(lifetime.state).toBe('used')
    const verdict = sender.onMessage(encodeMessage(MsgType.CONFIRM_A, new Uint8Array(64)))
    expect(verdict.error?.code).toBe(ErrorCode.WRONG_CODE)
    expect(verdict.send.map((m) => hex(m))).toEqual([hex(encodeMessage(MsgType.ABORT, Uint8Array.of(0)))])
  })

  it('a receiver whose verdict never comes keeps the result, marked unconfirmed; one that has not confirmed aborts', () => {
    // The link may go with the sender's PAIRED on it: the sender has paired this phone, so the phone
    // keeps its resume token, and a resume then tells (a sender that did not pair it says NOT_PAIRED).
    const lifetime = new CodeLifetime({ now: () => 0 })
    const receiver = new ReceiverHandshake({ code: CODE, localPeerId: RECEIVER, remotePeerId: SENDER })
    const sender = new SenderHandshake({ code: CODE, localPeerId: SENDER, remotePeerId: RECEIVER, lifetime })
    const confirm = receiver.onMessage(sender.onMessage(receiver.start().send[0]).send[0])
    const paired = sender.onMessage(confirm.send[0])
    const lost = receiver.abort()
    expect(lost.send).toEqual([])
    expect(lost.result?.unconfirmed).toBe(true)
    expect(hex(lost.result?.resumeToken)).toBe(hex(paired.result?.resumeToken))
    expect(receiver.status).toBe('done')
    expect(paired.result?.unconfirmed).toBeUndefined()

    const early = new ReceiverHandshake({ code: CODE, localPeerId: RECEIVER, remotePeerId: SENDER })
    early.start()
    const cut = early.abort()
    expect(cut.result).toBeUndefined()
    expect(cut.error?.code).toBe(ErrorCode.CANCELLED)
    expect(cut.send.map((m) => m[1])).toEqual([MsgType.ABORT])
  })

  it('three attempts in flight at once exhaust the budget for a fourth', () => {
    const lifetime = new CodeLifetime({ now: () => 0 })
    const starts = [0, 1, 2, 3].map(() => {
      const r = new ReceiverHandshake({ code: CODE, localPeerId: RECEIVER, remotePeerId: SENDER })
      const s = new SenderHandshake({ code: CODE, localPeerId: SENDER, remotePeerId: RECEIVER, lifetime })
      return { r, s, step: s.onMessage(r.start().send[0]) }
    })
    expect(starts.slice(0, 3).every((x) => x.step.error === undefined)).toBe(true)
    expect(starts[3].step.error?.code).toBe(ErrorCode.CODE_EXPIRED)
    // One of the three finishes: the code is used up; the other two stay charged until they end.
    const done = starts[0].s.onMessage(starts[0].r.onMessage(starts[0].step.send[0]).send[0])
    expect(done.result).toBeDefined()
    expect(lifetime.state).toBe('used')
  })
})

describe('pairing by the QR code (its key beside the code)', () => {
  const KEY = Uint8Array.from({ length: 16 }, (_, i) => 200 - i)
  const qr = { qrKey: KEY }

  it('pairs, and uses the code up, without charging a guess', () => {
    const changes: number[] = []
    const lifetime = new CodeLifetime({ now: () => 0, onChange: s => changes.push(s.charged) })
    const r = pair({ lifetime, receiverView: qr, senderView: qr })
    expect(r.receiver.error).toBeUndefined()
    expect(hex(r.receiver.result!.sessionKey)).toBe(hex(r.sender.result!.sessionKey))
    expect(r.wire[0].bytes[1]).toBe(MsgType.PAKE_A_QR)
    expect(lifetime.state).toBe('used')
    expect(changes.every(c => c === 0)).toBe(true)
  })

  it('still pairs the phone that scans once neighbours spent the typed code\'s three guesses', () => {
    const lifetime = new CodeLifetime({ now: () => 0 })
    for (let i = 0; i < 3; i++) expect(pair({ lifetime, receiverCode: parseCode(`123-0000-000${i}`), senderView: qr }).sender.error?.code).toBe(ErrorCode.WRONG_CODE)
    expect(lifetime.state).toBe('exhausted')
    // Typing the right code no longer pairs; scanning does.
    expect(pair({ lifetime, senderView: qr }).receiver.error?.code).toBe(ErrorCode.CODE_EXPIRED)
    const scanned = pair({ lifetime, receiverView: qr, senderView: qr })
    expect(scanned.receiver.result).toBeDefined()
    expect(scanned.sender.result).toBeDefined()
    expect(lifetime.state).toBe('used')
  })

  it('a wrong key, or a key the sender does not show, fails without spending a guess', () => {
    const lifetime = new CodeLifetime({ now: () => 0 })
    const wrongKey = pair({ lifetime, receiverView: { qrKey: KEY.map(b => b ^ 1) }, senderView: qr })
    expect(wrongKey.receiver.error?.code).toBe(ErrorCode.WRONG_CODE)
    expect(wrongKey.sender.error?.code).toBe(ErrorCode.WRONG_CODE)
    const noKeyShown = pair({ lifetime, receiverView: qr })
    expect(noKeyShown.receiver.error?.code).toBe(ErrorCode.WRONG_CODE)
    expect(lifetime.failures).toBe(0)
    expect(lifetime.remaining).toBe(3)
    // A phone that types the code still pairs beside the QR code (its attempt charged as always).
    expect(pair({ lifetime, senderView: qr }).receiver.result).toBeDefined()
  })

  it('a scan with a wrong key is refused before the sender does any CPace work or begins an attempt', () => {
    // Uncharged attempts are unbounded: one that anyone could begin would hold a protected connection
    // slot for the whole pairing timeout, and cost the sender two scalar multiplications, for free.
    const lifetime = new CodeLifetime({ now: () => 0 })
    let begun = 0
    const begin = lifetime.begin.bind(lifetime)
    lifetime.begin = (opts) => { begun++; return begin(opts) }
    for (const receiverView of [{ qrKey: KEY.map(b => b ^ 1) }, { ...qr, remotePeerId: MALLORY }]) {
      const r = pair({ lifetime, receiverView, senderView: qr })
      expect(r.sender.error?.code).toBe(ErrorCode.WRONG_CODE)
      expect(r.receiver.error?.code).toBe(ErrorCode.WRONG_CODE)
      expect(r.wire.map(m => m.bytes[1])).toEqual([MsgType.PAKE_A_QR, MsgType.ABORT])
    }
    expect(begun).toBe(0)
    // A proof is bound to its own message: a real scan's proof with another share does not pass.
    const scan = new ReceiverHandshake({ code: CODE, localPeerId: RECEIVER, remotePeerId: SENDER, ...qr })
    const real = decodeMessage(scan.start().send[0], [MsgType.PAKE_A_QR]).fields
    const other = decodeMessage(new ReceiverHandshake({ code: CODE, localPeerId: RECEIVER, remotePeerId: SENDER, ...qr }).start().send[0], [MsgType.PAKE_A_QR]).fields
    const sender = new SenderHandshake({ code: CODE, localPeerId: SENDER, remotePeerId: RECEIVER, lifetime, ...qr })
    expect(sender.onMessage(encodeMessage(MsgType.PAKE_A_QR, real[0], other[1], real[2], real[3])).error?.code).toBe(ErrorCode.WRONG_CODE)
    expect(begun).toBe(0)
    expect(pair({ lifetime, receiverView: qr, senderView: qr }).receiver.result).toBeDefined()
    expect(begun).toBe(1)
  })

  it('a code already used, or ten minutes old, does not pair by the QR code either', () => {
    let now = 0
    const lifetime = new CodeLifetime({ now: () => now })
    expect(pair({ lifetime, receiverView: qr, senderView: qr }).receiver.result).toBeDefined()
    expect(pair({ lifetime, receiverView: qr, senderView: qr }).receiver.error?.code).toBe(ErrorCode.CODE_EXPIRED)
    const fresh = new CodeLifetime({ now: () => now })
    now += 10 * 60 * 1000
    expect(pair({ lifetime: fresh, receiverView: qr, senderView: qr }).receiver.error?.code).toBe(ErrorCode.CODE_EXPIRED)
  })
})
