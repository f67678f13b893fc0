import type { ComponentLogger, Connection, Startable, Stream } from '@libp2p/interface'
import { ErrorCode, FerryError } from '../errors.js'
import type { AbortReason } from '../pairing/messages.js'
import type { TransferOptions } from '../protocol/options.js'
import { refuseOfferedSelection } from '../protocol/selection-check.js'
import type { HistorySink, HistorySource } from '../store/history.js'
import type { Journal } from '../journal/journal.js'
import { PairingRecords } from '../journal/pairing-records.js'
import { CodeBudgets } from '../journal/code-budgets.js'
import { TriedCodes } from '../journal/tried-codes.js'
import { encodeFrame, type BatchDeflate } from '../wire/codec.js'
import { prefix } from '../wire/framing.js'
import { PAIR_PROTOCOL, pairAsSender } from './pair-stream.js'
import { ConnectionSlots, type SlotLimits } from './connection-slots.js'
import { TRANSFER_PROTOCOL } from './receive-transfer.js'
import { dialAddresses, firstPeerIdOf } from './addresses.js'
import { Receiving, type ReceiveOptions, type ReceiveResult, type ReceivingComponents } from './receiving.js'
import { historySource, Offering, offerStart, type OfferingComponents, type OfferOptions } from './offering.js'
import { streamToDuplex } from './stream-duplex.js'
import { guardOffer, guardReceive } from './app-handler.js'
import { ferryLoggers, type FerryLoggers } from './ferry-loggers.js'
import { carriesAppStreams, FERRY_OWNS_NODE } from './whose-connection.js'
import {
  beginTransfer, cancelled, emitter, isAborted, stoppedError,
  type FerryEvent, type Progress, type TransferMemory
} from './transfer-events.js'

export { TRANSFER_PROTOCOL }
export type { ConversationSummary, FerryEvent, Progress, TransferMemory, TransferStats, TransferTurns } from './transfer-events.js'
export { DEFAULT_STALL_MS, type ReceiveOptions, type ReceiveResult } from './receiving.js'
export type { OfferOptions } from './offering.js'

/** What the service needs from libp2p (a subset of its components, as @libp2p/ping takes them). */
export interface FerryComponents extends ReceivingComponents, OfferingComponents {
  registrar: {
    handle(protocol: string, handler: (stream: Stream, connection: Connection) => void | Promise<void>, options?: { maxInboundStreams?: number, maxOutboundStreams?: number }): Promise<void>
    unhandle(protocol: string): Promise<void>
  }
  /** libp2p's events: connections opening and closing, for the slot policy (ConnectionSlots). */
  events?: {
    addEventListener(type: 'connection:open' | 'connection:close', listener: (evt: CustomEvent<Connection>) => void): void
    removeEventListener(type: 'connection:open' | 'connection:close', listener: (evt: CustomEvent<Connection>) => void): void
  }
  /**
   * libp2p's logger: Ferry's lines (`ferry:service`, `ferry:sender`, `ferry:receiver`, `ferry:slots`) go
   * through it, so they carry the node's prefix (`createLibp2p({ logger: prefixLogger('old') })`) and two
   * phones in one process can be told apart.
   */
  logger: ComponentLogger
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
   * How long a receive pairing by a typed code waits for the other phone's first reply before it counts
   * as a stall (FIRST_REPLY_MS, 10 s, by default: an honest phone answers in milliseconds). A phone that
   * stalls is then left as one that cuts (ReceiveOptions.search), rather than after `pairTimeoutMs`.
   */
  pairFirstReplyMs?: number
  /**
   * The receiver drops a link on which the sender made no step forward (a whole frame, or
   * `options.stallBytes` of one) for this long once its data flows, and redials (see StallWatch): a
   * phone whose address changed otherwise waits 10-20 s for libp2p's ping to give up. Before the
   * sender's first data, `options.firstDataMs` holds instead.
   */
  stallMs?: number
  /**
   * Who may hold a connection to this phone (see ConnectionSlots): peers that do not pair within a short
   * time, or fail to, are let go; unpaired ones are capped in all, per address and per peer; the paired
   * phone is never counted. On an app's own node only connections that come for Ferry are judged (a
   * peer opens a Ferry stream on one), and none that carries the app's own streams is closed; on a node
   * Ferry made (createFerryNode), every inbound connection. `false` turns the policy off.
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

/** A send or receive asked of a stopped phone: nothing had begun, so nothing stopped before verifying. */
const notRunning = (): FerryError => new FerryError(ErrorCode.CANCELLED, 'this phone is stopped: it sends and receives nothing until it starts again')

/** A receive asked of a phone that is receiving: refused before it touches anything. */
function alreadyReceiving (from: string): FerryError {
  return new FerryError(ErrorCode.STORE_BUSY,
    `this phone is already receiving (from ${from}): one receive at a time writes its history; wait for that one to finish, or cancel it (its signal, or stop()), then receive again`,
    { receivingFrom: from })
}

/**
 * Ferry as a libp2p service: `/ferry/pair/1.0.0` authenticates a peer with the short code (or its resume
 * token), and `/ferry/transfer/1.0.0` serves the history only to a peer that did.
 */
export class FerryService implements Startable {
  /** The offer open now: pairing and transfer streams go to it. */
  private offering?: Offering
  /**
   * Why the last offer ended (cancelled, or its code used or dead): what a phone that comes to pair
   * after it is told.
   */
  private offerEnded?: AbortReason
  /** Receives under way: stop() ends them. */
  private readonly receives = new Set<AbortController>()
  /**
   * The receive under way, and the phone it receives from (the one it dials until it pairs). One at a
   * time: a receive owns this phone's journal while it runs (its transfer's undo log, partial files,
   * the pairing record), and a second would undo the first's unverified writes as its own transfer
   * opened (TransferLog.undoBefore), the first then failing as if the store were damaged.
   */
  private receiving?: { from: string }
  /** Set by stop(): an offer still on its way in (reading its code's budget) must not open after it. */
  private stopped = false
  private readonly pairings: PairingRecords
  private readonly budgets: CodeBudgets
  /** The codes this phone typed and how many guesses each tested, shared by its receives. */
  private readonly tried: TriedCodes
  /**
   * Who may hold a connection; set while started, unless turned off.
   * @internal The offering's and the tests' (an app sets the limits through FerryServiceInit.slots).
   */
  slots?: ConnectionSlots
  /**
   * The node is Ferry's own (createFerryNode made it): every connection to it is Ferry's business. On an
   * app's node Ferry judges only connections that come for it, and closes none the app uses.
   */
  private ownsNode = false
  private readonly onConnectionOpen = (evt: CustomEvent<Connection>): void => { this.slots?.opened(evt.detail) }
  private readonly onConnectionClose = (evt: CustomEvent<Connection>): void => { this.slots?.gone(evt.detail) }
  private readonly logs: FerryLoggers

