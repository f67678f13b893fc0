import type { Logger } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { ErrorCode, FerryError, storeError } from '../errors.js'
import { peerText } from '../printable.js'
import { comparePositions, type Message, type Selection } from '../store/model.js'
import type { HistorySource, MessagePosition, SourceSnapshot } from '../store/history.js'
import {
  batchEntryLength, encodeBatch, encodeDeflatedBatch, encodeFrame, encodeMediaChunk, ferry, frameLength, type BatchDeflate, type EncodedFrame, type Frame
} from '../wire/codec.js'
import { mediaIndexDigest } from './digest.js'
import { ConversationRoot, encodedMessage, LEAF_DIGEST_BYTES, LeafHasher, messageHash, type LeafSummary } from './leaves.js'
import { conversationLeaves, KeepingCutter } from './conversation-leaves.js'
import { equalBytes, toHex } from './digest.js'
import { beginManifest, MANIFEST_FRAME_BYTES, manifestFrames, PAGE, pagesThrough, selectedPages, type ManifestData } from './manifest.js'
import { PROTOCOL_VERSION, transferOptions, type TransferOptions } from './options.js'
import { describeSelection, intersectSelections, selectionFromWire, wholeConversations } from './selection.js'
import { getBit, setBit } from './bitmap.js'
import { ChunkBuffers } from './chunk-buffers.js'
import { checkHoldings, leafFromWire, leafPlanToWire, type BaseDigests, type PlannedLeaf, planConversation } from './plan.js'
import { keptRuns, type PlannedRun, type RunReader } from './kept-runs.js'
import { SentMediaCheck } from './sent-media-check.js'

const log = logger('ferry:sender')
/** A kept leaf's keys say which messages are this phone's; their versions are not asked about. */
const NO_HASH = new Uint8Array(0)

export type SenderState = 'hello' | 'manifest' | 'resume' | 'messages' | 'media' | 'done-sent' | 'verified' | 'failed'

export interface SenderProgress {
  messagesSent: number
  totalMessages: number
  mediaBytesSent: number
  totalMediaBytes: number
  /** Messages and media bytes the receiver already held (not sent). */
  skippedMessages: number
  skippedMediaBytes: number
  mediaFilesSent: number
  /**
   * Files found shorter than their record, or gone, since it was read (cut short by a crash, deleted by
   * the app meanwhile): sent padded, for the receiver to leave out as damaged.
   */
  mediaFilesShort: number
  /** Data bytes sent and acknowledged in this session. */
  bytesSent: number
  bytesAcked: number
}

/**
 * What the receiver said the whole transfer moved, over all its sessions, in its Verified (a receiver
 * that counts across sessions says so): what the old phone reports, so that both phones say the same.
 */
export interface VerifiedCounts {
  messagesSent: number
  messagesHeld: number
  mediaFilesSent: number
  mediaBytesSent: number
  mediaFilesHeld: number
}

export interface SenderInit {
  source: HistorySource
  /** What this phone offers; the receiver may narrow it. */
  offer?: Selection
  agent?: string
  options?: Partial<TransferOptions>
  /** Deflates message batches, for a receiver whose Hello asks for them (it says when that pays). */
  deflate?: BatchDeflate['deflate']
  /**
   * Hash each media file as it is read and count those that are not their sha256 (`mediaCheck`): for a
   * sender with no receiver to check them as they go (a backup). A receiver hashes what arrives anyway.
   */
  checkMedia?: boolean
  /** Where this transfer's lines go (a node's, with its prefix); `ferry:sender` when none is given. */
  logger?: Logger
}

/** What is sent of one conversation, once planned. */
interface Outgoing {
  index: number
  id: string
  /** Undefined for a conversation the receiver holds nothing of: all of it goes. */
  plan?: PlannedLeaf[]
  /** The receiver's answer to the plan's listed messages, in order. */
  want?: Uint8Array
  root?: ConversationRoot
}

/**
 * The sending side of a transfer, sans I/O: fed the receiver's frames with `onFrame`, it answers through
 * `next()`, which gives the next frame to send while the flow-control window allows (undefined: wait for
 * the receiver; `onWake` says when there may be more). It reads the history through the HistorySource
 * port and never writes it: through one snapshot of it, taken as the receiver's Hello arrives, when the
 * store offers one (HistorySource.snapshot). Whoever drives it calls `release()` once the session ends.
 *
 * Messages are reconciled per conversation: of a conversation the receiver holds nothing of, everything
 * goes, digested on the way; of one it holds some of, the receiver's leaves (Holdings) are set against
 * this phone's (plan.ts), and only leaves it lacks, or the listed messages it asks for, go.
 */
export class SenderMachine {
  state: SenderState = 'hello'
  /**
   * Its media index and media total are complete once its last frame is out (see manifestFrames).
   * @internal For Ferry's own driver: the manifest is the protocol's, read by the offering phone.
   */
  manifest?: ManifestData
  /** Set by the receiver's Verified when it counted the whole transfer (an older receiver does not). */
  verifiedCounts?: VerifiedCounts
  readonly progress: SenderProgress = {
    messagesSent: 0, totalMessages: 0, mediaBytesSent: 0, totalMediaBytes: 0, skippedMessages: 0, skippedMediaBytes: 0, mediaFilesSent: 0, mediaFilesShort: 0, bytesSent: 0, bytesAcked: 0
  }

