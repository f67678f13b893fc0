import '../polyfill.js'
import type { Libp2p } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { ErrorCode, FerryError, isFerryError } from '../errors.js'
import { firstPeerIdOf } from '../net/addresses.js'
import { PairingRecords } from '../journal/pairing-records.js'
import { ferry, type FerryEvent, type FerryService, type ReceiveOptions, type ReceiveResult, type TransferStats } from '../net/ferry-service.js'
import { unheardVerification } from '../net/receiving.js'
import { browserBatchInflate, canInflateRaw } from './inflate.js'
import type { PairingCode } from '../pairing/index.js'
import type { ReceiverMachine } from '../protocol/receiver.js'
import { createBrowserNode, loadOrCreateKey } from './browser-node.js'
import { exportDigest, exportNdjsonText, mediaDigests } from './export.js'
import { IdbHistoryStore, type StoreStats } from './idb-history.js'
import { IdbJournal } from './idb-journal.js'
import { deleteFerryDb, openFerryDb } from './idb.js'
import { HeldFrom } from './held-from.js'
import { explain, parseInput, peerOfLink, servedBySender, type PairInput } from './pair-input.js'
import { resumeAddrs } from './resume-addrs.js'
import { senderAddrsIn, senderAddrsNow } from './sender-addrs.js'
import { SpentCodes } from './spent-codes.js'
import { createTabLock, type LockKind, type TabLock } from './tab-lock.js'
import { pageTestSeams, type PageTestSeams } from './test-seams.js'
import type { WebProgress } from './progress-line.js'
import { View } from './view.js'

// The browser phone: pairs with a Node phone running `ferry send --transport webrtc` and receives its
// history through the same FerryService as Node (pairing, transfer, verification, forgetting the
// pairing). What is the browser's own: the store and the journal in IndexedDB, the key kept there, the
// lock across tabs, and the view. After a reload it resumes on its own with the pairing the journal kept.

type Phase = 'starting' | 'idle' | 'pairing' | 'receiving' | 'verified' | 'failed' | 'busy'

/** What tests (and curious people, in the console) can see and do: `window.__ferry`. */
export interface FerryDebug {
  state(): {
    phase: Phase
    peerId: string
    paused: boolean
    /** How this tab keeps other tabs from receiving at the same time. */
    lock: LockKind
    mode?: 'code' | 'resume'
    progress?: WebProgress
    /** What the last verified session moved, and what this browser already held. */
    stats?: TransferStats
    /**
     * Verified here, and the old phone has not heard so (it was stopped, or the link went, first): this
     * page goes on telling it. False once it heard.
     */
    unheard?: boolean
    error?: { code: string, message: string }
    rateBytesPerSec?: number
    sessionSeconds?: number
  }
  /**
   * The service's events, and `busy` when this tab found another one receiving and waited or stopped;
   * `at` is the event's time in ms since the epoch, as every FerryEvent's.
   */
  events: Array<{ type: FerryEvent['type'] | 'busy', at: number, mode?: string, progress?: WebProgress, error?: string, unheard?: boolean }>
  /**
   * Stop reading the transfer once this much is on this phone (the transfer then waits, mid-way); with
   * `verifying`, once everything has arrived, before it is verified and the old phone told so.
   */
  pauseAt(at: { messages?: number, mediaBytes?: number, verifying?: boolean }): void
  unpause(): void
  /** Resolves once every change and media file handed to the store is committed. */
  flush(): Promise<void>
  /** The store as canonical NDJSON (`ferry export`'s bytes). */
  exportNdjson(): Promise<string>
  /** The same export's sha256 and size, for histories too large to hand over as one string. */
  exportDigest(): Promise<{ sha256: string, bytes: number, lines: number }>
  mediaDigests(): Promise<Record<string, string>>
  stats(): Promise<StoreStats>
  /**
   * What the page's "Forget this browser's history" button does: asks first (its dialog), refuses while a
   * transfer runs in this tab or another, and once confirmed deletes this browser's store (and identity)
   * and reloads.
   */
  startOver(): Promise<void>
}

declare global {
  interface Window { __ferry?: FerryDebug }
}

const DB_NAME = 'ferry'
const LOCK_NAME = 'ferry-receive'
/**
 * Silence from the sender, mid-transfer, after which the link counts as dead: a browser tab may be
 * throttled for a moment, so a little more patience than the Node receiver's.
 */
