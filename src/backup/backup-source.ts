import { open, type FileHandle } from 'node:fs/promises'
import { basename } from 'node:path'
import { ErrorCode, FerryError } from '../errors.js'
import type { ConversationInfo, HistorySource, MessagePosition, StoredMedia } from '../store/history.js'
import { comparePositions, compareStrings, type Contact, type Message } from '../store/model.js'
import { decodeFrame, ferry } from '../wire/codec.js'
import { contactFromWire, conversationsFromWire, mediaFromWire, messageFromWire } from '../wire/message-wire.js'
import { cutOff, openSegment, parseSegmentPrefix, PREAMBLE_BYTES, SEGMENT_PREFIX_BYTES, TAG_BYTES, type OpenedBackup } from './format.js'

// A backup file read as the old phone it was made from: restoring is then an ordinary transfer from it
// (src/backup/backup.ts runs a SenderMachine over this source into the store's ReceiverMachine), with
// the same reconciliation, resume, selection and read-back verification as over the network.
//
// The file is segments of sealed plaintext, all full but the last, so the n-th plaintext byte lives in a
// known segment that can be read and authenticated on its own. Opening reads the manifest and the message
// frames once (they come before the media), noting where each batch starts and which messages it holds;
// media chunks are then read front to back as the transfer asks for them (in sha256 order, as written).

interface BatchEntry {
  /** Plaintext offset of the frame's length prefix. */
  at: number
  conversation: string
  first: MessagePosition
  last: MessagePosition
  /** Fragment frames (a message too large for one) that follow from `at`. */
  fragments: number
}

/** Decrypted segments kept (a batch spans at most two). */
const SEGMENT_CACHE = 4

export class BackupSource implements HistorySource {
  historyId = ''
  /** The histories the backed-up phone continued (its manifest's former ids). */
  formerIds: string[] = []
  private readonly name: string
  private contactList: Contact[] = []
  private infos: ConversationInfo[] = []
  private records: StoredMedia[] = []
  private readonly mediaIndex = new Map<string, number>()
  /** Per conversation, its batches in order. */
  private readonly batches = new Map<string, BatchEntry[]>()
  private mediaStart = 0
  private plainSize = 0
  private readonly segments = new Map<number, Buffer>()
  private cursor?: MediaCursor

  private constructor (private readonly b: OpenedBackup, private readonly fh: FileHandle, private readonly fileSize: number) {
    this.name = basename(b.path)
  }

  static async open (b: OpenedBackup): Promise<BackupSource> {
    const fh = await open(b.path, 'r')
    try {
      const size = (await fh.stat()).size
      const source = new BackupSource(b, fh, size)
      await source.checkEnd()
      await source.index()
      return source
    } catch (err) {
      await fh.close()
      throw err
    }
  }

  async close (): Promise<void> {
    await this.fh.close()
  }

  private get stride (): number {
    return SEGMENT_PREFIX_BYTES + this.b.header.segmentBytes + TAG_BYTES
  }

  /** The file must end with its final segment: a file cut at a segment boundary is not a backup. */
  private async checkEnd (): Promise<void> {
    const body = this.fileSize - PREAMBLE_BYTES
    const n = Math.max(0, Math.ceil(body / this.stride) - 1)
    const last = await this.segment(n)
    this.plainSize = n * this.b.header.segmentBytes + last.byteLength
  }

  /** Segment n's plaintext, authenticated. */
  private async segment (n: number): Promise<Buffer> {
    const cached = this.segments.get(n)
    if (cached !== undefined) return cached
    const pos = PREAMBLE_BYTES + n * this.stride
    const where = `segment ${n} (byte ${pos})`
    const head = Buffer.alloc(SEGMENT_PREFIX_BYTES)
    if ((await this.fh.read(head, 0, SEGMENT_PREFIX_BYTES, pos)).bytesRead < SEGMENT_PREFIX_BYTES) {
      throw cutOff(this.name, this.fileSize, where)
    }
    const { length, final } = parseSegmentPrefix(head)
    if (length > this.b.header.segmentBytes) throw new FerryError(ErrorCode.BAD_INPUT, `${this.name} is corrupted at ${where}: its length field is damaged`)
    const end = pos + SEGMENT_PREFIX_BYTES + length + TAG_BYTES
    if (end > this.fileSize) throw cutOff(this.name, this.fileSize, where)
    if (final && end < this.fileSize) throw new FerryError(ErrorCode.BAD_INPUT, `${this.name} has ${this.fileSize - end} unexpected bytes after its end marker`)
    if (!final && (end === this.fileSize || length !== this.b.header.segmentBytes)) {
      throw cutOff(this.name, this.fileSize, `${where}: it ends before its end marker`)
    }
    const body = Buffer.alloc(length + TAG_BYTES)
    if ((await this.fh.read(body, 0, body.byteLength, pos + SEGMENT_PREFIX_BYTES)).bytesRead < body.byteLength) {
      throw cutOff(this.name, this.fileSize, where)
    }
    const plain = openSegment(this.b.keys, n, final, body.subarray(0, length), body.subarray(length))
    if (plain === undefined) {
      throw new FerryError(ErrorCode.BAD_INPUT, `${this.name} is corrupted at ${where}: it fails authentication (damaged, cut, reordered or from another file)`)
    }
    if (this.segments.size >= SEGMENT_CACHE) this.segments.delete(this.segments.keys().next().value as number)
    this.segments.set(n, plain)
    return plain
  }

