import '../polyfill.js'
import { identify, type Identify } from '@libp2p/identify'
import type { AddressSorter, ComponentLogger, Libp2p, PeerId, PeerInfo, PrivateKey, ServiceMap } from '@libp2p/interface'
import { mdns } from '@libp2p/mdns'
import { loopbackAddressLast, publicAddressesFirst, reliableTransportsFirst } from '@libp2p/utils'
import { yamux } from '@libp2p/yamux'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { logger } from '@libp2p/logger'
import { createLibp2p, type AddressFilter, type Libp2pOptions, type ServiceFactoryMap } from 'libp2p'
import { ErrorCode, FerryError } from '../errors.js'
import { hostOf, lanAnnounceFilter } from './addresses.js'
import { selfAssignedAddresses } from './subnets.js'
import { clearAddressWriteOnStop } from './address-write-timer.js'
import { assertMdnsAllowed } from './lan-guard.js'
import { appError } from './app-handler.js'
import { nodeNoise } from './noise-decrypt.js'
import { loadOrCreatePeerKey } from './peer-key.js'
import { buildTransports, checkTransport, defaultListen, kindOf, kindsNeeded, kindsOf, type TransportChoice } from './transports.js'
import { writingTogether } from './tcp-writes.js'
import { ferryOwned } from './whose-connection.js'
import { halfWindowUpdates } from './yamux-window.js'

export const DEFAULT_LISTEN = defaultListen('tcp', 'sender')

const log = logger('ferry:node')

/** host and port (TCP or UDP) of a multiaddr, whatever follows them (/p2p/, /webrtc-direct/...). */
const endpoint = (ma: Multiaddr): string =>
  ma.getComponents().filter(c => ['ip4', 'ip6', 'tcp', 'udp'].includes(c.name)).map(c => c.value).join(' ')

/**
 * mDNS re-queries at this interval. A starting node queries at once and also answers its own query
 * by multicast, so peers already up learn of it from that answer, well before the first re-query.
 * The interval only bounds recovery from
 * a lost multicast packet (common on Wi-Fi), so it is short, but not chatty.
 */
export const DEFAULT_MDNS_INTERVAL_MS = 500

/**
 * Per-stream receive window cap. The yamux default (16 MiB) lets a peer push up to 16 MiB into a
 * paused stream, past libp2p's 4 MiB read buffer, which then resets the stream. Staying well under
 * 4 MiB makes pausing a safe backpressure signal; test/net/node.test.ts shows it costs no throughput.
 */
export const DEFAULT_STREAM_WINDOW = 2 * 1024 * 1024

/**
 * Stream limits for Ferry's protocols, per connection. A transfer uses one stream, pairing one; the
 * slack covers a reconnect racing the old stream's teardown. Pass these to `handle()`.
 */
export const FERRY_STREAM_LIMITS = { maxInboundStreams: 2, maxOutboundStreams: 2 } as const

export interface MdnsOptions {
  /** DNS-SD service name, e.g. `_ferry-123._udp.local`; the caller derives it from the nameplate. */
  serviceTag: string
  /** Query interval in ms; default DEFAULT_MDNS_INTERVAL_MS. */
  interval?: number
  /** Overrides the random instance name (tests use it to tell nodes apart in captures). */
  peerName?: string
}

export interface FerryNodeLimits {
  /**
   * Open connections, a hard ceiling past which libp2p refuses new ones before any handshake. Who may hold
   * a connection is the Ferry service's business (ConnectionSlots: unpaired peers go soon, and few of
   * them at once), so this stays well above what that lets in: a ceiling that strangers can fill keeps
   * the real phone out. Default 32.
   */
  maxConnections?: number
  /** Inbound connections mid-handshake at once (a crowded café LAN can hold a port scanner). Default 8. */
  maxIncomingPendingConnections?: number
  /** ... of them from one IP address: one host stalling handshakes cannot hold every such slot. Default 2. */
  maxPendingPerAddress?: number
  /** Muxed streams per connection, all protocols together (ours, identify, the connection monitor's ping). Default 16. */
  maxStreamsPerConnection?: number
  /** How long one dial of the other phone may take, handshakes included, in ms (libp2p's own); default 10 s. */
  dialTimeout?: number
  /** Per-stream yamux receive window cap; keep below 4 MiB (the stream read buffer). Default DEFAULT_STREAM_WINDOW. */
  streamWindow?: number
}

