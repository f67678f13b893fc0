import type { Connection, Startable, Stream } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import type { Multiaddr } from '@multiformats/multiaddr'
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import { ErrorCode, FerryError, isFerryError } from '../errors.js'
import type { CodeLifetime, PairingCode } from '../pairing/index.js'
import type { AbortReason } from '../pairing/messages.js'
import { SenderMachine } from '../protocol/sender.js'
import { runSender } from '../protocol/session.js'
import type { TransferOptions } from '../protocol/options.js'
import type { HistorySink, HistorySource } from '../store/history.js'
import type { Selection } from '../store/model.js'
import type { Journal } from '../journal/journal.js'
import { PairingRecords } from '../journal/pairing-records.js'
import { CodeBudgets } from '../journal/code-budgets.js'
import { TriedCodes } from '../journal/tried-codes.js'
import { encodeFrame, type BatchDeflate } from '../wire/codec.js'
import { prefix } from '../wire/framing.js'
import { rateLimited } from '../wire/rate-limit.js'
import { PAIR_PROTOCOL, pairAsSender } from './pair-stream.js'
import { ConnectionSlots, type SlotLimits } from './connection-slots.js'
import { TRANSFER_PROTOCOL } from './receive-transfer.js'
import { dialAddresses, Receiving, type ReceiveOptions, type ReceiveResult, type ReceivingComponents } from './receiving.js'
import { streamToDuplex } from './stream-duplex.js'
import { guardHandler } from './app-handler.js'
import type { ByteDuplex } from '../wire/duplex.js'
import {
  beginTransfer, cancelled, emitter, isAborted, stoppedError,
  type EventBody, type FerryEvent, type Progress, type TransferMemory, type TransferTurns
} from './transfer-events.js'

export { TRANSFER_PROTOCOL }
export type { ConversationSummary, FerryEvent, Progress, TransferMemory, TransferStats, TransferTurns } from './transfer-events.js'
export { DEFAULT_STALL_MS, type ReceiveOptions, type ReceiveResult } from './receiving.js'

/** What the service needs from libp2p (a subset of its components, as @libp2p/ping takes them). */
export interface FerryComponents extends ReceivingComponents {
  registrar: {
    handle(protocol: string, handler: (stream: Stream, connection: Connection) => void | Promise<void>, options?: { maxInboundStreams?: number, maxOutboundStreams?: number }): Promise<void>
    unhandle(protocol: string): Promise<void>
  }
  /** Our own addresses, kept in the pairing record so a restarted sender can listen where it was. */
  addressManager?: { getAddresses(): Multiaddr[] }
  /** libp2p's events: connections opening and closing, for the slot policy (ConnectionSlots). */
  events?: {
    addEventListener(type: 'connection:open' | 'connection:close', listener: (evt: CustomEvent<Connection>) => void): void
    removeEventListener(type: 'connection:open' | 'connection:close', listener: (evt: CustomEvent<Connection>) => void): void
  }
}

export interface FerryServiceInit {
  /**
   * The phone's history: a HistorySource to send it, a HistorySink to receive into it (an app that does
   * both passes one object that is both).
   */
  history: Partial<HistorySource & HistorySink>
  /** Ferry's own state on this phone: checkpoints, partial media, pairing records (src/journal). */
  journal: Journal
  options?: Partial<TransferOptions>
  /** Per pairing-stream deadline; a stalled attempt must not hold one of the code's three charges. */
  pairTimeoutMs?: number
  /**
   * The receiver drops a link on which nothing arrived for this long mid-transfer, and redials (see
   * StallWatch): a phone whose address changed otherwise waits 10-20 s for libp2p's ping to give up.
   */
  stallMs?: number
  /**
   * Who may hold a connection to this phone (see ConnectionSlots): peers that do not pair within a short
   * time, or fail to, are let go; unpaired ones are capped in all, per address and per peer; the paired
   * phone is never counted. `false` leaves connections to libp2p alone (an app whose node does more).
   */
  slots?: Partial<SlotLimits> | false
  /**
   * Message batches deflated over WebRTC: Node's node:zlib (`nodeBatchDeflate` in chat-ferry/node), the
   * browser's DecompressionStream. A receiver asks for them only over WebRTC, where every byte costs
   * packets in SCTP and DTLS on both phones, several times the CPU that deflating it takes; over TCP a
   * LAN moves bytes more cheaply than deflate and inflate cost. Media, compressed already, goes as it
   * is. Omitted: batches go as they are.
   */
  batchDeflate?: BatchDeflate
  /**
   * Keeps the runtime's garbage collector in step with this phone's transfers: Node's
   * (`nodeTransferMemory` in chat-ferry/node) scavenges as buffers pile up and gives V8's old
   * generation room while media flows, which its own pacing does not. It acts on the whole process,
   * hence a choice of the app's. Omitted: the collector is left to itself.
   */
  memory?: TransferMemory
}

