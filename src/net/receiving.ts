import type { ComponentLogger, Connection, Logger, PeerId, Stream } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import type { Multiaddr } from '@multiformats/multiaddr'
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import { ErrorCode, FerryError, isFerryError } from '../errors.js'
import type { PairingCode } from '../pairing/index.js'
import { ReceiverMachine, type ReceiverProgress } from '../protocol/receiver.js'
import { transferOptions, type TransferOptions } from '../protocol/options.js'
import type { HistorySink } from '../store/history.js'
import type { Selection } from '../store/model.js'
import type { Journal } from '../journal/journal.js'
import type { PairingRecords } from '../journal/pairing-records.js'
import type { TriedCodes } from '../journal/tried-codes.js'
import { TransferLog, VERIFIED_COUNTS } from '../journal/transfer-log.js'
import type { BatchDeflate } from '../wire/codec.js'
import { LookPast } from './look-past.js'
import { FIRST_REPLY_MS, PAIR_PROTOCOL, pairAsReceiver, type PairOutcome } from './pair-stream.js'
import { retryWhileAdvancing } from './retry.js'
import { receiveTransfer, TRANSFER_PROTOCOL } from './receive-transfer.js'
import { streamToDuplex } from './stream-duplex.js'
import type { ConversationSummary, EventBody, FerryEvent, Progress, TransferStats, TransferTurns } from './transfer-events.js'
import type { FerryLoggers } from './ferry-loggers.js'

// The receiving phone's side of the service: it dials the old phone, pairs (by the code, or the token of
// an earlier pairing), receives and verifies, and after a dropped link dials again and resumes, until the
// history is verified and the old phone has heard so.

const log = logger('ferry:service')

export const DEFAULT_STALL_MS = 5_000
/** How long a receiver that verified keeps reconnecting to tell the old phone so. */
const TELL_AGAIN_MS = 20_000
const ELSEWHERE_DIAL_MS = 2_000
/**
 * How long a stream's protocol may take to be agreed, as libp2p bounds it when given no signal of its
 * own: given one (a receive's, to cancel it), libp2p waits on that alone, and a phone that completes the
 * connection, answers pings and never echoes the protocol would hold the receive for good.
 */
const NEGOTIATION_MS = 10_000