  /** Set when the transfer ended in failure (ours or the peer's). */
  error?: FerryError
  /**
   * Counts the media files read whole that are not their sha256; only with `checkMedia`.
   * @internal For Ferry's own backup writer (FileSender).
   */
  readonly mediaCheck?: SentMediaCheck
  /** Called when work done in the background may have made frames ready. */
  onWake?: () => void

  /** What this session reads: the store's snapshot, once taken (see HistorySource.snapshot), or the store. */
  private source: HistorySource
  private snapshot?: SourceSnapshot
  private released = false
  private readonly offer: Selection
  private readonly opts: TransferOptions
  private readonly agent: string
  private readonly log: Logger
  private readonly control: EncodedFrame[] = []
  private readonly outbox: EncodedFrame[] = []
  private manifestOut?: AsyncIterator<EncodedFrame>
  private outgoing: Outgoing[] = []
  /** What the receiver holds of each conversation it marked, by index, as its Holdings arrive. */
  private readonly holdings = new Map<number, Holding>()
  private readonly wants = new Map<number, () => void>()
  private planning?: Promise<void>
  /** The conversation being sent (index into outgoing) and the reader over it. */
  private current = 0
  private reader?: AsyncIterator<Outbound[]>
  /** The page of messages being sent, read ahead of the batch that takes them. */
  private page: Outbound[] = []
  private pageAt = 0
  private lookahead?: Outbound
  private mediaIndex = 0
  /**
   * Files the receiver lacks as its owner removed them (Resume.media_left_deleted), and of those the ones
   * a message sent refers to: only those go, or a message there would point at nothing.
   */
  private leftDeleted?: Uint8Array
  private referenced?: Uint8Array
  private mediaOffset = 0
  private have?: Uint8Array
  private partial = new Map<number, number>()
  private readonly buffers: ChunkBuffers
  private readonly deflateBy?: BatchDeflate['deflate']
  /** Set once the receiver's Hello asked for deflated batches (and this phone can make them). */
  private deflate?: BatchDeflate['deflate']

  constructor (init: SenderInit) {
    this.source = init.source
    this.offer = init.offer ?? {}
    this.opts = transferOptions(init.options)
    this.agent = init.agent ?? 'ferry'
    this.deflateBy = init.deflate
    this.log = init.logger ?? log
    if (init.checkMedia === true) this.mediaCheck = new SentMediaCheck()
    const { chunkBytes, windowBytes } = this.opts
    // At most a window of frames is unacknowledged; one more slab is being filled. An unbounded window
    // (a backup file) is never acked, so nothing is kept for reuse.
    const slabsInFlight = windowBytes >= Number.MAX_SAFE_INTEGER ? 0 : Math.ceil(windowBytes / chunkBytes) + 2
    this.buffers = new ChunkBuffers(chunkBytes, slabsInFlight)
  }

  /**
   * True once what the receiver already holds is known (its Resume, and the plan of every conversation
   * it holds some of): only then is `progress` where the transfer really stands.
   */
  get progressKnown (): boolean {
    if (this.state === 'hello' || this.state === 'manifest' || this.state === 'resume') return false
    return this.outgoing.every(o => !this.holdings.has(o.index) || (o.plan !== undefined && o.want !== undefined))
  }

  /**
   * Frames to send at once: our Hello.
   * @internal Frames are the protocol's own (an app passes bytes to runSender/runReceiver): left out of the package's declarations.
   */
  start (): EncodedFrame[] {
    return [encodeFrame({ hello: { version: PROTOCOL_VERSION, agent: this.agent } })]
  }

  /** True once nothing more will be sent or received. */
  get finished (): boolean {
    return this.state === 'verified' || this.state === 'failed'
  }

  /** @internal Frames are the protocol's own (an app passes bytes to runSender/runReceiver): left out of the package's declarations. */
  async onFrame (frame: Frame): Promise<void> {
    if (this.finished) throw new FerryError(ErrorCode.PROTOCOL, `unexpected ${frame.body} frame after the transfer ended`)
    try {
      await this.dispatch(frame)
    } catch (err) {
      throw this.fail(err)
    }
  }

  /**
   * Ends the transfer on `err` (a refusal of the receiver's frames, a failure reading the store): a
   * machine that threw must not carry on.
   */
  fail (err: unknown): FerryError {
    if (this.state !== 'failed' || this.error === undefined) {
      this.state = 'failed'
      this.error = storeError(err, 'reading the transfer source')
    }
    void this.release()
    this.onWake?.()
    return this.error
  }