const STALL_MS = 10_000
const BUSY = 'Ferry is already receiving in another tab. This tab waits until it is done (or closed), then shows what it received.'
const UNHEARD = 'Everything arrived and is verified here. The old phone did not hear it yet: if you start ferry send again there, this page will tell it.'
const SPENT = 'This browser has already used this link (in this tab or another), and what came with it is here. To receive again, start ferry send on the old phone again and open its new link.'
const FORGET_WHILE_HERE = 'This tab is receiving: this browser\'s history can be forgotten once the transfer is done or stopped.'
const FORGET_WHILE_ELSEWHERE = 'Ferry is receiving in another tab of this browser: nothing is forgotten while it does. Try again once that tab is done.'
const CLOSED_ELSEWHERE = 'This browser\'s history was forgotten in another tab (or a newer version of this page opened it): reload this page.'
const HEARD = 'Done. The old phone no longer waits: everything arrived and is verified here. Browse it below.'
/**
 * Between tries to tell an old phone that did not hear (each a receive that tries for its tellAgainMs):
 * the first pause, doubled after each try up to the last. A restarted `ferry send` waits at most about
 * this long past its start; the telling ends with the pairing (24 hours after its last use).
 */
const TELL_PAUSE_MS = 1_000
const TELL_PAUSE_MAX_MS = 30_000

const log = logger('ferry:web')

type Node = Libp2p<{ ferry: FerryService }>

class App {
  private current: Phase = 'starting'
  mode?: 'code' | 'resume'
  progress?: WebProgress
  stats?: TransferStats
  error?: FerryError
  unheard?: boolean
  paused = false
  rate?: number
  seconds?: number
  readonly events: FerryDebug['events'] = []
  private machine?: ReceiverMachine
  private pauseRule?: { messages?: number, mediaBytes?: number, verifying?: boolean }
  /** The code of the receive under way, until it pairs. */
  private code?: PairingCode
  /** Telling an old phone that did not hear that everything arrived; stopped by a new receive. */
  private telling?: { stop: AbortController, done: Promise<void> }
  private release?: () => void
  /** A submit is under way: the form's input goes to one receive at a time. */
  private submitting = false
  private sessionStart?: { t: number, bytes: number }
  private progressShown?: WebProgress
  /** The page came from the old phone, which wrote its addresses into it. */
  private senderKnown = false
  /** This attempt reached the old phone and paired (by code or by resuming): a pairing is kept for a reload. */
  private linked = false
  /** The old phone this attempt paired with (by code or by resuming). */
  private pairedWith?: string
  /** The old phone the page last warned about: its history would be merged into another phone's. */
  private warnedFor?: string

  /** Forgetting this browser's history: asked, confirmed, under way; a second click waits for the first. */
  private forgetting = false
  /** Another tab deleted or upgraded the database, and this tab's connection to it is closed. */
  private closed = false

  constructor (readonly db: IDBDatabase, readonly store: IdbHistoryStore, readonly journal: IdbJournal, readonly node: Node, readonly view: View, readonly lock: TabLock,
    private readonly seams: PageTestSeams = {}) {}

  get phase (): Phase {
    return this.current
  }

  /** Every phase change also decides whether the page offers to forget its history (startOver). */
  set phase (phase: Phase) {
    this.current = phase
    this.view.offerStartOver(forgettable(phase) && !this.closed)
  }

