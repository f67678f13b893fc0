// The browser phone's form and messages, without a browser.
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { describe, expect, it } from 'vitest'
import { ErrorCode, FerryError } from '../../src/errors.js'
import { buildQrPayload, parseCode } from '../../src/pairing/index.js'
import { explain, parseInput, peerOfLink, servedBySender } from '../../src/web/pair-input.js'
import { formatDuration } from '../../src/web/progress-line.js'
import { takenOver } from '../../src/web/tab-lock.js'

const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
const webrtc = `/ip4/127.0.0.1/udp/40000/webrtc-direct/certhash/uEiCJy90LqWGhWUO5q0VIFdqeLngRgHtezIf_9IuNm_bauA/p2p/${peer}`
const tcp = `/ip4/127.0.0.1/tcp/40000/p2p/${peer}`

function badInput (fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(FerryError)
    expect((err as FerryError).code).toBe(ErrorCode.BAD_INPUT)
    return (err as FerryError).message
  }
  throw new Error('expected BAD_INPUT')
}

describe('the pairing form', () => {
  it('takes a ferry://pair payload whole, keeping only the addresses a browser can dial', () => {
    const qr = buildQrPayload({ code: parseCode('123-4567-8901'), peerId: peer, addrs: [tcp, webrtc] })
    expect(parseInput({ addr: qr, code: '' })).toEqual({ addrs: [webrtc], code: parseCode('123-4567-8901') })
    // A code typed from the old phone's screen wins over the payload's.
    expect(parseInput({ addr: qr, code: '999 8888 7777' }).code).toEqual(parseCode('999-8888-7777'))
  })

  it('starts by itself only when the link names the machine that served the page (ferry send --web)', () => {
    const lan = `/ip4/10.20.30.11/udp/40000/webrtc-direct/certhash/uEiCJy90LqWGhWUO5q0VIFdqeLngRgHtezIf_9IuNm_bauA/p2p/${peer}`
    const qr = buildQrPayload({ code: parseCode('123-4567-8901'), peerId: peer, addrs: [`/ip4/10.20.30.11/tcp/4101/p2p/${peer}`, lan] })
    expect(servedBySender(qr, '10.20.30.11')).toBe(true)
    // Another machine served the page (ferry web on this computer, a copy elsewhere): wait for a click.
    expect(servedBySender(qr, '127.0.0.1')).toBe(false)
    expect(servedBySender(qr, '10.20.30.12')).toBe(false)
    // The old phone's address, but only over TCP, which a browser cannot dial.
    expect(servedBySender(buildQrPayload({ code: parseCode('123-4567-8901'), peerId: peer, addrs: [`/ip4/10.20.30.11/tcp/4101/p2p/${peer}`] }), '10.20.30.11')).toBe(false)
    expect(servedBySender('ferry://pair?v=1&code=nope', '10.20.30.11')).toBe(false)
    const v6 = `/ip6/fd00::11/udp/40000/webrtc-direct/certhash/uEiCJy90LqWGhWUO5q0VIFdqeLngRgHtezIf_9IuNm_bauA/p2p/${peer}`
    expect(servedBySender(buildQrPayload({ code: parseCode('123-4567-8901'), peerId: peer, addrs: [v6] }), '[fd00::11]')).toBe(true)
  })

  it('takes the QR code\'s key with its own code, and not with another one typed over it', () => {
    const key = Uint8Array.from({ length: 16 }, (_, i) => i + 1)
    const qr = buildQrPayload({ code: parseCode('123-4567-8901'), key, peerId: peer, addrs: [webrtc] })
    expect(parseInput({ addr: qr, code: '' }).qrKey).toEqual(key)
    expect(parseInput({ addr: qr, code: '123 4567 8901' }).qrKey).toEqual(key)
    expect(parseInput({ addr: qr, code: '999-8888-7777' }).qrKey).toBeUndefined()
  })

  it('takes an address and a typed code', () => {
    expect(parseInput({ addr: ` ${webrtc} `.trim(), code: '１２３-４５６７-８９０１' })).toEqual({ addrs: [webrtc], code: parseCode('123-4567-8901') })
  })

  it('says what is missing or wrong', () => {
    expect(badInput(() => parseInput({ addr: '', code: '123-4567-8901' }))).toMatch(/ferry:\/\/pair link or its address/)
    expect(badInput(() => parseInput({ addr: webrtc, code: '' }))).toMatch(/Type the code/)
    expect(badInput(() => parseInput({ addr: tcp, code: '123-4567-8901' }))).toMatch(/--transport webrtc/)
    expect(badInput(() => parseInput({ addr: 'not-an-address', code: '123-4567-8901' }))).toMatch(/is not an address/)
    expect(badInput(() => parseInput({ addr: webrtc, code: '123-4567' }))).toMatch(/11 digits/)
    expect(badInput(() => parseInput({ addr: 'ferry://pair?v=1&code=1', code: '' }))).toMatch(/not a Ferry pairing QR code/)
  })

  it('explains failures to a person', () => {
    expect(explain(new FerryError(ErrorCode.WRONG_CODE, 'x'))).toMatch(/^Wrong code/)
    // The browser's own count of the code's tries, as the service reports it.
    expect(explain(new FerryError(ErrorCode.WRONG_CODE, 'x', { triesLeft: 2 }))).toMatch(/2 tries of this code left here; after that typing no longer pairs, but scanning .* QR code still does/)
    expect(explain(new FerryError(ErrorCode.WRONG_CODE, 'x', { triesLeft: 1 }))).toMatch(/One try of this code left here/)
    expect(explain(new FerryError(ErrorCode.WRONG_CODE, 'x', { triesLeft: 0 }))).toMatch(/cannot be typed here again: ask for a new one, but scanning .* QR code still does/)
    // The link went as the phones checked the code: a try spent without a wrong code seen, said as such.
    expect(explain(new FerryError(ErrorCode.WRONG_CODE, 'x', { triesLeft: 2, linkDropped: true })))
      .toBe('The link to the old phone dropped while the phones were checking the code, and that counted as one try of it. ' +
        '2 tries of this code left here: check its digits against the old phone\'s and try again, or scan the old phone\'s QR code, which is not counted.')
    expect(explain(new FerryError(ErrorCode.WRONG_CODE, 'x', { triesLeft: 1, linkDropped: true }))).toMatch(/one try of it\. One try of this code left here: check its digits against the old phone's and try again/)
    expect(explain(new FerryError(ErrorCode.WRONG_CODE, 'x', { triesLeft: 0, linkDropped: true })))
      .toMatch(/one try of it\. This code cannot be typed here again: ask for a new one, or scan the old phone's QR code, which is not counted\.$/)
    // Typed after three wrong tries: the QR code still pairs, and the person is told so first.
    expect(explain(new FerryError(ErrorCode.CODE_EXPIRED, 'x'))).toMatch(/^Typing this code no longer pairs.*Scan the QR code the old phone shows/)
    // The QR code's key was tried too: only a new code helps.
    expect(explain(new FerryError(ErrorCode.CODE_EXPIRED, 'x'), { qr: true })).toMatch(/^The old phone's code is no longer valid.*Start ferry send there again/)
    // A browser that lost the code to another phone at its confirmation is told that, not a guess at why.
    expect(explain(new FerryError(ErrorCode.CODE_EXPIRED, 'x', { from: 'sender', state: 'used' }))).toMatch(/^This code has already paired another phone\. Ask for a new code/)
    // This browser spent the code's tries itself (someone may pose as the old phone): said so, the QR code first.
    expect(explain(new FerryError(ErrorCode.CODE_EXPIRED, 'x', { from: 'receiver', state: 'tried', tried: 3 })))
      .toMatch(/^This browser tried this code three times without pairing.*posing as the old phone.*Scan the QR code the old phone shows/)
    // Lost mid-transfer with the pairing kept: nothing is lost, and the old phone started again carries on.
    expect(explain(new FerryError(ErrorCode.NO_PEER, 'cannot reach the other phone at /ip4/…'), { resumable: true }))
      .toBe('The old phone stopped answering. What arrived is kept in this browser: start ferry send on the old phone again (no new code is needed), then reload this page to carry on.')
    // The old phone stopped sending with the pairing kept: the same, not a new code to ask for.
    expect(explain(new FerryError(ErrorCode.CANCELLED, 'the old phone stopped sending its history. ...', { from: 'sender' }), { resumable: true }))
      .toBe('The old phone stopped sending. What arrived is kept in this browser: start ferry send on the old phone again (no new code is needed), then reload this page to carry on.')
    expect(explain(new FerryError(ErrorCode.CANCELLED, 'pairing: the old phone cancelled the pairing', { from: 'sender' })))
      .toBe('The old phone cancelled the transfer. Start ferry send there again for a new code, then receive it here.')
    // Out of room mid-transfer: what arrived is kept, and the person is told what to free and how to go on.
    expect(explain(new FerryError(ErrorCode.STORE_FULL, 'writing the journal: QuotaExceededError'), { resumable: true }))
      .toBe('This browser has no room left for the history (its storage quota). What arrived is kept in this browser: free space on this device, or let this site store more, then start ferry send on the old phone again (no new code is needed) and reload this page to carry on.')
    expect(explain(new FerryError(ErrorCode.STORE_FULL, 'not enough free space')))
      .toBe('This browser has no room left for the history (its storage quota): free space on this device, or let this site store more, then pair again.')
    // Before anything was reached: a sentence a person understands, not libp2p's text of each dial.
    const unreached = new FerryError(ErrorCode.NO_PEER, 'cannot reach the other phone at /ip4/127.0.0.1/udp/9/webrtc-direct: The operation was aborted')
    expect(explain(unreached)).toBe('Cannot reach the old phone. Is ferry send still running there, with --web or --transport webrtc, and is this device on the same network?')
    expect(explain(new FerryError(ErrorCode.DIGEST_MISMATCH, 'conversation c1 differs'))).toBe('The transfer stopped: conversation c1 differs [DIGEST_MISMATCH]')
    // Only a neighbour refusing the code unchecked, or cutting the pairing, answered: not a wrong code to
    // check, and the QR code, which names the old phone, pairs past it (the library leaves that to the page).
    const refused = 'pairing: a phone showing this code\'s first three digits refused the code before checking it ...: someone nearby may be refusing in its place'
    expect(explain(new FerryError(ErrorCode.WRONG_CODE, refused, { triesLeft: 3, unproved: true, setAside: 1 })))
      .toBe(`The transfer stopped: ${refused}. Scanning the old phone's QR code, which names it, pairs all the same. [WRONG_CODE]`)
    const cut = 'pairing: the phone showing this code\'s first three digits cut the pairing off 4 times ...: someone nearby may be cutting in its place'
    expect(explain(new FerryError(ErrorCode.TRUNCATED, cut, { unproved: true, cut: true, cuts: 4, phones: 1 })))
      .toBe(`The transfer stopped: ${cut}. Scanning the old phone's QR code, which names it, pairs all the same. [TRUNCATED]`)
  })

  it('says an old phone that sent what breaks the protocol stopped the transfer, in words, keeping the details out', () => {
    const lied = 'The old phone sent something this browser cannot accept, and the transfer stopped; what was verified before stays in this browser. ' +
      'Try again; if it happens again, the old phone\'s Ferry may be damaged or not genuine.'
    const raw = 'media ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff chunk at 0, expected 67108864'
    for (const code of [ErrorCode.ORDER, ErrorCode.SIZE_MISMATCH, ErrorCode.COUNT_MISMATCH, ErrorCode.MALFORMED_FRAME, ErrorCode.FRAME_TOO_LARGE, ErrorCode.PROTOCOL, ErrorCode.SELECTION]) {
      expect(explain(new FerryError(code, raw), { resumable: true }), code).toBe(lied)
    }
    // A count that differs because a message this browser wrote was changed here meanwhile is not the old phone's doing.
    expect(explain(new FerryError(ErrorCode.COUNT_MISMATCH, 'c1: 3 messages, expected 4', { changedHere: true, messageId: 'm1' }))).toBe('The transfer stopped: c1: 3 messages, expected 4 [COUNT_MISMATCH]')
  })

  it('says a link whose code the old phone no longer shows is from an earlier ferry send, not that a code was wrong', () => {
    const stale = new FerryError(ErrorCode.WRONG_CODE, 'pairing: wrong code', { from: 'sender' })
    expect(explain(stale, { qr: true })).toBe('This link is from an earlier ferry send: the old phone was started again since, and shows a new code now. Scan its new QR code, or type the code it shows.')
    // The person typed the code (the link's own, its key kept): a wrong code of theirs, with the QR code still open to them.
    expect(explain(stale, { qr: true, typed: true })).toMatch(/^Wrong code/)
    expect(explain(stale)).toMatch(/^Wrong code/)
  })

  it('says what to do in a browser that lacks WebRTC or lets the page store nothing', () => {
    expect(explain(new FerryError(ErrorCode.NO_PEER, 'RTCPeerConnection is not defined', { reason: 'no-webrtc' })))
      .toBe('This browser cannot reach the old phone: WebRTC is turned off or not supported here, and the browser phone needs it. ' +
        'Open this page in another browser (a current Chrome, Firefox or Safari with WebRTC on), or receive on a computer with ferry receive.')
    expect(explain(new FerryError(ErrorCode.STORE, 'this browser refuses IndexedDB here', { reason: 'no-storage' })))
      .toBe('This browser does not let the page store data here (a private window, or storage blocked for this site), so it cannot receive a history. ' +
        'Allow storage for this site, or open the page in a normal window.')
    // A tab whose lease another tab took over stops; that tab receives now.
    expect(explain(takenOver())).toBe('Another tab of this browser took over receiving the history, so this tab stopped and writes nothing more. ' +
      'Nothing that arrived is lost: follow the transfer in the other tab, and reload this one once it is done to see the history here.')
    // Any other store failure keeps its own words.
    expect(explain(new FerryError(ErrorCode.STORE, 'writing the journal: closed'))).toBe('The transfer stopped: writing the journal: closed [STORE]')
  })
})

describe('a link\'s old phone', () => {
  it('is the peer its ferry://pair payload names, and none for anything else', () => {
    expect(peerOfLink(buildQrPayload({ code: parseCode('123-4567-8901'), peerId: peer, addrs: [webrtc] }))).toBe(peer)
    expect(peerOfLink('ferry://pair?v=1&code=nope')).toBeUndefined()
    expect(peerOfLink(webrtc)).toBeUndefined()
  })
})

describe('the time left', () => {
  it('is said in seconds, minutes and hours, and … when there is no estimate', () => {
    expect(formatDuration(42.4)).toBe('42 s')
    expect(formatDuration(125)).toBe('2 min 5 s')
    expect(formatDuration(Infinity)).toBe('…')
  })
})