  private async dispatch (frame: Frame): Promise<void> {
    switch (frame.body) {
      case 'hello': return await this.onHello(frame.hello as ferry.Hello)
      case 'resume': return this.onResume(frame.resume as ferry.Resume)
      case 'holdings': return this.onHoldings(frame.holdings as ferry.Holdings)
      case 'want': return this.onWant(frame.want as ferry.Want)
      case 'ack': return this.onAck(frame.ack as ferry.Ack)
      case 'verified':
        if (this.state !== 'done-sent') throw new FerryError(ErrorCode.PROTOCOL, 'Verified before Done')
        this.verifiedCounts = countsOf(frame.verified as ferry.Verified, this.manifest)
        this.state = 'verified'
        await this.release()
        return
      case 'error': {
        const e = frame.error as ferry.Error
        // The old phone's person must hear that this one is the new phone's to mend, and that nothing is lost.
        const next = e.code === ErrorCode.STORE_FULL
          ? '; what the new phone received stays there: free space on it, then send again (no new code is needed) to carry on'
          : ''
        throw new FerryError(ErrorCode.PEER_ERROR, `receiver reported ${peerText(e.code, 40)}: ${peerText(e.message)}${next}`, { peerCode: peerText(e.code, 40) })
      }
      default:
        throw new FerryError(ErrorCode.PROTOCOL, `unexpected ${frame.body} frame from the receiver`)
    }
  }

  /**
   * The next frame to send, or undefined while waiting for the receiver, the window or the store.
   * @internal Frames are the protocol's own (an app passes bytes to runSender/runReceiver): left out of the package's declarations.
   */
  async next (): Promise<EncodedFrame | undefined> {
    if (this.state === 'failed') throw this.error as FerryError
    const control = this.control.shift()
    if (control !== undefined) return control
    const queued = this.outbox.shift()
    if (queued !== undefined) return queued
    if (this.manifestOut !== undefined) {
      // Not data: manifest frames do not count against the window (the receiver acknowledges data only).
      let r: IteratorResult<EncodedFrame>
      try {
        r = await this.manifestOut.next()
      } catch (err) {
        this.manifestOut = undefined
        throw this.fail(err)
      }
      if (r.done !== true) return r.value
      this.manifestOut = undefined
      this.progress.totalMediaBytes = (this.manifest as ManifestData).totalMediaBytes
      this.state = 'resume'
    }
    if (this.state !== 'messages' && this.state !== 'media') return undefined
    if (this.progress.bytesSent - this.progress.bytesAcked >= this.opts.windowBytes) return undefined
    let frame: EncodedFrame | undefined
    try {
      frame = this.state === 'messages' ? await this.nextMessageFrame() : await this.nextMediaFrame()
    } catch (err) {
      throw this.fail(err)
    }
    if (frame === undefined) {
      // A phase ended (or a plan is awaited): whatever it queued goes next.
      return this.state === 'media' || this.control.length > 0 || this.outbox.length > 0 ? await this.next() : undefined
    }
    this.progress.bytesSent += frameLength(frame)
    return frame
  }

  private async onHello (hello: ferry.Hello): Promise<void> {
    if (this.state !== 'hello') throw new FerryError(ErrorCode.PROTOCOL, 'unexpected second Hello')
    if (hello.version !== PROTOCOL_VERSION) {
      throw new FerryError(ErrorCode.VERSION, `receiver speaks protocol version ${hello.version}, this phone ${PROTOCOL_VERSION}`)
    }
    if (hello.deflateBatches === true) {
      this.deflate = this.deflateBy
      this.log('the receiver takes deflated batches%s', this.deflate === undefined ? ', which this phone cannot make' : '')
    }
    const request = selectionFromWire(hello.request)
    const selection = intersectSelections(this.offer, request)
    if (selection.conversations !== undefined && selection.conversations.length === 0) {
      throw new FerryError(ErrorCode.SELECTION, `nothing in common: this phone offers ${describeSelection(this.offer)}, the other asked for ${describeSelection(request)}`)
    }
    this.state = 'manifest'
    await this.takeSnapshot()
    const { manifest, media } = await beginManifest(this.source, selection)
    if (selection.conversations !== undefined && manifest.conversations.length === 0) {
      throw new FerryError(ErrorCode.SELECTION, `nothing in common: this phone holds none of the chats to move (${describeSelection(selection)})`)
    }
    this.manifest = manifest
    this.log('offering %d conversations, %d messages', manifest.conversations.length, manifest.totalMessages)
    this.progress.totalMessages = manifest.totalMessages
    this.manifestOut = manifestFrames(manifest, Math.min(this.opts.batchBytes, MANIFEST_FRAME_BYTES), media, this.opts.windowBytes, true)[Symbol.asyncIterator]()
  }

  /**
   * From here on the session reads the store as it is now: the manifest's counts and digests then hold
   * for every message sent, while the phone's app writes on.
   */
  private async takeSnapshot (): Promise<void> {
    const taken = await this.source.snapshot?.()
    if (taken === undefined) return
    if (this.released) {
      await taken.release()
      throw new FerryError(ErrorCode.CANCELLED, 'the session ended while it began')
    }
    this.snapshot = taken
    this.source = taken
  }

  /**
   * Ends the session's hold on the store's snapshot, if it took one. Idempotent, and never throws: what
   * was sent is sent, and a store that cannot let go of its snapshot says so in its log.
   */
  async release (): Promise<void> {
    this.released = true
    const snapshot = this.snapshot
    this.snapshot = undefined
    try {
      await snapshot?.release()
    } catch (err) {
      this.log.error('releasing the store\'s snapshot: %s', (err as Error)?.message ?? String(err))
    }
  }

