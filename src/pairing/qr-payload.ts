import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { ErrorCode, FerryError } from '../errors.js'
import { formatCode, parseCode, QR_KEY_BYTES, type PairingCode } from './code.js'

// The QR payload the sender shows next to its code, so the receiver skips typing and discovery:
//
//   ferry://pair?v=2&code=123-4567-8901&key=<22 characters>&peer=<peer id>&addr=<multiaddr>...
//
// Fields in that order, each once except `addr` (0..8 times; none means "find me by mDNS"). `key` is
// the QR code's own 16 random bytes (base64url, no padding): a phone that scans pairs with it outside
// the three guesses a typed code has, so no neighbour can burn its way in front of it (attempts.ts).
// Version 1 is the same without `key`, still read (its scanner pairs as one that typed the code). An addr
// is TCP (/ip4/../tcp/N/p2p/..) or WebRTC (/ip4/../udp/N/webrtc-direct/certhash/../p2p/..), the only
// kind a browser phone can dial; `ferry send --transport auto` offers both (src/net/transports.ts).
// Values are percent-encoded (RFC 3986 query component) except `/` and `:`, which a query may hold
// as they are, so multiaddrs stay readable and the QR small. The payload carries the SECRET part of
// the code and the key: it is as sensitive as the code on screen; never log it.
//
// Parsing is strict, and everything it returns is canonical: exactly this scheme and host, no
// fragment, no unknown or repeated keys, the code in its `NNN-NNNN-NNNN` form, a peer id that
// @libp2p/peer-id reads and writes back unchanged, multiaddrs that @multiformats/multiaddr reads and
// writes back unchanged, and any /p2p/ component naming that same peer. Errors are BAD_INPUT, or
// VERSION for a payload from a newer Ferry, whatever parameters it adds. (A v1 Ferry refused unknown
// parameters before it read the version: it calls a v2 payload "not a Ferry pairing QR code: unknown
// parameter "key"". Its user can still type the code.)

export const QR_VERSION = 2
export const MAX_QR_ADDRS = 8
export const MAX_QR_PAYLOAD = 2048
const PREFIX = 'ferry://pair?'

export interface QrPayload {
  code: PairingCode
  /** The QR code's key (16 bytes); absent in a version 1 payload. */
  key?: Uint8Array
  /** The sender's libp2p peer id (canonical string). */
  peerId: string
  /** Where the sender listens (canonical multiaddr strings). */
  addrs: string[]
}

const bad = (why: string): FerryError => new FerryError(ErrorCode.BAD_INPUT, `not a Ferry pairing QR code: ${why}`)

function encodeValue (v: string): string {
  return encodeURIComponent(v).replace(/%2F/g, '/').replace(/%3A/g, ':')
}

function checkPeerId (s: string): string {
  let id
  try {
    id = peerIdFromString(s)
  } catch {
    throw bad('the peer id is not valid')
  }
  if (id.type !== 'Ed25519' && id.type !== 'secp256k1' && id.type !== 'RSA') throw bad('the peer id is not a key-based peer id')
  if (id.toString() !== s) throw bad('the peer id is not in canonical form')
  return s
}

function checkAddr (s: string, peerId: string): string {
  let ma
  try {
    ma = multiaddr(s)
  } catch {
    throw bad(`address ${JSON.stringify(s)} is not a multiaddr`)
  }
  if (ma.toString() !== s) throw bad(`address ${JSON.stringify(s)} is not in canonical form`)
  for (const c of ma.getComponents()) {
    if (c.name === 'p2p' && c.value !== peerId) throw bad(`address ${JSON.stringify(s)} names another peer`)
  }
  return s
}

const B64URL = /^[A-Za-z0-9_-]{22}$/