export interface ReceiveOptions {
  /**
   * Where the sender is: its multiaddrs (with /p2p/<id>), from its QR code (`qrDialAddrs`), discovery
   * or --peer, parsed or as strings. BAD_INPUT, at once, for none or one that is no multiaddr.
   */
  addrs: Array<Multiaddr | string>
  /**
   * The code typed. This phone tries one three times at most without pairing, across restarts (its
   * journal counts them: someone posing as the old phone learns from each try whether it guessed the
   * code); then CODE_EXPIRED, `details.state: 'tried'`, before anything is dialled. A try spent is
   * never retried by the receive itself: a link that drops once the other phone's answer was in and did
   * not prove the code ends it with WRONG_CODE, `details.linkDropped` and `triesLeft`.
   */
  code?: PairingCode
  /** The key of the QR code the code came from (`parseQrPayload(...).key`): pairs outside a typed code's three guesses. */
  qrKey?: Uint8Array
  /**
   * The search that found `addrs` for a typed code (the SenderSearch, or anything with its `find`). The
   * code's first three digits are public, so a neighbour can answer that search and refuse the code at
   * once: a refusal that came before the other phone's PAKE_B tested no guess and proved nothing of the
   * code (`details.unproved`). That phone is then set aside and the receive goes on with the next phone
   * `find({ except })` turns up (an `interrupted` event says so). When none does within `lookOnMs` (and
   * the search's own time), the receive ends with the refusal it heard: its code and details, `details.unproved` and
   * `details.setAside` (how many phones refused so), worded so. Without it (the addresses were given:
   * a QR code, --peer) such a refusal ends the receive at once.
   *
   * A phone that cuts the pairing before any valid PAKE_B (`details.cut`: the link drops, or it stops
   * answering) tested nothing either, but an honest phone on a bad link does that too: it is retried,
   * and after CUTS_BEFORE_LOOKING_ON cuts (or cuts that took the first-reply deadline together, or one
   * stall) the search looks for another phone for `lookOnMs`, going back to the phones that cut when
   * none shows up, all within `retryForMs`, which looking past a phone does not start over. Ends with
   * TRUNCATED, `details.unproved`, `cut`, `cuts` and `phones`, when time runs out that way. A phone
   * that gives no first reply within FerryServiceInit.pairFirstReplyMs (10 s) of being asked for the
   * pairing stream (its negotiation included) stalled.
   *
   * A phone found that cannot be reached at all (its dial fails with NO_PEER, or ISOLATED) and was
   * never connected in this receive is set aside the same way, for that look only (a later one may
   * find it again, at the addresses it shows then), after an `interrupted` event with the dial's own
   * error and `details.unreachable`; when no other phone shows up within `lookOnMs`, the failure goes on as
   * without a search (ISOLATED ends the receive, `lookOnMs` later; NO_PEER is retried).
   *
   * A phone found that checks the code and holds another (WRONG_CODE, a try spent: the first three
   * digits have 1000 values, and another transfer nearby may show the same) is set aside too while the
   * code has tries left, after an `interrupted` event with `details.mismatched`, and the search looks on
   * for up to 6 s (`lookOnMs` when shorter); no phone is tried twice in one receive. When none shows up
   * the WRONG_CODE ends the receive, with `details.showing` when it met more than one phone showing the digits.
   */
  search?: { find(again: { except: ReadonlySet<string>, signal?: AbortSignal }): Promise<{ addrs: Multiaddr[] }> }
  request?: Selection
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
  /** How long to keep reconnecting after the link drops without progress. */
  retryForMs?: number
  /** Waiting on a sender whose data flows, with no step forward, after which the link counts as dead (default: the service's). */
  stallMs?: number
  /** This phone's name in its Hello (default 'ferry'). */
  agent?: string
  /**
   * How long a phone whose history is verified keeps trying to tell the old phone before it calls the
   * transfer done all the same (default 20 s): after a link that died as the transfer ended, or a restart
   * of a phone stopped before it could say so.
   */
  tellAgainMs?: number
  /** How long to look for another phone after one refused, cut or could not be reached for a typed code's pairing (see `search`; default 12 s, within the search's own time). */
  lookOnMs?: number
  /**
   * When no session got through to tell the old phone within `tellAgainMs`: keep the pairing (and with
   * it the journal's word that the history was verified after the pairing's last use) instead of
   * forgetting it, and resolve with `unheard: true`. A later receive without a code then only tells the
   * old phone, as after a restart (`unheardVerification` says whether there is one to tell). For a
   * phone that stays open after it verified (the browser page), so an old phone started again after it
   * was stopped before it heard hears it then, rather than wait for a phone that is done with it.
   */
  keepUnheard?: boolean
  /*
   * The hooks below are awaited: one that throws or rejects ends the receive with CANCELLED naming it
   * (what arrived stays, for a receive without the code), except `afterHeard`, which comes once the
   * transfer is done: its failure is logged as an error (`ferry:service:error`) and the receive resolves.
   */
  /**
   * Awaited before each read from the transfer stream (after the first): a store that buffers its writes
   * (the browser's) makes the receiver read no faster than it commits.
   */
  beforeRead?: (machine: ReceiverMachine) => Promise<void>
  /**
   * Awaited once everything has arrived and the `verifying` event went out, before the history is read
   * back and the old phone told: tests hold a transfer there (an old phone stopped before it heard).
   */
  beforeVerifying?: (machine: ReceiverMachine) => Promise<void>
  /**
   * Awaited once the old phone hung up after Verified (it heard) and this phone forgot the pairing,
   * before the last progress and the `verified` event: tests hold a transfer there (a phone stopped
   * after the old phone heard).
   */
  afterHeard?: (machine: ReceiverMachine) => Promise<void>
  /**
   * Awaited when the media records gone here while the transfer ran are put back for a moment, before
   * they are removed again: tests kill a receive there (MediaIntake.verifyPresent).
   */
  afterPutBack?: (machine: ReceiverMachine) => Promise<void>
  /**
   * Where to dial among `addrs`, asked each time they are dialled: the CLI races them and looks for a
   * sender that moved (src/net/find-sender.ts). May throw to end the attempt (NO_PEER is retried,
   * ISOLATED is not); anything but a FerryError (or an abort of its signal) is the app's bug, and ends
   * the receive with CANCELLED naming `route`, its error the `cause`. Default: `addrs` as given.
   */
  route?: (addrs: Multiaddr[], ctx: { known?: PeerId, signal?: AbortSignal }) => Promise<Multiaddr[]>
  /**
   * Bytes free where this phone keeps media, asked before the media start (see ReceiverInit.freeBytes):
   * a history that cannot fit ends with STORE_FULL, naming both numbers. createFerry and the CLI pass
   * statfs of the store's folder (`freeSpaceOf` in chat-ferry/node).
   */
  freeBytes?: () => Promise<number>
  /**
   * Brings back the chats, messages and media this phone's owner deleted since the last transfer from the
   * same old phone, which that phone did not change since (ReceiverInit.restoreDeleted). Off by default:
   * they stay deleted, and the verified event's stats count them (messagesLeftDeleted, chatsLeftDeleted,
   * mediaLeftDeleted).
   */
  restoreDeleted?: boolean
}