  /** Plaintext bytes [at, at + n). */
  private async plain (at: number, n: number): Promise<Uint8Array> {
    if (at + n > this.plainSize) throw new FerryError(ErrorCode.BAD_INPUT, `${this.name} ends inside a frame: it was not written completely`)
    const seg = this.b.header.segmentBytes
    const first = Math.floor(at / seg)
    const s = await this.segment(first)
    const off = at - first * seg
    if (off + n <= s.byteLength) return s.subarray(off, off + n)
    const out = new Uint8Array(n)
    let got = 0
    for (let k = first; got < n; k++) {
      const piece = await this.segment(k)
      const from = k === first ? off : 0
      const take = Math.min(piece.byteLength - from, n - got)
      out.set(piece.subarray(from, from + take), got)
      got += take
    }
    return out
  }

  /** The frame at plaintext offset `at`: its body and where the next one starts. */
  private async frame (at: number): Promise<{ body: Uint8Array, next: number }> {
    const head = await this.plain(at, Math.min(5, this.plainSize - at))
    let len = 0
    let scale = 1
    let i = 0
    for (;; i++) {
      if (i >= head.byteLength) throw new FerryError(ErrorCode.BAD_INPUT, `${this.name} holds a damaged frame length at ${at}`)
      len += (head[i] & 0x7f) * scale
      scale *= 128
      if ((head[i] & 0x80) === 0) break
    }
    const start = at + i + 1
    return { body: await this.plain(start, len), next: start + len }
  }

  /** Reads the manifest and indexes the message frames (the media that follow are not read). */
  private async index (): Promise<void> {
    let at = 0
    let sourceId = ''
    const manifest: ferry.Manifest[] = []
    let pendingFragment: number | undefined
    let fragments = 0
    for (;;) {
      if (at >= this.plainSize) throw new FerryError(ErrorCode.BAD_INPUT, `${this.name} ends before the end of its transfer (no Done): it was not written completely`)
      const { body, next } = await this.frame(at)
      let f
      try {
        f = decodeFrame(body)
      } catch (err) {
        throw new FerryError(ErrorCode.BAD_INPUT, `${this.name} holds a damaged frame: ${(err as Error).message}`)
      }
      if (f.body === 'manifest') {
        const part = f.manifest as ferry.Manifest
        if (manifest.length === 0) {
          sourceId = part.sourceId
          this.formerIds = [...(part.formerSourceIds ?? [])]
        }
        manifest.push(part)
      } else if (f.body === 'batch') {
        const ms = (f.batch as ferry.MessageBatch).messages.map(messageFromWire)
        this.addBatch(at, ms, 0)
      } else if (f.body === 'fragment') {
        const fr = f.fragment as ferry.MessageFragment
        if ((fr.offset ?? 0) === 0) { pendingFragment = at; fragments = 0 }
        fragments++
        if ((fr.offset ?? 0) + (fr.data?.byteLength ?? 0) === (fr.total ?? 0) && pendingFragment !== undefined) {
          const m = await this.readFragments(pendingFragment, fragments)
          this.addBatch(pendingFragment, [m], fragments)
          pendingFragment = undefined
        }
      } else if (f.body === 'chunk' || f.body === 'done') {
        this.mediaStart = at
        break
      } else if (f.body !== 'hello') {
        throw new FerryError(ErrorCode.BAD_INPUT, `${this.name} holds a ${f.body} frame, which no backup has`)
      }
      at = next
    }
    if (manifest.length === 0) throw new FerryError(ErrorCode.BAD_INPUT, `${this.name} holds no manifest`)
    this.historyId = sourceId
    this.contactList = manifest.flatMap(p => p.contacts.map(contactFromWire))
    this.infos = conversationsFromWire(manifest.flatMap(p => p.conversations))
      .map(({ conversation }) => ({ conversation, messages: this.counts.get(conversation.id) ?? 0 }))
    this.records = manifest.flatMap(p => p.media.map(m => mediaFromWire(m))).map(({ missing, ...r }) => ({ ...r, stored: !missing }))
    this.records.forEach((r, i) => this.mediaIndex.set(r.sha256, i))
  }