const log = logger('ferry:service')

export interface OfferOptions {
  /** The code this phone shows; omit to accept only the phone it paired with before (resume). */
  code?: PairingCode
  /**
   * The key of the QR code shown beside the code (`generateQrKey`; `buildQrPayload` puts it in). A phone
   * that scans pairs with it outside the three guesses a typed code has: once neighbours spent those,
   * the offer goes on for the QR code (a `typed-code-spent` event says so) until it is used or ten
   * minutes old.
   */
  qrKey?: Uint8Array
  selection?: Selection
  /** Caps the transfer's send rate (bytes per second), e.g. to leave room on a shared Wi-Fi; default none. */
  maxBytesPerSecond?: number
  onEvent?: (e: FerryEvent) => void
  signal?: AbortSignal
}

interface ActiveOffer {
  opts: OfferOptions
  emit: (e: EventBody) => void
  /** What the runtime's collector hears of this offer (FerryServiceInit.memory). */
  turns?: TransferTurns
  lifetime?: CodeLifetime
  /** Resolves once the code's budget, as it stands, is in the journal. */
  durable?: () => Promise<void>
  /**
   * The phone this one is paired with now (from the journal, or paired in this offer): the only one that
   * may resume, run or stop a transfer. A pairing by code replaces it.
   */
  current?: { peer: string, token: Uint8Array, lastUsedAt: number }
  /** Peers that proved the current pairing in this offer (by the code or its token). */
  authenticated: Set<string>
  /**
   * Pairings under way, by peer, settled once the outcome is recorded. The other phone learns it paired
   * when the handshake ends, before this phone has made the code's use durable and recorded the pairing;
   * its transfer stream, opened at once, waits for that rather than being told NOT_PAIRED.
   */
  recording: Map<string, Promise<void>>
  running?: { peer: string, abort: AbortController }
  /**
   * Pairing streams under way. When the offer ends they are cut: an attempt begun before a cancel must
   * not pair a phone after it (its pairing record would let that phone resume later).
   */
  pairing: Set<ByteDuplex>
  /** Three wrong codes were typed; only the QR code's key pairs now (`typed-code-spent` was said). */
  typedCodeSpent?: boolean
  /**
   * Pairing attempts under way that began (a code attempt, a scan, a resume): a code that dies meanwhile
   * ends the offer only once they have, as one of them may still pair a phone.
   */
  attempting: number
  /** Fires when the code is ten minutes old (see expireWhenDue). */
  expiry?: ReturnType<typeof setTimeout>
  /** Resolved or rejected: nothing of it runs or is told after that. */
  ended: boolean
  resolve: (summary: Progress) => void
  reject: (err: FerryError) => void
}

const hex = (b: Uint8Array): string => bytesToHex(b)
const offerEnded = (): FerryError => new FerryError(ErrorCode.CANCELLED, 'this phone stopped offering its history')
/** A send or receive asked of a stopped phone: nothing had begun, so nothing stopped before verifying. */
const notRunning = (): FerryError => new FerryError(ErrorCode.CANCELLED, 'this phone is stopped: it sends and receives nothing until it starts again')

/**
 * Ferry as a libp2p service: `/ferry/pair/1.0.0` authenticates a peer with the short code (or its resume
 * token), and `/ferry/transfer/1.0.0` serves the history only to a peer that did.
 */
