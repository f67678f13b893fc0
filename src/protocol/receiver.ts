import { ErrorCode, FerryError, storeError } from '../errors.js'
import { compareKeys, keyOf, type Contact, type MediaRecord, type Message, type MessageKey, type Selection } from '../store/model.js'
import type { ChatStore, TransferCheckpoint } from '../store/chat-store.js'
import { encodeFrame, ferry, type EncodedFrame, type Frame } from '../wire/codec.js'
import { bitmapBytes, setBit } from './bitmap.js'
import { breathe, SLICE } from './breathe.js'
import { ConversationDigest, equalBytes, mediaIndexDigest, toHex } from './digest.js'
import { contactFromWire, conversationFromWire, mediaFromWire, messageFromWire } from './message-wire.js'
import { ManifestMedia } from './manifest-media.js'
import { mediaPresence } from './manifest.js'
import { PROTOCOL_VERSION, transferOptions, type TransferOptions } from './options.js'
import { inSelection, intersectSelections, normalizeSelection, selectionFromWire, selectionToWire } from './selection.js'

// Refusals of the sender's data, as opposed to the store or the peer giving up. TRUNCATED thrown here is a
// refusal too: the machine never sees the link, it throws TRUNCATED only for a Done that comes too early.
const REFUSALS = new Set<ErrorCode>([
  ErrorCode.MALFORMED_FRAME, ErrorCode.PROTOCOL, ErrorCode.SELECTION, ErrorCode.ORDER, ErrorCode.SIZE_MISMATCH,
  ErrorCode.HASH_MISMATCH, ErrorCode.COUNT_MISMATCH, ErrorCode.DIGEST_MISMATCH, ErrorCode.TOO_LARGE, ErrorCode.TRUNCATED,
  ErrorCode.VERSION
])

export type ReceiverState = 'hello' | 'manifest' | 'messages' | 'media' | 'verified' | 'failed'

export interface ReceiverProgress {
  messages: number // committed, all sessions
  totalMessages: number
  mediaBytes: number // committed or already held, all sessions
  totalMediaBytes: number
  mediaFiles: number
  totalMediaFiles: number
  /** Data bytes received in this session. */
  bytesReceived: number
}

export interface ReceiverInit {
  store: ChatStore
  /** What this phone asks for; the sender's offer may narrow it further. */
  request?: Selection
  agent?: string
  options?: Partial<TransferOptions>
}

interface Expected {
  transferId: Uint8Array
  sourceId: string
  selection: Selection
  conversations: Map<string, number> // id -> declared message count
  /** In sha256 order; indexOf finds a message's media. */
  media: ManifestMedia
  totalMessages: number
  totalMediaBytes: number
}

/**
 * The receiving side of a transfer, sans I/O. Each frame is checked against the manifest and the
 * canonical order before anything touches the store; each batch commits with its checkpoint through the
 * ChatStore port, so an interruption anywhere loses at most the frame being processed.
 */
export class ReceiverMachine {
  state: ReceiverState = 'hello'
  readonly progress: ReceiverProgress = {
    messages: 0, totalMessages: 0, mediaBytes: 0, totalMediaBytes: 0, mediaFiles: 0, totalMediaFiles: 0, bytesReceived: 0
  }

  error?: FerryError
  expected?: Expected
  checkpoint?: TransferCheckpoint
  /** Per-conversation outcome after verification. */
  summary?: Array<{ id: string, title: string, messages: number }>

  private readonly store: ChatStore
  private readonly request: Selection
  private readonly opts: TransferOptions
  private readonly agent: string
  /** Manifest parts with their media already moved into `manifestMedia`, until the last part. */
  private manifestParts: ferry.Manifest[] = []
  private readonly manifestMedia = new ManifestMedia()
  private manifestMediaBytes = 0
  private manifestMediaFiles = 0
  private manifestEntries = 0
  private manifestBytes = 0
  private titles = new Map<string, string>()
  private lastKey?: MessageKey
  private want: number[] = [] // media indexes still to receive, in order
  private wantPos = 0
  /** Unacknowledged bytes that make an ack due: a quarter of the sender's window, 0 when it announced none. */
  private ackEvery = 0
  private mediaOffset = -1 // committed length of the media being received, -1 until it starts
  private readonly resumeAt = new Map<number, number>() // media index -> committed length, for partial files
  private fragment?: { buf: Uint8Array, filled: number }
  private ackedBytes = 0
  private messagesFinished = false

