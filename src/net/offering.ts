import type { ComponentLogger, Connection, Logger, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import { ErrorCode, FerryError, isFerryError } from '../errors.js'
import type { CodeLifetime, PairingCode } from '../pairing/index.js'
import type { AbortReason } from '../pairing/messages.js'
import { SenderMachine } from '../protocol/sender.js'
import { runSender } from '../protocol/session.js'
import { transferOptions, type TransferOptions } from '../protocol/options.js'
import type { HistorySource } from '../store/history.js'
import type { Selection } from '../store/model.js'
import type { PairingRecords } from '../journal/pairing-records.js'
import type { CodeBudgets, PersistedLifetime } from '../journal/code-budgets.js'
import type { BatchDeflate } from '../wire/codec.js'
import type { ByteDuplex } from '../wire/duplex.js'
import { rateLimited } from '../wire/rate-limit.js'
import { pairAsSender } from './pair-stream.js'
import type { ConnectionSlots } from './connection-slots.js'
import type { FerryLoggers } from './ferry-loggers.js'
import {
  beginTransfer, cancelled, emitter,
  type EventBody, type FerryEvent, type Progress, type TransferMemory, type TransferStats, type TransferTurns
} from './transfer-events.js'

// The old phone's side of the service: one offer of its history, from `offer()` until a paired phone
// verified it or the offer ended (cancelled, stopped, its code dead unused, or a failure a retry would not
// fix). It pairs phones by the code or the token of an earlier pairing, keeps the code's expiry timer,
// and runs the transfer for the phone it paired with, which may reconnect and resume.


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
  /**
   * Hears the transfer's events as they happen. Ferry does not wait for it: a handler that returns a
   * promise runs alongside the transfer. One that throws, or whose promise rejects, ends the transfer
   * with CANCELLED, its error as the `cause` (what arrived stays, for a resume); on `verified`, when the
   * transfer is done, it ends nothing: it is logged (`ferry:service:error`) and the transfer resolves
   * verified. Typed as either kind of function, so that one returning something else
   * (`e => events.push(e)`) is taken as before.
   */
  onEvent?: ((e: FerryEvent) => void) | ((e: FerryEvent) => Promise<void>)
  signal?: AbortSignal
}

/** What offering needs of libp2p (part of FerryComponents). */
export interface OfferingComponents {
  peerId: PeerId
  /** Our own addresses, kept in the pairing record so a restarted sender can listen where it was. */
  addressManager?: { getAddresses(): Multiaddr[] }
  logger: ComponentLogger
}

/** What offering needs of the service's init (FerryServiceInit says what each is). */
export interface OfferingInit {
  history: Partial<HistorySource>
  options?: Partial<TransferOptions>
  pairTimeoutMs?: number
  batchDeflate?: BatchDeflate
  memory?: TransferMemory
}

/** What an offer needs of the service that opened it, asked each time (they change as it runs). */
export interface OfferingHost {
  /** Who may hold a connection to this phone: the service's slots, while it runs with them. */
  slots: () => ConnectionSlots | undefined
  /** The offer the service has open now: one made again with the same code shares this one's lifetime. */
  open: () => Offering | undefined
  /** This offer ended; why is what a phone that comes to pair after it is told. */
  ended: (reason: AbortReason) => void
}

/** What an offer starts from: the pairing it may resume, and its code's budget from the journal. */
export interface OfferStart {
  current?: { peer: string, token: Uint8Array, lastUsedAt: number }
  budget?: PersistedLifetime
}

const hex = (b: Uint8Array): string => bytesToHex(b)
const offerEnded = (): FerryError => new FerryError(ErrorCode.CANCELLED, 'this phone stopped offering its history')

/** The history to send, or why this phone cannot send one. */
export function historySource (history: Partial<HistorySource>): HistorySource {
  if (typeof history.readMedia !== 'function' || typeof history.messages !== 'function') {
    throw new FerryError(ErrorCode.BAD_INPUT, 'this phone\'s history cannot be sent: it is no HistorySource')
  }
  return history as HistorySource
}

