import type { Logger } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { ErrorCode, FerryError, storeError } from '../errors.js'
import { peerText } from '../printable.js'
import { comparePositions, type Contact, type MediaRecord, type Message, type Selection } from '../store/model.js'
import type { HistorySink } from '../store/history.js'
import type { Journal, JournalOp } from '../journal/journal.js'
import { TransferLog, VERIFIED_COUNTS, type TransferRecord } from '../journal/transfer-log.js'
import type { LogItem } from '../journal/log-codec.js'
import { decodeFrame, encodeFrame, ferry, type BatchDeflate, type EncodedFrame, type Frame, type ReceivedBatch } from '../wire/codec.js'
import { MAX_FRAME_BYTES } from '../wire/framing.js'
import { getBit } from './bitmap.js'
import { equalBytes, mediaIndexDigest } from './digest.js'
import { encodedMessage } from './leaves.js'
import { messageFromWire } from '../wire/message-wire.js'
import { ManifestIntake } from './manifest-intake.js'
import { inRange, isFiltered } from './manifest.js'
import { PROTOCOL_VERSION, transferOptions, type TransferOptions } from './options.js'
import { normalizeSelection, selectionToWire, wholeConversations } from './selection.js'
import { MediaIntake } from './media-intake.js'
import { storeMediaRecords } from './media-records.js'
import { mergeMessage, type MergeMode } from './message-merge.js'
import { settleGoneAtSource } from './gone-at-source.js'
import { recordsHeldHere } from './records-held-here.js'
import { mergeNames } from './own-names.js'
import { writeNames } from './name-writes.js'
import { NameBases } from '../journal/name-bases.js'
import { MediaBase } from '../journal/media-bases.js'
import { BaseGeneration } from '../journal/base-generation.js'
import { takeOverFormerBases } from '../journal/former-bases.js'
import { ownVersionKey, Verification } from './verification.js'
import { heldWhenChatDeleted, MessageBase } from './message-base.js'
import { MessageBases } from '../journal/message-bases.js'
import { stillAsWritten, writtenDigest } from './written-digest.js'
import type { Expected, Incoming } from './incoming.js'
import { askedFor, Reconciliation } from './reconciliation.js'
import { transferTotals, type TransferTotals } from './transfer-totals.js'

const log = logger('ferry:receiver')
/** About how many bytes of read-back bases go into one journal write: many small chats share one. */
const READ_BACK_WRITE_BYTES = 1 << 20

// Refusals of the sender's data, as opposed to the store or the peer giving up: a refusal undoes what the
// transfer wrote since it was last verified. TRUNCATED thrown here is a refusal too: the machine never
// sees the link, it throws TRUNCATED for a Done that comes too early, and for a file to fetch whole
// (media-intake.ts fetchWhole), which blames no one and so refuses nothing.
const REFUSALS = new Set<ErrorCode>([
  ErrorCode.MALFORMED_FRAME, ErrorCode.PROTOCOL, ErrorCode.SELECTION, ErrorCode.ORDER, ErrorCode.SIZE_MISMATCH,
  ErrorCode.HASH_MISMATCH, ErrorCode.COUNT_MISMATCH, ErrorCode.DIGEST_MISMATCH, ErrorCode.TOO_LARGE, ErrorCode.TRUNCATED,
  ErrorCode.VERSION
])

/** Whether `err` refuses the sender's data, undoing what the transfer wrote since it was last verified. */
function refuses (err: FerryError): boolean {
  return REFUSALS.has(err.code) && err.details?.fetchAgain !== true
}

export type ReceiverState = 'hello' | 'manifest' | 'messages' | 'media' | 'verified' | 'failed'

export interface ReceiverProgress {
  /** Messages of the selection on this phone: held before, or received. */
  messages: number
  totalMessages: number
  /** Media bytes on this phone: held before, committed, or part of a partial file. */
  mediaBytes: number
  totalMediaBytes: number
  mediaFiles: number
  totalMediaFiles: number
  /** Data bytes received in this session. */
  bytesReceived: number
  /** What this session received, and what this phone already held when it began. */
  messagesReceived: number
  messagesHeld: number
  mediaFilesReceived: number
  mediaBytesReceived: number
  mediaFilesHeld: number
  /**
   * Files the old phone sent whole that are not what their sha256 names (its copy is damaged): left out,
   * as files it lacks are, and not on this phone.
   */
  mediaFilesDamaged: number
  /**
   * Files the old phone announced missing (it keeps their record, not their bytes) that this phone does
   * not hold either: the messages naming them come without them. With them, files it deleted after an
   * earlier session of the transfer brought a message showing them, before they came (gone-at-source.ts).
   */
  mediaFilesMissing: number
  /**
   * Messages this phone changed after the old phone's version (recalled here, or edited here later, or
   * changed here since a base took the old phone's unchanged version: message-base.ts): kept as they are
   * here (own-versions.ts). Counted in messagesReceived too.
   */
  messagesKept: number
  /**
   * Contacts and chats this phone renamed (or gave another number) since the last transfer from the old
   * phone, which did not: kept as they are here (own-names.ts).
   */
  namesKept: number
  /**
   * Messages of the old phone's this phone's owner deleted since the last transfer from it, in leaves the
   * old phone did not change since (about: a leaf's count less what this phone holds in its range, which
   * counts as held), or, in a leaf it changed, that it did not change since (message-base.ts): they stay
   * deleted. Counted in `messages`, so the total is reached, not in
   * messagesReceived or messagesHeld.
   */
  messagesLeftDeleted: number
  /** Chats deleted here since the last transfer, of which the old phone brought nothing new: not made again. */
  chatsLeftDeleted: number
  /**
   * Contacts deleted here since the last transfer from the old phone carried them: not made again, even
   * if the old phone renamed them since (own-names.ts).
   */
  contactsLeftDeleted: number
  /**
   * Media files the last verified transfer from this old phone carried, that this phone no longer holds
   * (removed with what its owner deleted) and that stay out: no message here refers to them.
   */
  mediaLeftDeleted: number
}

