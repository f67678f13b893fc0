import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { logger } from '@libp2p/logger'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { peerIdOf } from './addresses.js'
import { appError } from './app-handler.js'

// The discovery probe: how a receiver that cannot use multicast asks a host on its subnet "are you the
// phone showing nameplate N?" over plain TCP, on a port of a small fixed range the sender listens on.
//
//   sender   -> receiver  MAGIC (7) | version (1) | nonce (16)                      on accept
//   receiver -> sender    tag = SHA-256(DOMAIN | nonce | nameplate) (32)
//   sender   -> receiver  'Y' | u16 length | JSON {peer, addrs}   the nameplate matches
//                      or 'N'                                      it does not
//                      or 'B'                                      asked too often: not answered
//   and the sender closes.
//
// What it gives away (see docs/design-notes.md, "Finding the other phone"): the secret part of the code
// never enters the probe, so nothing a probe carries or answers is checkable against a guessed code;
// guessing stays online, one guess per pairing attempt, three attempts per code. The nameplate is public
// by design (mDNS carries it in clear): the tag only keeps it from being read off the wire at a glance,
// since 1000 candidates are hashed in a moment. A neighbour that asks learns yes or no for the nameplate
// it asked about, nothing else, and wrong questions are rate-limited per address, so walking all 1000
// nameplates from one address outlasts the code. A yes tells the peer id and addresses, which mDNS
// announces to anyone anyway and which only lead to the CPace handshake.

const log = logger('ferry:probe')

/** The ports a sender listens on for probes: the first free one, so a restarted sender is where it was. */
export const DISCOVERY_PORTS: readonly number[] = Object.freeze([24750, 24751, 24752, 24753, 24754, 24755, 24756, 24757])

const MAGIC = Buffer.from('FERRYPB', 'ascii')
const VERSION = 1
const NONCE_BYTES = 16
const HELLO_BYTES = MAGIC.length + 1 + NONCE_BYTES
const TAG_BYTES = 32
const DOMAIN = Buffer.from('ferry/discovery-probe/1\0', 'ascii')
/** A yes carries a peer id and a handful of multiaddrs; anything much bigger is not a Ferry sender. */
const MAX_ANSWER_BYTES = 4096
const MAX_ANSWER_ADDRS = 16

export function probeTag (nonce: Uint8Array, nameplate: string): Buffer {
  return createHash('sha256').update(DOMAIN).update(nonce).update(Buffer.from(nameplate, 'ascii')).digest()
}

export interface ProbeAnswer {
  /** The sender's peer id. */
  peer: string
  /** Where it listens, each ending in /p2p/<peer>. */
  addrs: string[]
}

export interface ResponderLimits {
  /** Wrong questions one address may ask in a burst before it gets 'B' answers. */
  burst?: number
  /** One more wrong question is allowed per this many ms. */
  refillMs?: number
  /** Probe connections open at once; more are refused by the kernel's backlog or closed. */
  maxConnections?: number
  /** A prober that says nothing for this long is cut off. */
  idleMs?: number
}

export interface ResponderOptions {
  nameplate: string
  /**
   * What a prober that named the nameplate is told; asked at each answer, since addresses change. One
   * that throws leaves that prober unanswered (logged, `ferry:probe:error`); the next is asked again.
   */
  answer: () => ProbeAnswer
  /** Address to listen on; default every interface. */
  host?: string
  ports?: readonly number[]
  limits?: ResponderLimits
}

export interface DiscoveryResponder {
  readonly port: number
  readonly host: string
  close(): Promise<void>
}

/**
 * Listens for probes on the first free port of `ports` and answers them. Resolves undefined when every
 * port is taken (the sender then goes without: mDNS, the QR code and --peer still find it).
 */
