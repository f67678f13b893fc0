import { ErrorCode, FerryError } from '../errors.js'
import { compareKeys, type MediaRecord, type MessageKey } from '../store/model.js'
import { decodeFrame, encodeFrame, ferry, type Frame } from '../wire/codec.js'
import { getBit } from './bitmap.js'
import { mediaIndexDigest } from './digest.js'
import { transferIdOf } from './manifest.js'
import { mediaFromWire } from './message-wire.js'
import { DEFAULT_OPTIONS } from './options.js'
import type { ReceiverMachine } from './receiver.js'
import { normalizeSelection, selectionFromWire, selectionToWire } from './selection.js'

// Replaying a recorded frame stream (a backup) into a ReceiverMachine. A file cannot answer the
// receiver's Resume, so this adapter does what a live sender would: it reads the Resume the receiver
// writes after the manifest and skips what the receiver already committed. A restore is therefore
// resumable (run it again after a crash: it continues at the checkpoint) and idempotent.
//
// With `chats`, the restore asks for only those conversations: the manifest is narrowed to them (their
// contacts and the media their messages use, found by a first pass, `SelectionScan`), messages and media
// outside are dropped, and Done is narrowed to match. The narrowed restore is its own transfer (its id
// names the narrowed selection), exactly as `ferry receive --chats` from the original phone would be.

interface WireKey { conversation?: string | null, ts?: number | null, id?: string | null }
const toFrame = (p: ferry.IFrame): Frame => decodeFrame(encodeFrame(p)[0])
const keyOfWire = (m: WireKey): MessageKey => ({ conversation: m.conversation ?? '', ts: Number(m.ts ?? 0), id: m.id ?? '' })

/** Reassembles a fragmented message (bounded by maxMessageBytes, the receiver's own limit). */
class Reassembler {
  private buf?: Uint8Array
  private filled = 0
  constructor (private readonly maxBytes: number) {}

  get active (): boolean { return this.buf !== undefined }

  /** Returns the message once its last fragment is in. */
  push (f: ferry.IMessageFragment): ferry.Message | undefined {
    const total = f.total ?? 0
    const offset = f.offset ?? 0
    const data = f.data ?? new Uint8Array(0)
    if (this.buf === undefined) {
      if (total > this.maxBytes) throw new FerryError(ErrorCode.TOO_LARGE, `a ${total}-byte message exceeds the ${this.maxBytes}-byte limit`)
      if (offset !== 0) throw new FerryError(ErrorCode.ORDER, 'message fragment does not start at offset 0')
      this.buf = new Uint8Array(total)
      this.filled = 0
    }
    if (total !== this.buf.byteLength || offset !== this.filled || offset + data.byteLength > total || data.byteLength === 0) {
      throw new FerryError(ErrorCode.ORDER, `message fragment ${offset}+${data.byteLength} of ${total} does not continue the message`)
    }
    this.buf.set(data, offset)
    this.filled += data.byteLength
    if (this.filled < total) return undefined
    const buf = this.buf
    this.buf = undefined
    try {
      return ferry.Message.decode(buf)
    } catch (err) {
      throw new FerryError(ErrorCode.MALFORMED_FRAME, `reassembled message is malformed: ${(err as Error).message}`)
    }
  }
}

/** What the chosen conversations use: first pass of a selective restore. */
export interface ScanResult {
  media: Set<string>
  senders: Set<string>
}

/** First pass over a backup for a selective restore: the media and senders of the chosen chats' messages. */
export class SelectionScan {
  readonly result: ScanResult = { media: new Set(), senders: new Set() }
  private readonly chats: Set<string>
  private readonly fragments: Reassembler

  constructor (chats: string[], maxMessageBytes = DEFAULT_OPTIONS.maxMessageBytes) {
    this.chats = new Set(chats)
    this.fragments = new Reassembler(maxMessageBytes)
  }

  push (body: Uint8Array): void {
    const frame = decodeFrame(body)
    if (frame.body === 'batch') for (const m of (frame.batch as ferry.MessageBatch).messages) this.see(m)
    else if (frame.body === 'fragment') {
      const m = this.fragments.push(frame.fragment as ferry.MessageFragment)
      if (m !== undefined) this.see(m)
    }
  }