export class FerryService implements Startable {
  private offerState?: ActiveOffer
  /**
   * Why the last offer ended (cancelled, or its code used or dead): what a phone that comes to pair
   * after it is told.
   */
  private offerEnded?: AbortReason
  /** Receives under way: stop() ends them. */
  private readonly receives = new Set<AbortController>()
  /** Set by stop(): an offer still on its way in (reading its code's budget) must not open after it. */
  private stopped = false
  private readonly pairings: PairingRecords
  private readonly budgets: CodeBudgets
  /** The codes this phone typed and how many guesses each tested, shared by its receives. */
  private readonly tried: TriedCodes
  /** Who may hold a connection; set while started, unless turned off. */
  slots?: ConnectionSlots
  private readonly onConnectionOpen = (evt: CustomEvent<Connection>): void => { this.slots?.opened(evt.detail) }
  private readonly onConnectionClose = (evt: CustomEvent<Connection>): void => { this.slots?.gone(evt.detail) }

  constructor (private readonly components: FerryComponents, private readonly init: FerryServiceInit) {
    this.pairings = new PairingRecords(init.journal)
    this.budgets = new CodeBudgets(init.journal)
    this.tried = new TriedCodes(init.journal)
  }

  readonly [Symbol.toStringTag] = '@ferry/service'

  async start (): Promise<void> {
    this.stopped = false
    const events = this.components.events
    if (this.init.slots !== false && events !== undefined) {
      this.slots = new ConnectionSlots({ limits: this.init.slots, trusted: peer => this.offerState?.current?.peer === peer })
      events.addEventListener('connection:open', this.onConnectionOpen)
      events.addEventListener('connection:close', this.onConnectionClose)
    }
    // One pairing and one transfer stream at a time per connection: a phone talks to one phone.
    await this.components.registrar.handle(PAIR_PROTOCOL, (s, c) => { void this.onPairStream(s, c) }, { maxInboundStreams: 2, maxOutboundStreams: 2 })
    await this.components.registrar.handle(TRANSFER_PROTOCOL, (s, c) => { void this.onTransferStream(s, c) }, { maxInboundStreams: 2, maxOutboundStreams: 2 })
  }

  async stop (): Promise<void> {
    await this.components.registrar.unhandle(PAIR_PROTOCOL)
    await this.components.registrar.unhandle(TRANSFER_PROTOCOL)
    // What waits on this phone's transfers hears that it stopped, rather than waiting for good.
    this.stopped = true
    this.offerState?.reject(stoppedError())
    for (const r of this.receives) r.abort(stoppedError())
    this.components.events?.removeEventListener('connection:open', this.onConnectionOpen)
    this.components.events?.removeEventListener('connection:close', this.onConnectionClose)
    this.slots?.stop()
    this.slots = undefined
  }

  get peerId (): string {
    return this.components.peerId.toString()
  }

  /**
   * Offers this phone's history: resolves once a paired receiver verified it. Survives dropped links and
   * reconnects; rejects when the code dies unused, or on a failure that a retry would not fix.
   */
  async offer (asked: OfferOptions): Promise<Progress> {
    const opts = { ...asked, ...guardHandler(asked.onEvent, asked.signal) }
    this.refuseOffer(opts.signal)
    this.source() // a phone that cannot send says so now, not when the receiver comes
    const { record, expired } = await this.pairings.loadOrExpired()
    const current = record?.role === 'sender' ? { peer: record.peerId, token: hexToBytes(record.token), lastUsedAt: record.lastUsedAt ?? record.createdAt } : undefined
    if (opts.code === undefined && current === undefined) {
      throw new FerryError(ErrorCode.BAD_INPUT, expired?.role === 'sender'
        ? `no pairing code, and the pairing with ${expired.peerId} expired (unused for 24 hours): pair again with a code`
        : 'no pairing code and no earlier pairing to resume')
    }
    // The code's guesses are counted in the journal: a restarted offer of the same code carries on, and a
    // code that was used, spent its guesses or expired is refused here (CODE_EXPIRED).
    const budget = opts.code !== undefined ? await this.budgets.open(opts.code) : undefined
    // Awaits above may have let the app cancel, stop the phone or start another offer meanwhile.
    this.refuseOffer(opts.signal)
    this.offerEnded = undefined
    const turns = beginTransfer(this.init.memory, 'sender')
    const emit = emitter(opts.onEvent, turns)
    return await new Promise<Progress>((resolve, reject) => {
      const onAbort = (): void => { state.reject(cancelled(opts.signal)) }
      /** Ends the offer once: false if it had ended already. */
      const end = (): boolean => {
        if (state.ended) return false
        state.ended = true
        if (this.offerState === state) this.offerState = undefined
        opts.signal?.removeEventListener('abort', onAbort)
        clearTimeout(state.expiry)
        turns?.end()
        for (const d of state.pairing) d.abort(offerEnded())
        return true
      }
      const state: ActiveOffer = {
        opts,
        emit: e => { if (!state.ended) emit(e) },
        turns,
        lifetime: budget?.lifetime,
        durable: budget?.durable,
        current,
        authenticated: new Set(),
        recording: new Map(),
        pairing: new Set(),
        attempting: 0,
        ended: false,
        resolve: p => {
          if (!end()) return
          this.offerEnded = ErrorCode.CODE_EXPIRED // used
          resolve(p)
        },
        reject: e => {
          if (!end()) return
          this.offerEnded = e.code === ErrorCode.CANCELLED ? ErrorCode.CANCELLED : ErrorCode.CODE_EXPIRED
          state.running?.abort.abort()
          reject(e)
        }
      }
      this.offerState = state
      opts.signal?.addEventListener('abort', onAbort, { once: true })
      this.expireWhenDue(state)
      const codeExpiresAt = budget?.lifetime.snapshot().expiresAt
      state.emit({ type: 'offering', ...(codeExpiresAt !== undefined ? { codeExpiresAt } : {}) })
    })
  }

