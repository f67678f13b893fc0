import type { Connection, PeerId, Startable, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { ErrorCode, FerryError, isFerryError } from '../errors.js'
import { CodeLifetime, type PairingCode } from '../pairing/index.js'
import { ReceiverMachine } from '../protocol/receiver.js'
import { SenderMachine } from '../protocol/sender.js'
import { runSender } from '../protocol/session.js'
import type { TransferOptions } from '../protocol/options.js'
import type { ChatStore } from '../store/chat-store.js'
import type { Selection } from '../store/model.js'
import { encodeFrame } from '../wire/codec.js'
import { prefix } from '../wire/framing.js'
import { rateLimited } from '../wire/rate-limit.js'
import { PAIR_PROTOCOL, pairAsReceiver, pairAsSender } from './pair-stream.js'
import { forgetPairing, loadPairing, savePairing } from './pairing-file.js'
import { retryWhileAdvancing } from './retry.js'
import { receiveTransfer, TRANSFER_PROTOCOL } from './receive-transfer.js'
import { streamToDuplex } from './stream-duplex.js'

export { TRANSFER_PROTOCOL }

/** What the service needs from libp2p (a subset of its components, as @libp2p/ping takes them). */
export interface FerryComponents {
  peerId: PeerId
  registrar: {
    handle(protocol: string, handler: (stream: Stream, connection: Connection) => void | Promise<void>, options?: { maxInboundStreams?: number, maxOutboundStreams?: number }): Promise<void>
    unhandle(protocol: string): Promise<void>
  }
  /** Our own addresses, kept in the pairing record so a restarted sender can listen where it was. */
  addressManager?: { getAddresses(): Multiaddr[] }
  connectionManager: {
    openConnection(target: PeerId | Multiaddr | Multiaddr[], options?: { signal?: AbortSignal }): Promise<Connection>
  }
  /** Where the other phone may be now (mDNS updates it): a redial after a dead link looks here first. */
  peerStore?: { get(peerId: PeerId): Promise<{ addresses: Array<{ multiaddr: Multiaddr }> }> }
}

export interface FerryServiceInit {
  store: ChatStore
  /** Where the pairing record (resume token) is kept: the store's directory. */
  storeDir: string
  options?: Partial<TransferOptions>
  /** Per pairing-stream deadline; a stalled attempt must not hold one of the code's three charges. */
  pairTimeoutMs?: number
  /**
   * The receiver drops a link on which nothing arrived for this long mid-transfer, and redials (see
   * StallWatch): a phone whose address changed otherwise waits 10-20 s for libp2p's ping to give up.
   */
  stallMs?: number
}

export const DEFAULT_STALL_MS = 5_000
const ELSEWHERE_DIAL_MS = 2_000

export interface Progress {
  messages: number
  totalMessages: number
  mediaBytes: number
  totalMediaBytes: number
}

export type FerryEvent =
  | { type: 'paired', peer: string, mode: 'code' | 'resume' }
  | { type: 'pair-failed', peer: string, error: FerryError }
  | { type: 'manifest', totalMessages: number, totalMediaBytes: number, conversations: number }
  | { type: 'progress', progress: Progress }
  /** The receiver holds every message: its chats can be opened while the media goes on. */
  | { type: 'chats-ready', messages: number }
  | { type: 'interrupted', error: FerryError }
  | { type: 'verified', summary: Array<{ id: string, title: string, messages: number }>, progress: Progress }

export interface OfferOptions {
  /** The code this phone shows; omit to accept only the phone it paired with before (resume). */
  code?: PairingCode
  selection?: Selection
  /** Caps the transfer's send rate (bytes per second), e.g. to leave room on a shared Wi-Fi; default none. */
  maxBytesPerSecond?: number
  onEvent?: (e: FerryEvent) => void
  signal?: AbortSignal
}

export interface ReceiveOptions {
  /** Where the sender is: its multiaddrs (with /p2p/<id>), from the QR payload, discovery or --peer. */
  addrs: Multiaddr[]
  code?: PairingCode
  request?: Selection
  onEvent?: (e: FerryEvent) => void
  signal?: AbortSignal
  /** How long to keep reconnecting after the link drops without progress. */
  retryForMs?: number
  /**
   * Where to dial among `addrs`, asked each time they are dialled: the CLI races them and looks for a
   * sender that moved (src/net/find-sender.ts). May throw to end the attempt (NO_PEER is retried,
   * ISOLATED is not). Default: `addrs` as given.
   */
  route?: (addrs: Multiaddr[], ctx: { known?: PeerId, signal?: AbortSignal }) => Promise<Multiaddr[]>
}

interface ActiveOffer {
  opts: OfferOptions
  lifetime?: CodeLifetime
  tokens: Map<string, Uint8Array>
  authorized: Set<string>
  running?: { peer: string, abort: AbortController }
  resolve: (summary: Progress) => void
  reject: (err: FerryError) => void
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

/**
 * Ferry as a libp2p service: `/ferry/pair/1.0.0` authenticates a peer with the short code (or its resume
 * token), and `/ferry/transfer/1.0.0` serves the history only to a peer that did.
 */
export class FerryService implements Startable {
  private offerState?: ActiveOffer
  /** The address of the receiver's last failed session (see dial). */
  private deadAddr?: Multiaddr

  constructor (private readonly components: FerryComponents, private readonly init: FerryServiceInit) {}

  readonly [Symbol.toStringTag] = '@ferry/service'

  async start (): Promise<void> {
    // One pairing and one transfer stream at a time per connection: a phone talks to one phone.
    await this.components.registrar.handle(PAIR_PROTOCOL, (s, c) => { void this.onPairStream(s, c) }, { maxInboundStreams: 2, maxOutboundStreams: 2 })
    await this.components.registrar.handle(TRANSFER_PROTOCOL, (s, c) => { void this.onTransferStream(s, c) }, { maxInboundStreams: 2, maxOutboundStreams: 2 })
  }

  async stop (): Promise<void> {
    await this.components.registrar.unhandle(PAIR_PROTOCOL)
    await this.components.registrar.unhandle(TRANSFER_PROTOCOL)
    this.offerState?.running?.abort.abort()
  }

  get peerId (): string {
    return this.components.peerId.toString()
  }

  /**
   * Offers this phone's history: resolves once a paired receiver verified it. Survives dropped links and
   * reconnects; rejects when the code dies unused, or on a failure that a retry would not fix.
   */
  async offer (opts: OfferOptions): Promise<Progress> {
    if (this.offerState !== undefined) throw new FerryError(ErrorCode.INTERNAL, 'this phone is already offering its history')
    const tokens = new Map<string, Uint8Array>()
    const record = loadPairing(this.init.storeDir)
    if (record?.role === 'sender') tokens.set(record.peerId, Uint8Array.from(Buffer.from(record.token, 'hex')))
    if (opts.code === undefined && tokens.size === 0) {
      throw new FerryError(ErrorCode.BAD_INPUT, 'no pairing code and no earlier pairing to resume')
    }
    // While the user types the code on the other phone, the history can come off the disk.
    this.init.store.prefetch?.()
    return await new Promise<Progress>((resolve, reject) => {
      const state: ActiveOffer = {
        opts,
        lifetime: opts.code !== undefined ? new CodeLifetime() : undefined,
        tokens,
        authorized: new Set(),
        resolve: p => { this.offerState = undefined; resolve(p) },
        reject: e => { this.offerState = undefined; state.running?.abort.abort(); reject(e) }
      }
      this.offerState = state
      opts.signal?.addEventListener('abort', () => state.reject(new FerryError(ErrorCode.CANCELLED, 'cancelled')), { once: true })
    })
  }

  private async onPairStream (stream: Stream, connection: Connection): Promise<void> {
    const offer = this.offerState
    const duplex = streamToDuplex(stream)
    if (offer === undefined) {
      duplex.abort(new FerryError(ErrorCode.NOT_PAIRED, 'this phone is not offering a transfer'))
      return
    }
    const peer = connection.remotePeer.toString()
    try {
      const outcome = await pairAsSender(duplex, { localPeerId: this.peerId, remotePeerId: peer }, {
        code: offer.opts.code, lifetime: offer.lifetime, tokens: offer.tokens
      }, this.init.pairTimeoutMs)
      if (outcome.resumeToken !== undefined) {
        offer.tokens.set(peer, outcome.resumeToken)
        savePairing(this.init.storeDir, {
          role: 'sender', peerId: peer, token: hex(outcome.resumeToken), nameplate: offer.opts.code?.nameplate ?? '',
          addrs: (this.components.addressManager?.getAddresses() ?? []).map(String), createdAt: Date.now()
        })
      }
      offer.authorized.add(peer)
      offer.opts.onEvent?.({ type: 'paired', peer, mode: outcome.mode })
    } catch (err) {
      const e = isFerryError(err) ? err : new FerryError(ErrorCode.INTERNAL, String(err))
      offer.opts.onEvent?.({ type: 'pair-failed', peer, error: e })
      const dead = offer.lifetime !== undefined && offer.lifetime.state !== 'live' && offer.lifetime.state !== 'used'
      if (dead && offer.authorized.size === 0 && offer.tokens.size === 0) {
        offer.reject(new FerryError(ErrorCode.CODE_EXPIRED, offer.lifetime?.state === 'expired'
          ? 'the pairing code expired (10 minutes); start again for a new one'
          : 'three wrong codes were tried; start again for a new code'))
      }
    }
  }

  private async onTransferStream (stream: Stream, connection: Connection): Promise<void> {
    const offer = this.offerState
    const peer = connection.remotePeer.toString()
    const duplex = streamToDuplex(stream)
    if (offer === undefined || !offer.authorized.has(peer)) {
      // Say why before closing, so an honest but unpaired phone shows a clear error.
      const f = encodeFrame({ error: { code: ErrorCode.NOT_PAIRED, message: 'pair with the code first' } })
      await duplex.write([prefix(f), ...f]).catch(() => {})
      await duplex.close().catch(() => {})
      return
    }
    // The same phone reconnecting replaces its older, probably dead, session.
    offer.running?.abort.abort()
    const abort = new AbortController()
    offer.running = { peer, abort }
    const machine = new SenderMachine({ source: this.init.store, offer: offer.opts.selection, options: this.init.options })
    const progress = (): Progress => ({
      messages: machine.progress.skippedMessages + machine.progress.messagesSent,
      totalMessages: machine.progress.totalMessages,
      mediaBytes: machine.progress.skippedMediaBytes + machine.progress.mediaBytesSent,
      totalMediaBytes: machine.progress.totalMediaBytes
    })
    let announced = false
    const cap = offer.opts.maxBytesPerSecond
    try {
      await runSender(machine, cap === undefined ? duplex : rateLimited(duplex, cap), {
        signal: abort.signal,
        onProgress: () => {
          // Until the receiver's Resume is in, what it already holds is unknown: a progress of 0 here would
          // send a resumed transfer's bar back to the start (and the first progress is the one shown).
          if (machine.manifest === undefined || machine.state === 'hello' || machine.state === 'resume') return
          if (!announced) {
            announced = true
            offer.opts.onEvent?.({ type: 'manifest', totalMessages: machine.manifest.totalMessages, totalMediaBytes: machine.manifest.totalMediaBytes, conversations: machine.manifest.conversations.length })
          }
          offer.opts.onEvent?.({ type: 'progress', progress: progress() })
        }
      })
      forgetPairing(this.init.storeDir)
      offer.opts.onEvent?.({ type: 'verified', summary: [], progress: progress() })
      offer.resolve(progress())
    } catch (err) {
      const e = err as FerryError
      if (abort.signal.aborted && offer.running?.abort !== abort) return // replaced by a newer session
      if (e.code === ErrorCode.TRUNCATED || e.code === ErrorCode.CANCELLED) {
        offer.opts.onEvent?.({ type: 'interrupted', error: e })
        return // the receiver reconnects with its resume token
      }
      offer.reject(e)
    } finally {
      if (offer.running?.abort === abort) offer.running = undefined
    }
  }

  /**
   * Receives a history from the phone at `addrs`: pairs with the code (or the stored resume token), then
   * transfers, reconnecting and resuming after dropped links until verified.
   */
  async receive (opts: ReceiveOptions): Promise<{ summary: Array<{ id: string, title: string, messages: number }>, progress: Progress }> {
    let peer: PeerId | undefined
    this.deadAddr = undefined
    return await retryWhileAdvancing(async onAdvance => await this.receiveOnce(opts, peer, p => { peer = p }, onAdvance), {
      retryForMs: opts.retryForMs ?? 60_000,
      signal: opts.signal,
      onInterrupted: error => opts.onEvent?.({ type: 'interrupted', error })
    })
  }

  /**
   * Connects to the other phone. After the first connection the phone is known by its peer id, so a retry
   * dials it through the peer store first: mDNS keeps that up to date, and a phone that got a new address
   * mid-transfer is only found there (the addresses we were given are where it used to be).
   */
  private async dial (opts: ReceiveOptions, known?: PeerId): Promise<Connection> {
    // A route races the given addresses and looks for a sender that moved: it goes before the peer-store
    // dial, which would try the same dead addresses one at a time, seconds each.
    const targets: Array<PeerId | Multiaddr[]> = known === undefined ? [opts.addrs] : opts.route !== undefined ? [opts.addrs, known] : [known, opts.addrs]
    // libp2p dials a peer's addresses one at a time, 6 s each, and would start with the one whose link just
    // died: a sender that moved is found ~6 s sooner by trying its other known addresses first.
    const elsewhere = known !== undefined ? await this.otherAddresses(known) : []
    if (elsewhere.length > 0) targets.unshift(elsewhere)
    let last: unknown
    let verdict: unknown
    for (const target of targets) {
      // The other addresses may be stale too (an address it had before): on a LAN a live one answers at
      // once, so they get a short deadline before the usual dial.
      const short = target === elsewhere ? AbortSignal.timeout(ELSEWHERE_DIAL_MS) : undefined
      const signal = short !== undefined && opts.signal !== undefined ? AbortSignal.any([opts.signal, short]) : short ?? opts.signal
      let dialed = target
      if (target === opts.addrs && opts.route !== undefined) {
        try {
          dialed = await opts.route(opts.addrs, { known, signal: opts.signal })
        } catch (err) {
          // The route's own verdict (ISOLATED, or NO_PEER saying why) is the one to report.
          verdict = err
          if (isFerryError(err, ErrorCode.ISOLATED) || opts.signal?.aborted === true) throw err
          continue
        }
      }
      try {
        return await this.components.connectionManager.openConnection(dialed, { signal })
      } catch (err) {
        last = err
        if (opts.signal?.aborted === true) break
      }
    }
    if (isFerryError(verdict)) throw verdict
    throw new FerryError(ErrorCode.NO_PEER, `cannot reach the other phone at ${opts.addrs.map(String).join(', ')}: ${(last as Error)?.message}`, undefined, { cause: last })
  }

  /** The other phone's known addresses except the one the last failed session used, each with /p2p/. */
  private async otherAddresses (peer: PeerId): Promise<Multiaddr[]> {
    const dead = this.deadAddr
    if (dead === undefined || this.components.peerStore === undefined) return []
    const hostPort = (ma: Multiaddr): string => ma.toString().split('/p2p/')[0]
    const known = await this.components.peerStore.get(peer).catch(() => undefined)
    return (known?.addresses ?? [])
      .map(a => a.multiaddr)
      .filter(ma => hostPort(ma) !== hostPort(dead))
      .map(ma => ma.toString().includes('/p2p/') ? ma : ma.encapsulate(`/p2p/${peer.toString()}`))
  }

  private async receiveOnce (opts: ReceiveOptions, known: PeerId | undefined, onConnected: (peer: PeerId) => void, onAdvance: () => void): Promise<{ summary: Array<{ id: string, title: string, messages: number }>, progress: Progress }> {
    const connection = await this.dial(opts, known)
    onConnected(connection.remotePeer)
    try {
      return await this.transferOn(connection, opts, onAdvance)
    } catch (err) {
      // This connection failed us: drop it, or the next dial would be handed the same dead connection back.
      this.deadAddr = connection.remoteAddr
      connection.abort(err instanceof Error ? err : new Error(String(err)))
      throw err
    }
  }

  private async transferOn (connection: Connection, opts: ReceiveOptions, onAdvance: () => void): Promise<{ summary: Array<{ id: string, title: string, messages: number }>, progress: Progress }> {
    const peer = connection.remotePeer.toString()
    const record = loadPairing(this.init.storeDir)
    const token = record?.role === 'receiver' && record.peerId === peer ? Uint8Array.from(Buffer.from(record.token, 'hex')) : undefined
    const pairStream = await connection.newStream(PAIR_PROTOCOL, { signal: opts.signal })
    const outcome = await pairAsReceiver(streamToDuplex(pairStream), { localPeerId: this.peerId, remotePeerId: peer },
      token !== undefined ? { token } : { code: opts.code }, this.init.pairTimeoutMs)
    if (outcome.resumeToken !== undefined) {
      savePairing(this.init.storeDir, {
        role: 'receiver', peerId: peer, token: hex(outcome.resumeToken), nameplate: opts.code?.nameplate ?? '', addrs: opts.addrs.map(String), createdAt: Date.now()
      })
    }
    opts.onEvent?.({ type: 'paired', peer, mode: outcome.mode })
    const stream = await connection.newStream(TRANSFER_PROTOCOL, { signal: opts.signal })
    const machine = new ReceiverMachine({ store: this.init.store, request: opts.request, options: this.init.options })
    const progress = (): Progress => ({
      messages: machine.progress.messages,
      totalMessages: machine.progress.totalMessages,
      mediaBytes: machine.progress.mediaBytes,
      totalMediaBytes: machine.progress.totalMediaBytes
    })
    await receiveTransfer(stream, machine, {
      signal: opts.signal,
      stallMs: this.init.stallMs ?? DEFAULT_STALL_MS,
      onAdvance,
      onManifest: () => {
        const e = machine.expected
        if (e !== undefined) opts.onEvent?.({ type: 'manifest', totalMessages: e.totalMessages, totalMediaBytes: e.totalMediaBytes, conversations: e.conversations.size })
      },
      onChatsReady: () => { opts.onEvent?.({ type: 'chats-ready', messages: machine.progress.messages }) },
      onProgress: () => { opts.onEvent?.({ type: 'progress', progress: progress() }) }
    })
    forgetPairing(this.init.storeDir)
    const result = { summary: machine.summary ?? [], progress: progress() }
    opts.onEvent?.({ type: 'verified', ...result })
    return result
  }
}

/** The libp2p service factory: `services: { ferry: ferry({ store, storeDir }) }`. */
export function ferry (init: FerryServiceInit): (components: FerryComponents) => FerryService {
  return components => new FerryService(components, init)
}