  private readonly counts = new Map<string, number>()

  private addBatch (at: number, ms: Message[], fragments: number): void {
    let i = 0
    while (i < ms.length) {
      const c = ms[i].conversation
      let j = i
      while (j < ms.length && ms[j].conversation === c) j++
      let list = this.batches.get(c)
      if (list === undefined) this.batches.set(c, list = [])
      list.push({ at, conversation: c, first: ms[i], last: ms[j - 1], fragments })
      this.counts.set(c, (this.counts.get(c) ?? 0) + j - i)
      i = j
    }
  }

  private async readFragments (at: number, n: number): Promise<Message> {
    const parts: Uint8Array[] = []
    for (let k = 0; k < n; k++) {
      const { body, next } = await this.frame(at)
      parts.push((decodeFrame(body).fragment as ferry.MessageFragment).data ?? new Uint8Array(0))
      at = next
    }
    const all = new Uint8Array(parts.reduce((s, p) => s + p.byteLength, 0))
    let o = 0
    for (const p of parts) { all.set(p, o); o += p.byteLength }
    return messageFromWire(ferry.Message.decode(all))
  }

  private async batchMessages (e: BatchEntry): Promise<Message[]> {
    if (e.fragments > 0) return [await this.readFragments(e.at, e.fragments)]
    const { body } = await this.frame(e.at)
    return (decodeFrame(body).batch as ferry.MessageBatch).messages.map(messageFromWire)
  }

  async conversations (): Promise<ConversationInfo[]> {
    return this.infos.map(i => ({ ...i }))
  }

  async contacts (): Promise<Contact[]> {
    return [...this.contactList]
  }

  async media (after: string | undefined, limit: number): Promise<StoredMedia[]> {
    let i = 0
    if (after !== undefined) while (i < this.records.length && compareStrings(this.records[i].sha256, after) <= 0) i++
    return this.records.slice(i, i + limit)
  }

  async messages (conversation: string, after: MessagePosition | undefined, limit: number): Promise<Message[]> {
    const list = this.batches.get(conversation) ?? []
    let lo = 0
    if (after !== undefined) {
      let hi = list.length
      while (lo < hi) {
        const mid = (lo + hi) >>> 1
        if (comparePositions(list[mid].last, after) <= 0) lo = mid + 1
        else hi = mid
      }
    }
    const out: Message[] = []
    for (let b = lo; b < list.length && out.length < limit; b++) {
      for (const m of await this.batchMessages(list[b])) {
        if (m.conversation !== conversation || (after !== undefined && comparePositions(m, after) <= 0)) continue
        out.push(m)
        if (out.length === limit) break
      }
    }
    return out
  }

  async readMedia (sha256: string, offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    const index = this.mediaIndex.get(sha256)
    if (index === undefined) throw new FerryError(ErrorCode.STORE, `${this.name} holds no media ${sha256}`)
    if (this.cursor === undefined || !this.cursor.canReach(index, offset)) this.cursor = new MediaCursor(this.mediaStart, at => this.frame(at))
    return await this.cursor.read(index, offset, length, into ?? new Uint8Array(length), this.name)
  }
}

/** Walks the media chunks front to back, as a restore asks for them. */
class MediaCursor {
  private chunk?: { index: number, offset: number, data: Uint8Array }
  private done = false

  constructor (private at: number, private readonly frame: (at: number) => Promise<{ body: Uint8Array, next: number }>) {}

  canReach (index: number, offset: number): boolean {
    const c = this.chunk
    return c === undefined || c.index < index || (c.index === index && c.offset <= offset)
  }

  private async advance (): Promise<void> {
    if (this.done) return
    const { body, next } = await this.frame(this.at)
    const f = decodeFrame(body)
    this.at = next
    if (f.body !== 'chunk') { this.done = true; this.chunk = undefined; return }
    const c = f.chunk as ferry.MediaChunk
    this.chunk = { index: c.index ?? 0, offset: Number(c.offset ?? 0), data: c.data ?? new Uint8Array(0) }
  }

  async read (index: number, offset: number, length: number, into: Uint8Array, name: string): Promise<Uint8Array> {
    let got = 0
    while (got < length) {
      const c = this.chunk
      const want = offset + got
      if (c !== undefined && c.index === index && want >= c.offset && want < c.offset + c.data.byteLength) {
        const from = want - c.offset
        const take = Math.min(c.data.byteLength - from, length - got)
        into.set(c.data.subarray(from, from + take), got)
        got += take
        continue
      }
      if (this.done || (c !== undefined && (c.index > index || (c.index === index && c.offset > want)))) break
      await this.advance()
    }
    if (got < length && got === 0 && this.done) throw new FerryError(ErrorCode.BAD_INPUT, `${name} ends before the bytes of media ${index}`)
    return into.subarray(0, got)
  }
}