  private onResume (resume: ferry.Resume): void {
    const manifest = this.manifest
    if (this.state !== 'resume' || manifest === undefined) throw new FerryError(ErrorCode.PROTOCOL, 'Resume before the whole manifest was sent')
    this.have = resume.mediaHave ?? new Uint8Array(0)
    const left = resume.mediaLeftDeleted ?? new Uint8Array(0)
    if (left.some(b => b !== 0)) {
      this.leftDeleted = left
      this.referenced = new Uint8Array(left.byteLength)
    }
    for (const p of resume.partial ?? []) {
      const index = p.index ?? 0
      const offset = Number(p.offset ?? 0)
      if (!Number.isInteger(index) || index < 0 || index >= manifest.media.length || offset < 0 || offset >= manifest.media.size(index)) {
        throw new FerryError(ErrorCode.PROTOCOL, `Resume names an impossible partial media ${index}@${offset}`)
      }
      this.partial.set(index, offset)
    }
    const media = manifest.media
    for (let i = 0; i < media.length; i++) {
      if (!media.missing(i)) this.progress.skippedMediaBytes += getBit(this.have, i) ? media.size(i) : (this.partial.get(i) ?? 0)
    }
    const held = resume.held ?? new Uint8Array(0)
    this.outgoing = manifest.conversations.map(({ conversation }, index) => ({ index, id: conversation.id }))
    const planned = this.outgoing.filter(o => getBit(held, o.index))
    for (const o of planned) this.holdings.set(o.index, new Holding())
    this.log('resume: the receiver holds some of %d conversations and %d media files; %d files it left deleted go only for a message sent', planned.length,
      this.have.reduce((n, b) => n + popcount(b), 0), left.reduce((n, b) => n + popcount(b), 0))
    this.state = 'messages'
    // Plans are made in the background, in order, while the conversations before them are sent.
    this.planning = this.plan(planned).catch(err => { this.fail(err) })
  }

  private onHoldings (h: ferry.Holdings): void {
    const index = h.conversation ?? 0
    const holding = this.holdings.get(index)
    if (holding === undefined || this.state === 'hello' || this.state === 'manifest') {
      throw new FerryError(ErrorCode.PROTOCOL, `Holdings for conversation ${index}, which the receiver did not mark as held`)
    }
    holding.take(h, this.opts.maxManifestEntries)
  }

  private onWant (w: ferry.Want): void {
    const index = w.conversation ?? 0
    const o = this.outgoing[index]
    if (o?.plan === undefined || o.want !== undefined) throw new FerryError(ErrorCode.PROTOCOL, `unexpected Want for conversation ${index}`)
    o.want = w.items ?? new Uint8Array(0)
    let listed = 0
    for (const leaf of o.plan) {
      if (leaf.kind !== 'list') continue
      for (const _ of leaf.items ?? []) if (!getBit(o.want, listed++)) this.progress.skippedMessages++
    }
    const wake = this.wants.get(index)
    this.wants.delete(index)
    wake?.()
    this.onWake?.()
  }

  private async plan (planned: Outgoing[]): Promise<void> {
    const manifest = this.manifest as ManifestData
    for (const o of planned) {
      // This phone's leaves are read while the receiver reads its own.
      const mine = await conversationLeaves(this.source, o.id, manifest.selection)
      const declared = manifest.conversations[o.index].messageCount
      const counted = mine.reduce((n, l) => n + l.count, 0)
      if (counted !== declared) {
        throw new FerryError(ErrorCode.STORE, `conversation ${o.id} changed on this phone while it was being sent (${declared} messages, now ${counted}): start the transfer again`)
      }
      o.root = new ConversationRoot()
      for (const leaf of mine) o.root.add(leaf)
      const holding = this.holdings.get(o.index) as Holding
      const theirs = await holding.root()
      if (this.finished) return
      if (theirs.count === counted && equalBytes(theirs.digest, o.root.digest())) {
        // The receiver holds exactly this phone's part: nothing of it moves.
        o.plan = mine.map(l => ({ kind: 'have' as const, first: l.first, last: l.last, count: l.count }))
        o.want = new Uint8Array(0)
        this.progress.skippedMessages += counted
        this.log('plan of %s: the receiver holds all %d messages', o.id, counted)
        this.control.push(encodeFrame({ plan: { conversation: o.index, answer: ferry.Plan.Answer.SAME } }))
        this.onWake?.()
        continue
      }
      const base = theirs.base
      if (theirs.count === 0) {
        // The receiver holds nothing of it, and said so with its base: no leaves of its own follow.
        await this.planLeaves(o, mine, [], base)
        continue
      }
      const prefix = await this.heldPrefix(o.id, mine, theirs)
      if (this.finished) return
      // A prefix whose rest holds a leaf (or a run) of the base is not all to send: the receiver's owner
      // deleted what it lacks of it.
      if (prefix !== undefined && (base === undefined || !(await this.holdsBase(o.id, mine, prefix, base)))) {
        // The receiver holds exactly this phone's messages up to its last: everything after it goes.
        const end = mine[mine.length - 1].last
        const tail = counted - theirs.count
        o.plan = [
          ...mine.slice(0, prefix).map(l => ({ kind: 'have' as const, first: l.first, last: l.last, count: l.count })),
          { kind: 'need', after: theirs.last, first: theirs.last, last: end, count: tail }
        ]
        o.want = new Uint8Array(0)
        this.progress.skippedMessages += theirs.count
        this.log('plan of %s: the receiver holds the first %d messages, %d follow', o.id, theirs.count, tail)
        this.control.push(encodeFrame({
          plan: { conversation: o.index, answer: ferry.Plan.Answer.PREFIX, leaves: [{ kind: ferry.PlanLeaf.Kind.NEED, lastTs: end.ts, lastId: end.id, count: tail }] }
        }))
        this.onWake?.()
        continue
      }
      this.control.push(encodeFrame({ plan: { conversation: o.index, answer: ferry.Plan.Answer.LEAVES } }))
      this.onWake?.()
      await this.planLeaves(o, mine, await holding.leaves(), base)
    }
  }