export interface FerryNodeOptions<T extends ServiceMap = ServiceMap> {
  /** Store directory: the identity is loaded from or created in `<dir>/peer.key`. */
  dir?: string
  /** An identity to use instead of `dir` (tests, embedders with their own keystore). */
  privateKey?: PrivateKey
  /** Multiaddrs to listen on; default: what `transport` listens on (DEFAULT_LISTEN for TCP). */
  listen?: string[]
  /**
   * Which transports to dial with; 'tcp' (default), 'webrtc' (webrtc-direct) or 'auto' (both, TCP
   * dialled first). Listen addresses add the transports they need.
   */
  transport?: TransportChoice
  /** STUN/TURN servers for WebRTC; none by default (no traffic to public STUN servers). */
  iceServers?: RTCIceServer[]
  /** A pairing is under way: keep an expiring webrtc-direct certificate (see loadOrCreateCertificate). */
  keepCertificate?: boolean
  /** Replaces the announced addresses entirely (e.g. a port forward); normally left empty. */
  announce?: string[]
  /** Default: drop loopback and link-local unless nothing else is left (lanAnnounceFilter). */
  announceFilter?: AddressFilter
  /** mDNS discovery; off unless given. Never enable it in a shared machine's root network namespace. */
  mdns?: false | MdnsOptions
  /** Extra libp2p services, e.g. `{ ferry: ferry({ history, journal }) }`. */
  services?: ServiceFactoryMap<T>
  limits?: FerryNodeLimits
  /** Liveness pings on each connection; a silently dropped Wi-Fi link is only noticed through them. */
  connectionMonitor?: Libp2pOptions['connectionMonitor']
  /**
   * libp2p's component logger, for libp2p's lines and Ferry's: `prefixLogger('old')` from
   * `@libp2p/logger` names each line after the phone (`old:ferry:service`), for two phones in one process.
   */
  logger?: ComponentLogger
  /** Default true. */
  start?: boolean
}

export type FerryServices<T extends ServiceMap = ServiceMap> = T & { identify: Identify }
export type FerryNode<T extends ServiceMap = ServiceMap> = Libp2p<FerryServices<T>>

/**
 * Builds Ferry's libp2p node: TCP, Noise, yamux, identify, optional mDNS, with limits chosen for a
 * node that serves one peer at a time.
 */