  async start (): Promise<void> {
    this.view.onSubmit(input => { void this.submit(input) })
    this.view.onStartOver(() => { void this.startOver() })
    // A new link opened in this tab over the old one (pasted in the address bar, or a scanner reusing the
    // tab) differs only in its fragment, and a browser loads nothing for that: load the page again, so it
    // starts from the new link as it would in a new tab. Not while this tab receives: the transfer would
    // stop for a reload (it would carry on, but the person did not ask for that).
    addEventListener('hashchange', () => {
      if (location.hash !== '' && (this.phase === 'idle' || this.phase === 'verified' || this.phase === 'failed')) location.reload()
    })
    setInterval(() => {
      // The database went with another tab's start over: there is nothing left to read.
      if (this.closed) return
      // Progress comes with every read of the transfer: the page shows it a few times a second.
      if (this.progressShown !== this.progress && this.progress !== undefined) this.view.progress(this.progressShown = this.progress)
      this.view.draw()
    }, 250)
    this.view.draw()
    const link = this.prefillFromUrl()
    // Nothing can reach the old phone from here: say why now, not after a minute of trying, and let the
    // person browse what is held.
    if (this.lacksWebRTC()) {
      await this.showHeld()
      this.view.showForm(true)
      return
    }
    // Another tab is receiving into this browser (it opened the same link, or carries on a transfer):
    // wait for it (a tab closed without freeing its lease frees it on expiry). Then nothing starts from
    // the link by itself: that tab has spent the link's code, and what it received is here.
    const waited = await this.whileOtherTabReceives()
    let record
    try {
      record = await new PairingRecords(this.journal).load()
    } catch (err) {
      this.view.error(explain(err))
    }
    const linkPeer = link !== undefined ? peerOfLink(link) : undefined
    // An unfinished transfer: carry on without the code, as the same peer with the kept token. Unless the
    // link names another old phone: the person scanned that one's code, and the phone this browser was
    // receiving from is not where it was (its history was replaced, or it is elsewhere); what arrived
    // from it, never verified, is undone when the new transfer starts, and that phone still holds it.
    if (record?.role === 'receiver' && (linkPeer === undefined || linkPeer === record.peerId)) {
      const addrs = resumeAddrs(record.peerId, record.addrs, servedAddrs())
      // Verified here before the page was closed or reloaded, and the old phone never heard: tell it.
      const untold = await unheardVerification(this.journal, new PairingRecords(this.journal)).catch(() => undefined)
      if (untold !== undefined) {
        // The journal's verified result does not say so itself: this page says the old phone did not hear
        // from the start, not "done" until its first try to tell it gives up.
        this.showVerified({ ...untold, unheard: true }, await this.store.stats().catch(() => undefined))
        this.view.showForm(true)
        this.tell(addrs)
        return
      }
      // A tab closed (or crashed) mid-transfer left it, and its lease, behind: this one carries it on.
      this.view.status(this.lock.foundAbandoned ? 'Carrying on the transfer a closed tab of this browser left…' : 'Resuming the unfinished transfer…')
      await this.receive(addrs)
      return
    }
    this.phase = 'idle'
    this.view.showForm(true)
    // ferry send --web marks the page it serves (src/net/page-server.ts); `ferry web` does not.
    const fromSender = document.querySelector('meta[name="ferry-served-by"]')?.getAttribute('content') === 'sender'
    // Not when what it brings would be merged into another phone's history here: the person hears that first.
    const merge = await this.mergeWarning(linkPeer)
    if (merge === undefined && link !== undefined && !waited && fromSender && servedBySender(link, location.hostname) && !await this.lock.heldElsewhere()) {
      // Opened from the old phone's own QR code (ferry send --web): the link has everything, nothing to click.
      await this.submit({ addr: link, code: '' })
      return
    }
    await this.showHeld()
    if (merge !== undefined) {
      this.warnedFor = linkPeer
      this.view.status(merge)
    }
    if (await this.lock.heldElsewhere()) this.view.error(BUSY)
    // On a phone this brings up the keyboard for the one thing left to type.
    else if (this.senderKnown) document.getElementById('code')?.focus()
  }

  /** Says what this browser holds, or what to do to receive a history. */
  private async showHeld (): Promise<void> {
    const held = await this.store.stats()
    this.view.status(held.messages > 0
      ? `This browser holds ${held.messages.toLocaleString('en')} messages in ${held.conversations} chats. Receive another history, or browse this one.`
      : this.senderKnown ? 'Type the code the old phone shows, then Receive.' : 'On the old phone run ferry send --transport webrtc, then type its code here.')
  }

  /**
   * What the page says before pairing with `peer` when this browser holds a history verified from other
   * old phones only: what comes is merged into it. Undefined when nothing would be merged, or when the
   * held history came (also) from `peer`, which is a phone in use sending again.
   */
  private async mergeWarning (peer: string | undefined): Promise<string | undefined> {
    if (peer === undefined) return undefined
    const held = await this.store.stats().catch(() => undefined)
    if (held === undefined || held.conversations === 0) return undefined
    const from = await new HeldFrom(this.journal).phones().catch((): string[] => [])
    if (from.length === 0 || from.includes(peer)) return undefined
    return `This browser holds ${count(held.conversations, 'chat')} (${count(held.messages, 'message')}) from another phone. ` +
      'What you receive now is merged into them: chats the two phones share become one. To keep only the new phone\'s history, ' +
      'forget this browser\'s history first (the button below); to merge, choose Receive.'
  }