  /**
   * Plans a conversation's leaves against the receiver's (and its base) and queues the plan. Against a
   * base, runs of it at a leaf's ends are kept too (a date selection's edge cut them out of the leaf, or
   * messages joined it since: kept-runs.ts), and the root is then over the runs as planned.
   */
  private async planLeaves (o: Outgoing, mine: LeafSummary[], theirs: LeafSummary[], base: BaseDigests | undefined): Promise<void> {
    let runs: PlannedRun[] = planConversation(mine, theirs, base).map((entry, i) => ({ entry, digest: mine[i].digest }))
    if (base !== undefined) {
      runs = await keptRuns(runs, theirs, base, this.runReader(o.id), mine)
      const root = new ConversationRoot()
      for (const r of runs) root.add({ count: r.entry.count, digest: r.digest })
      o.root = root
    }
    const plan = runs.map(r => r.entry)
    if (this.finished) return
    // Listed leaves go with each message's hash, read again now (a plan is small next to its history);
    // kept leaves the receiver holds some of, with their keys only.
    for (const leaf of plan) {
      if (leaf.kind !== 'list' && leaf.keys !== true) continue
      const hashed = leaf.kind === 'list'
      leaf.items = []
      for await (const page of this.leafPages(o.id, leaf)) {
        for (const m of page) leaf.items.push({ ts: m.ts, id: m.id, hash: hashed ? messageHash(encodedMessage(m)) : NO_HASH })
      }
    }
    for (const leaf of plan) if (leaf.kind === 'have' || leaf.kind === 'kept') this.progress.skippedMessages += leaf.count
    o.plan = plan
    this.log('plan of %s: %d leaves, %d the same, %d needed, %d listed, %d kept as the receiver has them', o.id, plan.length, plan.filter(l => l.kind === 'have').length,
      plan.filter(l => l.kind === 'need').length, plan.filter(l => l.kind === 'list').length, plan.filter(l => l.kind === 'kept').length)
    if (!plan.some(l => l.kind === 'list')) o.want = new Uint8Array(0)
    for (const f of leafPlanToWire(o.index, plan, this.opts.batchBytes)) this.control.push(f)
    this.onWake?.()
  }

  /** Whether a leaf of `mine` from `from` on is, or begins or ends with, a run of the receiver's base. */
  private async holdsBase (conversation: string, mine: LeafSummary[], from: number, base: BaseDigests): Promise<boolean> {
    if (mine.slice(from).some(l => base.has(l.digest))) return true
    let after = from === 0 ? undefined : mine[from - 1].last
    const runs = mine.slice(from).map((l): PlannedRun => {
      const entry: PlannedLeaf = { kind: 'need', after, first: l.first, last: l.last, count: l.count }
      after = l.last
      return { entry, digest: l.digest }
    })
    return (await keptRuns(runs, [], base, this.runReader(conversation, from === 0), mine)).some(r => r.entry.kind === 'kept')
  }

  /**
   * How kept-runs.ts reads this phone's messages of a conversation, and its whole leaves under a time
   * window; `fromFirst`: the runs it is given begin with the selection's first leaf.
   */
  private runReader (conversation: string, fromFirst = true): RunReader {
    const selection = (this.manifest as ManifestData).selection
    const whole: Selection = selection.conversations === undefined ? {} : { conversations: selection.conversations }
    return {
      messages: entry => this.leafPages(conversation, entry),
      wholeLeaves: wholeConversations(selection) ? undefined : async () => await conversationLeaves(this.source, conversation, whole),
      since: fromFirst && selection.since !== undefined,
      until: selection.until !== undefined
    }
  }

  /**
   * Whether the receiver's root is this phone's root over its messages up to the receiver's last one
   * (which must be here too): the leaves before the one holding that key, and that leaf's messages up to
   * it. Returns how many of `mine` come wholly before the key, or undefined when it is no prefix.
   */
  private async heldPrefix (conversation: string, mine: LeafSummary[], theirs: HeldRoot): Promise<number | undefined> {
    let j = 0
    while (j < mine.length && comparePositions(mine[j].last, theirs.last) < 0) j++
    // Their last is at or after ours: not a prefix with anything to follow.
    if (j >= mine.length || comparePositions(mine[mine.length - 1].last, theirs.last) <= 0) return undefined
    const root = new ConversationRoot()
    for (let i = 0; i < j; i++) root.add(mine[i])
    const hasher = new LeafHasher()
    let at: MessagePosition | undefined
    const leaf = { after: j === 0 ? undefined : mine[j - 1].last, last: theirs.last, count: mine[j].count }
    for await (const page of this.leafPages(conversation, leaf)) {
      for (const m of page) hasher.add(encodedMessage(m))
      at = page[page.length - 1]
    }
    if (at === undefined || comparePositions(at, theirs.last) !== 0) return undefined
    root.add({ count: hasher.count, digest: hasher.digest() })
    return root.count === theirs.count && equalBytes(root.digest(), theirs.digest) ? j : undefined
  }