export async function createFerryNode<T extends ServiceMap = ServiceMap> (opts: FerryNodeOptions<T> = {}): Promise<FerryNode<T>> {
  const transport = checkTransport(opts.transport ?? 'tcp')
  const listen = opts.listen ?? defaultListen(transport, 'sender')
  const everywhere = listen.some(a => a.startsWith('/ip4/0.0.0.0/'))
  checkAddresses(listen, opts.announce ?? [])
  const privateKey = opts.privateKey ?? (opts.dir !== undefined ? (await loadOrCreatePeerKey(opts.dir)).privateKey : undefined)
  if (privateKey === undefined) {
    throw new FerryError(ErrorCode.BAD_INPUT, 'createFerryNode needs a store directory (dir) or a privateKey: a phone must keep its peer id')
  }
  const limits = opts.limits ?? {}
  const streamWindow = limits.streamWindow ?? DEFAULT_STREAM_WINDOW
  const maxStreams = limits.maxStreamsPerConnection ?? 16

  const transports = await buildTransports({ kinds: kindsNeeded(transport, listen), dir: opts.dir, iceServers: opts.iceServers, keepCertificate: opts.keepCertificate })
  // Listening may need a transport the choice does not dial with (a WebRTC-only phone told to listen on
  // TCP): the gater keeps every dial, including a retry by peer id through the peer store, to the choice.
  const dialKinds = kindsOf(transport)
  const denyDialMultiaddr = async (ma: Multiaddr): Promise<boolean> => {
    const kind = kindOf(ma)
    return kind !== undefined && !dialKinds.includes(kind)
  }
  const handshakes = new HandshakesPerAddress(limits.maxPendingPerAddress ?? 2, INBOUND_UPGRADE_TIMEOUT_MS)

  const peerDiscovery: NonNullable<Libp2pOptions['peerDiscovery']> = []
  if (opts.mdns !== undefined && opts.mdns !== false) {
    checkServiceTag(opts.mdns.serviceTag)
    assertMdnsAllowed()
    peerDiscovery.push(mdns({
      serviceTag: opts.mdns.serviceTag,
      interval: opts.mdns.interval ?? DEFAULT_MDNS_INTERVAL_MS,
      peerName: opts.mdns.peerName
    }))
  }

  const services = {
    // The node is Ferry's: the service judges every connection to it (whose-connection.ts).
    ...ferryOwned<T>(opts.services ?? {} as ServiceFactoryMap<T>),
    identify: identify({
      // identify runs once per connection, and again only when our addresses change.
      maxInboundStreams: 2,
      maxOutboundStreams: 2
    })
  } as unknown as ServiceFactoryMap<FerryServices<T>>

  try {
    const node = await createLibp2p<FerryServices<T>>({
      privateKey,
      logger: opts.logger,
      start: opts.start ?? true,
      addresses: {
        listen,
        announce: opts.announce ?? [],
        announceFilter: opts.announceFilter ?? (addrs => lanAnnounceFilter(addrs, { selfAssigned: everywhere ? selfAssignedAddresses() : [] }))
      },
      transports,
      connectionEncrypters: [writingTogether(nodeNoise())],
      streamMuxers: [halfWindowUpdates(yamux({
        maxInboundStreams: maxStreams,
        maxOutboundStreams: maxStreams,
        streamOptions: {
          maxStreamWindowSize: streamWindow
        }
      }))],
      peerDiscovery,
      connectionGater: { denyDialMultiaddr, denyInboundConnection: async maConn => handshakes.deny(maConn) },
      connectionManager: {
        maxConnections: limits.maxConnections ?? 32,
        maxIncomingPendingConnections: limits.maxIncomingPendingConnections ?? 8,
        maxParallelDials: 4,
        maxDialQueueLength: 16,
        maxPeerAddrsToDial: 8,
        addressSorter: transportFirst,
        dialTimeout: limits.dialTimeout ?? 10_000,
        // A LAN handshake takes milliseconds; a peer that needs 5 s is not a phone next to us.
        inboundUpgradeTimeout: INBOUND_UPGRADE_TIMEOUT_MS
      },
      connectionMonitor: opts.connectionMonitor,
      services
    })
    node.addEventListener('connection:open', evt => { handshakes.upgraded(evt.detail.remoteAddr) })
    clearAddressWriteOnStop(node)
    return node
  } catch (err) {
    if (err instanceof FerryError) throw err
    throw listenFailure(err, listen) ?? new FerryError(ErrorCode.INTERNAL, `cannot start the network node: ${firstLines((err as Error).message)}`, { listen: opts.listen }, { cause: err })
  }
}

/**
 * Listen and announce addresses are the app's to choose, so a mistake in one is a usage error, said
 * before anything starts: libp2p would reject a listen address it has no transport for only as an
 * internal failure, and a malformed announce address only later, from inside its address manager, as
 * an exception no caller can catch.
 */
function checkAddresses (listen: string[], announce: string[]): void {
  for (const [what, addrs] of [['listen', listen], ['announce', announce]] as const) {
    for (const a of addrs) {
      let ma: Multiaddr
      try {
        ma = multiaddr(a)
      } catch (err) {
        throw new FerryError(ErrorCode.BAD_INPUT, `cannot ${what === 'listen' ? 'listen on' : 'announce'} ${JSON.stringify(a)}: it is no multiaddr (${(err as Error).message}); want one like ${EXAMPLE_ADDRESS}`, { [what]: a })
      }
      if (what === 'listen' && kindOf(ma) === undefined) {
        throw new FerryError(ErrorCode.BAD_INPUT, `cannot listen on ${a}: Ferry listens on TCP or on UDP with webrtc-direct only; want one like ${EXAMPLE_ADDRESS}`, { listen: a })
      }
    }
  }
}

const EXAMPLE_ADDRESS = '/ip4/0.0.0.0/tcp/0 or /ip4/0.0.0.0/udp/0/webrtc-direct'

/** Why a listen address cannot be used, by the socket error's code, as the one who chose it can act on it. */
const LISTEN_PROBLEMS: Record<string, string> = {
  EADDRINUSE: 'the port is taken (use tcp/0 for any free port)',
  EADDRNOTAVAIL: 'this machine has no such address (listen on one of its own, or on 0.0.0.0)',
  EACCES: 'permission denied (ports below 1024 need privileges; use tcp/0 for any free port)'
}