  /**
   * Ends the offer when its code grows too old to pair, if no phone paired with it by then. Expiry is
   * checked only when an attempt begins, so without this an offer whose code aged out unused would wait
   * on (for its QR code too, after `typed-code-spent`), showing a code that pairs no phone.
   */
  private expireWhenDue (offer: ActiveOffer): void {
    const lifetime = offer.lifetime
    if (lifetime === undefined || offer.ended) return
    // A timer may fire a moment before the lifetime's clock says so: then it waits the rest.
    if (lifetime.msLeft > 0) {
      offer.expiry = setTimeout(() => { this.expireWhenDue(offer) }, lifetime.msLeft)
      return
    }
    this.codeNews(offer)
  }

  /**
   * Tells an offer what became of its code, when that is news: typing it is over but its QR code still
   * pairs (`typed-code-spent`, once), or it can pair no phone any more, which ends an offer that no phone
   * paired with (a phone paired before may still resume, so such an offer goes on).
   */
  private codeNews (o: ActiveOffer): void {
    const lifetime = o.lifetime
    if (lifetime === undefined || o.ended || o.current !== undefined) return
    const state = lifetime.state
    if (state === 'live' || state === 'used') return
    if (o.opts.qrKey !== undefined && lifetime.pairsByQr) {
      // The typed code is spent, not the QR code: no neighbour can stop the phone that scans it.
      if (!o.typedCodeSpent) o.emit({ type: 'typed-code-spent' })
      o.typedCodeSpent = true
      return
    }
    if (o.attempting > 0) return // one may still pair a phone; its end looks again
    // Too old is the news once it is so, though a code whose guesses were spent says 'exhausted'.
    o.reject(lifetime.msLeft === 0
      ? new FerryError(ErrorCode.CODE_EXPIRED, 'the pairing code expired unused: ten minutes have passed since it was first shown; offer again with a new code', { state: 'expired' })
      : new FerryError(ErrorCode.CODE_EXPIRED, 'three wrong codes were tried; start again for a new code', { state: 'exhausted' }))
  }

  /**
   * Throws when an offer cannot open now: the app cancelled it (a phone that comes with its code is told
   * so), this phone stopped, or another offer is open.
   */
  private refuseOffer (signal?: AbortSignal): void {
    if (isAborted(signal)) {
      this.offerEnded = ErrorCode.CANCELLED
      throw cancelled(signal)
    }
    if (this.stopped) throw notRunning()
    if (this.offerState !== undefined) throw new FerryError(ErrorCode.BAD_INPUT, 'this phone is already offering its history: one offer at a time')
  }