/** What receiving needs of libp2p (part of FerryComponents). */
export interface ReceivingComponents {
  peerId: PeerId
  connectionManager: {
    openConnection(target: PeerId | Multiaddr | Multiaddr[], options?: { signal?: AbortSignal }): Promise<Connection>
  }
  /** Where the other phone may be now (mDNS updates it): a redial after a dead link looks here first. */
  peerStore?: { get(peerId: PeerId): Promise<{ addresses: Array<{ multiaddr: Multiaddr }> }> }
  logger: ComponentLogger
}

/** What receiving needs of the service's init (FerryServiceInit says what each is). */
export interface ReceivingInit {
  history: Partial<HistorySink>
  journal: Journal
  options?: Partial<TransferOptions>
  pairTimeoutMs?: number
  pairFirstReplyMs?: number
  stallMs?: number
  batchDeflate?: BatchDeflate
}

/** Over WebRTC (webrtc-direct from a browser or a Node phone): where deflated batches pay. */
function overWebRTC (connection: Connection): boolean {
  return connection.remoteAddr.toString().includes('/webrtc')
}

const hex = (b: Uint8Array): string => bytesToHex(b)

/**
 * The old phone's offer ended after the phones paired (its person cancelled it, or its code died), said
 * when this phone came for the history: that reason, as the pairing would have given it, and not retried.
 * Both phones keep the pairing: the old phone offering again takes this one back without a code.
 */
function offerEndedThere (err: unknown): unknown {
  if (!isFerryError(err, ErrorCode.PEER_ERROR) || err.details?.peerCode === undefined) return err
  const code = err.details.peerCode
  if (code === ErrorCode.CANCELLED) {
    return new FerryError(ErrorCode.CANCELLED, 'the old phone cancelled the transfer just after the phones paired: nothing was sent. The phones stay paired: receive again (no new code is needed) once it offers its history again',
      { from: 'sender' }, { cause: err })
  }
  if (code === ErrorCode.CODE_EXPIRED) {
    return new FerryError(ErrorCode.CODE_EXPIRED, 'the old phone no longer offers its history (its code expired): start sending there again for a new code',
      { from: 'sender' }, { cause: err })
  }
  return err
}

/** One receive of a history; a new one for each call, so what it learns of dead addresses is its own. */
export class Receiving {
  /** The address of the last failed session (see dial). */
  private deadAddr?: Multiaddr

  /**
   * `tried` counts the guesses this phone's typed-code pairings tested, one count per service: someone
   * posing as the old phone learns from each whether its guess of the code was right.
   */
  private readonly log: Logger

  /**
   * `ownsNode`: the node is Ferry's own (createFerryNode), so a connection that failed a receive is
   * Ferry's to drop whatever went wrong; on an app's node only a dead one is (receiveOnce).
   */
  constructor (private readonly components: ReceivingComponents, private readonly logs: FerryLoggers, private readonly init: ReceivingInit,
    private readonly pairings: PairingRecords, private readonly tried: TriedCodes, private readonly ownsNode: boolean) {
    this.log = logs.service
  }

  private get peerId (): string {
    return this.components.peerId.toString()
  }

  /** One receive, to its end: FerryService.receive, with its addresses parsed. */
  /** The process's collector, told as each session reads back (TransferTurns.readingBack). */
  private turns?: TransferTurns