  private onAck (ack: ferry.Ack): void {
    const bytes = Number(ack.bytes ?? 0)
    if (bytes > this.progress.bytesSent || bytes < this.progress.bytesAcked) {
      throw new FerryError(ErrorCode.PROTOCOL, `receiver acknowledged ${bytes} bytes, but ${this.progress.bytesSent} were sent`)
    }
    this.progress.bytesAcked = bytes
    this.buffers.acked(bytes)
  }

  /**
   * The next message to send, in canonical order, or 'wait' (for a plan), or undefined when done. A
   * promise only when a page must be read: a transfer takes millions, and an await each would cost
   * more than encoding them.
   */
  private nextMessage (): Outbound | 'wait' | undefined | Promise<Outbound | 'wait' | undefined> {
    if (this.lookahead !== undefined) {
      const m = this.lookahead
      this.lookahead = undefined
      return m
    }
    return this.pageAt < this.page.length ? this.page[this.pageAt++] : this.nextPage()
  }

  private async nextPage (): Promise<Outbound | 'wait' | undefined> {
    for (;;) {
      if (this.pageAt < this.page.length) return this.page[this.pageAt++]
      const o = this.outgoing[this.current]
      if (o === undefined) return undefined
      if (this.reader === undefined) {
        if (this.holdings.has(o.index) && (o.plan === undefined || o.want === undefined)) return 'wait'
        // A plan goes out before the first message it covers: the batch ends here and the control
        // frames queued meanwhile leave first.
        if (this.control.length > 0) return 'wait'
        this.reader = this.messagesOf(o)[Symbol.asyncIterator]()
      }
      const r = await this.reader.next()
      if (r.done !== true) {
        this.page = r.value
        this.pageAt = 0
        continue
      }
      this.reader = undefined
      this.current++
    }
  }

  /**
   * What goes of one conversation, encoded, a page at a time (never an empty one): everything (digested
   * on the way), or what its plan says.
   */
  private async * messagesOf (o: Outgoing): AsyncGenerator<Outbound[]> {
    const selection = (this.manifest as ManifestData).selection
    if (o.plan === undefined) {
      const root = new ConversationRoot()
      const cutter = new KeepingCutter(this.source, o.id, selection, l => root.add(l))
      await cutter.begin()
      for await (const page of selectedPages(this.source, o.id, selection, undefined, PAGE, true)) {
        yield page.map(m => {
          this.refers(m)
          const encoded = encodedMessage(m)
          cutter.add(m.ts, m.id, encoded)
          return encoded
        })
      }
      cutter.finish()
      await cutter.keep()
      o.root = root
      return
    }
    const want = o.want as Uint8Array
    let listed = 0
    for (const leaf of o.plan) {
      if (leaf.kind === 'have' || leaf.kind === 'kept') continue
      if (leaf.kind === 'list') {
        const wanted = new Set<string>()
        for (const item of leaf.items ?? []) if (getBit(want, listed++)) wanted.add(`${item.ts}\u0000${item.id}`)
        if (wanted.size === 0) continue
        for await (const page of this.leafPages(o.id, leaf)) {
          const out = page.filter(m => wanted.has(`${m.ts}\u0000${m.id}`)).map(m => this.encoded(m))
          if (out.length > 0) yield out
        }
        continue
      }
      for await (const page of this.leafPages(o.id, leaf)) yield page.map(m => this.encoded(m))
    }
  }

  private encoded (m: Message): Uint8Array {
    this.refers(m)
    return encodedMessage(m)
  }

  /**
   * Checks a message that goes against the media records this phone listed, and notes it when it refers
   * to a file the receiver left deleted. A message naming a file the store holds no record of would fail
   * on the new phone as the old phone's protocol error, while the fault is this phone's store (an app's
   * own store wrote the message without the record): it is said here, as this store's.
   */
  private refers (m: Message): void {
    if (m.media === undefined) return
    const i = (this.manifest as ManifestData).media.indexOf(m.media)
    if (i < 0) {
      throw new FerryError(ErrorCode.STORE, `this phone's store has a message referring to a photo or file it holds no record of: message ` +
        `${JSON.stringify(m.conversation)}/${JSON.stringify(m.id)} names media ${m.media}, which the store's media() does not list; ` +
        'put its record in the store (or take the reference out of the message), then send again', { conversation: m.conversation, id: m.id, sha256: m.media })
    }
    if (this.leftDeleted !== undefined && getBit(this.leftDeleted, i)) setBit(this.referenced as Uint8Array, i)
  }

  private leafPages (conversation: string, leaf: Pick<PlannedLeaf, 'after' | 'last' | 'count'>): AsyncGenerator<Message[]> {
    return pagesThrough(this.source, conversation, (this.manifest as ManifestData).selection, leaf.after, leaf.last, leaf.count)
  }

