// Which transports a phone uses: TCP (LAN, fastest), WebRTC (webrtc-direct: what a browser phone can
// dial, and a way through where only UDP gets through), or both ('auto').
//
// The sender listens on what it was told and offers all of it (QR payload, mDNS, `code` event). The
// receiver dials only what its choice allows: 'tcp' and 'webrtc' keep their own kind of address;
// 'auto' takes TCP first and WebRTC only when no TCP address works (libp2p dials a peer's addresses
// one after another in the order given, see the address sorter in node.ts).
import { tcp } from '@libp2p/tcp'
import type { Libp2pOptions } from 'libp2p'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { ErrorCode, FerryError } from '../errors.js'
import { turnParts } from './turn-url.js'
import { loadWebRTC } from './webrtc-package.js'

export type TransportChoice = 'tcp' | 'webrtc' | 'auto'
export type TransportKind = 'tcp' | 'webrtc'
export const TRANSPORT_CHOICES: readonly TransportChoice[] = ['tcp', 'webrtc', 'auto']

/** Listen address for each kind, on every interface; the CLI swaps in 127.0.0.1 with --listen. */
export const LISTEN_ANY: Record<TransportKind, string> = {
  tcp: '/ip4/0.0.0.0/tcp/0',
  webrtc: '/ip4/0.0.0.0/udp/0/webrtc-direct'
}

export function parseTransport (v: string | undefined, fallback: TransportChoice = 'tcp'): TransportChoice {
  if (v === undefined) return fallback
  return checkTransport(v, '--transport')
}

/**
 * The transport an app chose, checked as it comes in: the type allows three values, but a JavaScript
 * caller may pass anything, and an unknown one would surface later as a listen address of `undefined`.
 */
export function checkTransport (v: unknown, what = 'transport'): TransportChoice {
  if ((TRANSPORT_CHOICES as readonly unknown[]).includes(v)) return v as TransportChoice
  const given = typeof v === 'string' ? `'${v}'` : (typeof v === 'object' && v !== null) || typeof v === 'function' ? `an ${typeof v}` : String(v)
  throw new FerryError(ErrorCode.BAD_INPUT, `${what} wants one of ${TRANSPORT_CHOICES.join(', ')}, got ${given}`)
}

export function kindsOf (choice: TransportChoice): TransportKind[] {
  return choice === 'auto' ? ['tcp', 'webrtc'] : [choice]
}

/** The choice that covers the kinds of `addrs` (a pairing record's), or undefined when it has none Ferry knows. */
export function choiceCovering (addrs: string[]): TransportChoice | undefined {
  const kinds = new Set(addrs.map(a => kindOf(a)))
  if (kinds.has('tcp') && kinds.has('webrtc')) return 'auto'
  return kinds.has('webrtc') ? 'webrtc' : kinds.has('tcp') ? 'tcp' : undefined
}

/**
 * The kind of transport an address is for, or undefined for one Ferry cannot dial (websockets, QUIC,
 * relayed /webrtc, ...). Plain TCP only: /tcp/../ws is a different transport.
 */
export function kindOf (ma: Multiaddr | string): TransportKind | undefined {
  const names = (typeof ma === 'string' ? multiaddr(ma) : ma).getComponents().map(c => c.name)
  if (names.includes('webrtc-direct') && names.includes('udp')) return 'webrtc'
  const stacked = ['ws', 'wss', 'tls', 'http', 'https', 'webtransport', 'p2p-circuit', 'webrtc', 'quic', 'quic-v1', 'udp']
  if (names.includes('tcp') && !names.some(n => stacked.includes(n))) return 'tcp'
  return undefined
}

/** Where a sender listens by default for a choice; a receiver listens on TCP unless it is WebRTC-only (it only dials). */
export function defaultListen (choice: TransportChoice, role: 'sender' | 'receiver'): string[] {
  checkTransport(choice)
  if (role === 'receiver') return choice === 'webrtc' ? [] : [LISTEN_ANY.tcp]
  return kindsOf(choice).map(k => LISTEN_ANY[k])
}

/** The kinds a node needs: those it may dial, and those its listen addresses are for. */
export function kindsNeeded (choice: TransportChoice, listen: string[]): TransportKind[] {
  const kinds = new Set(kindsOf(choice))
  for (const a of listen) {
    const names = multiaddr(a).getComponents().map(c => c.name)
    if (names.includes('webrtc-direct')) kinds.add('webrtc')
    else if (names.includes('tcp')) kinds.add('tcp')
  }
  return (['tcp', 'webrtc'] as const).filter(k => kinds.has(k))
}

/**
 * The addresses to dial for a choice, in dialling order: the caller's order within a kind, TCP
 * before WebRTC for 'auto'. Throws NO_PEER with the reason when the other phone offers nothing this
 * choice can dial (e.g. a TCP-only receiver shown a WebRTC-only QR code).
 */