export async function startResponder (opts: ResponderOptions): Promise<DiscoveryResponder | undefined> {
  const host = opts.host ?? '0.0.0.0'
  const burst = opts.limits?.burst ?? 20
  const refillMs = opts.limits?.refillMs ?? 3_000
  const idleMs = opts.limits?.idleMs ?? 2_000
  const buckets = new Map<string, { tokens: number, at: number }>()
  // Spends one of the address's wrong-question tokens.
  const spend = (who: string): void => {
    const now = Date.now()
    const b = buckets.get(who) ?? { tokens: burst, at: now }
    b.tokens = Math.min(burst, b.tokens + (now - b.at) / refillMs)
    b.at = now
    buckets.delete(who)
    buckets.set(who, b) // most recent last, so the oldest is evicted first
    if (buckets.size > 1024) buckets.delete(buckets.keys().next().value as string)
    b.tokens = Math.max(0, b.tokens - 1)
  }
  const hasTokens = (who: string): boolean => {
    const b = buckets.get(who)
    return b === undefined || Math.min(burst, b.tokens + (Date.now() - b.at) / refillMs) >= 1
  }

  const open = new Set<Socket>()
  const onSocket = (socket: Socket): void => {
    open.add(socket)
    socket.on('close', () => { open.delete(socket) })
    const who = socket.remoteAddress ?? '?'
    const nonce = randomBytes(NONCE_BYTES)
    let got = Buffer.alloc(0)
    let answered = false
    socket.setNoDelay(true)
    socket.setTimeout(idleMs, () => { socket.destroy() })
    socket.on('error', () => {})
    socket.write(Buffer.concat([MAGIC, Buffer.from([VERSION]), nonce]))
    socket.on('data', (d: Buffer) => {
      if (answered) return
      got = Buffer.concat([got, d])
      if (got.length < TAG_BYTES) return
      answered = true
      if (got.length !== TAG_BYTES) { socket.destroy(); return }
      // Out of tokens: no answer at all, whatever the question, so a neighbour walking the nameplates
      // learns nothing more (answering a right guess would still tell it which one is right).
      if (!hasTokens(who)) { socket.end(Buffer.from('B')); return }
      if (timingSafeEqual(got, probeTag(nonce, opts.nameplate))) {
        let body: Buffer
        try {
          body = encodeAnswer(opts.answer())
        } catch (err) {
          // Thrown from this socket's listener, the app's bug ended the process: the prober hears
          // nothing, as from a phone gone, and the responder goes on answering.
          log.error('probe from %s not answered: %s', who, appError(err, 'answer').message)
          socket.destroy()
          return
        }
        const len = Buffer.alloc(2)
        len.writeUInt16BE(body.length)
        socket.end(Buffer.concat([Buffer.from('Y'), len, body]))
        log('probe from %s: nameplate matches', who)
      } else {
        spend(who)
        socket.end(Buffer.from('N'))
        log.trace('probe from %s: another nameplate', who)
      }
    })
  }

  for (const port of opts.ports ?? DISCOVERY_PORTS) {
    const server = createServer({ pauseOnConnect: false }, onSocket)
    server.maxConnections = opts.limits?.maxConnections ?? 32
    const bound = await new Promise<boolean>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EADDRINUSE' || err.code === 'EACCES') resolve(false)
        else reject(err)
      })
      server.listen({ host, port, exclusive: true }, () => { resolve(true) })
    })
    if (!bound) { log('discovery port %d is taken, trying the next', port); continue }
    server.on('error', err => { log.error('discovery responder: %e', err) })
    log('answering discovery probes on %s:%d', host, port)
    return { port, host, close: async () => { for (const s of open) s.destroy(); await closeServer(server) } }
  }
  log('every discovery port is taken: this phone is found by mDNS, the QR code or --peer only')
  return undefined
}

async function closeServer (server: Server): Promise<void> {
  await new Promise<void>(resolve => { server.close(() => { resolve() }) })
}

/**
 * What one probe found at host:port.
 * - match: a Ferry sender showing this nameplate, with where to dial it
 * - no / busy: a Ferry sender showing another nameplate / not answering this address any more now
 * - foreign: something else listens there
 * - refused: the host is up, nothing listens on that port
 * - silent: no answer in time (nobody there, a firewall, or a network that keeps devices apart)
 */
export type ProbeOutcome =
  | { kind: 'match', answer: { peer: string, addrs: Multiaddr[] } }
  | { kind: 'no' | 'busy' | 'foreign' | 'refused' | 'silent' }

export interface ProbeOptions {
  /** The whole probe, connect to answer. */
  timeoutMs?: number
  signal?: AbortSignal
}

const SILENT_CODES = new Set(['ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN', 'EADDRNOTAVAIL'])

