import { ErrorCode, FerryError, storeError } from '../errors.js'
import { compareKeys, type Message, type MessageKey, type Selection } from '../store/model.js'
import type { ChatStoreReader } from '../store/chat-store.js'
import {
  batchEntryLength, encodeBatch, encodeFrame, encodeMediaChunk, encodeMessage, frameLength,
  type EncodedFrame, type Frame, type ferry
} from '../wire/codec.js'
import { ConversationDigest, mediaIndexDigest } from './digest.js'
import { beginManifest, manifestFrames, type ManifestData } from './manifest.js'
import { messageToWire } from './message-wire.js'
import { PROTOCOL_VERSION, transferOptions, type TransferOptions } from './options.js'
import { intersectSelections, selectionFromWire } from './selection.js'
import { getBit } from './bitmap.js'
import { SLICE } from './breathe.js'
import { ChunkBuffers } from './chunk-buffers.js'

export type SenderState = 'hello' | 'resume' | 'messages' | 'media' | 'done-sent' | 'verified' | 'failed'

export interface SenderProgress {
  messagesSent: number
  totalMessages: number
  mediaBytesSent: number
  totalMediaBytes: number
  /** Messages and media bytes the receiver already held when this session started (skipped). */
  skippedMessages: number
  skippedMediaBytes: number
  /** Data bytes sent and acknowledged in this session. */
  bytesSent: number
  bytesAcked: number
}

export interface SenderInit {
  source: ChatStoreReader
  /** What this phone offers; the receiver may narrow it. */
  offer?: Selection
  agent?: string
  options?: Partial<TransferOptions>
}

/**
 * The sending side of a transfer, sans I/O: fed the receiver's frames with `onFrame`, it answers through
 * `poll()`, which yields the next frame to send while the flow-control window allows. It reads the
 * store through the ChatStoreReader port and never writes it.
 */
export class SenderMachine {
  state: SenderState = 'hello'
  /** Its media index and media total are complete once its last frame is out (see manifestFrames). */
  manifest?: ManifestData
  readonly progress: SenderProgress = {
    messagesSent: 0, totalMessages: 0, mediaBytesSent: 0, totalMediaBytes: 0, skippedMessages: 0, skippedMediaBytes: 0, bytesSent: 0, bytesAcked: 0
  }

  /** Set when the transfer ended in failure (ours or the peer's). */
  error?: FerryError

  private readonly source: ChatStoreReader
  private readonly offer: Selection
  private readonly opts: TransferOptions
  private readonly agent: string
  private readonly outbox: EncodedFrame[] = []
  /** The manifest's frames, encoded one at a time as poll() is asked for them. */
  private manifestOut?: Iterator<EncodedFrame>
  private messages?: Iterator<Message>
  /** After a resume: the receiver's committed prefix, still to be digested (see work()). */
  private skip?: { it: Iterator<Message>, cursor: MessageKey }
  private lookahead?: Message
  private readonly digests = new Map<string, ConversationDigest>()
  private mediaIndex = 0
  private mediaOffset = 0
  private have?: Uint8Array
  private partial = new Map<number, number>()
  private readonly buffers: ChunkBuffers

  constructor (init: SenderInit) {
    this.source = init.source
    this.offer = init.offer ?? {}
    this.opts = transferOptions(init.options)
    this.agent = init.agent ?? 'ferry'
    const { chunkBytes, windowBytes } = this.opts
    // At most a window of frames is unacknowledged; one more slab is being filled. An unbounded window
    // (a backup file) is never acked, so nothing is kept for reuse.
    const slabsInFlight = windowBytes >= Number.MAX_SAFE_INTEGER ? 0 : Math.ceil(windowBytes / chunkBytes) + 2
    this.buffers = new ChunkBuffers(chunkBytes, slabsInFlight)
  }

  /** Frames to send at once: our Hello. */
  start (): EncodedFrame[] {
    return [encodeFrame({ hello: { version: PROTOCOL_VERSION, agent: this.agent } })]
  }

  onFrame (frame: Frame): void {
    if (this.finished) throw new FerryError(ErrorCode.PROTOCOL, `unexpected ${frame.body} frame after the transfer ended`)
    try {
      this.dispatch(frame)
    } catch (err) {
      // Every refusal ends the transfer, including those thrown below the handlers (an invalid selection
      // in Hello, a store failure while building the manifest): a machine that threw must not carry on.
      if (this.state !== 'failed') {
        this.state = 'failed'
        this.error = storeError(err, 'reading the transfer source')
      }
      throw this.error
    }
  }

  private dispatch (frame: Frame): void {
    switch (frame.body) {
      case 'hello': return this.onHello(frame.hello as ferry.Hello)
      case 'resume': return this.onResume(frame.resume as ferry.Resume)
      case 'ack': return this.onAck(frame.ack as ferry.Ack)
      case 'verified':
        if (this.state !== 'done-sent') throw this.fail(ErrorCode.PROTOCOL, 'Verified before Done')
        this.state = 'verified'
        return
      case 'error': {
        const e = frame.error as ferry.Error
        throw this.fail(ErrorCode.PEER_ERROR, `receiver reported ${e.code}: ${e.message}`, { peerCode: e.code })
      }
      default:
        throw this.fail(ErrorCode.PROTOCOL, `unexpected ${frame.body} frame from the receiver`)
    }
  }