  /**
   * Whether this browser lacks WebRTC (turned off, or not supported), without which no old phone can be
   * reached: if so, the page says it and what to do instead.
   */
  private lacksWebRTC (): boolean {
    if (typeof globalThis.RTCPeerConnection === 'function') return false
    this.phase = 'failed'
    this.error = new FerryError(ErrorCode.NO_PEER, 'this browser has no WebRTC (RTCPeerConnection is not defined)', { reason: 'no-webrtc' })
    log('cannot receive: %s', this.error.message)
    this.view.error(explain(this.error))
    return true
  }

  /** Shows that another tab is receiving, and returns once none is: true when it waited. */
  private async whileOtherTabReceives (): Promise<boolean> {
    if (!await this.lock.heldElsewhere()) return false
    this.events.push({ type: 'busy', at: Date.now() })
    this.phase = 'busy'
    this.error = new FerryError(ErrorCode.STORE, BUSY)
    this.view.error(BUSY)
    this.view.status('Waiting for the other tab.')
    this.view.showForm(false)
    // No event says another tab let go (a lease simply expires): look again every second.
    while (await this.lock.heldElsewhere()) await new Promise(resolve => setTimeout(resolve, 1000))
    this.error = undefined
    this.view.error(undefined)
    return true
  }

  /** Fills the form from the URL; returns the ferry://pair payload when the fragment held one. */
  private prefillFromUrl (): string | undefined {
    // The QR payload goes in the fragment (#ferry://pair?...): it holds the code's secret, and a
    // fragment is never sent to the server.
    // As pasted, or percent-encoded whole by a link; never decoded twice (the payload has escapes of its own).
    const raw = location.hash.slice(1)
    let hash = raw
    if (!raw.toLowerCase().startsWith('ferry://')) {
      try { hash = decodeURIComponent(raw) } catch {}
    }
    if (hash.toLowerCase().startsWith('ferry://pair?')) {
      this.view.prefill({ addr: hash })
      return hash
    }
    const peer = new URLSearchParams(location.search).get('peer')
    if (peer !== null) {
      this.view.prefill({ addr: peer })
      return undefined
    }
    // Served by the old phone and opened at its plain address (typed, not scanned): the page knows where
    // that phone is, and only the code is left to type.
    const sender = servedAddrs()
    if (sender.length > 0) {
      this.view.prefill({ addr: sender.join(' ') })
      this.senderKnown = true
    }
    return undefined
  }

  private async submit (input: PairInput): Promise<void> {
    // The form stays enabled until the receive starts, a few awaits later: a second click (or Enter)
    // meanwhile would start a second receive in this tab, which finds the lock held and says another tab
    // is receiving, or spends the code on nothing.
    if (this.submitting) return
    this.submitting = true
    try {
      await this.submitOnce(input)
    } finally {
      this.submitting = false
    }
  }

  private async submitOnce (input: PairInput): Promise<void> {
    this.view.error(undefined)
    if (this.lacksWebRTC()) return
    let addrs: string[]
    let code: PairingCode
    let qrKey: Uint8Array | undefined
    try {
      ({ addrs, code, qrKey } = parseInput(input))
    } catch (err) {
      this.view.error(explain(err))
      return
    }
    // A used code pairs no one again, and the old phone it paired with may have finished and gone:
    // say so now rather than after a minute of trying. Unless this browser still holds that pairing
    // (the transfer is unfinished): the receive then resumes by it.
    const record = await new PairingRecords(this.journal).load().catch(() => undefined)
    const resumes = record?.role === 'receiver' && addrs.some(a => a.includes(`/p2p/${record.peerId}`))
    if (!resumes && await new SpentCodes(this.journal).spent(addrs, code).catch(() => false)) {
      this.phase = 'failed'
      this.error = new FerryError(ErrorCode.CODE_EXPIRED, SPENT, { state: 'used' })
      this.view.error(SPENT)
      return
    }
    // Merging another phone's history into the one held here is said before pairing, once: Receive
    // again goes ahead.
    const peer = firstPeerIdOf(addrs.map(a => multiaddr(a)))
    if (peer !== this.warnedFor) {
      const merge = await this.mergeWarning(peer)
      if (merge !== undefined) {
        this.warnedFor = peer
        this.view.status(merge)
        return
      }
    }
    await this.receive(addrs, code, qrKey, input.code !== '')
  }