  private see (m: ferry.IMessage): void {
    if (!this.chats.has(m.conversation ?? '')) return
    if (m.media != null && m.media !== '') this.result.media.add(m.media)
    if (m.sender != null) this.result.senders.add(m.sender)
  }
}

export interface ReplayInit {
  receiver: ReceiverMachine
  /** Restore only these conversations (needs `scan`, the result of a SelectionScan over the same stream). */
  chats?: string[]
  scan?: ScanResult
  maxMessageBytes?: number
}

export interface ReplayStats {
  /** Messages and media bytes in the stream that the receiver already held (skipped). */
  skippedMessages: number
  skippedMediaBytes: number
  /** Frames handed to the receiver. */
  frames: number
}

/**
 * Feeds one recorded frame stream to a ReceiverMachine: `push` each frame body in order; the receiver's
 * answers (acks, Verified) are discarded. Throws the receiver's FerryError when it refuses a frame.
 */
export class FileReplay {
  readonly stats: ReplayStats = { skippedMessages: 0, skippedMediaBytes: 0, frames: 0 }
  private readonly receiver: ReceiverMachine
  private readonly chats?: Set<string>
  private readonly scan?: ScanResult
  private readonly fragments: Reassembler
  private pendingFragments: Frame[] = []
  private manifestParts: ferry.Manifest[] = []
  /** Index in the stream's manifest -> index in the receiver's (narrowed) manifest. */
  private mediaMap?: Map<number, number>
  private narrowedMedia?: Array<MediaRecord & { missing: boolean }>
  private resumed = false
  private cursor?: MessageKey
  private have: Uint8Array = new Uint8Array(0)
  private partial = new Map<number, number>()

  constructor (init: ReplayInit) {
    this.receiver = init.receiver
    if (init.chats !== undefined) {
      if (init.scan === undefined) throw new FerryError(ErrorCode.INTERNAL, 'a selective replay needs the scan of its stream')
      this.chats = new Set(init.chats)
      this.scan = init.scan
    }
    this.fragments = new Reassembler(init.maxMessageBytes ?? DEFAULT_OPTIONS.maxMessageBytes)
  }

  get finished (): boolean { return this.receiver.finished }

  async push (body: Uint8Array): Promise<void> {
    const frame = decodeFrame(body)
    switch (frame.body) {
      case 'hello': await this.feed(frame); return
      case 'manifest': return await this.onManifest(frame)
      case 'batch': return await this.onBatch(frame)
      case 'fragment': return await this.onFragment(frame)
      case 'chunk': return await this.onChunk(frame)
      case 'done': return await this.onDone(frame)
      default:
        throw new FerryError(ErrorCode.PROTOCOL, `a backup holds no ${frame.body} frames`)
    }
  }

  private async feed (frame: Frame): Promise<ferry.Frame[]> {
    this.stats.frames++
    const answers = await this.receiver.onFrame(frame, 0)
    return answers.map(parts => ferry.Frame.decode(parts.length === 1 ? parts[0] : Buffer.concat(parts)))
  }

  private async onManifest (frame: Frame): Promise<void> {
    const part = frame.manifest as ferry.Manifest
    let answers: ferry.Frame[]
    if (this.chats === undefined) {
      answers = await this.feed(frame)
    } else {
      this.manifestParts.push(part)
      if (part.more) return
      answers = await this.feed(this.narrowManifest())
    }
    const resume = answers.find(a => a.resume != null)?.resume
    if (resume == null) {
      if (part.more) return
      throw new FerryError(ErrorCode.INTERNAL, 'the receiver did not answer the manifest with Resume')
    }
    if (resume.cursor != null) this.cursor = keyOfWire(resume.cursor)
    this.have = resume.mediaHave ?? new Uint8Array(0)
    for (const p of resume.partial ?? []) this.partial.set(p.index ?? 0, Number(p.offset ?? 0))
    this.resumed = true
  }