/**
 * Reads what an offer starts from: the pairing this phone may resume, and the code's budget. BAD_INPUT
 * when there is neither a code nor a pairing to resume.
 */
export async function offerStart (opts: OfferOptions, pairings: PairingRecords, budgets: CodeBudgets): Promise<OfferStart> {
  const { record, expired } = await pairings.loadOrExpired()
  const current = record?.role === 'sender' ? { peer: record.peerId, token: hexToBytes(record.token), lastUsedAt: record.lastUsedAt ?? record.createdAt } : undefined
  if (opts.code === undefined && current === undefined) {
    throw new FerryError(ErrorCode.BAD_INPUT, expired?.role === 'sender'
      ? `no pairing code, and the pairing with ${expired.peerId} expired (unused for 24 hours): pair again with a code`
      : 'no pairing code and no earlier pairing to resume')
  }
  // The code's guesses are counted in the journal: a restarted offer of the same code carries on, and a
  // code that was used, spent its guesses or expired is refused here (CODE_EXPIRED).
  const budget = opts.code !== undefined ? await budgets.open(opts.code) : undefined
  return { current, budget }
}

/** One offer of this phone's history; a new one for each call of FerryService.offer. */
export class Offering {
  private readonly emitEvent: (e: EventBody) => void
  /** What the runtime's collector hears of this offer (FerryServiceInit.memory). */
  private readonly turns?: TransferTurns
  private readonly lifetime?: CodeLifetime
  /** Resolves once the code's budget, as it stands, is in the journal. */
  private readonly durable?: () => Promise<void>
  /**
   * The phone this one is paired with now (from the journal, or paired in this offer): the only one that
   * may resume, run or stop a transfer. A pairing by code replaces it.
   */
  private current?: { peer: string, token: Uint8Array, lastUsedAt: number }
  /** Peers that proved the current pairing in this offer (by the code or its token). */
  private readonly authenticated = new Set<string>()
  /**
   * Pairings under way, by peer, settled once the outcome is recorded. The other phone learns it paired
   * when the handshake ends, before this phone has made the code's use durable and recorded the pairing;
   * its transfer stream, opened at once, waits for that rather than being told NOT_PAIRED.
   */
  private readonly recording = new Map<string, Promise<void>>()
  private running?: { peer: string, abort: AbortController }
  /**
   * Pairing streams under way. When the offer ends they are cut: an attempt begun before a cancel must
   * not pair a phone after it (its pairing record would let that phone resume later).
   */
  private readonly pairing = new Set<ByteDuplex>()
  /** Three wrong codes were typed; only the QR code's key pairs now (`typed-code-spent` was said). */
  private typedCodeSpent = false
  /**
   * Pairing attempts under way that began (a code attempt, a scan, a resume): a code that dies meanwhile
   * ends the offer only once they have, as one of them may still pair a phone.
   */
  private attempting = 0
  /** Fires when the code is ten minutes old (see expireWhenDue). */
  private expiry?: ReturnType<typeof setTimeout>
  /** Resolved or rejected: nothing of it runs or is told after that. */
  private ended = false
  private readonly done: Promise<Progress>
  private settle!: { resolve: (summary: Progress) => void, reject: (err: FerryError) => void }
  /** Set as the new phone's verification is told: from then on the offer ends verified. */
  private verified = false
  private readonly onAbort = (): void => { if (!this.verified) this.reject(cancelled(this.opts.signal, 'offer')) }

  private readonly log: Logger

  constructor (private readonly components: OfferingComponents, private readonly logs: FerryLoggers, private readonly init: OfferingInit,
    private readonly pairings: PairingRecords, private readonly opts: OfferOptions, start: OfferStart, private readonly host: OfferingHost) {
    this.log = logs.service
    this.turns = beginTransfer(init.memory, 'sender')
    this.emitEvent = emitter(opts.onEvent, this.turns)
    this.lifetime = start.budget?.lifetime
    this.durable = start.budget?.durable
    this.current = start.current
    this.done = new Promise<Progress>((resolve, reject) => { this.settle = { resolve, reject } })
  }