  private async nextMessageFrame (): Promise<EncodedFrame | undefined> {
    const encoded: Uint8Array[] = []
    let size = 0
    for (;;) {
      const next = this.nextMessage()
      const bytes = next instanceof Promise ? await next : next
      if (bytes === 'wait') break
      if (bytes === undefined) {
        if (encoded.length === 0) this.messagesDone()
        break
      }
      const entry = batchEntryLength(bytes)
      if (entry > this.opts.batchBytes) {
        if (encoded.length > 0) { this.lookahead = bytes; break }
        this.progress.messagesSent++
        return this.fragment(bytes)
      }
      if (size + entry > this.opts.batchBytes) { this.lookahead = bytes; break }
      this.progress.messagesSent++
      encoded.push(bytes)
      size += entry
    }
    if (encoded.length === 0) return undefined
    const batch = encodeBatch(encoded)
    return this.deflate === undefined ? batch : encodeDeflatedBatch(this.deflate(batch[0]))
  }

  private messagesDone (): void {
    if (this.state !== 'messages') return
    this.state = 'media'
  }

  /** A message too large for one frame goes as fragments of its encoding; the first is returned, the rest queued. */
  private fragment (bytes: Uint8Array): EncodedFrame {
    const step = this.opts.batchBytes
    const frames: EncodedFrame[] = []
    for (let offset = 0; offset < bytes.byteLength; offset += step) {
      frames.push(encodeFrame({ fragment: { total: bytes.byteLength, offset, data: bytes.subarray(offset, offset + step) } }))
    }
    const first = frames.shift() as EncodedFrame
    // Fragments after the first are data frames too: counted now, as they leave through the outbox.
    for (const f of frames) this.progress.bytesSent += frameLength(f)
    this.outbox.push(...frames)
    return first
  }

  private async nextMediaFrame (): Promise<EncodedFrame | undefined> {
    const media = (this.manifest as ManifestData).media
    while (this.mediaIndex < media.length) {
      const i = this.mediaIndex
      if (media.missing(i) || getBit(this.have as Uint8Array, i)) { this.nextMedia(); continue }
      if (this.staysDeleted(i)) {
        this.progress.skippedMediaBytes += media.size(i)
        this.nextMedia()
        continue
      }
      if (this.mediaOffset === 0) this.mediaOffset = this.partial.get(i) ?? 0
      const offset = this.mediaOffset
      const size = media.size(i)
      const length = Math.min(this.opts.chunkBytes, size - offset)
      const sha256 = media.sha256(i)
      const into = length > 0 ? this.buffers.take(length) : undefined
      let data = into !== undefined ? await this.source.readMedia(sha256, offset, length, into) : new Uint8Array(0)
      if (data.byteLength < length) {
        data = this.padShortFile(sha256, size, offset, data, into as Uint8Array)
        this.mediaCheck?.forget()
      } else this.mediaCheck?.chunk(sha256, offset, data, offset + length >= size)
      this.progress.mediaBytesSent += length
      if (offset + length >= size) {
        this.progress.mediaFilesSent++
        this.nextMedia()
      } else this.mediaOffset = offset + length
      const frame = encodeMediaChunk(i, offset, data)
      // next() adds this frame to bytesSent on return: the slab is free once the receiver acks past it.
      if (into !== undefined && data.buffer === into.buffer) this.buffers.sent(length, this.progress.bytesSent + frameLength(frame))
      return frame
    }
    await this.planning
    this.outbox.push(this.doneFrame())
    this.log('done: %d messages and %d media bytes sent, %d messages held', this.progress.messagesSent, this.progress.mediaBytesSent, this.progress.skippedMessages)
    this.state = 'done-sent'
    return undefined
  }

  /**
   * A file on this phone shorter than its record (cut short by a crash or a full disk, or gone: the app
   * deleted it since its record was read): its missing tail
   * goes as zeros. The receiver then finds a file that is not its sha256 and leaves it out as damaged,
   * as it does any damaged copy (one it resumed from a part it kept, once it has fetched it whole in its
   * next session); stopping here instead would keep the whole history from moving.
   */
  private padShortFile (sha256: string, size: number, offset: number, data: Uint8Array, into: Uint8Array): Uint8Array {
    if (this.shortFile !== sha256) {
      this.log.error('media %s at %d on this phone is shorter than its record (%d bytes): sent padded, the new phone leaves it out', sha256, offset, size)
      this.progress.mediaFilesShort++
    }
    this.shortFile = sha256
    if (data.buffer !== into.buffer || data.byteOffset !== into.byteOffset) into.set(data)
    into.fill(0, data.byteLength)
    return into
  }

  /** The last file found short (its warning is logged once). */
  private shortFile?: string

  private staysDeleted (i: number): boolean {
    return this.leftDeleted !== undefined && getBit(this.leftDeleted, i) && !getBit(this.referenced as Uint8Array, i)
  }

  private nextMedia (): void {
    this.mediaIndex++
    this.mediaOffset = 0
  }

  private doneFrame (): EncodedFrame {
    const manifest = this.manifest as ManifestData
    const conversations = this.outgoing.map(o => {
      const root = o.root as ConversationRoot
      return { id: o.id, count: root.count, digest: root.digest() }
    })
    return encodeFrame({ done: { conversations, mediaCount: manifest.media.length, mediaDigest: mediaIndexDigest(manifest.media) } })
  }
}

/** A message on its way: its encoding, made once (it is both sent and digested). */
type Outbound = Uint8Array

export type { MessagePosition }