  private async receive (addrs: string[], code?: PairingCode, qrKey?: Uint8Array, typed = false): Promise<void> {
    if (this.lacksWebRTC()) return
    // A new receive replaces telling the old phone of the last one (a new pairing replaces that one).
    await this.stopTelling()
    const held = await this.lock.tryAcquire()
    if (held === undefined) {
      // Another tab took the lock first (both opened the same link at once): once it is done, what it
      // received is here, and this tab starts nothing by itself (that tab spent the code).
      await this.whileOtherTabReceives()
      this.phase = 'idle'
      this.view.showForm(true)
      await this.showHeld()
      return
    }
    this.store.takeOver()
    this.journal.parts.takeOver()
    this.phase = 'pairing'
    this.error = undefined
    this.view.showForm(false)
    this.view.error(undefined)
    this.view.status('Connecting to the old phone…')
    this.linked = false
    this.pairedWith = undefined
    this.code = code
    this.unheard = undefined
    let untold = false
    try {
      const result = await this.node.services.ferry.receive(this.receiveOptions(addrs, held.lost, { code, qrKey }))
      this.showVerified(result, await this.verifiedFrom())
      untold = result.unheard === true
    } catch (err) {
      const e = held.lost.aborted && isFerryError(held.lost.reason)
        ? held.lost.reason
        : isFerryError(err) ? err : new FerryError(ErrorCode.INTERNAL, String((err as Error)?.message ?? err))
      this.error = e
      this.phase = 'failed'
      // The page says it in words a person understands (explain); the details are the log's.
      log('the receive failed: %s: %s', e.code, e.message)
      if (e.code === ErrorCode.NOT_PAIRED && code === undefined) {
        // The old phone no longer knows us (it finished, or was reset): only a new code can help.
        await new PairingRecords(this.journal).forget().catch(() => {})
      }
      // A pairing this attempt made or resumed, still kept: the old phone started again carries on.
      const kept = (this.linked || code === undefined) && (await new PairingRecords(this.journal).load().catch(() => undefined))?.role === 'receiver'
      this.view.error(explain(e, { resumable: kept, qr: qrKey !== undefined, typed }))
      this.view.status('Stopped.')
      // Another tab receives now: this one offers nothing to start until it is reloaded.
      this.view.showForm(!isFerryError(e, ErrorCode.STORE_BUSY) || e.details?.reason !== 'taken-over')
    } finally {
      await held.release().catch(() => {})
    }
    if (untold) {
      this.view.showForm(true)
      const record = await new PairingRecords(this.journal).load().catch(() => undefined)
      this.tell(record?.role === 'receiver' ? resumeAddrs(record.peerId, record.addrs, servedAddrs()) : addrs)
    }
  }

  /** What every receive of this page asks of the service. */
  private receiveOptions (addrs: string[], signal: AbortSignal, pairing: { code?: PairingCode, qrKey?: Uint8Array } = {}): ReceiveOptions {
    return {
      addrs: addrs.map(a => multiaddr(a)),
      ...pairing,
      agent: 'ferry-web',
      stallMs: this.seams.stallMs ?? STALL_MS,
      // Unset on a person's page: the service's own patience (a test's seam shortens it).
      retryForMs: this.seams.retryForMs,
      tellAgainMs: this.seams.tellAgainMs,
      route: servedAddrs().length > 0 ? async (dial, ctx) => await whereNow(dial, ctx.signal) : undefined,
      signal,
      // The page stays open: an old phone that did not hear it verified is told when it comes back.
      keepUnheard: true,
      onEvent: e => { this.onEvent(e) },
      beforeRead: async machine => { await this.beforeRead(machine) },
      beforeVerifying: async machine => { if (this.pauseRule?.verifying === true) await this.hold(machine) }
    }
  }

  /**
   * A transfer was verified: notes the old phone it came from (what later transfers from other phones
   * are merged into), and returns what this browser holds now.
   */
  private async verifiedFrom (): Promise<StoreStats | undefined> {
    if (this.pairedWith !== undefined) await new HeldFrom(this.journal).add(this.pairedWith).catch(err => { log.error('cannot note where the history came from: %s', (err as Error)?.message) })
    return await this.store.stats().catch(() => undefined)
  }

  /** Shows a verified history's summary, what this browser holds now, and whether the old phone heard. */
  private showVerified (result: ReceiveResult, held: StoreStats | undefined): void {
    this.phase = 'verified'
    this.error = undefined
    this.view.error(undefined)
    this.stats = result.stats
    this.unheard = result.unheard === true
    this.progress = this.snapshot(result.progress)
    // The summary replaces the bar: the next tick must not draw it again ("checking…" under "Verified").
    this.progressShown = this.progress
    this.view.summary(result.summary, result.progress, result.stats, this.seconds ?? 0, held)
    this.view.status(this.unheard ? UNHEARD : 'Done. The history is in this browser; browse it below.')
  }