export interface ReceiverInit {
  sink: HistorySink
  journal: Journal
  /** What this phone asks for; the sender's offer may narrow it further. */
  request?: Selection
  agent?: string
  options?: Partial<TransferOptions>
  /**
   * Bytes free where the media will be written (Node: statfs of the store's folder). Asked once the
   * manifest says which media this phone lacks, before any of it comes: a history that cannot fit stops
   * there with STORE_FULL, rather than with a full disk hours later. Omitted: no such check.
   */
  freeBytes?: () => Promise<number>
  /**
   * Inflates deflated message batches; given, this phone's Hello asks the sender for them. Worth it where
   * the link's bytes cost more than inflating them (WebRTC: see FerryServiceInit.batchDeflate).
   */
  inflate?: BatchDeflate['inflate']
  /**
   * Brings back what this phone's owner deleted since the last verified transfer from the same old phone
   * (chats and messages the old phone did not change since, media removed with them, and contacts), as a
   * first transfer would. Off: they stay deleted (see messagesLeftDeleted, contactsLeftDeleted,
   * mediaLeftDeleted), and a chat or
   * message the old phone changed still comes, with the media it refers to.
   */
  restoreDeleted?: boolean
  /**
   * The sender is a backup of the old phone (restoreBackup), the phone as it was when the file was
   * written, maybe before the last transfer from it: what this phone holds stays (a contact, a chat
   * with its title and members, a message unless the backup's version is recalled or edited later;
   * own-names.ts, own-versions.ts), the backup adds what it lacks, and the bases the transfers from the old phone
   * recorded stay as they are, gaining only what they had none of. What it writes is the person's even
   * unverified (a restore stopped part-way): whatever this phone receives next leaves it (transfer-log.ts).
   */
  restoring?: boolean
  /** Where this transfer's lines go (a node's, with its prefix); `ferry:receiver` when none is given. */
  logger?: Logger
}

/**
 * The receiving side of a transfer, sans I/O. Each frame is checked against the manifest, the plan and the
 * canonical order before anything touches the store; each batch is logged in the journal before it is
 * written, so an interruption anywhere loses nothing and a refusal takes back exactly what the transfer
 * wrote. Verification reads back from the store what the sender's part holds and recomputes its digests.
 *
 * Frames the machine makes on its own (Holdings, computed from the store while data already flows) go
 * out through `emit`, which the driver sets.
 */
export class ReceiverMachine {
  state: ReceiverState = 'hello'
  readonly progress: ReceiverProgress = {
    messages: 0, totalMessages: 0, mediaBytes: 0, totalMediaBytes: 0, mediaFiles: 0, totalMediaFiles: 0, bytesReceived: 0,
    messagesReceived: 0, messagesHeld: 0, mediaFilesReceived: 0, mediaBytesReceived: 0, mediaFilesHeld: 0, mediaFilesDamaged: 0, mediaFilesMissing: 0,
    messagesKept: 0, namesKept: 0, messagesLeftDeleted: 0, chatsLeftDeleted: 0, contactsLeftDeleted: 0, mediaLeftDeleted: 0
  }

  error?: FerryError
  /** @internal What the manifest announced, for Ferry's own driver (the protocol's, not an app's). */
  expected?: Expected
  /** @internal The journal's record of this transfer, for Ferry's own driver. */
  transfer?: TransferRecord
  /** Per-conversation outcome after verification. */
  summary?: Array<{ id: string, title: string, messages: number }>
  /**
   * @internal After verification: what the whole transfer brought and found here, over all its sessions
   * (`progress` counts the last session's), for Ferry's own driver, which reports it as ReceiveResult.stats.
   */
  totals?: TransferTotals
  /**
   * The old phone's encodings of the messages this session kept this phone's version of. A session that
   * resumes after a crash is sent those messages again (their leaves differ) and decides again.
   */
  private readonly ownVersions = new Map<string, Uint8Array>()
  /**
   * The old phone's encodings of the messages this session kept out, deleted here since a base held
   * them (verification digests them in their place). Like ownVersions, decided again by a later session.
   */
  private readonly leftOut = new Map<string, Uint8Array>()
  /** What the verified transfers from the same old phone carried, message by message (message-bases.ts). */
  private messageBases?: MessageBases
  /** The base of the conversation whose messages are coming (message-base.ts), loaded with its first. */
  private messageBase?: { conversation: string, base: MessageBase }
  /** Messages kept as this phone's that this transfer's read-back took (a resumed session): counted at the end. */
  private readonly keptReadBack: Array<{ conversation: string, id: string }> = []
  /** What the old phone's names become the base of once the transfer is verified (name-bases.ts). */
  private nameBases: JournalOp[] = []
  /** Settles what this phone holds of the manifest's conversations, and so what is to come; once a manifest came. */
  private reconciliation?: Reconciliation
  /** The files the last verified transfers from the same old phone carried (media-bases.ts). */
  private mediaBase?: MediaBase
  /** Whether the bases describe the store as it is, and the token a verification renews (base-generation.ts). */
  private generation?: BaseGeneration
  /**
   * Frames made in the background; set by the driver.
   * @internal Frames are the protocol's own (an app passes bytes to runSender/runReceiver): left out of the package's declarations.
   */
  emit?: (frames: EncodedFrame[]) => void
  /** A failure of background work; set by the driver, which ends the session with it. */
  onBackgroundError?: (err: FerryError) => void