  private narrowManifest (): Frame {
    const parts = this.manifestParts
    this.manifestParts = []
    const head = parts[0]
    const chats = this.chats as Set<string>
    const scan = this.scan as ScanResult
    const conversations = parts.flatMap(p => p.conversations).filter(c => chats.has(c.id ?? ''))
    const found = new Set(conversations.map(c => c.id ?? ''))
    const unknown = [...chats].filter(c => !found.has(c))
    if (unknown.length > 0) {
      throw new FerryError(ErrorCode.BAD_INPUT, `this backup holds no conversation ${unknown.map(c => `'${c}'`).join(', ')}`)
    }
    const people = new Set(scan.senders)
    for (const c of conversations) for (const m of c.members ?? []) people.add(m)
    const contacts = parts.flatMap(p => p.contacts).filter(c => people.has(c.id ?? ''))
    const media: ferry.IMediaInfo[] = []
    this.mediaMap = new Map()
    let i = 0
    for (const p of parts) {
      for (const m of p.media) {
        if (scan.media.has(m.sha256 ?? '')) { this.mediaMap.set(i, media.length); media.push(m) }
        i++
      }
    }
    this.narrowedMedia = media.map(m => mediaFromWire(m as ferry.MediaInfo))
    const selection = normalizeSelection({ ...selectionFromWire(head.selection), conversations: [...chats] })
    let totalMessages = 0
    for (const c of conversations) totalMessages += Number(c.messageCount ?? 0)
    let totalMediaBytes = 0
    for (const m of this.narrowedMedia) if (!m.missing) totalMediaBytes += m.size
    const manifest: ferry.IManifest = {
      transferId: transferIdOf(head.sourceId ?? '', selection),
      sourceId: head.sourceId,
      selection: selectionToWire(selection),
      totalMessages,
      totalMediaBytes,
      contacts,
      conversations,
      media,
      more: false
    }
    return toFrame({ manifest })
  }

  /** True when the receiver still needs the message. */
  private wanted (m: ferry.IMessage): boolean {
    if (this.chats !== undefined && !this.chats.has(m.conversation ?? '')) return false
    if (this.cursor !== undefined && compareKeys(keyOfWire(m), this.cursor) <= 0) {
      this.stats.skippedMessages++
      return false
    }
    return true
  }

  private requireResumed (what: string): void {
    if (!this.resumed) throw new FerryError(ErrorCode.PROTOCOL, `${what} before the manifest ended`)
  }

  private async onBatch (frame: Frame): Promise<void> {
    this.requireResumed('message batch')
    const batch = frame.batch as ferry.MessageBatch
    const keep = batch.messages.filter(m => this.wanted(m))
    if (keep.length === 0) return
    if (keep.length < batch.messages.length) batch.messages = keep
    await this.feed(frame)
  }

  private async onFragment (frame: Frame): Promise<void> {
    this.requireResumed('message fragment')
    this.pendingFragments.push(frame)
    const m = this.fragments.push(frame.fragment as ferry.MessageFragment)
    if (m === undefined) return
    const frames = this.pendingFragments
    this.pendingFragments = []
    if (!this.wanted(m)) return
    for (const f of frames) await this.feed(f)
  }

  private async onChunk (frame: Frame): Promise<void> {
    this.requireResumed('media chunk')
    if (this.fragments.active) throw new FerryError(ErrorCode.ORDER, 'media chunk inside a fragmented message')
    const chunk = frame.chunk as ferry.MediaChunk
    const data = chunk.data ?? new Uint8Array(0)
    let index = chunk.index ?? 0
    if (this.mediaMap !== undefined) {
      const mapped = this.mediaMap.get(index)
      if (mapped === undefined) return // media of a conversation not restored
      index = mapped
    }
    if (getBit(this.have, index)) { this.stats.skippedMediaBytes += data.byteLength; return }
    const offset = Number(chunk.offset ?? 0)
    const committed = this.partial.get(index) ?? 0
    if (offset + data.byteLength <= committed && data.byteLength > 0) { this.stats.skippedMediaBytes += data.byteLength; return }
    const skip = Math.max(0, committed - offset)
    this.stats.skippedMediaBytes += skip
    // Rewritten in place: the decoded frame keeps its body, and the payload is not copied.
    chunk.index = index
    chunk.offset = offset + skip
    chunk.data = data.subarray(skip)
    await this.feed(frame)
  }

  private async onDone (frame: Frame): Promise<void> {
    this.requireResumed('Done')
    if (this.chats !== undefined) {
      const done = frame.done as ferry.Done
      const chats = this.chats
      const media = this.narrowedMedia ?? []
      done.conversations = done.conversations.filter(c => chats.has(c.id ?? ''))
      done.mediaCount = media.length
      done.mediaDigest = mediaIndexDigest(media)
    }
    await this.feed(frame)
  }
}