  /**
   * Tells the old phone at `addrs` that everything arrived, as long as the pairing lasts: it was stopped
   * (or the link went) after it sent everything and before it heard, and a `ferry send` started there
   * again waits for this phone. Each try is a receive without a code, which only tells (net/receiving.ts);
   * between tries the lock is free for another tab.
   */
  private tell (addrs: string[]): void {
    const stop = new AbortController()
    const done = this.tellUntilHeard(addrs, stop.signal).catch(err => { log.error('telling the old phone failed: %s', (err as Error)?.message ?? err) })
    this.telling = { stop, done }
  }

  private async stopTelling (): Promise<void> {
    const telling = this.telling
    if (telling === undefined) return
    telling.stop.abort()
    await telling.done
    this.telling = undefined
  }

  private async tellUntilHeard (addrs: string[], signal: AbortSignal): Promise<void> {
    const longest = this.seams.tellPauseMaxMs ?? TELL_PAUSE_MAX_MS
    let pause = Math.min(TELL_PAUSE_MS, longest)
    const pairings = new PairingRecords(this.journal)
    while (!signal.aborted && (await pairings.load())?.role === 'receiver') {
      const held = await this.lock.tryAcquire()
      // Another tab receives (or tells) meanwhile: try again after the pause.
      if (held !== undefined) {
        try {
          this.store.takeOver()
          this.journal.parts.takeOver()
          const result = await this.node.services.ferry.receive(this.receiveOptions(addrs, AbortSignal.any([signal, held.lost])))
          this.showVerified(result, await this.verifiedFrom())
          if (result.unheard !== true) {
            this.view.status(HEARD)
            return
          }
        } catch (err) {
          if (signal.aborted || held.lost.aborted) return
          // A try that got through and failed as a transfer fails (the old phone began another history, or
          // a session that resumed went): the telling goes on while the old phone is not reached; any
          // other failure is the person's to see.
          if (!isFerryError(err, ErrorCode.NO_PEER) && !isFerryError(err, ErrorCode.TRUNCATED)) {
            this.phase = 'failed'
            this.error = isFerryError(err) ? err : new FerryError(ErrorCode.INTERNAL, String((err as Error)?.message ?? err))
            this.view.error(explain(this.error, { resumable: true }))
            return
          }
          log('could not tell the old phone: %s', (err as Error)?.message)
        } finally {
          await held.release().catch(() => {})
        }
      }
      if (await pauseFor(pause, signal)) return
      pause = Math.min(pause * 2, longest)
    }
  }

  /** The progress to show: the machine's, with the bytes of this session, once the transfer is reading. */
  private snapshot (p: WebProgress): WebProgress {
    const m = this.machine?.progress
    return { messages: p.messages, totalMessages: p.totalMessages, mediaBytes: p.mediaBytes, totalMediaBytes: p.totalMediaBytes, bytesReceived: m?.bytesReceived }
  }