  private async onPairStream (stream: Stream, connection: Connection): Promise<void> {
    const offer = this.offerState
    const duplex = streamToDuplex(stream)
    if (offer === undefined) {
      if (this.offerEnded === undefined) {
        // No offer yet since this phone started: one may be opening (a sender restarted, reading its
        // journal), and a hang-up has the other phone try again.
        duplex.abort(new FerryError(ErrorCode.NOT_PAIRED, 'this phone is not offering a transfer'))
      } else {
        // Its offer ended: say why, so the other phone stops at once rather than retrying a dead end.
        await pairAsSender(duplex, { localPeerId: this.peerId, remotePeerId: connection.remotePeer.toString() }, {
          tokens: new Map(), refusal: this.offerEnded
        }, this.init.pairTimeoutMs).catch(() => {})
      }
      this.slots?.attemptEnded(connection, false, false)
      return
    }
    const peer = connection.remotePeer.toString()
    let began = false
    /** This stream's phone used the code: no other can pair with it now. */
    let usedCode = false
    /** This stream's attempt is over: it no longer holds the offer open (see ActiveOffer.attempting). */
    const settled = (): void => {
      if (began) offer.attempting--
      began = false
    }
    // Only the current pairing's token resumes, and only while it is fresh.
    const current = offer.current
    const tokens = new Map<string, Uint8Array>()
    if (current !== undefined && this.pairings.live(current.lastUsedAt)) tokens.set(current.peer, current.token)
    let recorded!: () => void
    const recording = new Promise<void>(resolve => { recorded = resolve })
    offer.recording.set(peer, recording)
    offer.pairing.add(duplex)
    try {
      const outcome = await pairAsSender(duplex, { localPeerId: this.peerId, remotePeerId: peer }, {
        code: offer.opts.code, qrKey: offer.opts.qrKey, lifetime: offer.lifetime, tokens, durable: offer.durable,
        onAttempt: () => { began = true; offer.attempting++; this.slots?.attemptBegan(connection) }
      }, this.init.pairTimeoutMs)
      usedCode = outcome.mode === 'code'
      if (offer.ended) throw offerEnded()
      const now = Date.now()
      if (outcome.resumeToken !== undefined) {
        // The code is used up: on disk before anything is sent under this pairing.
        await offer.durable?.()
        if (offer.ended) throw offerEnded()
        // A new pairing by code replaces the one before: the phone paired before can no longer resume, and
        // a transfer it is running stops.
        offer.current = { peer, token: outcome.resumeToken, lastUsedAt: now }
        offer.authenticated.clear()
        if (offer.running !== undefined && offer.running.peer !== peer) {
          const replaced = offer.running
          offer.running = undefined
          replaced.abort.abort()
        }
        await this.pairings.save({
          role: 'sender', peerId: peer, token: hex(outcome.resumeToken), nameplate: offer.opts.code?.nameplate ?? '',
          addrs: (this.components.addressManager?.getAddresses() ?? []).map(String), createdAt: now, lastUsedAt: now
        })
      } else {
        // A resume that began before another phone paired by code proved a pairing that is gone.
        if (offer.current?.peer !== peer) throw new FerryError(ErrorCode.NOT_PAIRED, 'resume: this phone paired with another phone meanwhile; pair again with a new code')
        offer.current.lastUsedAt = now
        await this.pairings.touch(peer)
      }
      offer.authenticated.add(peer)
      this.slots?.attemptEnded(connection, began, true)
      // The phone paired before (if another) is now a stranger: its connections go.
      if (outcome.mode === 'code') this.slots?.review()
      log('paired with %s by %s', peer, outcome.mode)
      offer.emit({ type: 'paired', peer, mode: outcome.mode })
    } catch (err) {
      const e = isFerryError(err) ? err : new FerryError(ErrorCode.INTERNAL, String(err))
      log('pairing attempt from %s failed: %s', peer, e.code)
      this.slots?.attemptEnded(connection, began, false)
      settled()
      offer.emit({ type: 'pair-failed', peer, error: e })
      // The code paired that phone, and this one could not keep the pairing (its journal failed): the
      // code pairs no other phone, so unless a phone paired before may resume, the offer ends with why.
      if (usedCode && offer.current === undefined) offer.reject(e)
      // An offer made again with the same code shares this lifetime (CodeBudgets), so an attempt begun
      // under the earlier offer can kill the code the later one shows: tell whichever shows it now.
      for (const o of new Set([offer, this.offerState])) {
        if (o !== undefined && o.lifetime === offer.lifetime) this.codeNews(o)
      }
    } finally {
      settled()
      offer.pairing.delete(duplex)
      if (offer.recording.get(peer) === recording) offer.recording.delete(peer)
      recorded()
    }
  }