function encodeKey (key: Uint8Array): string {
  if (!(key instanceof Uint8Array) || key.length !== QR_KEY_BYTES) throw bad(`the key is not ${QR_KEY_BYTES} bytes`)
  return btoa(String.fromCharCode(...key)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

function decodeKey (s: string): Uint8Array {
  if (!B64URL.test(s)) throw bad(`the key is not ${QR_KEY_BYTES} bytes in base64url`)
  const key = Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/') + '=='), c => c.charCodeAt(0))
  // 22 characters hold 132 bits: the last 4 must be zero, or two spellings would name one key.
  if (encodeKey(key) !== s) throw bad('the key is not in canonical form')
  return key
}

function checkCode (s: string): PairingCode {
  if (!/^[0-9]{3}-[0-9]{4}-[0-9]{4}$/.test(s)) throw bad('the code is not NNN-NNNN-NNNN')
  return parseCode(s)
}

/** Builds the payload; validates like parseQrPayload, so what it builds always parses back. */
export function buildQrPayload (p: QrPayload): string {
  const code = formatCode(p.code)
  checkPeerId(p.peerId)
  if (p.addrs.length > MAX_QR_ADDRS) throw bad(`at most ${MAX_QR_ADDRS} addresses`)
  const parts = p.key === undefined
    ? ['v=1', `code=${code}`, `peer=${encodeValue(p.peerId)}`]
    : [`v=${QR_VERSION}`, `code=${code}`, `key=${encodeKey(p.key)}`, `peer=${encodeValue(p.peerId)}`]
  for (const a of p.addrs) parts.push(`addr=${encodeValue(checkAddr(a, p.peerId))}`)
  const out = PREFIX + parts.join('&')
  if (out.length > MAX_QR_PAYLOAD) throw bad('too long for a QR code')
  return out
}

export function parseQrPayload (input: string): QrPayload {
  if (typeof input !== 'string') throw bad('not text')
  const text = input.trim()
  if (text.length > MAX_QR_PAYLOAD) throw bad('too long')
  // Scheme and host are case-insensitive in URLs (and some scanners upper-case them); nothing else is.
  if (text.slice(0, PREFIX.length).toLowerCase() !== PREFIX) throw bad(`it does not start with ${PREFIX}`)
  const query = text.slice(PREFIX.length)
  if (query.includes('#')) throw bad('it has a fragment')
  const seen = new Map<string, string[]>()
  const order = ['v', 'code', 'key', 'peer', 'addr']
  let last = -1
  // Refused only once the version is known: a newer Ferry's parameters mean "update", not "not Ferry".
  let unknown: string | undefined
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=')
    if (eq <= 0) throw bad('a parameter has no name or no value')
    const key = pair.slice(0, eq)
    const rank = order.indexOf(key)
    if (rank < 0) {
      unknown ??= key
      continue
    }
    if (rank < last || (rank === last && key !== 'addr')) throw bad(`parameter ${key} repeated or out of order`)
    last = rank
    let value: string
    try {
      value = decodeURIComponent(pair.slice(eq + 1))
    } catch {
      throw bad(`parameter ${key} is not percent-encoded correctly`)
    }
    const list = seen.get(key) ?? []
    list.push(value)
    seen.set(key, list)
  }
  const one = (key: string): string => {
    const v = seen.get(key)
    if (v === undefined) throw bad(`parameter ${key} is missing`)
    return v[0]
  }
  const v = one('v')
  if (!/^[1-9][0-9]{0,3}$/.test(v)) throw bad('the version is not a number')
  if (Number(v) > QR_VERSION) {
    throw new FerryError(ErrorCode.VERSION, `this pairing QR code is version ${v}; this Ferry reads up to version ${QR_VERSION}: update Ferry`)
  }
  if (unknown !== undefined) throw bad(`unknown parameter ${JSON.stringify(unknown.slice(0, 32))}`)
  const code = checkCode(one('code'))
  if (Number(v) === 1 && seen.has('key')) throw bad('a version 1 payload has no key')
  const key = Number(v) === 1 ? undefined : decodeKey(one('key'))
  const peerId = checkPeerId(one('peer'))
  const addrs = seen.get('addr') ?? []
  if (addrs.length > MAX_QR_ADDRS) throw bad(`more than ${MAX_QR_ADDRS} addresses`)
  return { code, ...(key !== undefined ? { key } : {}), peerId, addrs: addrs.map((a) => checkAddr(a, peerId)) }
}

/**
 * The ferry://pair payload in what a QR code of the old phone holds: the payload itself, or the link of
 * `ferry send --web` (http://ADDRESS:PORT/#ferry://pair?...), whose fragment is the payload (as written,
 * or percent-encoded whole by whatever passed the link on). Anything else is returned unchanged, for
 * parseQrPayload to refuse with its reason.
 */
export function payloadOf (scanned: string): string {
  const text = scanned.trim()
  if (!/^https?:\/\//i.test(text)) return text
  const hash = text.indexOf('#')
  if (hash < 0) return text
  const fragment = text.slice(hash + 1)
  if (fragment.toLowerCase().startsWith(PREFIX)) return fragment
  try {
    return decodeURIComponent(fragment)
  } catch {
    return text
  }
}

/**
 * The QR code's key for a pairing with `code`: only with the QR code's own code, as a code typed over it
 * is another pairing.
 */
export function qrKeyFor (qr: QrPayload | undefined, code: PairingCode | undefined): Uint8Array | undefined {
  return qr !== undefined && code !== undefined && formatCode(qr.code) === formatCode(code) ? qr.key : undefined
}

/**
 * The payload's addresses as a receiver dials them: each names the sender's peer id, so the connection
 * is to that phone or fails (an address in the QR may leave it out to stay short).
 */
export function qrDialAddrs (p: QrPayload): string[] {
  return p.addrs.map(a => a.includes('/p2p/') ? a : `${a}/p2p/${p.peerId}`)
}