  async run (opts: Dialling, emitAll: (e: EventBody) => void, turns?: TransferTurns): Promise<ReceiveResult> {
    this.turns = turns
    // Each session's machine says its chats are ready once it holds every message; after a reconnect the
    // next session says so again of the same chats. An app hears it once a receive.
    let chatsReady = false
    const emit = (e: EventBody): void => {
      if (e.type === 'chats-ready') {
        if (chatsReady) return
        chatsReady = true
      }
      emitAll(e)
    }
    let peer: PeerId | undefined
    // A typed code whose guesses this phone spent is refused before the old phone is even looked for.
    if (opts.code !== undefined && opts.qrKey === undefined) await this.tried.check(opts.code)
    // A session that verified the history but lost the link before the old phone heard it: the next
    // sessions verify again to tell it. Once that has failed for TELL_AGAIN_MS, or cannot go on, the
    // history is verified here all the same.
    let unheard = opts.code === undefined ? await this.verifiedBeforeRestart() : undefined
    const tellAgainMs = opts.tellAgainMs ?? TELL_AGAIN_MS
    // Where the old phone is: another phone the search finds once one proved nothing of the code.
    let dialling = opts
    const looking = new LookPast(this.init.pairFirstReplyMs ?? FIRST_REPLY_MS, this.log)
    try {
      return await retryWhileAdvancing(async onAdvance => {
        if (unheard !== undefined && Date.now() - unheard.at > tellAgainMs) return await this.untold(unheard.result, emit, opts, 'no session got through to tell it')
        for (;;) {
          const attempt = Date.now()
          try {
            return await this.receiveOnce(dialling, emit, peer, p => { peer = p; looking.reached(p) }, onAdvance, result => { unheard ??= { result, at: Date.now() } })
          } catch (err) {
            const other = await looking.after(err, peer, Date.now() - attempt, dialling, emit, addrs => { dialling = { ...dialling, addrs }; peer = undefined })
            if (other === undefined) throw err
            dialling = { ...dialling, addrs: other }
            peer = undefined
          }
        }
      }, {
        retryForMs: opts.retryForMs ?? 60_000,
        signal: opts.signal,
        onInterrupted: error => emit({ type: 'interrupted', error })
      })
    } catch (err) {
      const ended = looking.ending(err, opts.signal)
      if (ended !== err) throw ended
      if (unheard === undefined || opts.signal?.aborted === true) throw err
      const note = `it may not have heard: ${(err as Error)?.message ?? String(err)}`
      // Only an old phone that could not be reached may still wait: one that answered (NOT_PAIRED: it
      // heard, or paired with another phone; its offer ended) waits for nothing from this phone.
      if (isFerryError(err, ErrorCode.NO_PEER) || isFerryError(err, ErrorCode.TRUNCATED)) return await this.untold(unheard.result, emit, opts, note)
      return await this.verified(unheard.result, emit, note)
    }
  }

  /** The end of a receive whose verification the old phone was not told of: kept to tell it later, if asked. */
  private async untold (result: ReceiveResult, emit: (e: EventBody) => void, opts: Dialling, note: string): Promise<ReceiveResult> {
    if (opts.keepUnheard !== true) return await this.verified(result, emit, note)
    this.log('verified, the old phone not told (%s): the pairing is kept to tell it later', note)
    const untold: ReceiveResult = { ...result, unheard: true }
    emit({ type: 'verified', ...untold })
    return untold
  }

  /**
   * A phone that starts with a pairing last used before its last verification was stopped (killed, its
   * battery gone) after it verified the history and before it forgot the pairing, whether or not the old
   * phone heard. Its sessions only tell the old phone, as after a link that died as the transfer ended: one
   * that still waits verifies again and hears it; one that has forgotten the pairing (it heard) or cannot
   * be reached leaves the history verified here all the same.
   */
  private async verifiedBeforeRestart (): Promise<{ result: ReceiveResult, at: number } | undefined> {
    const result = await unheardVerification(this.init.journal, this.pairings, this.log)
    return result === undefined ? undefined : { at: Date.now(), result }
  }