  /**
   * Opens the offer, once the service holds it as its open one: resolves once a paired receiver verified
   * the history, rejects when the offer ends otherwise.
   */
  async run (): Promise<Progress> {
    this.opts.signal?.addEventListener('abort', this.onAbort, { once: true })
    this.expireWhenDue()
    const codeExpiresAt = this.lifetime?.snapshot().expiresAt
    this.emit({ type: 'offering', ...(codeExpiresAt !== undefined ? { codeExpiresAt } : {}) })
    return await this.done
  }

  /** The phone paired with now, if any: the connection slots never count it. */
  get pairedPeer (): string | undefined {
    return this.current?.peer
  }

  /** Ends the offer with an error (the app cancelled, the phone stopped, or it cannot go on). */
  reject (e: FerryError): void {
    if (!this.end(e.code === ErrorCode.CANCELLED ? ErrorCode.CANCELLED : ErrorCode.CODE_EXPIRED)) return
    this.running?.abort.abort()
    this.settle.reject(e)
  }

  private resolve (p: Progress): void {
    if (!this.end(ErrorCode.CODE_EXPIRED)) return // used
    this.settle.resolve(p)
  }

  private emit (e: EventBody): void {
    if (!this.ended) this.emitEvent(e)
  }

  /** Ends the offer once: false if it had ended already. */
  private end (reason: AbortReason): boolean {
    if (this.ended) return false
    this.ended = true
    this.host.ended(reason)
    this.opts.signal?.removeEventListener('abort', this.onAbort)
    clearTimeout(this.expiry)
    this.turns?.end()
    for (const d of this.pairing) d.abort(offerEnded())
    return true
  }

  /**
   * Ends the offer when its code grows too old to pair, if no phone paired with it by then. Expiry is
   * checked only when an attempt begins, so without this an offer whose code aged out unused would wait
   * on (for its QR code too, after `typed-code-spent`), showing a code that pairs no phone.
   */
  private expireWhenDue (): void {
    const lifetime = this.lifetime
    if (lifetime === undefined || this.ended) return
    // A timer may fire a moment before the lifetime's clock says so: then it waits the rest.
    if (lifetime.msLeft > 0) {
      this.expiry = setTimeout(() => { this.expireWhenDue() }, lifetime.msLeft)
      return
    }
    this.codeNews()
  }

  /**
   * Tells the app what became of the code, when that is news: typing it is over but its QR code still
   * pairs (`typed-code-spent`, once), or it can pair no phone any more, which ends an offer that no phone
   * paired with (a phone paired before may still resume, so such an offer goes on).
   */
  private codeNews (): void {
    const lifetime = this.lifetime
    if (lifetime === undefined || this.ended || this.current !== undefined) return
    const state = lifetime.state
    if (state === 'live' || state === 'used') return
    if (this.opts.qrKey !== undefined && lifetime.pairsByQr) {
      // The typed code is spent, not the QR code: no neighbour can stop the phone that scans it.
      if (!this.typedCodeSpent) this.emit({ type: 'typed-code-spent' })
      this.typedCodeSpent = true
      return
    }
    if (this.attempting > 0) return // one may still pair a phone; its end looks again
    // Too old is the news once it is so, though a code whose guesses were spent says 'exhausted'.
    this.reject(lifetime.msLeft === 0
      ? new FerryError(ErrorCode.CODE_EXPIRED, 'the pairing code expired unused: ten minutes have passed since it was first shown; offer again with a new code', { state: 'expired' })
      : new FerryError(ErrorCode.CODE_EXPIRED, 'three wrong codes were tried; start again for a new code', { state: 'exhausted' }))
  }

  /** Settles once a pairing under way with `peer` is recorded (or failed); undefined when none is. */
  recordingOf (peer: string): Promise<void> | undefined {
    return this.recording.get(peer)
  }

  /**
   * Whether `peer` may run a transfer now: only the phone of the current pairing, once it proved it in
   * this offer. A phone paired before can neither pull the history nor stop the current phone's transfer.
   */
  admits (peer: string): boolean {
    return this.current?.peer === peer && this.authenticated.has(peer) && (this.running === undefined || this.running.peer === peer)
  }