/**
 * A listen address that failed, as a usage error. libp2p wraps the socket errors in one error with no code
 * and no cause: each failed address and its error are only in its message, one `  ADDR: Error: listen CODE`
 * line each, stack traces after them.
 */
function listenFailure (err: unknown, listen: string[]): FerryError | undefined {
  const message = (err as Error)?.message ?? ''
  const direct = (err as { code?: string })?.code
  const found = /^\s*(\/\S+): .*?\b(EADDRINUSE|EADDRNOTAVAIL|EACCES)\b/m.exec(message) ??
    (direct !== undefined && direct in LISTEN_PROBLEMS && listen.length === 1 ? [, listen[0], direct] : null)
  if (found === null) return udpListenFailure(message, listen, err)
  const [, addr, code] = found as [unknown, string, string]
  return new FerryError(ErrorCode.BAD_INPUT, `cannot listen on ${hostPort(addr)}: ${LISTEN_PROBLEMS[code]}`, { listen: addr }, { cause: err })
}

/**
 * webrtc-direct's UDP socket (libjuice's, native) that could not be bound: its error names neither the
 * address nor why, so it is put down to the webrtc-direct addresses with a port of their own (on port 0
 * the transport picks a free port itself): the one, or all of them (`details.listen` a list).
 */
function udpListenFailure (message: string, listen: string[], err: unknown): FerryError | undefined {
  if (!message.includes('ICE UDP mux listener')) return undefined
  const fixed = listen.filter(a => kindOf(a) === 'webrtc' && !/\/udp\/0(?:\/|$)/.test(a))
  if (fixed.length === 0) return undefined
  const which = fixed.length === 1 ? hostPort(fixed[0]) : `one of ${fixed.map(hostPort).join(', ')}`
  return new FerryError(ErrorCode.BAD_INPUT, `cannot listen on ${which} (UDP): the port is taken, or this machine has no such address (use udp/0 for any free port)`,
    { listen: fixed.length === 1 ? fixed[0] : fixed }, { cause: err })
}

/** /ip4/127.0.0.1/tcp/45123 as 127.0.0.1:45123, the way people write it. */
function hostPort (addr: string): string {
  const m = /^\/(ip4|ip6|dns4|dns6|dns)\/([^/]+)\/(tcp|udp)\/(\d+)/.exec(addr)
  if (m === null) return addr
  const host = m[1] === 'ip6' ? `[${m[2]}]` : m[2]
  return m[4] === '0' ? host : `${host}:${m[4]}`
}

/** A wrapped error's message without the stack traces it quotes. */
function firstLines (message: string): string {
  return message.split('\n').filter(l => !/^\s+at /.test(l)).join('\n').trim()
}

const INBOUND_UPGRADE_TIMEOUT_MS = 5_000

/**
 * Inbound handshakes under way, per remote address. libp2p bounds them in all (maxIncomingPendingConnections)
 * but not per address, so one host that opens connections and stalls their handshakes could hold every
 * slot. A handshake ends when its connection opens or closes, or at the upgrade deadline.
 */
class HandshakesPerAddress {
  private readonly pending = new Map<string, Set<string>>()

  constructor (private readonly max: number, private readonly deadlineMs: number) {}

  deny (maConn: { remoteAddr: Multiaddr, addEventListener?: (type: 'close', fn: () => void, opts?: { once?: boolean }) => void }): boolean {
    const host = hostOf(maConn.remoteAddr)
    if (host === undefined) return false
    const set = this.pending.get(host) ?? new Set<string>()
    if (set.size >= this.max) {
      log('refusing a handshake from %s: %d already under way', host, set.size)
      return true
    }
    const key = endpoint(maConn.remoteAddr)
    set.add(key)
    this.pending.set(host, set)
    const done = (): void => { this.end(host, key) }
    maConn.addEventListener?.('close', done, { once: true })
    setTimeout(done, this.deadlineMs + 1_000).unref?.()
    return false
  }

  /** A connection opened: its handshake is over. */
  upgraded (remoteAddr: Multiaddr): void {
    const host = hostOf(remoteAddr)
    if (host !== undefined) this.end(host, endpoint(remoteAddr))
  }