  private onEvent (e: FerryEvent): void {
    const entry: FerryDebug['events'][number] = { type: e.type, at: e.at }
    if (e.type === 'verified' && e.unheard === true) entry.unheard = true
    // Telling the old phone: each try that cannot reach it is no news to the person (the page says why it tries).
    if (this.telling !== undefined && this.phase === 'verified' && (e.type === 'interrupted' || e.type === 'paired')) {
      if (e.type === 'interrupted') entry.error = `${e.error.code}: ${e.error.message}`
      else entry.mode = e.mode
      this.events.push(entry)
      return
    }
    switch (e.type) {
      case 'paired':
        if (e.mode === 'code' && this.code !== undefined) {
          const code = this.code
          this.code = undefined
          void new SpentCodes(this.journal).spend(e.peer, code).catch(err => { log.error('cannot note the used code: %s', (err as Error)?.message) })
        }
        this.linked = true
        this.pairedWith = e.peer
        this.mode = e.mode
        this.machine = undefined
        entry.mode = e.mode
        this.view.status(e.mode === 'code' ? 'Paired. Receiving the history…' : 'Reconnected to the old phone. Continuing where it stopped…')
        // The code is spent and the pairing kept: the link's secret leaves the address bar and the
        // history, and a reload resumes by the pairing instead of trying the code again.
        if (location.hash !== '') history.replaceState(history.state, '', location.pathname + location.search)
        break
      case 'manifest':
        this.phase = 'receiving'
        this.sessionStart = undefined
        this.view.resetRate()
        break
      case 'progress': {
        const p = this.snapshot(e.progress)
        this.progress = p
        entry.progress = p
        this.sessionStart ??= { t: performance.now(), bytes: p.bytesReceived ?? 0 }
        // The session's first progress is where it started from: what this phone held when it began
        // (other events, chats-ready, may come between).
        const manifest = this.events.findLast(x => x.type === 'manifest' || x.type === 'progress')
        if (manifest?.type === 'manifest' && manifest.progress === undefined) manifest.progress = p
        break
      }
      case 'verifying':
        this.view.status('Everything has arrived. Checking it against the old phone…')
        break
      case 'interrupted':
        entry.error = `${e.error.code}: ${e.error.message}`
        // Before the first pairing nothing dropped: the old phone was not reached (yet). A session this
        // browser ended to fetch a file in a session of its own (media-intake.ts) dropped nothing either.
        this.view.status(e.error.details?.fetchAgain === true
          ? 'Fetching a photo or file again in a new session. Nothing that arrived is lost…'
          : this.linked ? 'The connection dropped. Reconnecting…' : 'Cannot reach the old phone yet. Trying again…')
        break
      case 'verified': {
        const p = this.snapshot(e.progress)
        entry.progress = p
        if (this.sessionStart !== undefined) {
          this.seconds = (performance.now() - this.sessionStart.t) / 1000
          this.rate = ((p.bytesReceived ?? 0) - this.sessionStart.bytes) / Math.max(this.seconds, 1e-3)
        }
        break
      }
    }
    // Progress events come with every read: only those the tests and the console need are kept.
    if (e.type !== 'progress') this.events.push(entry)
  }

  private async beforeRead (machine: ReceiverMachine): Promise<void> {
    this.machine = machine
    const rule = this.pauseRule
    const p = machine.progress
    if (rule !== undefined && ((rule.messages !== undefined && p.messages >= rule.messages) || (rule.mediaBytes !== undefined && p.mediaBytes >= rule.mediaBytes))) {
      await this.hold(machine)
    }
  }

  /** Holds the transfer (pauseAt) until unpause(). */
  private async hold (machine: ReceiverMachine): Promise<void> {
    const p = machine.progress
    this.pauseRule = undefined
    this.paused = true
    this.progress = { messages: p.messages, totalMessages: p.totalMessages, mediaBytes: p.mediaBytes, totalMediaBytes: p.totalMediaBytes, bytesReceived: p.bytesReceived }
    await new Promise<void>(resolve => { this.release = resolve })
    this.paused = false
  }

  debug (): FerryDebug {
    return {
      state: () => ({
        phase: this.phase,
        peerId: this.node.peerId.toString(),
        paused: this.paused,
        lock: this.lock.kind,
        mode: this.mode,
        progress: this.progress,
        stats: this.stats,
        unheard: this.unheard,
        error: this.error !== undefined ? { code: this.error.code, message: this.error.message } : undefined,
        rateBytesPerSec: this.rate,
        sessionSeconds: this.seconds
      }),
      events: this.events,
      pauseAt: at => { this.pauseRule = at },
      unpause: () => { this.release?.(); this.release = undefined },
      flush: async () => { await this.store.flushWrites(); await this.store.settled() },
      exportNdjson: async () => await exportNdjsonText(this.store),
      exportDigest: async () => await exportDigest(this.store),
      mediaDigests: async () => await mediaDigests(this.store),
      stats: async () => await this.store.stats(),
      startOver: async () => { await this.startOver() }
    }
  }

  /**
   * Forgets this browser's history, its identity and its pairing, and starts the page again; only once
   * the person confirmed, knowing what goes, and never while a transfer runs, in this tab or another
   * (deleting the database under a receiving tab would lose its transfer and its pairing).
   */
  private async startOver (): Promise<void> {
    if (this.forgetting || this.closed) return
    this.forgetting = true
    try {
      if (!forgettable(this.phase)) {
        this.view.error(this.phase === 'busy' ? FORGET_WHILE_ELSEWHERE : FORGET_WHILE_HERE)
        return
      }
      // This tab's own telling holds the lock now and then: only another tab's counts here.
      if (this.telling === undefined && await this.lock.heldElsewhere()) {
        this.view.error(FORGET_WHILE_ELSEWHERE)
        return
      }
      const held = await this.store.stats().catch(() => undefined)
      if (!await this.view.confirmStartOver(forgetQuestion(held))) return
      // The question may have stayed open while something started here: ask again rather than delete.
      if (!forgettable(this.phase)) {
        this.view.error(FORGET_WHILE_HERE)
        return
      }
      await this.stopTelling()
      // Held until the page reloads: no tab starts receiving into the database while it is deleted.
      const lock = await this.lock.tryAcquire()
      if (lock === undefined) {
        this.view.error(FORGET_WHILE_ELSEWHERE)
        return
      }
      this.view.offerStartOver(false)
      this.view.showForm(false)
      this.view.status('Forgetting this browser\'s history…')
      try { await this.node.stop() } catch {}
      this.closed = true
      this.db.close()
      await deleteFerryDb(DB_NAME)
      location.hash = ''
      location.reload()
    } finally {
      this.forgetting = false
    }
  }