export async function probe (host: string, port: number, nameplate: string, opts: ProbeOptions = {}): Promise<ProbeOutcome> {
  return await new Promise<ProbeOutcome>(resolve => {
    let connected = false
    let buf = Buffer.alloc(0)
    let sentTag = false
    let settled = false
    const socket = createConnection({ host, port })
    const finish = (o: ProbeOutcome): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      opts.signal?.removeEventListener('abort', onAbort)
      socket.destroy()
      resolve(o)
    }
    const onAbort = (): void => { finish({ kind: connected ? 'foreign' : 'silent' }) }
    const timer = setTimeout(() => { finish({ kind: connected ? 'foreign' : 'silent' }) }, opts.timeoutMs ?? 1_000)
    if (opts.signal?.aborted === true) { onAbort(); return }
    opts.signal?.addEventListener('abort', onAbort, { once: true })
    socket.setNoDelay(true)
    socket.on('connect', () => { connected = true })
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (connected) finish({ kind: 'foreign' })
      else if (err.code === 'ECONNREFUSED') finish({ kind: 'refused' })
      else {
        if (err.code === undefined || !SILENT_CODES.has(err.code)) log('probe %s:%d: %s', host, port, err.message)
        finish({ kind: 'silent' })
      }
    })
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d])
      if (!sentTag) {
        if (buf.length < HELLO_BYTES) return
        if (!buf.subarray(0, MAGIC.length).equals(MAGIC)) { finish({ kind: 'foreign' }); return }
        // Another version of the probe is still a Ferry phone, just not one this phone can ask.
        if (buf[MAGIC.length] !== VERSION) { finish({ kind: 'no' }); return }
        const nonce = buf.subarray(MAGIC.length + 1, HELLO_BYTES)
        socket.write(probeTag(nonce, nameplate))
        buf = buf.subarray(HELLO_BYTES)
        sentTag = true
      }
      if (buf.length === 0) return
      const kind = String.fromCharCode(buf[0])
      if (kind === 'N') { finish({ kind: 'no' }); return }
      if (kind === 'B') { finish({ kind: 'busy' }); return }
      if (kind !== 'Y') { finish({ kind: 'foreign' }); return }
      if (buf.length < 3) return
      const len = buf.readUInt16BE(1)
      if (len > MAX_ANSWER_BYTES) { finish({ kind: 'foreign' }); return }
      if (buf.length < 3 + len) return
      const answer = parseAnswer(buf.subarray(3, 3 + len))
      finish(answer !== undefined ? { kind: 'match', answer } : { kind: 'foreign' })
    })
    socket.on('end', () => { finish({ kind: connected ? 'foreign' : 'silent' }) })
  })
}

/**
 * A yes answer's body: the addresses the caller ranks first, as many as the receiver takes (a phone with
 * many interfaces and two transports can have more).
 */
export function encodeAnswer (a: ProbeAnswer): Buffer {
  const addrs = a.addrs.slice(0, MAX_ANSWER_ADDRS)
  for (;;) {
    const body = Buffer.from(JSON.stringify({ peer: a.peer, addrs }), 'utf8')
    if (body.length <= MAX_ANSWER_BYTES || addrs.length === 0) return body
    addrs.pop()
  }
}

/** A yes answer, checked: a valid peer id, and multiaddrs that are that peer's (with /p2p/ added where missing). */
export function parseAnswer (bytes: Uint8Array): { peer: string, addrs: Multiaddr[] } | undefined {
  try {
    const v = JSON.parse(Buffer.from(bytes).toString('utf8')) as { peer?: unknown, addrs?: unknown }
    if (typeof v.peer !== 'string' || !Array.isArray(v.addrs) || v.addrs.length > MAX_ANSWER_ADDRS) return undefined
    const peer = peerIdFromString(v.peer).toString()
    const addrs = v.addrs.map(a => {
      if (typeof a !== 'string') throw new Error('not a string')
      const ma = multiaddr(a)
      const named = peerIdOf(ma)
      if (named !== undefined && named !== peer) throw new Error('another peer\'s address')
      return named !== undefined ? ma : ma.encapsulate(`/p2p/${peer}`)
    })
    return { peer, addrs }
  } catch {
    return undefined
  }
}