  constructor (init: ReceiverInit) {
    this.store = init.store
    this.request = normalizeSelection(init.request)
    this.opts = transferOptions(init.options)
    this.agent = init.agent ?? 'ferry'
  }

  start (): EncodedFrame[] {
    return [encodeFrame({ hello: { version: PROTOCOL_VERSION, agent: this.agent, request: selectionToWire(this.request) } })]
  }

  get finished (): boolean {
    return this.state === 'verified' || this.state === 'failed'
  }

  /**
   * Handles one frame; `size` is its encoded body length (what acknowledgements count). Returns the frames
   * to send back. Throws a FerryError when the frame is refused; the store is then as it was before it.
   */
  async onFrame (frame: Frame, size: number): Promise<EncodedFrame[]> {
    if (this.finished) throw new FerryError(ErrorCode.PROTOCOL, `unexpected ${frame.body} frame after the transfer ended`)
    try {
      return await this.dispatch(frame, size)
    } catch (err) {
      throw this.refuse(err)
    }
  }

  /**
   * Ends the transfer on `err`: also for failures found before a frame reaches the machine (a body
   * that does not decode), so a lying sender is handled the same whichever check caught it.
   */
  refuse (err: unknown): FerryError {
    if (this.state === 'failed' && this.error !== undefined) return this.error
    this.state = 'failed'
    this.error = storeError(err, 'storing the transfer')
    if (REFUSALS.has(this.error.code)) this.forgetSession()
    return this.error
  }

  /**
   * A sender caught lying cannot be trusted about what it sent before the lie either: frames the receiver
   * cannot check one by one (a dropped batch leaves a gap behind a valid cursor, a chunk of wrong bytes
   * leaves a poisoned partial file) would make the next, honest session fail verification. So a refusal
   * starts this transfer over and drops the partial file being received.
   */
  private forgetSession (): void {
    try {
      if (this.checkpoint !== undefined) this.store.resetTransfer(this.checkpoint.transfer)
      const e = this.expected
      const index = this.want[this.wantPos]
      const sha256 = e === undefined || index === undefined ? undefined : e.media.sha256(index)
      if (sha256 !== undefined && this.store.partLength(sha256) > 0) this.store.discardPart(sha256)
    } catch {}
  }