  /** One pairing stream: pairs its phone by the code or its token, and records the pairing. */
  async pair (duplex: ByteDuplex, connection: Connection): Promise<void> {
    const peer = connection.remotePeer.toString()
    let began = false
    /** This stream's phone used the code: no other can pair with it now. */
    let usedCode = false
    /** This stream's attempt is over: it no longer holds the offer open (see attempting). */
    const settled = (): void => {
      if (began) this.attempting--
      began = false
    }
    // Only the current pairing's token resumes, and only while it is fresh.
    const current = this.current
    const tokens = new Map<string, Uint8Array>()
    if (current !== undefined && this.pairings.live(current.lastUsedAt)) tokens.set(current.peer, current.token)
    let recorded!: () => void
    const recording = new Promise<void>(resolve => { recorded = resolve })
    this.recording.set(peer, recording)
    this.pairing.add(duplex)
    try {
      const outcome = await pairAsSender(duplex, { localPeerId: this.components.peerId.toString(), remotePeerId: peer }, {
        code: this.opts.code, qrKey: this.opts.qrKey, lifetime: this.lifetime, tokens, durable: this.durable,
        onAttempt: () => { began = true; this.attempting++; this.host.slots()?.attemptBegan(connection) }
      }, this.init.pairTimeoutMs)
      usedCode = outcome.mode === 'code'
      if (this.ended) throw offerEnded()
      const now = Date.now()
      if (outcome.resumeToken !== undefined) {
        // The code is used up: on disk before anything is sent under this pairing.
        await this.durable?.()
        if (this.ended) throw offerEnded()
        // A new pairing by code replaces the one before: the phone paired before can no longer resume, and
        // a transfer it is running stops.
        this.current = { peer, token: outcome.resumeToken, lastUsedAt: now }
        this.authenticated.clear()
        if (this.running !== undefined && this.running.peer !== peer) {
          const replaced = this.running
          this.running = undefined
          replaced.abort.abort()
        }
        await this.pairings.save({
          role: 'sender', peerId: peer, token: hex(outcome.resumeToken), nameplate: this.opts.code?.nameplate ?? '',
          addrs: (this.components.addressManager?.getAddresses() ?? []).map(String), createdAt: now, lastUsedAt: now
        })
      } else {
        // A resume that began before another phone paired by code proved a pairing that is gone.
        if (this.current?.peer !== peer) throw new FerryError(ErrorCode.NOT_PAIRED, 'resume: this phone paired with another phone meanwhile; pair again with a new code')
        this.current.lastUsedAt = now
        await this.pairings.touch(peer)
      }
      this.authenticated.add(peer)
      this.host.slots()?.attemptEnded(connection, began, true)
      // The phone paired before (if another) is now a stranger: its connections go.
      if (outcome.mode === 'code') this.host.slots()?.review()
      this.log('paired with %s by %s', peer, outcome.mode)
      this.emit({ type: 'paired', peer, mode: outcome.mode })
    } catch (err) {
      const e = isFerryError(err) ? err : new FerryError(ErrorCode.INTERNAL, String(err))
      this.log('pairing attempt from %s failed: %s', peer, e.code)
      this.host.slots()?.attemptEnded(connection, began, false)
      settled()
      this.emit({ type: 'pair-failed', peer, error: e })
      // The code paired that phone, and this one could not keep the pairing (its journal failed): the
      // code pairs no other phone, so unless a phone paired before may resume, the offer ends with why.
      if (usedCode && this.current === undefined) this.reject(e)
      // An offer made again with the same code shares this lifetime (CodeBudgets), so an attempt begun
      // under the earlier offer can kill the code the later one shows: tell whichever shows it now.
      for (const o of new Set([this, this.host.open()])) {
        if (o !== undefined && o.lifetime === this.lifetime) o.codeNews()
      }
    } finally {
      settled()
      this.pairing.delete(duplex)
      if (this.recording.get(peer) === recording) this.recording.delete(peer)
      recorded()
    }
  }