  private end (host: string, key: string): void {
    const set = this.pending.get(host)
    if (set === undefined) return
    set.delete(key)
    if (set.size === 0) this.pending.delete(host)
  }
}

/**
 * libp2p dials a peer's addresses one at a time in this order. TCP goes first, whatever the address
 * (so 'auto' falls back to WebRTC only when TCP fails); within a transport, libp2p's default order.
 */
const transportFirst: AddressSorter = (a, b) =>
  reliableTransportsFirst(a.multiaddr, b.multiaddr) ||
  loopbackAddressLast(a.multiaddr, b.multiaddr) ||
  publicAddressesFirst(a.multiaddr, b.multiaddr) ||
  (a.isCertified === b.isCertified ? 0 : a.isCertified ? -1 : 1)

// DNS-SD names: labels of 1-63 characters, and @libp2p/mdns matches the PTR name exactly, so a
// typo here would silently find nobody.
function checkServiceTag (tag: string): void {
  const labels = tag.split('.')
  const ok = tag.length <= 253 && labels.length >= 3 && tag.endsWith('.local') &&
    labels.every(l => l.length > 0 && l.length <= 63 && /^[A-Za-z0-9_-]+$/.test(l))
  if (!ok) throw new FerryError(ErrorCode.BAD_INPUT, `'${tag}' is not an mDNS service name like _ferry-123._udp.local`)
}

export { assertMdnsAllowed, namedNetns } from './lan-guard.js'

export interface DiscoverOptions {
  signal?: AbortSignal
  /** Give up after this many ms (NO_PEER). */
  timeout?: number
  /** Only accept some peers, e.g. the one whose id the QR payload named. One that throws ends the discovery: CANCELLED naming it. */
  accept?: (peer: PeerInfo) => boolean
}

/**
 * Resolves with the first peer discovered (by mDNS) that `accept` takes. Peers already in the
 * peer store from an earlier discovery count too, so a caller that subscribes late misses nothing.
 */
export async function discoverPeer (node: Libp2p, opts: DiscoverOptions = {}): Promise<PeerInfo> {
  return await new Promise<PeerInfo>((resolve, reject) => {
    let settled = false
    // The app's own filter: one that throws ends the discovery naming it, rather than escaping from a
    // libp2p event listener (ending the process) or leaving the discovery to wait for its timeout.
    const accept = (peer: PeerInfo): boolean => {
      try {
        return opts.accept?.(peer) ?? true
      } catch (err) {
        finish(() => { reject(appError(err, 'accept')) })
        return false
      }
    }
    const finish = (fn: () => void): void => {
      if (settled) return
      settled = true
      node.removeEventListener('peer:discovery', onPeer)
      opts.signal?.removeEventListener('abort', onAbort)
      if (timer !== undefined) clearTimeout(timer)
      fn()
    }
    const onPeer = (evt: CustomEvent<PeerInfo>): void => {
      if (accept(evt.detail)) finish(() => { resolve(evt.detail) })
    }
    const onAbort = (): void => { finish(() => { reject(new FerryError(ErrorCode.CANCELLED, 'discovery cancelled')) }) }
    const timer = opts.timeout !== undefined
      ? setTimeout(() => { finish(() => { reject(new FerryError(ErrorCode.NO_PEER, `no peer found on the local network within ${opts.timeout} ms`)) }) }, opts.timeout)
      : undefined
    // Listen first, then look at what is already known: a discovery landing while the peer store
    // is read is caught either way.
    node.addEventListener('peer:discovery', onPeer)
    if (opts.signal?.aborted === true) { onAbort(); return }
    opts.signal?.addEventListener('abort', onAbort, { once: true })
    node.peerStore.all().then(peers => {
      for (const p of peers) {
        const info: PeerInfo = { id: p.id, multiaddrs: p.addresses.map(a => a.multiaddr) }
        if (!p.id.equals(node.peerId) && info.multiaddrs.length > 0 && accept(info)) {
          finish(() => { resolve(info) })
          return
        }
      }
    }, err => { finish(() => { reject(new FerryError(ErrorCode.INTERNAL, `cannot read the peer store: ${(err as Error).message}`, undefined, { cause: err })) }) })
  })
}

/** Whether a discovered peer is the one we expect (QR payload / pairing record). */
export function isPeer (expected: PeerId | string): (peer: PeerInfo) => boolean {
  const s = expected.toString()
  return peer => peer.id.toString() === s
}