  private readonly sink: HistorySink
  private readonly journal: Journal
  private readonly log: TransferLog
  /** Whether this phone held entry i's record (records-held-here.ts); undefined when nothing is left deleted. */
  private wasHere?: (i: number) => boolean
  private readonly logger: Logger
  private readonly request: Selection
  private readonly opts: TransferOptions
  private readonly agent: string
  private readonly freeBytes?: () => Promise<number>
  private readonly inflate?: BatchDeflate['inflate']
  private readonly restoreDeleted: boolean
  private readonly restoring: boolean
  private readonly mergeMode: MergeMode
  /** The manifest's parts until its last, then the transfer it announces (manifest-intake.ts). */
  private readonly manifest: ManifestIntake
  private mediaRecordsBefore?: boolean
  private current = -1
  private intake?: MediaIntake
  private fragment?: { buf: Uint8Array, filled: number }
  private ackedBytes = 0
  private ackedMessages = 0
  private ackEvery = 0
  private messagesFinished = false
  private chatsReadySaid = false
  /** Reads the transfer back; made once every message is here (chatsAreReady), or at Done. */
  private verification?: Verification
  /** messagesReceived when the verification read back. */
  private receivedAtReadBack?: number
  /** Called once every message of the selection is on this phone, as they are read back (before onChatsReady). */
  onReadingBack?: () => void
  /** Called once every message of the selection is on this phone, and read back. */
  onChatsReady?: () => void
  /**
   * Called once everything the sender announced is here, durably, as the read-back is checked against
   * the sender's Done; awaited before that and before the sender is told (the browser page holds a
   * transfer there for its tests).
   */
  onVerifying?: () => void | Promise<void>
  /**
   * Awaited when the media records gone while the transfer ran are put back for a moment, before they
   * are removed again (MediaIntake.verifyPresent): tests kill a receive there.
   */
  onPutBack?: () => Promise<void>

  constructor (init: ReceiverInit) {
    this.sink = init.sink
    this.journal = init.journal
    this.log = new TransferLog(init.journal, stillAsWritten)
    this.logger = init.logger ?? log
    this.request = normalizeSelection(init.request)
    this.opts = transferOptions(init.options)
    this.manifest = new ManifestIntake(this.opts)
    this.agent = init.agent ?? 'ferry'
    this.freeBytes = init.freeBytes
    this.inflate = init.inflate
    this.restoreDeleted = init.restoreDeleted === true
    this.restoring = init.restoring === true
    this.mergeMode = { restoring: this.restoring, restoreDeleted: this.restoreDeleted }
  }

  /** @internal Frames are the protocol's own (an app passes bytes to runSender/runReceiver): left out of the package's declarations. */
  start (): EncodedFrame[] {
    const deflateBatches = this.inflate !== undefined ? true : undefined
    return [encodeFrame({ hello: { version: PROTOCOL_VERSION, agent: this.agent, request: selectionToWire(this.request), deflateBatches } })]
  }

  get finished (): boolean {
    return this.state === 'verified' || this.state === 'failed'
  }

  /**
   * True once what this phone already holds of the selection is known (every conversation it held some
   * of has its plan): only then is `progress` where the transfer really stands.
   */
  get progressKnown (): boolean {
    return this.expected !== undefined && this.expected.conversations.every(c => !c.held || c.planDone)
  }

  /** True once every message of the selection is on this phone (the chats can be opened). */
  get chatsReady (): boolean {
    return this.messagesFinished
  }

  /**
   * Handles one frame; `size` is its encoded body length (what acknowledgements count). Returns the frames
   * to send back. Throws a FerryError when the frame is refused, after undoing what the transfer wrote.
   * @internal Frames are the protocol's own (an app passes bytes to runSender/runReceiver): left out of the package's declarations.
   */
  async onFrame (frame: Frame, size: number): Promise<EncodedFrame[]> {
    if (this.finished) throw new FerryError(ErrorCode.PROTOCOL, `unexpected ${frame.body} frame after the transfer ended`)
    try {
      const out = await this.dispatch(frame, size)
      if (this.messagesFinished && !this.chatsReadySaid && !this.finished) await this.chatsAreReady()
      return out
    } catch (err) {
      throw await this.refuse(err)
    }
  }

  /**
   * Ends the transfer on `err`: also for failures found before a frame reaches the machine (a body that
   * does not decode), so a lying sender is handled the same whichever check caught it.
   */
  async refuse (err: unknown): Promise<FerryError> {
    if (this.state === 'failed' && this.error !== undefined) return this.error
    this.state = 'failed'
    this.error = storeError(err, 'storing the transfer')
    const refused = refuses(this.error)
    this.logger.error('%s: %s %s', refused ? 'refused, undoing what the transfer wrote' : 'failed', this.error.code, this.error.message)
    if (refused) await this.undo()
    return this.error
  }

  /**
   * A sender caught lying cannot be trusted about what it sent before the lie either: everything the
   * transfer wrote since it was last verified is taken back, and the partial file being received goes.
   * The next, honest session fetches what is still missing.
   */
  private async undo (): Promise<void> {
    try {
      await this.intake?.abandon()
      if (this.transfer !== undefined) await this.log.undo(this.transfer, this.sink)
    } catch (err) {
      // The refusal is recorded before the undo begins: the next open of the journal finishes it.
      this.logger.error('undoing the refused transfer stopped (%s); it is finished when this phone next receives', (err as Error).message)
    }
  }

  private async dispatch (frame: Frame, size: number): Promise<EncodedFrame[]> {
    switch (frame.body) {
      case 'hello': return this.onHello(frame.hello as ferry.Hello)
      case 'manifest': return await this.onManifest(frame.manifest as ferry.Manifest, size)
      case 'plan': return await this.onPlan(frame.plan as ferry.Plan)
      case 'batch': {
        const batch = frame.batch as ReceivedBatch
        return await this.onMessages(batch.messages.map(messageFromWire), size, this.keepsEncodings ? batch.encoded : undefined)
      }
      case 'deflatedBatch': return await this.dispatch(await this.inflatedBatch(frame.deflatedBatch as Uint8Array), size)
      case 'fragment': return await this.onFragment(frame.fragment as ferry.MessageFragment, size)
      case 'chunk': return await this.onChunk(frame.chunk as ferry.MediaChunk, size)
      case 'done': return await this.onDone(frame.done as ferry.Done)
      case 'error': {
        const e = frame.error as ferry.Error
        throw new FerryError(ErrorCode.PEER_ERROR, `sender reported ${peerText(e.code, 40)}: ${peerText(e.message)}`, { peerCode: peerText(e.code, 40) })
      }
      default: throw new FerryError(ErrorCode.PROTOCOL, `unexpected ${frame.body} frame from the sender`)
    }
  }

  private expect (...states: ReceiverState[]): void {
    if (!states.includes(this.state)) throw new FerryError(ErrorCode.PROTOCOL, `frame not allowed while in state '${this.state}'`)
  }