  constructor (private readonly components: FerryComponents, private readonly init: FerryServiceInit) {
    this.logs = ferryLoggers(components.logger)
    this.pairings = new PairingRecords(init.journal)
    this.budgets = new CodeBudgets(init.journal)
    this.tried = new TriedCodes(init.journal)
  }

  /** createFerryNode tells the service, as it makes it, that the node is Ferry's own (whose-connection.ts). */
  [FERRY_OWNS_NODE] (): void {
    this.ownsNode = true
  }

  readonly [Symbol.toStringTag] = '@ferry/service'

  /**
   * A peer opened one of Ferry's streams on `connection`: on an app's node, that is when the connection
   * becomes Ferry's to judge (on Ferry's own node it was from the moment it opened).
   */
  private cameForFerry (connection: Connection): void {
    if (!this.ownsNode) this.slots?.opened(connection)
  }

  async start (): Promise<void> {
    this.stopped = false
    const events = this.components.events
    if (this.init.slots !== false && events !== undefined) {
      this.slots = new ConnectionSlots({
        limits: this.init.slots,
        trusted: peer => this.offering?.pairedPeer === peer,
        log: this.logs.slots,
        // On an app's node a friend of the app's may also pair over its connection (or fail to): its
        // streams stay, and so does the connection.
        appUses: this.ownsNode ? undefined : carriesAppStreams
      })
      // On an app's own node, connections come for the app: only those that open a Ferry stream are
      // judged (cameForFerry), so an app's peers are never timed out or pushed out by Ferry.
      if (this.ownsNode) events.addEventListener('connection:open', this.onConnectionOpen)
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
    this.offering?.reject(stoppedError())
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
    const opts = guardOffer(asked, this.logs.service)
    this.refuseOffer(opts.signal)
    const history = historySource(this.init.history) // a phone that cannot send says so now, not when the receiver comes
    // Before the offer shows: found by the sender only once a phone paired, a selection that cannot move
    // as asked spends the code on a failure, or moves nothing and calls it verified.
    await refuseOfferedSelection(history, opts.selection)
    const start = await offerStart(opts, this.pairings, this.budgets)
    // Awaits above may have let the app cancel, stop the phone or start another offer meanwhile.
    this.refuseOffer(opts.signal)
    this.offerEnded = undefined
    const offering: Offering = new Offering(this.components, this.logs, this.init, this.pairings, opts, start, {
      slots: () => this.slots,
      open: () => this.offering,
      ended: reason => {
        if (this.offering === offering) this.offering = undefined
        this.offerEnded = reason
      }
    })
    this.offering = offering
    return await offering.run()
  }

  /**
   * Throws when an offer cannot open now: the app cancelled it (a phone that comes with its code is told
   * so), this phone stopped, or another offer is open.
   */
  private refuseOffer (signal?: AbortSignal): void {
    if (isAborted(signal)) {
      this.offerEnded = ErrorCode.CANCELLED
      throw cancelled(signal, 'offer')
    }
    if (this.stopped) throw notRunning()
    if (this.offering !== undefined) throw new FerryError(ErrorCode.BAD_INPUT, 'this phone is already offering its history: one offer at a time')
  }

  private async onPairStream (stream: Stream, connection: Connection): Promise<void> {
    this.cameForFerry(connection)
    const offer = this.offering
    const duplex = streamToDuplex(stream)
    if (offer === undefined) {
      // Its offer ended: say why, so the other phone stops at once rather than retrying a dead end. No
      // offer yet since this phone started: one may be opening (a sender restarted, reading its journal),
      // and NO_PEER has the other phone try again, knowing why it waits.
      await pairAsSender(duplex, { localPeerId: this.peerId, remotePeerId: connection.remotePeer.toString() }, {
        tokens: new Map(), refusal: this.offerEnded ?? ErrorCode.NO_PEER
      }, this.init.pairTimeoutMs).catch(() => {})
      this.slots?.attemptEnded(connection, false, false)
      return
    }
    await offer.pair(duplex, connection)
  }

  private async onTransferStream (stream: Stream, connection: Connection): Promise<void> {
    this.cameForFerry(connection)
    const peer = connection.remotePeer.toString()
    await this.offering?.recordingOf(peer)
    const offer = this.offering
    const duplex = streamToDuplex(stream)
    if (offer === undefined || !offer.admits(peer)) {
      // Say why before closing, so an honest but unpaired phone shows a clear error: a phone that paired
      // and comes for the history after this phone's offer ended (cancelled just after the pairing) hears
      // that reason, as a pairing would.
      const ended = offer === undefined ? this.offerEnded : undefined
      const f = encodeFrame({
        error: ended !== undefined
          ? { code: ended, message: ended === ErrorCode.CANCELLED ? 'this phone cancelled its offer' : 'this phone no longer offers its history' }
          : { code: ErrorCode.NOT_PAIRED, message: 'pair with the code first' }
      })
      await duplex.write([prefix(f), ...f]).catch(() => {})
      await duplex.close().catch(() => {})
      return
    }
    await offer.transfer(duplex, peer)
  }

  /**
   * Receives a history from the phone at `addrs`: pairs with the code (or the stored resume token), then
   * transfers, reconnecting and resuming after dropped links until verified. One at a time: asked while
   * another runs, STORE_BUSY at once (`details.receivingFrom`), and the one running goes on untouched.
   */
  async receive (asked: ReceiveOptions): Promise<ReceiveResult> {
    const opts = guardReceive(asked, this.logs.service)
    if (opts.signal?.aborted === true) throw cancelled(opts.signal, 'receive')
    if (this.stopped) throw notRunning()
    if (this.receiving !== undefined) throw alreadyReceiving(this.receiving.from)
    const addrs = dialAddresses(opts.addrs)
    const receiving = { from: firstPeerIdOf(addrs) ?? addrs[0].toString() }
    const stop = new AbortController()
    const signal = opts.signal === undefined ? stop.signal : AbortSignal.any([opts.signal, stop.signal])
    this.receives.add(stop)
    const turns = beginTransfer(this.init.memory, 'receiver')
    const onEvent = (e: FerryEvent): void => {
      if (e.type === 'paired') receiving.from = e.peer
      opts.onEvent?.(e)
    }
    // From the check above to here nothing is awaited: a second receive cannot slip in between.
    this.receiving = receiving
    try {
      return await new Receiving(this.components, this.logs, this.init, this.pairings, this.tried, this.ownsNode).run({ ...opts, addrs, signal }, emitter(onEvent, turns), turns)
    } catch (err) {
      // However far it got (dialling, between retries, mid-stream), a cancelled receive says so.
      if (signal.aborted) throw cancelled(signal, 'receive')
      throw err
    } finally {
      this.receives.delete(stop)
      if (this.receiving === receiving) this.receiving = undefined
      turns?.end()
    }
  }
}

/** The libp2p service factory: `services: { ferry: ferry({ history, journal }) }`. */
export function ferry (init: FerryServiceInit): (components: FerryComponents) => FerryService {
  return components => new FerryService(components, init)
}
