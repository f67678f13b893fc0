import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { beforeAll, describe, expect, it } from 'vitest'
import { ErrorCode, isFerryError } from '../../src/errors.js'
import { parseCode } from '../../src/pairing/code.js'
import { buildQrPayload, parseQrPayload, payloadOf, type QrPayload } from '../../src/pairing/qr-payload.js'

let peer: string
let other: string
let payload: QrPayload

beforeAll(async () => {
  peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  other = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  payload = {
    code: parseCode('123-4567-8901'),
    peerId: peer,
    addrs: ['/ip4/192.168.1.20/tcp/40123', `/ip6/fe80::1/tcp/40123/p2p/${peer}`, '/dns4/phone.local/tcp/1/ws']
  }
})

function rejects (input: string, code: string = ErrorCode.BAD_INPUT): string {
  try {
    parseQrPayload(input)
  } catch (err) {
    expect(isFerryError(err), String(err)).toBe(true)
    expect((err as { code: string }).code, (err as Error).message).toBe(code)
    return (err as Error).message
  }
  throw new Error(`accepted: ${input}`)
}

describe('QR payload', () => {
  it('round-trips', () => {
    const s = buildQrPayload(payload)
    expect(s).toBe(`ferry://pair?v=1&code=123-4567-8901&peer=${peer}&addr=/ip4/192.168.1.20/tcp/40123` +
      `&addr=/ip6/fe80::1/tcp/40123/p2p/${peer}&addr=/dns4/phone.local/tcp/1/ws`)
    expect(parseQrPayload(s)).toEqual(payload)
    expect(parseQrPayload(buildQrPayload({ ...payload, addrs: [] }))).toEqual({ ...payload, addrs: [] })
  })

  it('is URL-safe: only unreserved characters, "/", ":", "=", "&", "?", "%"', () => {
    const s = buildQrPayload(payload)
    expect(s).toMatch(/^[A-Za-z0-9\-._~/:?=&%]+$/)
    expect(new URL(s).protocol).toBe('ferry:')
  })

  it('accepts percent-encoded slashes, surrounding whitespace and an upper-case scheme', () => {
    const s = buildQrPayload(payload)
    expect(parseQrPayload(s.replace(/\//g, (m, i: number) => (i > 12 ? '%2F' : m)))).toEqual(payload)
    expect(parseQrPayload(`  ${s}\n`)).toEqual(payload)
    expect(parseQrPayload('FERRY://PAIR?' + s.slice('ferry://pair?'.length))).toEqual(payload)
  })

  it('finds the payload in the link of ferry send --web, as written or percent-encoded whole', () => {
    const qr = buildQrPayload(payload)
    expect(parseQrPayload(payloadOf(`http://192.168.1.20:24760/#${qr}`))).toEqual(payload)
    expect(parseQrPayload(payloadOf(` HTTP://[fd00::20]:24760/#${encodeURIComponent(qr)}\n`))).toEqual(payload)
    expect(payloadOf(qr)).toBe(qr)
    // A link without a payload is left for parseQrPayload to refuse, with its reason.
    expect(() => parseQrPayload(payloadOf('http://192.168.1.20:24760/'))).toThrow(/does not start with ferry:\/\/pair\?/)
    expect(() => parseQrPayload(payloadOf('http://192.168.1.20:24760/#%E0%A4%A'))).toThrow(/does not start with ferry:\/\/pair\?/)
  })

  it('rejects malformed payloads with clear errors', () => {
    const ok = buildQrPayload({ ...payload, addrs: ['/ip4/10.0.0.2/tcp/1'] })
    const q = ok.slice('ferry://pair?'.length)
    expect(rejects('https://example.com/?v=1')).toMatch(/does not start with ferry:\/\/pair\?/)
    expect(rejects('ferry://pair?')).toMatch(/no name or no value/)
    expect(rejects(`ferry://pairs?${q}`)).toMatch(/does not start with ferry:\/\/pair\?/)
    expect(rejects(`${ok}#frag`)).toMatch(/fragment/)
    expect(rejects(`${ok}&x=1`)).toMatch(/unknown parameter "x"/)
    expect(rejects(`${ok}&`)).toMatch(/no name/)
    expect(rejects(ok.replace('v=1&', ''))).toMatch(/v is missing/)
    expect(rejects(ok.replace('v=1', 'v=x'))).toMatch(/version is not a number/)
    expect(rejects(ok.replace('v=1', 'v=3'), ErrorCode.VERSION)).toMatch(/update Ferry/)
    // Version 2 carries the QR code's key, and only version 2 does.
    expect(rejects(ok.replace('v=1', 'v=2'))).toMatch(/key is missing/)
    expect(rejects(ok.replace('code=123-4567-8901&', `code=123-4567-8901&key=${'A'.repeat(22)}&`))).toMatch(/version 1 payload has no key/)
    expect(rejects(ok.replace('v=1&', 'v=1&v=1&'))).toMatch(/repeated or out of order/)
    expect(rejects(ok.replace(`code=123-4567-8901&peer=${peer}`, `peer=${peer}&code=123-4567-8901`))).toMatch(/out of order/)
    expect(rejects(ok.replace('code=123-4567-8901&', ''))).toMatch(/code is missing/)
    expect(rejects(ok.replace('123-4567-8901', '12345678901'))).toMatch(/NNN-NNNN-NNNN/)
    expect(rejects(ok.replace('123-4567-8901', '123-4567-890'))).toMatch(/NNN-NNNN-NNNN/)
    expect(rejects(ok.replace(`peer=${peer}&`, ''))).toMatch(/peer is missing/)
    expect(rejects(ok.replace(peer, peer.slice(0, -2)))).toMatch(/peer id is not valid/)
    expect(rejects(ok.replace(peer, 'QmNotAPeer'))).toMatch(/peer id is not valid/)
    expect(rejects(ok.replace('/ip4/10.0.0.2/tcp/1', '/ip4/300.0.0.2/tcp/1'))).toMatch(/not a multiaddr/)
    expect(rejects(ok.replace('/ip4/10.0.0.2/tcp/1', '/ip4/10.0.0.2/tcp/1/'))).toMatch(/canonical/)
    expect(rejects(ok.replace('/ip4/10.0.0.2/tcp/1', `/ip4/10.0.0.2/tcp/1/p2p/${other}`))).toMatch(/another peer/)
    expect(rejects(ok.replace('code=', 'code=%E0%A4'))).toMatch(/percent-encoded/)
    expect(rejects(ok + '&addr=/ip4/10.0.0.3/tcp/1'.repeat(8))).toMatch(/more than 8/)
    expect(rejects(ok + '&addr=' + 'a'.repeat(3000))).toMatch(/too long/)
    expect(rejects(42 as unknown as string)).toMatch(/not text/)
  })

  it('a payload from a newer Ferry says update Ferry, even when it brings parameters this one does not know', () => {
    // The v1 parser refused an unknown parameter before it read the version, so a v1 Ferry reads this
    // release's key= as "not a Ferry pairing QR code". A newer version will add parameters too.
    const s = buildQrPayload({ ...payload, key: new Uint8Array(16), addrs: ['/ip4/10.0.0.2/tcp/1'] })
    expect(rejects(s.replace('v=2', 'v=3').replace('&peer=', '&relay=%2Fdns4%2Fx&peer='), ErrorCode.VERSION)).toMatch(/version 3.*update Ferry/)
    expect(rejects(`${s.replace('v=2', 'v=3')}&ttl=600`, ErrorCode.VERSION)).toMatch(/update Ferry/)
    // This version's own payloads still refuse what they do not know.
    expect(rejects(`${s}&ttl=600`)).toMatch(/unknown parameter "ttl"/)
  })

  it('carries the QR code\'s key in version 2: 16 bytes, base64url, one spelling each', () => {
    const key = Uint8Array.from({ length: 16 }, (_, i) => i * 17 + 3)
    const s = buildQrPayload({ ...payload, key })
    expect(s).toMatch(/^ferry:\/\/pair\?v=2&code=123-4567-8901&key=[A-Za-z0-9_-]{22}&peer=/)
    expect(parseQrPayload(s)).toEqual({ ...payload, key })
    expect(s).toMatch(/^[A-Za-z0-9\-._~/:?=&%]+$/)
    const at = s.indexOf('key=') + 4
    const spelled = s.slice(at, at + 22)
    expect(rejects(s.replace(`key=${spelled}`, `key=${spelled.slice(0, 21)}`))).toMatch(/16 bytes/)
    expect(rejects(s.replace(`key=${spelled}`, `key=${spelled.slice(0, 21)}+`))).toMatch(/16 bytes/)
    // The last character holds 4 bits beyond the 128: a spelling with them set names the same key.
    const last = 'AQgw'.indexOf(spelled[21]) >= 0 ? spelled.slice(0, 21) + 'B' : spelled.slice(0, 21) + 'A'
    if (last !== spelled) expect(rejects(s.replace(`key=${spelled}`, `key=${last}`))).toMatch(/16 bytes|canonical/)
    expect(rejects(s.replace(`&key=${spelled}`, ''))).toMatch(/key is missing/)
    expect(() => buildQrPayload({ ...payload, key: new Uint8Array(15) })).toThrow(/16 bytes/)
  })

  it('a CIDv1 spelling of the peer id is refused as non-canonical', async () => {
    const { peerIdFromString } = await import('@libp2p/peer-id')
    const cid = peerIdFromString(peer).toCID().toString()
    const ok = buildQrPayload({ ...payload, addrs: [] })
    expect(rejects(ok.replace(peer, cid))).toMatch(/canonical/)
  })

  it('refuses to build what it would not parse', () => {
    expect(() => buildQrPayload({ ...payload, peerId: 'nope' })).toThrow(/peer id/)
    expect(() => buildQrPayload({ ...payload, addrs: ['not-an-addr'] })).toThrow(/multiaddr/)
    expect(() => buildQrPayload({ ...payload, addrs: new Array(9).fill('/ip4/1.2.3.4/tcp/1') })).toThrow(/at most 8/)
    expect(() => buildQrPayload({ ...payload, code: { nameplate: '1', secret: '2' } })).toThrow()
  })
})