  /**
   * Connects to the other phone. After the first connection the phone is known by its peer id, so a retry
   * dials it through the peer store first: mDNS keeps that up to date, and a phone that got a new address
   * mid-transfer is only found there (the addresses we were given are where it used to be).
   */
  private async dial (opts: Dialling, known?: PeerId): Promise<Connection> {
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

  private async receiveOnce (opts: Dialling, emit: (e: EventBody) => void, known: PeerId | undefined, onConnected: (peer: PeerId) => void, onAdvance: () => void, onUnheard: (result: ReceiveResult) => void): Promise<ReceiveResult> {
    const connection = await this.dial(opts, known)
    onConnected(connection.remotePeer)
    const streams: Stream[] = []
    try {
      return await this.transferOn(connection, opts, emit, onAdvance, onUnheard, streams)
    } catch (err) {
      this.deadAddr = connection.remoteAddr
      const e = err instanceof Error ? err : new Error(String(err))
      // A dead link is dropped, or the next dial would be handed the same dead connection back. On an
      // app's own node the connection may carry the app's streams too (a chat with the old phone): a
      // cancel, or a refusal or fault the other phone answered, ends Ferry's streams only.
      if (this.ownsNode || (opts.signal?.aborted !== true && linkIsDead(err))) connection.abort(e)
      else for (const s of streams) if (s.status === 'open' || s.status === 'closing') s.abort(e)
      throw err
    }
  }

  /** `streams`: each stream it opens goes in as it opens (receiveOnce ends them when it fails). */
  private async transferOn (connection: Connection, opts: Dialling, emit: (e: EventBody) => void, onAdvance: () => void, onUnheard: (result: ReceiveResult) => void,
    streams: Stream[]): Promise<ReceiveResult> {
    const sink = this.sink()
    const peer = connection.remotePeer.toString()
    const record = await this.pairings.load()
    const token = record?.role === 'receiver' && record.peerId === peer ? hexToBytes(record.token) : undefined
    const pair = async (auth: { token: Uint8Array } | { code?: PairingCode, qrKey?: Uint8Array }): Promise<PairOutcome> => {
      // A QR code's key cannot be guessed, so its pairings test no guess of the code: they are not counted.
      const typed = 'code' in auth && auth.code !== undefined && auth.qrKey === undefined ? auth.code : undefined
      // Checked before the stream opens: a code with no guesses left sends nothing of CPace.
      const tries = typed !== undefined ? await this.tried.begin(typed) : undefined
      // A typed code's first reply is due within the first-reply deadline of asking for the stream: a
      // phone that never finishes taking it stalled as surely as one that takes it and says nothing.
      const firstReplyMs = this.init.pairFirstReplyMs ?? FIRST_REPLY_MS
      const asked = Date.now()
      const pairStream = await openStream(connection, PAIR_PROTOCOL, 'pairing', typed !== undefined ? firstReplyMs : NEGOTIATION_MS, opts.signal).catch((err: unknown) => {
        // A phone that answered the search for the nameplate but takes no pairing stream tested nothing
        // of the code: a cut before PAKE_B, as one during the handshake (pair-stream.ts).
        if (typed === undefined || opts.signal?.aborted === true || (isFerryError(err) && !isFerryError(err, ErrorCode.TRUNCATED))) throw err
        const message = isFerryError(err) ? err.message : `the other phone took no pairing stream: ${(err as Error)?.message ?? String(err)}`
        throw new FerryError(ErrorCode.TRUNCATED, message, { ...(isFerryError(err) ? err.details : {}), cut: true }, { cause: err })
      })
      streams.push(pairStream)
      const replyDue = Math.max(1, firstReplyMs - (Date.now() - asked))
      return await pairAsReceiver(streamToDuplex(pairStream), { localPeerId: this.peerId, remotePeerId: peer }, { ...auth, tries }, this.init.pairTimeoutMs, replyDue)
    }
    let outcome: PairOutcome
    try {
      outcome = await pair(token !== undefined ? { token } : { code: opts.code, qrKey: opts.qrKey })
    } catch (err) {
      // The old phone no longer holds this pairing (it paired with another phone, or forgot it): with a
      // code at hand, pair anew rather than fail.
      if (token === undefined || opts.code === undefined || !isFerryError(err, ErrorCode.NOT_PAIRED)) throw err
      outcome = await pair({ code: opts.code, qrKey: opts.qrKey })
    }
    const now = Date.now()
    if (outcome.resumeToken !== undefined) {
      await this.pairings.save({
        role: 'receiver', peerId: peer, token: hex(outcome.resumeToken), nameplate: opts.code?.nameplate ?? '', addrs: opts.addrs.map(String), createdAt: now, lastUsedAt: now
      })
    } else {
      await this.pairings.touch(peer)
    }
    this.log('paired with %s by %s, over %s%s', peer, outcome.mode, connection.remoteAddr.toString(),
      outcome.unconfirmed === true ? ' (its verdict never came: the token is kept, and a resume tells)' : '')
    emit({ type: 'paired', peer, mode: outcome.mode })
    const stream = await openStream(connection, TRANSFER_PROTOCOL, 'transfer', NEGOTIATION_MS, opts.signal)
    streams.push(stream)
    const inflate = overWebRTC(connection) ? this.init.batchDeflate?.inflate : undefined
    const machine = new ReceiverMachine({ sink, journal: this.init.journal, request: opts.request, options: this.init.options, agent: opts.agent, freeBytes: opts.freeBytes, inflate, restoreDeleted: opts.restoreDeleted, logger: this.logs.receiver })
    machine.onReadingBack = () => { this.turns?.readingBack?.() }
    machine.onChatsReady = () => { emit({ type: 'chats-ready', messages: machine.progress.messages }) }
    machine.onVerifying = async () => {
      emit({ type: 'verifying', messages: machine.progress.totalMessages, mediaFiles: machine.progress.totalMediaFiles })
      await opts.beforeVerifying?.(machine)
    }
    if (opts.afterPutBack !== undefined) machine.onPutBack = async () => { await opts.afterPutBack?.(machine) }
    const progress = (): Progress => ({
      messages: machine.progress.messages,
      totalMessages: machine.progress.totalMessages,
      mediaBytes: machine.progress.mediaBytes,
      totalMediaBytes: machine.progress.totalMediaBytes
    })
    const resultOf = (): ReceiveResult => {
      return {
        summary: machine.summary ?? [],
        progress: progress(),
        // The whole transfer's, once verified: the session's progress counts what earlier sessions
        // brought as held here.
        stats: statsOf({ ...machine.progress, ...machine.totals })
      }
    }
    const limits = transferOptions(this.init.options)
    try {
      await receiveTransfer(stream, machine, {
        signal: opts.signal,
        stallMs: opts.stallMs ?? this.init.stallMs ?? DEFAULT_STALL_MS,
        firstDataMs: limits.firstDataMs,
        stallBytes: limits.stallBytes,
        keepAliveMs: limits.keepAliveMs,
        beforeRead: opts.beforeRead === undefined ? undefined : async () => { await opts.beforeRead?.(machine) },
        onAdvance,
        onHeard: async () => {
          // The old phone heard, forgot the pairing and may be gone: this phone forgets it too before
          // anything else, so that stopped from here on it starts again knowing so, rather than take
          // the old phone for one that never heard and keep dialling it for tellAgainMs.
          await this.pairings.forget()
          await opts.afterHeard?.(machine)
        },
        onManifest: () => {
          const e = machine.expected
          if (e === undefined) return
          const sent = new Set(e.conversations.map(c => c.conversation.id))
          const unsent = opts.request?.conversations?.filter(id => !sent.has(id)) ?? []
          emit({ type: 'manifest', totalMessages: e.totalMessages, totalMediaBytes: e.totalMediaBytes, conversations: e.conversations.length, ...(unsent.length > 0 ? { unsent } : {}) })
        },
        onProgress: () => { emit({ type: 'progress', progress: { ...progress(), sessionBytes: machine.progress.bytesReceived } }) }
      })
    } catch (err) {
      // Verified here, but the link went before the old phone hung up: it may not have heard.
      if (machine.state === 'verified') onUnheard(resultOf())
      throw offerEndedThere(err)
    }
    return await this.verified(resultOf(), emit, `from ${peer}`, true)
  }

  /**
   * The end of a receive: the pairing is no longer needed (`forgotten`: it went as the old phone hung up),
   * and the app is told.
   */
  private async verified (result: ReceiveResult, emit: (e: EventBody) => void, note: string, forgotten = false): Promise<ReceiveResult> {
    if (!forgotten) await this.pairings.forget()
    this.log('verified, %s', note)
    emit({ type: 'verified', ...result })
    return result
  }

  private sink (): HistorySink {
    const h = this.init.history
    if (typeof h.commit !== 'function' || typeof h.putMedia !== 'function' || typeof h.findMessages !== 'function') {
      throw new FerryError(ErrorCode.BAD_INPUT, 'this phone\'s history cannot receive: it is no HistorySink')
    }
    return h as HistorySink
  }
}

/**
 * The verification a receiver's journal holds that the old phone may not have heard: the receiver's
 * pairing is still kept, and was last used before the last verification (a phone stopped between the
 * two, or a receive with `keepUnheard` that could not tell it). What it verified, as a receive reports
 * it; undefined when there is none (no pairing, or one used since: a transfer begun after it).
 */
export async function unheardVerification (journal: Journal, pairings: PairingRecords, logTo: Logger = log): Promise<ReceiveResult | undefined> {
  const record = await pairings.load()
  if (record?.role !== 'receiver') return undefined
  const last = await new TransferLog(journal).lastVerified()
  if (last === undefined || last.verifiedAt < (record.lastUsedAt ?? record.createdAt)) return undefined
  logTo('the history was verified at %s, and the old phone may not have heard', new Date(last.verifiedAt).toISOString())
  return {
    summary: last.summary,
    progress: { messages: last.totalMessages, totalMessages: last.totalMessages, mediaBytes: last.totalMediaBytes, totalMediaBytes: last.totalMediaBytes },
    stats: statsOf(last)
  }
}

/**
 * A new stream for `protocol` on `connection`, its negotiation given up after `ms` (or when `signal`
 * aborts): a phone that lets that pass stalled, said as such (TRUNCATED, `timedOut`), retried as a
 * dropped link.
 */
async function openStream (connection: Connection, protocol: string, what: string, ms: number, signal?: AbortSignal): Promise<Stream> {
  const deadline = AbortSignal.timeout(ms)
  try {
    return await connection.newStream(protocol, { signal: signal !== undefined ? AbortSignal.any([signal, deadline]) : deadline })
  } catch (err) {
    if (!deadline.aborted || signal?.aborted === true) throw err
    throw new FerryError(ErrorCode.TRUNCATED, `${what} timed out: the other phone did not take the ${what} stream within ${Number((ms / 1000).toFixed(1))} s`, { timedOut: true }, { cause: err })
  }
}

/**
 * Whether `err` says the link under the streams is gone: a stall or a link that went down (TRUNCATED,
 * unless the new phone ended the session itself to fetch a file again), or libp2p's own failure (a
 * reset, a closed connection). A cancel, or an answer from the other phone (a refusal, a fault it
 * found), says nothing of the link.
 */
function linkIsDead (err: unknown): boolean {
  if (!isFerryError(err)) return true
  return err.code === ErrorCode.TRUNCATED && err.details?.fetchAgain !== true
}

/** ReceiveOptions with the addresses parsed and the service's own signal. */
export type Dialling = Omit<ReceiveOptions, 'addrs'> & { addrs: Multiaddr[] }


/**
 * What a receive moved, as the app hears it, from the receiver's counts: the whole transfer's
 * (ReceiverMachine.totals over its progress), or what the journal kept of the last verification.
 */
function statsOf (p: Pick<ReceiverProgress, 'messagesReceived' | 'messagesHeld' | 'mediaFilesReceived' | 'mediaBytesReceived' | 'mediaFilesHeld'> &
  Partial<Pick<ReceiverProgress, typeof VERIFIED_COUNTS[number]>> & { lastSessionOnly?: boolean }): TransferStats {
  const stats: TransferStats = { messagesSent: p.messagesReceived, messagesHeld: p.messagesHeld, mediaFilesSent: p.mediaFilesReceived, mediaBytesSent: p.mediaBytesReceived, mediaFilesHeld: p.mediaFilesHeld }
  // A journal written before a count was kept has none: left out of the stats, not zero.
  for (const k of VERIFIED_COUNTS) if (p[k] !== undefined) stats[k] = p[k]
  if (p.lastSessionOnly === true) stats.lastSessionOnly = true
  return stats
}

export interface ReceiveResult {
  summary: ConversationSummary[]
  progress: Progress
  stats: TransferStats
  /** Verified here, but the old phone was not told (ReceiveOptions.keepUnheard): the pairing is kept to tell it. */
  unheard?: true
}