  private async onTransferStream (stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer.toString()
    await this.offerState?.recording.get(peer)
    const offer = this.offerState
    const duplex = streamToDuplex(stream)
    // Only the phone of the current pairing, once it proved it in this offer: a phone paired before can
    // neither pull the history nor stop the current phone's transfer.
    if (offer === undefined || offer.current?.peer !== peer || !offer.authenticated.has(peer) || (offer.running !== undefined && offer.running.peer !== peer)) {
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
    const machine = new SenderMachine({ source: this.source(), offer: offer.opts.selection, options: this.init.options, deflate: this.init.batchDeflate?.deflate })
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
        // Forgotten before the hang-up that tells the new phone it was heard (DriverOptions.onVerified).
        onVerified: async () => { await this.pairings.forget() },
        onProgress: () => {
          // Until the receiver's Resume is in, what it already holds is unknown: a progress of 0 here would
          // send a resumed transfer's bar back to the start (and the first progress is the one shown).
          if (machine.manifest === undefined || machine.state === 'hello' || machine.state === 'manifest' || machine.state === 'resume') return
          if (!announced) {
            announced = true
            offer.emit({ type: 'manifest', totalMessages: machine.manifest.totalMessages, totalMediaBytes: machine.manifest.totalMediaBytes, conversations: machine.manifest.conversations.length })
          }
          if (machine.progressKnown) offer.emit({ type: 'progress', progress: progress() })
        }
      })
      const p = machine.progress
      offer.emit({
        type: 'verified',
        // What the receiver verified: it checks each conversation's count and digest against this manifest.
        summary: (machine.manifest?.conversations ?? []).map(c => ({ id: c.conversation.id, title: c.conversation.title, messages: c.messageCount })),
        progress: progress(),
        stats: { messagesSent: p.messagesSent, messagesHeld: p.skippedMessages, mediaFilesSent: p.mediaFilesSent, mediaBytesSent: p.mediaBytesSent, mediaFilesHeld: (machine.manifest?.media.length ?? 0) - p.mediaFilesSent }
      })
      offer.resolve(progress())
    } catch (err) {
      const e = err as FerryError
      if (offer.ended) return // cancelled or stopped: the offer has said so
      if (abort.signal.aborted && offer.running?.abort !== abort) return // replaced by a newer session
      if (e.code === ErrorCode.TRUNCATED || e.code === ErrorCode.CANCELLED) {
        log('session with %s interrupted: %s', peer, e.message)
        offer.emit({ type: 'interrupted', error: e })
        return // the receiver reconnects with its resume token
      }
      log.error('offer ends: %s %s', e.code, e.message)
      offer.reject(e)
    } finally {
      if (offer.running?.abort === abort) offer.running = undefined
    }
  }

  /**
   * Receives a history from the phone at `addrs`: pairs with the code (or the stored resume token), then
   * transfers, reconnecting and resuming after dropped links until verified.
   */
  async receive (asked: ReceiveOptions): Promise<ReceiveResult> {
    const opts = { ...asked, ...guardHandler(asked.onEvent, asked.signal) }
    if (opts.signal?.aborted === true) throw cancelled(opts.signal)
    if (this.stopped) throw notRunning()
    const addrs = dialAddresses(opts.addrs)
    const stop = new AbortController()
    const signal = opts.signal === undefined ? stop.signal : AbortSignal.any([opts.signal, stop.signal])
    this.receives.add(stop)
    const turns = beginTransfer(this.init.memory, 'receiver')
    try {
      return await new Receiving(this.components, this.init, this.pairings, this.tried).run({ ...opts, addrs, signal }, emitter(opts.onEvent, turns))
    } catch (err) {
      // However far it got (dialling, between retries, mid-stream), a cancelled receive says so.
      if (signal.aborted) throw cancelled(signal)
      throw err
    } finally {
      this.receives.delete(stop)
      turns?.end()
    }
  }

  private source (): HistorySource {
    const h = this.init.history
    if (typeof h.readMedia !== 'function' || typeof h.messages !== 'function') {
      throw new FerryError(ErrorCode.BAD_INPUT, 'this phone\'s history cannot be sent: it is no HistorySource')
    }
    return h as HistorySource
  }
}

/** The libp2p service factory: `services: { ferry: ferry({ history, journal }) }`. */
export function ferry (init: FerryServiceInit): (components: FerryComponents) => FerryService {
  return components => new FerryService(components, init)
}