  /** Another tab deleted the database (its start over) or a newer page upgrades it: this tab's copy is gone. */
  closedElsewhere (): void {
    if (this.closed) return
    this.closed = true
    this.view.offerStartOver(false)
    this.view.showForm(false)
    this.view.error(CLOSED_ELSEWHERE)
    void this.stopTelling()
    void Promise.resolve().then(async () => { await this.node.stop() }).catch(() => {})
  }
}

/** Forgetting is offered while nothing runs in this tab: not while it pairs, receives, or waits for another tab. */
function forgettable (phase: Phase): boolean {
  return phase === 'idle' || phase === 'verified' || phase === 'failed'
}

/** What the person is asked before this browser's history is deleted: what goes, and that it is for good. */
function forgetQuestion (held: StoreStats | undefined): string {
  const what = held === undefined
    ? 'everything this browser received'
    : held.messages === 0 && held.mediaFiles === 0
      ? 'this browser\'s Ferry data (it holds no chats now)'
      : `${count(held.conversations, 'chat')}, ${count(held.messages, 'message')} and ${count(held.mediaFiles, 'media file')} held here`
  return `Forget ${what}? This browser also forgets its pairing with the old phone, which then needs a new code. ` +
    'This cannot be undone: once the old phone is reset, nothing brings this history back.'
}

function count (n: number, noun: string): string {
  return `${n.toLocaleString('en')} ${noun}${n === 1 ? '' : 's'}`
}

/** Where the old phone that serves this page listened when it served it. */
function servedAddrs (): string[] {
  return senderAddrsIn(document)
}

/**
 * Each dial of a page the old phone serves goes first where that phone listens now, as the page it
 * serves now says: started again on another port while this tab stayed open, it is reached without a
 * reload. The addresses must name the phone dialled; nothing else is dialled first.
 */
async function whereNow (addrs: Multiaddr[], signal?: AbortSignal): Promise<Multiaddr[]> {
  const peer = firstPeerIdOf(addrs)
  if (peer === undefined) return addrs
  return resumeAddrs(peer, addrs.map(String), await senderAddrsNow(signal)).map(a => multiaddr(a))
}

/** Waits `ms`, or less if `signal` aborts meanwhile: aborted? */
async function pauseFor (ms: number, signal: AbortSignal): Promise<boolean> {
  return await new Promise<boolean>(resolve => {
    const done = (): void => { clearTimeout(timer); signal.removeEventListener('abort', done); resolve(signal.aborted) }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}

async function boot (): Promise<void> {
  const db = await openFerryDb(DB_NAME)
  const store = await IdbHistoryStore.open(db)
  const journal = new IdbJournal(db)
  const seams = pageTestSeams()
  const node = await createBrowserNode(await loadOrCreateKey(db), { ferry: ferry({ history: store, journal, batchDeflate: canInflateRaw() ? browserBatchInflate : undefined }) }, seams.addressDialTimeoutMs)
  const app = new App(db, store, journal, node, new View(store), createTabLock(db, LOCK_NAME, { ttlMs: seams.leaseTtlMs, renewMs: seams.leaseRenewMs }), seams)
  db.addEventListener('versionchange', () => { app.closedElsewhere() })
  window.__ferry = app.debug()
  document.body.dataset.ready = 'true'
  await app.start()
}

boot().catch(err => {
  const el = document.getElementById('error')
  if (el !== null) {
    el.hidden = false
    // A FerryError in words (a browser that stores nothing here); anything else is a fault of the page's own.
    el.textContent = isFerryError(err) ? explain(err) : `The page cannot start: ${(err as Error)?.message ?? String(err)}`
  }
  const status = document.getElementById('status-text')
  if (status !== null) status.textContent = 'The page cannot start.'
  log.error('the page cannot start: %s', (err as Error)?.message ?? err)
})