  private onHello (hello: ferry.Hello): EncodedFrame[] {
    this.expect('hello')
    if (hello.version !== PROTOCOL_VERSION) {
      throw new FerryError(ErrorCode.VERSION, `sender speaks protocol version ${hello.version}, this phone ${PROTOCOL_VERSION}`)
    }
    this.state = 'manifest'
    return []
  }

  private async onManifest (part: ferry.Manifest, size: number): Promise<EncodedFrame[]> {
    this.expect('manifest')
    // Whether the store held any media record before it holds the manifest's (see MediaIntake.resume).
    // The manifest's are stored once the transfer is opened (storeMediaRecords), logged to be undone: a
    // manifest refused before then leaves none.
    this.mediaRecordsBefore ??= (await this.sink.media(undefined, 1)).length > 0
    if (!this.manifest.add(part, size)) return []
    const { expected, contacts, mediaFiles, windowBytes } = this.manifest.announced(this.request)
    // A sender that lies about its window only stalls itself: it waits for acks that come later.
    this.ackEvery = windowBytes / 4
    this.progress.totalMessages = expected.totalMessages
    this.progress.totalMediaBytes = expected.totalMediaBytes
    this.progress.totalMediaFiles = mediaFiles
    this.expected = expected
    // Undos go first (another unverified transfer's, this one's a crash cut short): they take back files
    // their transfers brought, which the Resume would otherwise count as held here.
    // What verified transfers read back joins the message bases first: a transfer received again reads
    // back into its own id's read-back bases, which must by then be its last verification's no more.
    await MessageBases.settle(this.journal)
    await this.log.undoBefore(expected.transferId, this.sink, { restore: this.restoring })
    // Records a crash left put back, not yet removed again, would be taken for files wanted here.
    await this.log.finishPutBack(expected.transferId, this.sink)
    this.intake = new MediaIntake(this.sink, this.journal, expected.media, this.progress, async i => { await this.storeLeftDeletedRecords(i) },
      async added => { await this.log.logPutBack(this.transfer as TransferRecord, added) },
      async () => { await this.log.putBackRemoved(this.transfer as TransferRecord) })
    this.intake.afterPutBack = async () => { await this.onPutBack?.() }
    // Files are left deleted only for a sender that plans against a base: it sends such a file only if
    // a message it sends refers to it (an older one sends them all: taken, and dropped unless a message
    // written here shows one).
    // A phone restored from its own backup is the phone it was restored from (former-bases.ts).
    const continued = await takeOverFormerBases(this.journal, this.sink.generations, expected.sourceId, this.sink.historyId, expected.formerSourceIds)
    if (continued !== undefined) this.logger('the old phone continues %s, which sent here before: its bases are taken over', continued)
    this.generation = await BaseGeneration.check(this.journal, this.sink.generations, expected.sourceId, this.sink.historyId)
    this.mediaBase = await MediaBase.load(this.journal, expected.sourceId, this.sink.historyId, this.generation.trusted)
    this.messageBases = MessageBases.forPair(this.journal, expected.sourceId, this.sink.historyId, this.generation.trusted)
    const declines = expected.plansBases && !this.restoreDeleted
    const wasHere = declines ? await recordsHeldHere(expected.media, this.mediaBase, this.log, expected.transferId) : undefined
    this.wasHere = wasHere
    const { leftDeleted, ...mediaResume } = await this.intake.resume(!this.mediaRecordsBefore, wasHere)
    // The files held here at another size than the old phone's entries say count at their size here.
    this.progress.totalMediaBytes += this.intake.misstatedBytes
    if (leftDeleted !== undefined) {
      for (let i = 0; i < expected.media.length; i++) {
        if (!getBit(leftDeleted, i)) continue
        this.progress.totalMediaFiles--
        this.progress.totalMediaBytes -= expected.media.size(i)
      }
    }
    // Before the transfer is opened: a history that cannot fit leaves no transfer behind.
    await this.checkSpace(this.intake.bytesToCome)
    this.transfer = await this.log.open(expected.transferId, expected.sourceId, expected.selection, this.sink, { restore: this.restoring, mediaHeld: { files: this.progress.mediaFilesHeld, bytes: this.intake.heldBytes } })
    this.reconciliation = await Reconciliation.open({
      logger: this.logger,
      sink: this.sink,
      journal: this.journal,
      expected,
      basesTrusted: this.generation.trusted,
      restoreDeleted: this.restoreDeleted,
      maxManifestEntries: this.opts.maxManifestEntries,
      log: this.log,
      transfer: this.transfer,
      progress: this.progress,
      emit: frames => { this.emit?.(frames) },
      ended: () => this.finished,
      counted: () => { this.checkChatsReady() }
    })
    await this.putMetadata(expected, contacts)
    const intake = this.intake
    await storeMediaRecords(this.sink, this.log, this.transfer, expected.media, i => intake.misstates(i) || (leftDeleted !== undefined && getBit(leftDeleted, i)))
    const held = await this.reconciliation.findHoldings()
    this.logger('manifest: %d conversations (%d held here), %d messages, %d media files of %d bytes; transfer %s session %d',
      expected.conversations.length, expected.conversations.filter(c => c.held).length, expected.totalMessages,
      mediaFiles, expected.totalMediaBytes, this.transfer.transferId, this.transfer.sessions)
    this.state = 'messages'
    this.reconciliation.startHoldings(err => { this.onBackgroundError?.(storeError(err, 'reading what this phone holds')) })
    this.checkChatsReady()
    return [encodeFrame({ resume: { ...mediaResume, held, mediaLeftDeleted: leftDeleted } })]
  }

  /** STORE_FULL, naming both numbers, when the media this phone still lacks exceed its free space. */
  private async checkSpace (needed: number): Promise<void> {
    if (this.freeBytes === undefined || needed === 0) return
    let free: number
    try {
      free = await this.freeBytes()
    } catch (err) {
      // A file system that cannot say, or an app's freeBytes that failed: the space goes unchecked, and
      // the disk-full path still catches a full disk.
      this.logger.error('freeBytes failed, the free space is not checked before the media: %s', err instanceof Error ? err.message : String(err))
      return
    }
    if (!(free >= needed)) {
      throw new FerryError(ErrorCode.STORE_FULL,
        notEnoughSpace(needed, free),
        { neededBytes: needed, freeBytes: free })
    }
  }