  private async dispatch (frame: Frame, size: number): Promise<EncodedFrame[]> {
    // Verification checks the media folder: first let every promoted file reach it.
    if (frame.body === 'done') await this.store.flushMedia()
    switch (frame.body) {
      case 'hello': return this.onHello(frame.hello as ferry.Hello)
      case 'manifest': return this.onManifest(frame.manifest as ferry.Manifest, size)
      case 'batch': return this.onMessages((frame.batch as ferry.MessageBatch).messages.map(messageFromWire), size)
      case 'fragment': return this.onFragment(frame.fragment as ferry.MessageFragment, size)
      case 'chunk': return this.onChunk(frame.chunk as ferry.MediaChunk, size)
      case 'done': return await this.onDone(frame.done as ferry.Done)
      case 'error': {
        const e = frame.error as ferry.Error
        throw new FerryError(ErrorCode.PEER_ERROR, `sender reported ${e.code}: ${e.message}`, { peerCode: e.code })
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

  private onManifest (part: ferry.Manifest, size: number): EncodedFrame[] {
    this.expect('manifest')
    // The manifest is held whole until its last part: bound its bytes, not only its entries.
    this.manifestBytes += size
    if (this.manifestBytes > this.opts.maxManifestBytes) {
      throw new FerryError(ErrorCode.TOO_LARGE, `manifest exceeds ${this.opts.maxManifestBytes} bytes`)
    }
    this.manifestEntries += part.contacts.length + part.conversations.length + part.media.length
    if (this.manifestEntries > this.opts.maxManifestEntries) {
      throw new FerryError(ErrorCode.TOO_LARGE, `manifest exceeds ${this.opts.maxManifestEntries} entries`)
    }
    // Media entries go straight into the compact list (checked, in order): a 138k-file manifest is never
    // held as decoded objects. Their records are stored part by part, while the sender reads the next
    // from its store, rather than all at the end (0.2 s for 138k records, with the link idle).
    const records: MediaRecord[] = []
    for (const w of part.media) {
      const m = mediaFromWire(w)
      this.manifestMedia.push(m)
      records.push({ sha256: m.sha256, size: m.size, mime: m.mime })
      if (!m.missing) {
        this.manifestMediaBytes += m.size
        this.manifestMediaFiles++
      }
    }
    if (records.length > 0) this.store.putMetadata([], [], records)
    part.media = []
    this.manifestParts.push(part)
    if (part.more) return []
    const expected = this.assembleManifest()
    this.expected = expected
    const contacts: Contact[] = this.manifestParts.flatMap(p => p.contacts.map(contactFromWire))
    const conversations = this.manifestParts.flatMap(p => p.conversations.map(c => conversationFromWire(c).conversation))
    this.manifestParts = []
    for (const c of conversations) this.titles.set(c.id, c.title)
    this.store.putMetadata(contacts, conversations, [])
    let cp = this.store.openTransfer(expected.transferId, expected.sourceId, expected.selection)
    if (cp.messages > expected.totalMessages) {
      // The old phone lost messages since the last session (deleted chats): this checkpoint no longer
      // describes its history, so start the transfer over rather than fail at the end.
      this.store.resetTransfer(cp.transfer)
      cp = this.store.openTransfer(expected.transferId, expected.sourceId, expected.selection)
    }
    this.checkpoint = cp
    this.lastKey = cp.cursor
    this.progress.messages = cp.messages
    const resume = this.resumeFrame(expected)
    this.state = 'messages'
    return [encodeFrame({ resume })]
  }

  private assembleManifest (): Expected {
    const head = this.manifestParts[0]
    // A sender that lies about its window only stalls itself: it waits for acks that come later.
    const window = Number(head.windowBytes ?? 0)
    this.ackEvery = Number.isSafeInteger(window) && window > 0 ? window / 4 : 0
    const transferId = head.transferId
    if (!(transferId instanceof Uint8Array) || transferId.byteLength !== 16) {
      throw new FerryError(ErrorCode.MALFORMED_FRAME, 'manifest transfer id must be 16 bytes')
    }
    if (!head.sourceId) throw new FerryError(ErrorCode.MALFORMED_FRAME, 'manifest has no source id')
    const selection = selectionFromWire(head.selection)
    // The sender may narrow what was asked for, never widen it.
    const allowed = intersectSelections(this.request, selection)
    if (JSON.stringify(allowed) !== JSON.stringify(selection)) {
      throw new FerryError(ErrorCode.SELECTION, 'the sender\'s selection is wider than what this phone asked for')
    }
    const conversations = new Map<string, number>()
    let total = 0
    for (const p of this.manifestParts) {
      for (const w of p.conversations) {
        const { conversation, messageCount } = conversationFromWire(w)
        if (conversations.has(conversation.id)) throw new FerryError(ErrorCode.MALFORMED_FRAME, `conversation ${conversation.id} appears twice in the manifest`)
        if (selection.conversations !== undefined && !selection.conversations.includes(conversation.id)) {
          throw new FerryError(ErrorCode.SELECTION, `manifest offers conversation ${conversation.id} outside the selection`)
        }
        conversations.set(conversation.id, messageCount)
        total += messageCount
      }
    }
    const media = this.manifestMedia
    const totalMediaBytes = this.manifestMediaBytes
    if (Number(head.totalMessages) !== total) {
      throw new FerryError(ErrorCode.COUNT_MISMATCH, `manifest declares ${Number(head.totalMessages)} messages but its conversations add up to ${total}`)
    }
    this.progress.totalMessages = total
    this.progress.totalMediaBytes = totalMediaBytes
    this.progress.totalMediaFiles = this.manifestMediaFiles
    return { transferId, sourceId: head.sourceId, selection, conversations, media, totalMessages: total, totalMediaBytes }
  }

  private resumeFrame (e: Expected): ferry.Resume.$Properties {
    const have = new Uint8Array(bitmapBytes(e.media.length))
    const partial: ferry.PartialMedia.$Properties[] = []
    const has = mediaPresence(this.store)
    const partials = this.store.partials?.()
    for (let i = 0; i < e.media.length; i++) {
      if (e.media.missing(i)) continue
      const sha256 = e.media.sha256(i)
      const size = e.media.size(i)
      if (has(sha256)) {
        setBit(have, i)
        this.progress.mediaBytes += size
        this.progress.mediaFiles++
        continue
      }
      this.want.push(i)
      const committed = partials === undefined || partials.has(sha256) ? this.store.partLength(sha256) : 0
      if (committed > 0 && committed === size && this.store.partDigest(sha256) === sha256) {
        // Complete and verified before an interruption, only its rename was lost.
        this.store.promotePart(sha256)
        this.want.pop()
        setBit(have, i)
        this.progress.mediaBytes += size
        this.progress.mediaFiles++
      } else if (committed >= size) {
        this.store.discardPart(sha256)
      } else if (committed > 0) {
        partial.push({ index: i, offset: committed })
        this.resumeAt.set(i, committed)
        this.progress.mediaBytes += committed
      }
    }
    const resume: ferry.Resume.$Properties = { mediaHave: have, partial }
    if (this.lastKey !== undefined) resume.cursor = { ...this.lastKey }
    return resume
  }

  /** Counts a processed data frame; the driver acknowledges the total once per read (takeAck). */
  private processed (size: number): EncodedFrame[] {
    this.progress.bytesReceived += size
    return []
  }

  /**
   * The acknowledgement of everything processed so far, if one is due; the driver asks after each read.
   * Acks are cumulative. One per frame cost the receiver a tenth of its time in socket writes; one per
   * read still meant 40,807 acks for the large profile's 5.1 GB, each a packet through yamux, Noise and
   * a socket write on both phones. So when the sender announced its window, one goes per quarter of it:
   * a sender blocked on a full window always has a quarter unacknowledged once its bytes are read.
   */
  takeAck (): EncodedFrame | undefined {
    const unacked = this.progress.bytesReceived - this.ackedBytes
    if (unacked === 0 || unacked < this.ackEvery) return undefined
    this.ackedBytes = this.progress.bytesReceived
    return encodeFrame({ ack: { bytes: this.progress.bytesReceived, messages: this.progress.messages } })
  }

  private onMessages (messages: Message[], size: number): EncodedFrame[] {
    this.expect('messages')
    const e = this.expected as Expected
    let last = this.lastKey
    for (const m of messages) {
      if (!inSelection(e.selection, m, e.conversations)) {
        throw new FerryError(ErrorCode.SELECTION, `message ${m.conversation}/${m.id} is outside the selection`)
      }
      if (last !== undefined && compareKeys(m, last) <= 0) {
        throw new FerryError(ErrorCode.ORDER, `message ${m.conversation}/${m.id} is out of order or repeated`)
      }
      if (m.media !== undefined && e.media.indexOf(m.media) < 0) {
        throw new FerryError(ErrorCode.PROTOCOL, `message ${m.conversation}/${m.id} refers to media ${m.media} that the manifest does not list`)
      }
      last = m
    }
    if (this.progress.messages + messages.length > e.totalMessages) {
      throw new FerryError(ErrorCode.COUNT_MISMATCH, `sender sent more messages than the ${e.totalMessages} it declared`)
    }
    if (messages.length > 0) {
      const key = keyOf(messages[messages.length - 1])
      this.store.commitBatch((this.checkpoint as TransferCheckpoint).transfer, messages, key)
      this.lastKey = key
      this.progress.messages += messages.length
      // Now, not at the first chunk: the store may have work left before the chats are usable (an index to build).
      if (this.progress.messages === e.totalMessages) this.finishMessages()
    }
    return this.processed(size)
  }

  /** Tells the store, once, that every message is in (the last batch, the first chunk or Done: whichever comes first). */
  private finishMessages (): void {
    if (this.messagesFinished) return
    this.messagesFinished = true
    this.store.messagesDone?.()
  }

  private onFragment (f: ferry.MessageFragment, size: number): EncodedFrame[] {
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
    return this.onMessages([messageFromWire(decoded)], size)
  }

  private onChunk (c: ferry.MediaChunk, size: number): EncodedFrame[] {
    this.expect('messages', 'media')
    if (this.fragment !== undefined) throw new FerryError(ErrorCode.ORDER, 'media chunk inside a fragmented message')
    this.finishMessages()
    this.state = 'media'
    const e = this.expected as Expected
    const index = c.index ?? 0
    const offset = Number(c.offset ?? 0)
    const data = c.data ?? new Uint8Array(0)
    const wantIndex = this.want[this.wantPos]
    if (index !== wantIndex) {
      throw new FerryError(ErrorCode.ORDER, wantIndex === undefined
        ? `media chunk for ${index}, but no more media is expected`
        : `media chunk for ${index} while media ${wantIndex} is incomplete`)
    }
    const m = e.media.get(index)
    // Where the file resumes was read (and any uncommitted tail cut) when the Resume was built.
    if (this.mediaOffset < 0) this.mediaOffset = this.resumeAt.get(index) ?? 0
    if (offset !== this.mediaOffset) {
      throw new FerryError(ErrorCode.ORDER, `media ${m.sha256} chunk at ${offset}, expected ${this.mediaOffset}`)
    }
    if (offset + data.byteLength > m.size || (data.byteLength === 0 && m.size > 0)) {
      throw new FerryError(ErrorCode.SIZE_MISMATCH, `media ${m.sha256} chunk ${offset}+${data.byteLength} does not fit its declared ${m.size} bytes`)
    }
    if (offset === 0 && data.byteLength === m.size && this.store.putWholeMedia !== undefined) {
      // The whole file in one chunk: no part to record, resume or re-read (the store checks its hash).
      this.store.putWholeMedia(m.sha256, data)
      this.progress.mediaBytes += m.size
      this.mediaFileDone()
      return this.processed(size)
    }
    this.store.appendPart(m.sha256, offset, data)
    this.resumeAt.delete(index)
    this.mediaOffset = offset + data.byteLength
    this.progress.mediaBytes += data.byteLength
    if (this.mediaOffset === m.size) {
      const actual = this.store.partDigest(m.sha256)
      if (actual !== m.sha256) {
        this.store.discardPart(m.sha256)
        this.progress.mediaBytes -= m.size
        throw new FerryError(ErrorCode.HASH_MISMATCH, `media ${m.sha256} arrived with sha256 ${actual}`)
      }
      this.store.promotePart(m.sha256)
      this.mediaFileDone()
    }
    return this.processed(size)
  }

  private mediaFileDone (): void {
    this.progress.mediaFiles++
    this.wantPos++
    this.mediaOffset = -1
  }

  private async onDone (done: ferry.Done): Promise<EncodedFrame[]> {
    this.expect('messages', 'media')
    const e = this.expected as Expected
    if (this.fragment !== undefined) throw new FerryError(ErrorCode.TRUNCATED, 'Done inside a fragmented message')
    this.finishMessages() // no media came, or every message was committed in an earlier session
    if (this.wantPos < this.want.length) {
      const sha256 = e.media.sha256(this.want[this.wantPos])
      throw new FerryError(ErrorCode.TRUNCATED, `Done before media ${sha256} (${this.want.length - this.wantPos} files missing)`)
    }
    if (Number(done.mediaCount) !== e.media.length || !equalBytes(done.mediaDigest ?? new Uint8Array(0), mediaIndexDigest(e.media))) {
      throw new FerryError(ErrorCode.DIGEST_MISMATCH, 'the media index in Done differs from the manifest')
    }
    const claimed = new Map(done.conversations.map(c => [c.id, c]))
    if (claimed.size !== e.conversations.size) {
      throw new FerryError(ErrorCode.COUNT_MISMATCH, `Done covers ${claimed.size} conversations, the manifest ${e.conversations.size}`)
    }
    const transfer = (this.checkpoint as TransferCheckpoint).transfer
    const summary: Array<{ id: string, title: string, messages: number }> = []
    for (const [id, declared] of e.conversations) {
      const c = claimed.get(id)
      if (c === undefined) throw new FerryError(ErrorCode.COUNT_MISMATCH, `Done does not cover conversation ${id}`)
      // Read back what the store holds for this transfer: verification of the store, not of the frames.
      const d = new ConversationDigest()
      for (const m of this.store.transferMessages(transfer, id)) {
        d.add(m)
        // A million messages take seconds to read back: keep answering the link meanwhile.
        if (d.count % SLICE === 0) await breathe()
      }
      if (d.count !== Number(c.count) || d.count !== declared) {
        throw new FerryError(ErrorCode.COUNT_MISMATCH, `conversation ${id}: ${d.count} messages stored, sender sent ${Number(c.count)}, manifest declared ${declared}`, { conversation: id })
      }
      const digest = d.digest()
      if (!equalBytes(digest, c.digest ?? new Uint8Array(0))) {
        throw new FerryError(ErrorCode.DIGEST_MISMATCH, `conversation ${id}: stored messages digest ${toHex(digest)} differs from the sender's`, { conversation: id })
      }
      summary.push({ id, title: this.titles.get(id) ?? id, messages: d.count })
    }
    const has = mediaPresence(this.store)
    for (let i = 0; i < e.media.length; i++) {
      if (i % SLICE === SLICE - 1) await breathe()
      if (!e.media.missing(i) && !has(e.media.sha256(i))) {
        throw new FerryError(ErrorCode.COUNT_MISMATCH, `media ${e.media.sha256(i)} is not on this phone`)
      }
    }
    this.store.finishTransfer(transfer)
    this.summary = summary
    this.state = 'verified'
    return [encodeFrame({ verified: { messages: e.totalMessages, media: this.progress.totalMediaFiles } })]
  }
}