export function addressesToDial (addrs: Multiaddr[], choice: TransportChoice): Multiaddr[] {
  const kinds = kindsOf(choice)
  const out = kinds.flatMap(k => addrs.filter(a => kindOf(a) === k))
  if (out.length === 0 && addrs.length > 0) {
    const offered = [...new Set(addrs.map(a => kindOf(a) ?? 'unsupported'))]
    const hint = offered.includes('webrtc') ? ': run ferry receive with --transport webrtc or auto'
      : offered.includes('tcp') ? ': run ferry receive with --transport tcp or auto' : ''
    throw new FerryError(ErrorCode.NO_PEER,
      `the other phone offers only ${offered.join(' and ')} addresses and this phone dials ${choice === 'auto' ? 'tcp or webrtc' : choice} only${hint}`,
      { offered: addrs.map(String) })
  }
  return out
}

/**
 * At most `max` addresses for the QR payload, best first within each kind, alternating kinds so a
 * phone with many interfaces still offers every transport it listens on.
 */
export function pickOffered (addrs: string[], max: number): string[] {
  const byKind = new Map<string, string[]>()
  for (const a of addrs) {
    const k = kindOf(a) ?? 'other'
    byKind.set(k, [...(byKind.get(k) ?? []), a])
  }
  const lists = [...byKind.values()]
  const out: string[] = []
  for (let i = 0; out.length < max && lists.some(l => i < l.length); i++) {
    for (const l of lists) if (i < l.length && out.length < max) out.push(l[i])
  }
  return out
}

export interface TransportOptions {
  /** Kinds to build (kindsNeeded). */
  kinds: TransportKind[]
  /** Store directory: the webrtc-direct certificate is kept there; without one it is new each start. */
  dir?: string
  /**
   * STUN/TURN servers for WebRTC. None by default: webrtc-direct between phones on one network needs
   * none, and with the library default every connection would query public STUN servers.
   */
  iceServers?: RTCIceServer[]
  /** A pairing is under way: keep an expiring webrtc-direct certificate, whose hash the peer saved. */
  keepCertificate?: boolean
}

type TransportFactory = NonNullable<Libp2pOptions['transports']>[number]

/**
 * The libp2p transport factories for `kinds`. WebRTC (a native module, and an optional package:
 * webrtc-package.ts) is loaded only when asked for.
 */
export async function buildTransports (o: TransportOptions): Promise<TransportFactory[]> {
  const out: TransportFactory[] = []
  if (o.kinds.includes('tcp')) {
    out.push(tcp({
      // Wi-Fi stalls of tens of seconds are normal when a phone roams; 10 min of silence is not.
      inboundSocketInactivityTimeout: 10 * 60_000,
      outboundSocketInactivityTimeout: 10 * 60_000,
      maxConnections: 32
    }))
  }
  if (o.kinds.includes('webrtc')) {
    const { webRTCDirect } = await loadWebRTC()
    // Before the listener binds its UDP port: the native libraries would print a failure on stdout.
    const { routeNativeWebRTCLogs } = await import('./webrtc-native-log.js')
    await routeNativeWebRTCLogs()
    const { loadOrCreateCertificate } = await import('./webrtc-cert.js')
    const certificate = o.dir !== undefined ? await loadOrCreateCertificate(o.dir, o.keepCertificate === true) : undefined
    out.push(webRTCDirect({
      certificate,
      rtcConfiguration: { iceServers: o.iceServers ?? [] }
    }))
  }
  return out
}

/** Parses `--ice-servers stun:host:3478,turn:user:pass@host:3478` into RTCIceServer entries. */
export function parseIceServers (v: string | undefined): RTCIceServer[] {
  if (v === undefined || v.trim() === '') return []
  return v.split(',').map(s => s.trim()).map(url => {
    const t = turnParts(url)
    if (t !== undefined) {
      // The mark ferry prints in place of a TURN password (src/cli/secret-words.ts): a line pasted as
      // printed says what to put back rather than fail the TURN server's login later, unexplained.
      if (t.password === '***') {
        throw new FerryError(ErrorCode.BAD_INPUT, `--ice-servers: the password of '${t.scheme}:${t.user}:***@${t.server}' is the mark ferry prints in its place: put the TURN server's password there`)
      }
      try {
        return { urls: `${t.scheme}:${t.server}`, username: decodeURIComponent(t.user), credential: decodeURIComponent(t.password) }
      } catch {
        throw new FerryError(ErrorCode.BAD_INPUT, `--ice-servers: the user and password of '${t.scheme}:…@${t.server}' are not percent-encoded correctly (write % as %25)`)
      }
    }
    if (!/^(stun|turns?):[^\s]+$/.test(url)) {
      throw new FerryError(ErrorCode.BAD_INPUT, `--ice-servers wants stun:HOST:PORT or turn:USER:PASS@HOST:PORT entries, got '${url}'`)
    }
    return { urls: url }
  })
}