function popcount (b: number): number {
  let n = 0
  for (; b !== 0; b &= b - 1) n++
  return n
}

/**
 * What the receiver says it holds of one conversation: its root first, then (when asked for) its leaves.
 * The planner awaits each part; frames that come out of turn are refused.
 */
/** The receiver's root of a conversation: over `count` messages, the last of them at `last`. */
interface HeldRoot {
  digest: Uint8Array
  /** 0: the receiver holds nothing of it, and sent a base; `last` means nothing then. */
  count: number
  last: MessagePosition
  /** Digests of the old phone's leaves the receiver verified last time (Holdings.base). */
  base?: BaseDigests
}

/** A Holdings' base, checked: packed digests, at most `max` of them. */
function baseFromWire (packed: Uint8Array | null | undefined, max: number, conversation: number): BaseDigests | undefined {
  if (packed === null || packed === undefined || packed.byteLength === 0) return undefined
  if (packed.byteLength % LEAF_DIGEST_BYTES !== 0) throw new FerryError(ErrorCode.MALFORMED_FRAME, `the base of conversation ${conversation} is not whole leaf digests`)
  if (packed.byteLength / LEAF_DIGEST_BYTES > max) throw new FerryError(ErrorCode.TOO_LARGE, `the base of conversation ${conversation} exceeds ${max} leaves`)
  const set = new Set<string>()
  for (let i = 0; i < packed.byteLength; i += LEAF_DIGEST_BYTES) set.add(toHex(packed.subarray(i, i + LEAF_DIGEST_BYTES)))
  return { has: d => set.has(toHex(d)), hexes: set }
}

class Holding {
  private theirRoot?: HeldRoot
  private readonly theirLeaves: LeafSummary[] = []
  private leavesDone = false
  private wake?: () => void

  take (h: ferry.Holdings, maxLeaves: number): void {
    if (this.theirRoot === undefined) {
      const digest = h.root ?? new Uint8Array(0)
      const count = Number(h.count ?? 0)
      const last = { ts: Number(h.lastTs ?? 0), id: h.lastId ?? '' }
      const base = baseFromWire(h.base, maxLeaves, h.conversation ?? 0)
      // Nothing held is said only with a base (the receiver's owner deleted the chat): it has no leaves.
      const empty = count === 0 && base !== undefined && last.id === ''
      if (digest.byteLength !== 32 || h.leaves.length > 0 || h.more === true || !Number.isSafeInteger(count) || (!empty && count < 1) ||
        !Number.isSafeInteger(last.ts) || (!empty && last.id === '')) {
        throw new FerryError(ErrorCode.MALFORMED_FRAME, `the first Holdings of conversation ${h.conversation ?? 0} must carry its root, count and last key alone`)
      }
      this.theirRoot = { digest: digest.slice(), count, last, base }
      this.leavesDone = empty
    } else {
      if (this.leavesDone || (h.root?.byteLength ?? 0) > 0) throw new FerryError(ErrorCode.PROTOCOL, `unexpected Holdings for conversation ${h.conversation ?? 0}`)
      for (const l of h.leaves) this.theirLeaves.push(leafFromWire(l as ferry.Leaf))
      if (this.theirLeaves.length > maxLeaves) throw new FerryError(ErrorCode.TOO_LARGE, `Holdings exceed ${maxLeaves} leaves`)
      if (h.more !== true) {
        checkHoldings(this.theirLeaves)
        if (this.theirLeaves.reduce((n, l) => n + l.count, 0) !== this.theirRoot.count) {
          throw new FerryError(ErrorCode.COUNT_MISMATCH, `the leaves of conversation ${h.conversation ?? 0} hold other than the ${this.theirRoot.count} messages its root counted`)
        }
        this.leavesDone = true
      }
    }
    this.wake?.()
  }

  async root (): Promise<HeldRoot> {
    while (this.theirRoot === undefined) await new Promise<void>(resolve => { this.wake = resolve })
    return this.theirRoot
  }

  async leaves (): Promise<LeafSummary[]> {
    while (!this.leavesDone) await new Promise<void>(resolve => { this.wake = resolve })
    return this.theirLeaves
  }
}

/** The whole transfer's counts a Verified carries, or undefined when they are a session's. */
/**
 * The whole transfer's counts a receiver said in its Verified, when it said them and they fit what this
 * phone offered: a receiver is the other party, and what it says is printed here as this phone's report.
 * Counts past the manifest (a lying or broken receiver; or, rarely, a history that shrank here between
 * two sessions of the transfer) are not repeated: this phone then reports its own session's.
 */
function countsOf (v: ferry.Verified, manifest: ManifestData | undefined): VerifiedCounts | undefined {
  if (v.wholeTransfer !== true || manifest === undefined) return undefined
  const c = { messagesSent: v.messagesSent, messagesHeld: v.messagesHeld, mediaFilesSent: v.mediaSent, mediaBytesSent: v.mediaBytesSent, mediaFilesHeld: v.mediaHeld }
  const fits = Object.values(c).every(n => Number.isSafeInteger(n) && n >= 0) &&
    c.messagesSent + c.messagesHeld <= manifest.totalMessages &&
    c.mediaFilesSent + c.mediaFilesHeld <= manifest.media.length &&
    c.mediaBytesSent <= manifest.totalMediaBytes
  return fits ? c : undefined
}