  /**
   * Stores the manifest's contacts and conversations, first logging the versions they replace. Into a
   * phone in use they merge rather than replace (own-names.ts): a name or title this phone changed since
   * the last transfer from the old phone, which did not, stays; otherwise the old phone's wins. What only
   * this phone knows stays too: a contact's phone number, and a member added to a chat here (whose
   * messages are here); a member removed on either phone since stays removed, and so does a contact
   * deleted here since the last transfer carried it (unless restoreDeleted).
   */
  private async putMetadata (e: Expected, incomingContacts: Contact[]): Promise<void> {
    const mineC = new Map((await this.sink.contacts()).map(c => [c.id, c]))
    const mineV = new Map((await this.sink.conversations()).map(c => [c.conversation.id, c.conversation]))
    const incomingConversations = e.conversations.map(c => c.conversation)
    const bases = await NameBases.load(this.journal, e.sourceId, this.sink.historyId, (this.generation as BaseGeneration).trusted)
    const { contacts, conversations, kept, contactsLeftDeleted } = mergeNames({ contacts: mineC, conversations: mineV }, { contacts: incomingContacts, conversations: incomingConversations }, bases, this.restoreDeleted, this.restoring)
    this.progress.namesKept = kept
    this.progress.contactsLeftDeleted = contactsLeftDeleted
    this.nameBases = this.restoring
      ? bases.recordMissing(incomingContacts, incomingConversations)
      : bases.record(incomingContacts, incomingConversations, !isFiltered(e.selection))
    // The summary names each chat as this phone does.
    for (const c of conversations) (e.byId.get(c.id) as Incoming).conversation = c
    // A chat deleted here that the old phone verified last time waits for its plan (Reconciliation.want).
    // One it sends no message of (none in the selection, or cleared there) has no plan: carried here by
    // the last transfer, it stays deleted; a message there since would have come, and brought it back.
    const deferred = new Set<string>()
    for (const c of conversations) {
      const inc = e.byId.get(c.id) as Incoming
      if (mineV.has(c.id)) continue
      if (inc.base !== undefined) {
        inc.deferred = c
        deferred.add(c.id)
      } else if (inc.declared === 0 && !this.restoreDeleted && bases.chatCarriedHere(c.id)) {
        inc.chatLeftDeleted = true
        this.progress.chatsLeftDeleted++
        deferred.add(c.id)
      }
    }
    const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)
    const changedContacts = contacts.filter(c => !same(mineC.get(c.id), c))
    const changedConversations = conversations.filter(c => !deferred.has(c.id) && !same(mineV.get(c.id), c))
    await writeNames(this.sink, this.log, this.transfer as TransferRecord, changedContacts, changedConversations, { contacts: mineC, conversations: mineV })
  }

  private async onPlan (p: ferry.Plan): Promise<EncodedFrame[]> {
    this.expect('messages')
    return await (this.reconciliation as Reconciliation).onPlan(p)
  }

  /** Counts a processed data frame; the driver acknowledges the total once per read (takeAck). */
  private processed (size: number): EncodedFrame[] {
    this.progress.bytesReceived += size
    return []
  }

  /**
   * The acknowledgement of everything processed so far, if one is due; the driver asks after each read.
   * Acks are cumulative, one per quarter of the sender's window: a sender blocked on a full window
   * always has a quarter unacknowledged once its bytes are read.
   * @internal Frames are the protocol's own (an app passes bytes to runSender/runReceiver): left out of the package's declarations.
   */
  takeAck (): EncodedFrame | undefined {
    const unacked = this.progress.bytesReceived - this.ackedBytes
    if (unacked === 0 || unacked < this.ackEvery) return undefined
    this.ackedBytes = this.progress.bytesReceived
    this.ackedMessages = this.progress.messages
    return this.lastAck()
  }

  /**
   * The last acknowledgement again: said while this phone is busy, to show the sender it is there. A
   * sender takes an Ack of what it already knows acknowledged at any point of the transfer.
   * @internal Frames are the protocol's own (an app passes bytes to runSender/runReceiver): left out of the package's declarations.
   */
  lastAck (): EncodedFrame {
    return encodeFrame({ ack: { bytes: this.ackedBytes, messages: this.ackedMessages } })
  }

  /** The batch frame a deflated one holds, which must be a batch this phone asked for in that form. */
  private async inflatedBatch (data: Uint8Array): Promise<Frame> {
    this.expect('messages')
    if (this.inflate === undefined) throw new FerryError(ErrorCode.PROTOCOL, 'a deflated batch, which this phone did not ask for')
    // At most what a frame may hold: a few KiB of DEFLATE can stand for gigabytes.
    const inner = decodeFrame(await this.inflate(data, MAX_FRAME_BYTES))
    if (inner.body !== 'batch') throw new FerryError(ErrorCode.MALFORMED_FRAME, `a deflated batch holds a ${inner.body} frame`)
    return inner
  }

  /** Checks that `m` is what the sender may send next, and advances the conversation's place. */
  private admit (m: Message): Incoming {
    const e = this.expected as Expected
    const inc = e.byId.get(m.conversation)
    if (inc === undefined) throw new FerryError(ErrorCode.SELECTION, `message ${m.conversation}/${m.id} is outside the selection`)
    if (!inRange(e.selection, m.ts)) throw new FerryError(ErrorCode.SELECTION, `message ${m.conversation}/${m.id} is outside the selection`)
    if (inc.index < this.current) throw new FerryError(ErrorCode.ORDER, `message ${m.conversation}/${m.id} is out of order or repeated`)
    if (inc.index > this.current) this.current = inc.index
    if (inc.last !== undefined && comparePositions(m, inc.last) <= 0) {
      throw new FerryError(ErrorCode.ORDER, `message ${m.conversation}/${m.id} is out of order or repeated`)
    }
    if (inc.held) {
      if (inc.wanted === undefined) throw new FerryError(ErrorCode.PROTOCOL, `message ${m.conversation}/${m.id} came before the plan of its conversation was agreed`)
      if (!askedFor(inc, m)) throw new FerryError(ErrorCode.PROTOCOL, `message ${m.conversation}/${m.id} was not asked for`)
    }
    if (++inc.arrived > inc.expect) throw new FerryError(ErrorCode.COUNT_MISMATCH, `sender sent more messages of ${m.conversation} than it declared`)
    if (m.media !== undefined && e.media.indexOf(m.media) < 0) {
      throw new FerryError(ErrorCode.PROTOCOL, `message ${m.conversation}/${m.id} refers to media ${m.media} that the manifest does not list`)
    }
    inc.last = m // a message is its own position: no object per message to note where it stands
    return inc
  }

  /** Only a store that keeps messages as their encodings takes them as they came (HistoryChange.encoded). */
  private get keepsEncodings (): boolean {
    return this.sink.encodedMessages !== undefined
  }

  /** `encoded`: the messages' encodings as they came, for a store that keeps them (keepsEncodings). */
  private async onMessages (messages: Message[], size: number, encoded?: Uint8Array[]): Promise<EncodedFrame[]> {
    this.expect('messages')
    const runs: Array<{ inc: Incoming, from: number, to: number }> = []
    for (let i = 0; i < messages.length; i++) {
      const inc = this.admit(messages[i])
      const run = runs[runs.length - 1]
      if (run?.inc === inc) run.to = i + 1
      else runs.push({ inc, from: i, to: i + 1 })
    }
    const items: LogItem[] = []
    const write: Message[] = []
    const writeEncoded: Uint8Array[] = []
    const take = (i: number): void => {
      write.push(messages[i])
      if (encoded !== undefined) writeEncoded.push(encoded[i])
    }
    let leftOut = 0
    const remade: Incoming[] = []
    for (const { inc, from, to } of runs) {
      // Into a conversation this phone holds nothing of (a new phone's), everything is new: no lookups.
      const stored = inc.occupied ? new Map((await this.sink.findMessages(inc.conversation.id, messages.slice(from, to).map(m => m.id))).map(s => [s.id, s])) : undefined
      // A chat deleted here holds nothing, but the bases say which of its messages went with it.
      const deletedHere = inc.deletedHere === true
      const base = inc.occupied || deletedHere ? await this.messageBaseOf(inc.conversation.id) : undefined
      for (let i = from; i < to; i++) {
        const m = messages[i]
        const theirs = encodedMessage(m)
        const digest = writtenDigest(theirs)
        const since = base?.unchangedSince(digest) ?? (deletedHere && heldWhenChatDeleted(m, inc.heldUpTo) ? 'verified' : undefined)
        const merge = mergeMessage(stored?.get(m.id), m, theirs, digest, since, this.mergeMode)
        items.push(merge.item)
        switch (merge.outcome) {
          case 'new': case 'replaced': take(i); if (inc.deferred !== undefined) remade.push(inc); break
          case 'same': break
          case 'leftDeleted':
            // Read back as the old phone's in its place (verification).
            this.leftOut.set(ownVersionKey(m.conversation, m), encoded?.[i] ?? theirs)
            inc.messagesLeftDeleted = (inc.messagesLeftDeleted ?? 0) + 1
            this.progress.messagesLeftDeleted++
            leftOut++
            break
          case 'ownVersion':
            // Digested by verification as the old phone sent it.
            this.ownVersions.set(ownVersionKey(m.conversation, m), encoded?.[i] ?? theirs)
            if (merge.counted) this.progress.messagesKept++
            else this.keptReadBack.push({ conversation: m.conversation, id: m.id })
        }
      }
    }
    if (items.length > 0) {
      // A chat deleted here that a message now written brings back is made again first, and logged
      // before it: an undo, newest first, takes the message back before it looks whether the chat is empty.
      for (const inc of remade) if (inc.deferred !== undefined) await (this.reconciliation as Reconciliation).makeDeferred(inc)
      await this.log.logItems(this.transfer as TransferRecord, items)
      // A file left deleted that a message written now refers to comes after all: its record is stored
      // with the message, so that no message here points at a file without one.
      const records = this.intake?.leavesDeleted === true ? await this.claimLeftDeleted(write) : undefined
      if (write.length > 0) await this.sink.commit(encoded === undefined ? { messages: write, media: records } : { messages: write, encoded: writeEncoded, media: records })
      this.progress.messages += messages.length
      // One left deleted counts in `messages` (the total is reached), not as received.
      this.progress.messagesReceived += messages.length - leftOut
      this.checkChatsReady()
    }
    return this.processed(size)
  }

  /** The base of `conversation`'s messages, read when its first message comes and dropped at the next's. */
  private async messageBaseOf (conversation: string): Promise<MessageBase> {
    if (this.messageBase?.conversation !== conversation) {
      this.messageBase = undefined // the last conversation's goes before this one's is read
      this.messageBase = { conversation, base: await MessageBase.load(this.log.readBackBases(this.transfer as TransferRecord), this.messageBases as MessageBases, conversation) }
    }
    return this.messageBase.base
  }

  /** The records of the files left deleted that `messages` refer to, logged to be undone; undefined for none. */
  private async claimLeftDeleted (messages: Message[]): Promise<MediaRecord[] | undefined> {
    const e = this.expected as Expected
    const intake = this.intake as MediaIntake
    const claimed: number[] = []
    for (const m of messages) {
      if (m.media === undefined) continue
      const i = e.media.indexOf(m.media)
      if (intake.claim(i)) claimed.push(i)
    }
    return claimed.length === 0 ? undefined : await this.leftDeletedRecords(claimed)
  }

  /** Logs the records of left-deleted files that come after all, and counts them back in the totals. */
  private async leftDeletedRecords (indexes: number[]): Promise<MediaRecord[]> {
    const e = this.expected as Expected
    const records = indexes.map(i => { const { sha256, size, mime } = e.media.get(i); return { sha256, size, mime } })
    await this.log.logMedia(this.transfer as TransferRecord, { added: records.map(r => r.sha256), replaced: [] })
    for (const r of records) {
      this.progress.totalMediaFiles++
      this.progress.totalMediaBytes += r.size
    }
    return records
  }

  /** A left-deleted file the sender sends all the same: its record goes in before it does. */
  private async storeLeftDeletedRecords (index: number): Promise<void> {
    await this.sink.commit({ media: await this.leftDeletedRecords([index]) })
  }

  /** Notes when every message of the selection is on this phone (the frame's handling then says so). */
  private checkChatsReady (): void {
    if (this.messagesFinished || this.expected === undefined) return
    if (this.progress.messages < this.progress.totalMessages) return
    this.messagesFinished = true
  }

  /**
   * Every message is here: they are read back now, before the chats are said to be ready, so that what
   * the person or the app does to them while the media goes on (a read mark, an edit, a deletion) is
   * theirs and leaves the transfer verifiable (Verification.readBackAll). The old phone's Done is
   * compared with these roots when it comes.
   */
  private async chatsAreReady (): Promise<void> {
    this.chatsReadySaid = true
    const e = this.expected as Expected
    if (this.progressKnown && e.conversations.every(c => c.arrived === c.expect)) {
      this.verification = this.newVerification(e)
      this.receivedAtReadBack = this.progress.messagesReceived
      this.onReadingBack?.()
      if (this.progress.mediaBytes >= this.progress.totalMediaBytes) this.sink.onlyVerifyingLeft?.()
      // What it read is the base the transfer's later sessions keep the person's changes by (message-base.ts):
      // in the journal before the chats are said to be ready, so that a kill from then on keeps it.
      const bases = this.log.readBackBases(this.transfer as TransferRecord)
      let ops: JournalOp[] = []
      let bytes = 0
      await this.verification.readBackAll(e.conversations, async (id, digests) => {
        ops.push(...await bases.record(id, digests))
        if ((bytes += digests.size * 8) < READ_BACK_WRITE_BYTES) return
        await this.journal.write(ops)
        ops = []
        bytes = 0
      })
      if (ops.length > 0) await this.journal.write(ops)
    }
    this.onChatsReady?.()
  }

  private newVerification (e: Expected): Verification {
    return new Verification(this.sink, e.selection, () => this.log.sessionItems(this.transfer as TransferRecord), this.ownVersions, this.leftOut)
  }

  private async onFragment (f: ferry.MessageFragment, size: number): Promise<EncodedFrame[]> {
    this.expect('messages')
    const total = f.total ?? 0
    const offset = f.offset ?? 0
    const data = f.data ?? new Uint8Array(0)
    if (this.fragment === undefined) {
      if (offset !== 0) throw new FerryError(ErrorCode.ORDER, 'message fragment does not start at offset 0')
      if (total > this.opts.maxMessageBytes) {
        throw new FerryError(ErrorCode.TOO_LARGE, `a ${total}-byte message exceeds the ${this.opts.maxMessageBytes}-byte limit`)
      }
      this.fragment = { buf: new Uint8Array(total), filled: 0 }
    }
    const fr = this.fragment
    if (total !== fr.buf.byteLength || offset !== fr.filled || offset + data.byteLength > total || data.byteLength === 0) {
      throw new FerryError(ErrorCode.ORDER, `message fragment ${offset}+${data.byteLength} of ${total} does not continue the message`)
    }
    fr.buf.set(data, offset)
    fr.filled += data.byteLength
    if (fr.filled < total) return this.processed(size)
    this.fragment = undefined
    let decoded: ferry.Message
    try {
      decoded = ferry.Message.decode(fr.buf)
    } catch (err) {
      throw new FerryError(ErrorCode.MALFORMED_FRAME, `reassembled message is malformed: ${(err as Error).message}`)
    }
    return await this.onMessages([messageFromWire(decoded)], size, this.keepsEncodings ? [fr.buf] : undefined)
  }

  private async onChunk (c: ferry.MediaChunk, size: number): Promise<EncodedFrame[]> {
    this.expect('messages', 'media')
    if (this.fragment !== undefined) throw new FerryError(ErrorCode.ORDER, 'media chunk inside a fragmented message')
    this.state = 'media'
    await (this.intake as MediaIntake).chunk(c.index ?? 0, Number(c.offset ?? 0), c.data ?? new Uint8Array(0))
    return this.processed(size)
  }

  /**
   * One look at the media records the transfer's earlier sessions added. `late`: the entries of files
   * held here before whose records were added once messages came (left deleted here, then claimed or
   * sent all the same: MediaIntake.verifyPresent keeps only those a message refers to; a later session's
   * manifest records are of files never held here). `unlisted`: those the manifest no longer lists
   * (gone-at-source.ts).
   */
  private async addedEarlier (e: Expected): Promise<{ late: number[], unlisted: string[] }> {
    const late: number[] = []
    const unlisted: string[] = []
    for await (const { added, late: afterMessages } of this.log.mediaAddedEarlier(this.transfer as TransferRecord)) {
      for (const sha256 of added) {
        const i = e.media.indexOf(sha256)
        if (i < 0) unlisted.push(sha256)
        else if (afterMessages && this.wasHere?.(i) === true) late.push(i)
      }
    }
    return { late, unlisted }
  }

  /** What this transfer verified of the old phone's files becomes the base of the next (media-bases.ts). */
  private mediaBaseOps (e: Expected, intake: MediaIntake): JournalOp[] {
    const sel = e.selection
    // A selection's media index holds only its chats' files: the rest of the base stays.
    // A restore's files join it too: the backup may be older than the last transfer, whose files stay.
    const whole = sel.conversations === undefined && wholeConversations(sel) && !this.restoring
    return (this.mediaBase as MediaBase).record(intake.carried(), whole)
  }

  /**
   * What this transfer's read-backs read is the message bases' to take (message-bases.ts): marked so in
   * the write that records the verification, taken over by the next receive.
   */
  private messageBaseOps (): JournalOp[] {
    this.messageBase = undefined
    return (this.messageBases as MessageBases).adopt((this.transfer as TransferRecord).transferId)
  }

  private async onDone (done: ferry.Done): Promise<EncodedFrame[]> {
    this.expect('messages', 'media')
    const e = this.expected as Expected
    if (this.fragment !== undefined) throw new FerryError(ErrorCode.TRUNCATED, 'Done inside a fragmented message')
    const intake = this.intake as MediaIntake
    intake.finishing()
    if (Number(done.mediaCount) !== e.media.length || !equalBytes(done.mediaDigest ?? new Uint8Array(0), mediaIndexDigest(e.media))) {
      throw new FerryError(ErrorCode.DIGEST_MISMATCH, 'the media index in Done differs from the manifest')
    }
    const claimed = new Map(done.conversations.map(c => [c.id ?? '', c]))
    if (claimed.size !== e.conversations.length) {
      throw new FerryError(ErrorCode.COUNT_MISMATCH, `Done covers ${claimed.size} conversations, the manifest ${e.conversations.length}`)
    }
    for (const inc of e.conversations) {
      if (inc.held && !inc.planDone) throw new FerryError(ErrorCode.TRUNCATED, `Done before the plan of ${inc.conversation.id}`)
      if (inc.arrived !== inc.expect) {
        throw new FerryError(ErrorCode.COUNT_MISMATCH, `conversation ${inc.conversation.id}: ${inc.arrived} messages arrived, ${inc.expect} were due`, { conversation: inc.conversation.id })
      }
    }
    // Every file the store took must be there, durably, before the transfer can be called verified.
    await intake.settled()
    await this.onVerifying?.()
    const verification = this.verification ?? this.newVerification(e)
    const reconciliation = this.reconciliation as Reconciliation
    reconciliation.leftDeletedAtEnd()
    // A message written after the read-back (a sender that sent more than it declared) is read again.
    if (this.receivedAtReadBack !== this.progress.messagesReceived) verification.forgetReadBack()
    // Only what this phone now holds: a chat that stays deleted is not listed, and a chat's count leaves
    // out its messages that stay deleted (the stats count both).
    const summary = (await verification.verify(e.conversations, claimed)).flatMap(c => {
      const inc = e.byId.get(c.id) as Incoming
      return inc.chatLeftDeleted === true ? [] : [{ ...c, messages: c.messages - (inc.messagesLeftDeleted ?? 0) }]
    })
    // verifyPresent logs in this session only: what the earlier sessions added is read once, for both.
    const earlier = await this.addedEarlier(e)
    this.progress.mediaLeftDeleted = await intake.verifyPresent(earlier.late)
    this.progress.mediaFilesMissing += await settleGoneAtSource(this.sink, earlier.unlisted)
    // The store's new generation goes in after everything the transfer wrote and before the journal
    // names it (base-generation.ts); the flush below makes it durable with the rest.
    const generation = await (this.generation as BaseGeneration).renew()
    // "Verified" tells the old phone its history is safe here (its owner may wipe it): what the store
    // committed must survive a power cut from now on, and so must the record that the transfer is verified
    // (an unverified one is undone at the next open).
    await this.sink.flush?.()
    const p = this.progress
    const transfer = this.transfer as TransferRecord
    // Kept as this phone's where an earlier session's read-back took them: changed here since, and counted
    // so, as a take-back of the transfer would have them counted at the next. Those an earlier session
    // wrote count as brought once (in what the log wrote), not once more as kept.
    const keptWritten = await this.log.wroteOf(transfer, this.keptReadBack)
    p.messagesKept += this.keptReadBack.length
    const totals = transferTotals({ ...p, messagesKept: p.messagesKept - keptWritten }, intake, transfer.counts)
    await this.log.verified(transfer, {
      summary,
      totalMessages: e.totalMessages,
      totalMediaBytes: p.totalMediaBytes,
      ...totals,
      ...Object.fromEntries(VERIFIED_COUNTS.map(k => [k, p[k]]))
    }, [...this.nameBases, ...reconciliation.leafBaseOps(verification.leaves, this.restoring), ...this.messageBaseOps(), ...this.mediaBaseOps(e, intake), ...generation])
    await this.journal.flush?.()
    this.logger('verified: %d messages brought (%d kept as this phone changed them), %d held before; %d names kept; %d media files brought, %d held before, %d damaged on the old phone, %d missing there; over %d sessions',
      totals.messagesReceived, p.messagesKept, totals.messagesHeld, p.namesKept, totals.mediaFilesReceived, totals.mediaFilesHeld, p.mediaFilesDamaged, p.mediaFilesMissing, transfer.sessions)
    this.summary = summary
    this.totals = totals
    this.state = 'verified'
    return [encodeFrame({
      // The whole transfer's counts, as this phone says them: the old phone says the same.
      verified: {
        messages: e.totalMessages,
        media: p.totalMediaFiles,
        messagesSent: totals.messagesReceived,
        mediaSent: totals.mediaFilesReceived,
        mediaBytesSent: totals.mediaBytesReceived,
        messagesHeld: totals.messagesHeld,
        mediaHeld: totals.mediaFilesHeld,
        wholeTransfer: totals.lastSessionOnly !== true
      }
    })]
  }
}

/**
 * The refusal of a history whose media do not fit (STORE_FULL with `neededBytes`): both numbers, how
 * much to free, then what to do (`then`: an app that knows its command says it).
 */
export function notEnoughSpace (needed: number, free: number, then = 'start again'): string {
  return `not enough free space for this history: its media still to come take ${bytes(needed)}, this phone has ${bytes(free)} free; free at least ${bytes(needed - free)} more and ${then}`
}

/** "9,437,184 bytes (9.4 MB)": exact for scripts and support, rounded for people. */
function bytes (n: number): string {
  const units = ['kB', 'MB', 'GB', 'TB']
  let v = n
  let unit = ''
  for (const u of units) {
    if (v < 1000) break
    v /= 1000
    unit = u
  }
  return `${n.toLocaleString('en-US')} bytes${unit === '' ? '' : ` (${v.toFixed(1)} ${unit})`}`
}