  /** True once nothing more will be sent or received. */
  get finished (): boolean {
    return this.state === 'verified' || this.state === 'failed'
  }

  /** The next frame to send, or undefined while waiting for the receiver (or the window). */
  poll (): EncodedFrame | undefined {
    const queued = this.outbox.shift()
    if (queued !== undefined) return queued
    if (this.manifestOut !== undefined) {
      // Not data: manifest frames do not count against the window (the receiver acknowledges data only).
      let r: IteratorResult<EncodedFrame>
      try {
        r = this.manifestOut.next()
      } catch (err) {
        // The media index is read from the store as it is sent.
        this.manifestOut = undefined
        this.state = 'failed'
        this.error = storeError(err, 'reading the transfer source')
        throw this.error
      }
      if (r.done !== true) return r.value
      this.manifestSent()
    }
    if (this.state !== 'messages' && this.state !== 'media') return undefined
    while (this.work()) {}
    if (this.progress.bytesSent - this.progress.bytesAcked >= this.opts.windowBytes) return undefined
    const frame = this.state === 'messages' ? this.nextMessageFrame() : this.nextMediaFrame()
    if (frame === undefined) return this.poll()
    this.progress.bytesSent += frameLength(frame)
    return frame
  }

  private fail (code: ErrorCode, message: string, details?: Record<string, unknown>): FerryError {
    this.state = 'failed'
    this.error = new FerryError(code, message, details)
    return this.error
  }

  private onHello (hello: ferry.Hello): void {
    if (this.state !== 'hello') throw this.fail(ErrorCode.PROTOCOL, 'unexpected second Hello')
    if (hello.version !== PROTOCOL_VERSION) {
      throw this.fail(ErrorCode.VERSION, `receiver speaks protocol version ${hello.version}, this phone ${PROTOCOL_VERSION}`)
    }
    const selection = intersectSelections(this.offer, selectionFromWire(hello.request))
    const { manifest, media } = beginManifest(this.source, selection)
    this.manifest = manifest
    this.progress.totalMessages = manifest.totalMessages
    this.manifestOut = manifestFrames(manifest, this.opts.batchBytes, media, this.opts.windowBytes)
    this.state = 'resume'
  }

  private manifestSent (): void {
    this.manifestOut = undefined
    this.progress.totalMediaBytes = (this.manifest as ManifestData).totalMediaBytes
  }

  private onResume (resume: ferry.Resume): void {
    const manifest = this.manifest
    if (this.state !== 'resume' || manifest === undefined) throw this.fail(ErrorCode.PROTOCOL, 'Resume before the manifest')
    if (this.manifestOut !== undefined) {
      // The receiver answers the last part, which poll() has returned; the generator then has no more.
      if (this.manifestOut.next().done !== true) throw this.fail(ErrorCode.PROTOCOL, 'Resume before the whole manifest was sent')
      this.manifestSent()
    }
    const cursor = resume.cursor == null
      ? undefined
      : { conversation: resume.cursor.conversation ?? '', ts: Number(resume.cursor.ts ?? 0), id: resume.cursor.id ?? '' }
    this.have = resume.mediaHave ?? new Uint8Array(0)
    for (const p of resume.partial ?? []) {
      const index = p.index ?? 0
      const offset = Number(p.offset ?? 0)
      if (!Number.isInteger(index) || index < 0 || index >= manifest.media.length || offset < 0 || offset >= manifest.media.size(index)) throw this.fail(ErrorCode.PROTOCOL, `Resume names an impossible partial media ${index}@${offset}`)
      this.partial.set(index, offset)
    }
    const media = manifest.media
    for (let i = 0; i < media.length; i++) {
      if (!media.missing(i)) this.progress.skippedMediaBytes += getBit(this.have, i) ? media.size(i) : (this.partial.get(i) ?? 0)
    }
    for (const { conversation } of manifest.conversations) this.digests.set(conversation.id, new ConversationDigest())
    // What the receiver already committed is not sent again, but it still counts toward Done's digests:
    // read it back in slices (work()), since a large history takes seconds.
    if (cursor !== undefined) this.skip = { it: this.source.messages(manifest.selection)[Symbol.iterator](), cursor }
    this.messages = this.source.messages(manifest.selection, cursor)[Symbol.iterator]()
    this.state = 'messages'
  }

  /** True while a resume's work is pending (see work()): progress does not yet count what is skipped. */
  get busy (): boolean {
    return this.skip !== undefined && !this.finished
  }