  /**
   * One transfer stream, from a phone the offer admits: sends the history, resumed where the receiver
   * holds it, until it is verified (the offer resolves) or the link drops (the receiver comes back).
   */
  async transfer (duplex: ByteDuplex, peer: string): Promise<void> {
    // The same phone reconnecting replaces its older, probably dead, session.
    this.running?.abort.abort()
    const abort = new AbortController()
    this.running = { peer, abort }
    const machine = new SenderMachine({ source: historySource(this.init.history), offer: this.opts.selection, options: this.init.options, deflate: this.init.batchDeflate?.deflate, logger: this.logs.sender })
    const progress = (): Progress => ({
      messages: machine.progress.skippedMessages + machine.progress.messagesSent,
      totalMessages: machine.progress.totalMessages,
      mediaBytes: machine.progress.skippedMediaBytes + machine.progress.mediaBytesSent,
      totalMediaBytes: machine.progress.totalMediaBytes
    })
    let announced = false
    const cap = this.opts.maxBytesPerSecond
    try {
      await runSender(machine, cap === undefined ? duplex : rateLimited(duplex, cap), {
        signal: abort.signal,
        replyMs: transferOptions(this.init.options).replyMs,
        // Forgotten before the hang-up that tells the new phone it was heard (DriverOptions.onVerified).
        onVerified: async () => { await this.pairings.forget() },
        onProgress: () => {
          // Until the receiver's Resume is in, what it already holds is unknown: a progress of 0 here would
          // send a resumed transfer's bar back to the start (and the first progress is the one shown).
          if (machine.manifest === undefined || machine.state === 'hello' || machine.state === 'manifest' || machine.state === 'resume') return
          if (!announced) {
            announced = true
            this.emit({ type: 'manifest', totalMessages: machine.manifest.totalMessages, totalMediaBytes: machine.manifest.totalMediaBytes, conversations: machine.manifest.conversations.length })
          }
          if (machine.progressKnown) this.emit({ type: 'progress', progress: { ...progress(), sessionBytes: machine.progress.bytesSent } })
        }
      })
      const p = machine.progress
      // Verified, whatever the app does on hearing it: an app that aborts the offer's signal on 'verified'
      // must not turn this offer into a cancelled one.
      this.verified = true
      this.emit({
        type: 'verified',
        // What the receiver verified: it checks each conversation's count and digest against this manifest.
        summary: (machine.manifest?.conversations ?? []).map(c => ({ id: c.conversation.id, title: c.conversation.title, messages: c.messageCount })),
        progress: progress(),
        ...senderStats(machine.verifiedCounts, { messagesSent: p.messagesSent, messagesHeld: p.skippedMessages, mediaFilesSent: p.mediaFilesSent, mediaBytesSent: p.mediaBytesSent, mediaFilesHeld: (machine.manifest?.media.length ?? 0) - p.mediaFilesSent })
      })
      this.resolve(progress())
    } catch (err) {
      const e = err as FerryError
      if (this.ended) return // cancelled or stopped: the offer has said so
      if (abort.signal.aborted && this.running?.abort !== abort) return // replaced by a newer session
      if (e.code === ErrorCode.TRUNCATED || e.code === ErrorCode.CANCELLED) {
        this.log('session with %s interrupted: %s', peer, e.message)
        this.emit({ type: 'interrupted', error: e })
        return // the receiver reconnects with its resume token
      }
      this.log.error('offer ends: %s %s', e.code, e.message)
      this.reject(e)
    } finally {
      if (this.running?.abort === abort) this.running = undefined
    }
  }
}

/**
 * What the old phone reports of a verified transfer: the whole transfer's counts as the new phone
 * verified them (it reports the same), with this session's beside them. From a receiver that counted
 * only its session, this session's, said to be so: what came before counts as already there.
 */
function senderStats (whole: TransferStats | undefined, session: TransferStats): { stats: TransferStats, session: TransferStats } {
  return { stats: whole ?? { ...session, lastSessionOnly: true }, session }
}