  /**
   * Does one slice of the work a resume leaves before sending can go on (digesting the messages the
   * receiver already holds) and returns true while some remains. A driver that calls it between turns
   * of its event loop keeps the link answering; poll() finishes whatever is left in one go.
   */
  work (): boolean {
    const skip = this.skip
    if (skip === undefined || this.finished) return false
    try {
      for (let n = 0; n < SLICE; n++) {
        const r = skip.it.next()
        if (r.done === true || compareKeys(r.value, skip.cursor) > 0) {
          this.skip = undefined
          return false
        }
        this.digests.get(r.value.conversation)?.add(r.value)
        this.progress.skippedMessages++
      }
    } catch (err) {
      this.skip = undefined
      this.state = 'failed'
      this.error = storeError(err, 'reading the transfer source')
      throw this.error
    }
    return true
  }

  private onAck (ack: ferry.Ack): void {
    const bytes = Number(ack.bytes ?? 0)
    if (bytes > this.progress.bytesSent || bytes < this.progress.bytesAcked) {
      throw this.fail(ErrorCode.PROTOCOL, `receiver acknowledged ${bytes} bytes, but ${this.progress.bytesSent} were sent`)
    }
    this.progress.bytesAcked = bytes
    this.buffers.acked(bytes)
  }

  private nextMessage (): Message | undefined {
    if (this.lookahead !== undefined) {
      const m = this.lookahead
      this.lookahead = undefined
      return m
    }
    const r = this.messages?.next()
    return r === undefined || r.done === true ? undefined : r.value
  }

  private nextMessageFrame (): EncodedFrame | undefined {
    const encoded: Uint8Array[] = []
    let size = 0
    for (;;) {
      const m = this.nextMessage()
      if (m === undefined) break
      const bytes = encodeMessage(messageToWire(m))
      const entry = batchEntryLength(bytes)
      if (entry > this.opts.batchBytes) {
        if (encoded.length > 0) { this.lookahead = m; break }
        this.account(m, bytes)
        return this.fragment(bytes)
      }
      if (size + entry > this.opts.batchBytes) { this.lookahead = m; break }
      this.account(m, bytes)
      encoded.push(bytes)
      size += entry
    }
    if (encoded.length > 0) return encodeBatch(encoded)
    this.state = 'media'
    this.source.messagesDone?.()
    return undefined
  }

  private account (m: Message, encoded: Uint8Array): void {
    this.digests.get(m.conversation)?.addEncoded(encoded)
    this.progress.messagesSent++
  }

  /** A message too large for one frame goes as fragments of its encoding; the first is returned, the rest queued. */
  private fragment (bytes: Uint8Array): EncodedFrame {
    const step = this.opts.batchBytes
    for (let offset = 0; offset < bytes.byteLength; offset += step) {
      this.outbox.push(encodeFrame({ fragment: { total: bytes.byteLength, offset, data: bytes.subarray(offset, offset + step) } }))
    }
    const first = this.outbox.shift() as EncodedFrame
    // Fragments after the first are data frames too: count them as they leave through poll's outbox path.
    for (const f of this.outbox) this.progress.bytesSent += frameLength(f)
    return first
  }

  private nextMediaFrame (): EncodedFrame | undefined {
    const media = (this.manifest as ManifestData).media
    while (this.mediaIndex < media.length) {
      const i = this.mediaIndex
      if (media.missing(i) || getBit(this.have as Uint8Array, i)) { this.nextMedia(); continue }
      if (this.mediaOffset === 0) this.mediaOffset = this.partial.get(i) ?? 0
      const offset = this.mediaOffset
      const size = media.size(i)
      const length = Math.min(this.opts.chunkBytes, size - offset)
      const sha256 = media.sha256(i)
      const into = length > 0 ? this.buffers.take(length) : undefined
      const data = into !== undefined ? this.source.readMedia(sha256, offset, length, into) : new Uint8Array(0)
      if (data.byteLength !== length) {
        throw this.fail(ErrorCode.STORE, `media ${sha256} on this phone is shorter than its record (${size} bytes)`)
      }
      this.progress.mediaBytesSent += length
      if (offset + length >= size) this.nextMedia()
      else this.mediaOffset = offset + length
      const frame = encodeMediaChunk(i, offset, data)
      // poll() adds this frame to bytesSent on return: the slab is free once the receiver acks past it.
      if (into !== undefined && data.buffer === into.buffer) this.buffers.sent(length, this.progress.bytesSent + frameLength(frame))
      return frame
    }
    this.outbox.push(this.doneFrame())
    this.state = 'done-sent'
    return undefined
  }

  private nextMedia (): void {
    this.mediaIndex++
    this.mediaOffset = 0
  }

  private doneFrame (): EncodedFrame {
    const manifest = this.manifest as ManifestData
    const conversations = manifest.conversations.map(({ conversation }) => {
      const d = this.digests.get(conversation.id) as ConversationDigest
      return { id: conversation.id, count: d.count, digest: d.digest() }
    })
    return encodeFrame({ done: { conversations, mediaCount: manifest.media.length, mediaDigest: mediaIndexDigest(manifest.media) } })
  }
}
