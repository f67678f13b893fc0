import { ErrorCode, FerryError } from '../errors.js'
import type { Message } from '../store/model.js'
import { ferry, varintLength } from '../wire/codec.js'
import { messageFromWire, messageToWire } from '../wire/message-wire.js'

// The undo log's entries in a compact binary form: a transfer of a million messages logs every key it
// writes, before it writes it, and JSON would double what the receiver writes to disk.

/** What writing one message did to the store. */
export type LogFlag = 'new' | 'prior' | 'held'

export interface LogItem {
  /**
   * new: the store had no such message; prior: it had another version (kept here); held: the same one,
   * or a version this phone changed later and kept (nothing written either way).
   */
  flag: LogFlag
  conversation: string
  ts: number
  id: string
  prior?: Message
  /**
   * The digest (WRITTEN_DIGEST_BYTES) of the encoding the store held once the batch was written: what
   * the transfer wrote, or what it found and left (held). The undo touches only a message still stored
   * so; absent in entries written before it was kept (format 2 and earlier), which undo as they did.
   */
  written?: Uint8Array
}

/** Bytes of LogItem.written. */
export const WRITTEN_DIGEST_BYTES = 8

const FLAGS: LogFlag[] = ['new', 'prior', 'held']
const FLAG_CODES: Record<LogFlag, number> = { new: 0, prior: 1, held: 2 }
const enc = new TextEncoder()
const dec = new TextDecoder()
/** Format 1's strings up to this length take the ASCII path when they can. */
const SHORT = 64

class Writer {
  buf = new Uint8Array(64 * 1024)
  pos = 0

  private room (n: number): void {
    if (this.pos + n <= this.buf.byteLength) return
    let cap = this.buf.byteLength * 2
    while (cap < this.pos + n) cap *= 2
    const b = new Uint8Array(cap)
    b.set(this.buf.subarray(0, this.pos))
    this.buf = b
  }

  varint (n: number): void {
    this.room(10)
    // Bit operations while the value fits 31 bits (a batch's heads, lengths and most time deltas).
    if (n < 0x80000000) {
      while (n >= 0x80) {
        this.buf[this.pos++] = (n & 0x7f) | 0x80
        n >>>= 7
      }
      this.buf[this.pos++] = n
      return
    }
    while (n >= 0x80) {
      this.buf[this.pos++] = (n % 0x80) | 0x80
      n = Math.floor(n / 0x80)
    }
    this.buf[this.pos++] = n
  }

  /** Signed, zigzag: timestamps go in as deltas, which may be negative across conversations. */
  signed (n: number): void {
    this.varint(n >= 0 ? n * 2 : -n * 2 - 1)
  }

  bytes (b: Uint8Array): void {
    this.varint(b.byteLength)
    this.raw(b)
  }

  /** `b`, with no length before it. */
  raw (b: Uint8Array): void {
    this.room(b.byteLength)
    this.buf.set(b, this.pos)
    this.pos += b.byteLength
  }

  /** The UTF-8 of `s`, with no length before it. */
  utf8 (s: string): void {
    this.room(s.length * 3)
    this.pos += enc.encodeInto(s, this.buf.subarray(this.pos)).written
  }
}

/**
 * One writer for every batch (packing is synchronous): a fresh buffer per batch was zero-filled each
 * time, for a result that is copied out anyway. It keeps the largest size a batch needed.
 */
const scratch = new Writer()

class Reader {
  pos = 0
  constructor (private readonly buf: Uint8Array) {}

  varint (): number {
    let n = 0
    let scale = 1
    for (;;) {
      if (this.pos >= this.buf.byteLength) throw damaged()
      const b = this.buf[this.pos++]
      n += (b & 0x7f) * scale
      if ((b & 0x80) === 0) return n
      scale *= 0x80
    }
  }

  signed (): number {
    const z = this.varint()
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2
  }

  bytes (): Uint8Array {
    return this.raw(this.varint())
  }

  /** The next `n` bytes, a view. */
  raw (n: number): Uint8Array {
    if (this.pos + n > this.buf.byteLength) throw damaged()
    const out = this.buf.subarray(this.pos, this.pos + n)
    this.pos += n
    return out
  }

  string (): string {
    const b = this.bytes()
    if (b.byteLength > SHORT) return dec.decode(b)
    for (let i = 0, n = b.byteLength; i < n; i++) if (b[i] >= 0x80) return dec.decode(b)
    // A browser's TextDecoder costs several times this per short string.
    return String.fromCharCode.apply(null, b as unknown as number[])
  }

  get done (): boolean {
    return this.pos >= this.buf.byteLength
  }
}

/**
 * How an item's timestamp is written. A delta is exact while its zigzag form is a safe integer; a jump
 * further than that (any two safe-integer timestamps may be 2^54 apart) is written as its sign and
 * magnitude instead.
 */
const DELTA = 0
const ABSOLUTE = 1
const ABSOLUTE_NEGATIVE = 2
const MAX_DELTA = 2 ** 52

/** Bytes kept free before an entry's numbers, for its header, written once their length is known. */
const HEADER_ROOM = 16

/**
 * Packs a batch's items (format 3): a header (the format, the length of the numbers), then each item's
 * numbers, then every string of the batch as one UTF-8 block. An item's numbers are its head,
 * (((how its ts is written) * 3 + its flag) * 2 + (1 when a new conversation name follows)) * 2 + (1 when
 * a written digest follows), the name's length when one follows, its timestamp (a delta from the item
 * before, or see DELTA), its id's length (both lengths in UTF-16 units), its written digest's bytes and a
 * prior's encoding. Format 2 is the same without the digest bit and bytes. The strings go in with one
 * encodeInto and come out with one decode, where format 1 copied each id in and decoded each out on its own.
 */
export function packItems (items: LogItem[]): Uint8Array {
  const w = scratch
  w.pos = HEADER_ROOM
  const strings: string[] = []
  let conversation: string | undefined
  let ts = 0
  for (const it of items) {
    const same = it.conversation === conversation
    const delta = it.ts - ts
    const how = Math.abs(delta) <= MAX_DELTA ? DELTA : it.ts < 0 ? ABSOLUTE_NEGATIVE : ABSOLUTE
    const digest = it.written
    if (digest !== undefined && digest.byteLength !== WRITTEN_DIGEST_BYTES) throw new FerryError(ErrorCode.INTERNAL, 'a written digest of the wrong length')
    w.varint(((how * FLAGS.length + FLAG_CODES[it.flag]) * 2 + (same ? 0 : 1)) * 2 + (digest === undefined ? 0 : 1))
    if (!same) {
      w.varint(it.conversation.length)
      strings.push(it.conversation)
      conversation = it.conversation
    }
    if (how === DELTA) w.signed(delta)
    else w.varint(Math.abs(it.ts))
    ts = it.ts
    w.varint(it.id.length)
    strings.push(it.id)
    if (digest !== undefined) w.raw(digest)
    if (it.flag === 'prior') w.bytes(ferry.Message.encode(messageToWire(it.prior as Message)).finish())
  }
  const numbers = w.pos - HEADER_ROOM
  w.utf8(strings.join(''))
  const end = w.pos
  // The header, written into the room right before the numbers.
  const start = HEADER_ROOM - 1 - varintLength(numbers)
  w.pos = start
  w.varint(3)
  w.varint(numbers)
  return w.buf.slice(start, end)
}


/**
 * The items of a packed entry one at a time: verification walks a million of them, and an entry's items
 * decoded at once lived long enough to be promoted out of the young generation. Reads every format:
 * an unverified transfer's log may have been written by an earlier version.
 */
export function * readItems (b: Uint8Array): Generator<LogItem> {
  const r = new Reader(b)
  const format = r.varint()
  // Format 1: each string in place, after its length in bytes.
  if (format === 1) return yield * items(r, () => r.string(), false)
  if (format !== 2 && format !== 3) throw new FerryError(ErrorCode.STORE, 'the journal holds an undo entry of an unknown format')
  const numbersEnd = r.varint() + r.pos
  if (numbersEnd > b.byteLength) throw damaged()
  const strings = dec.decode(b.subarray(numbersEnd))
  const numbers = new Reader(b.subarray(0, numbersEnd))
  numbers.pos = r.pos
  let at = 0
  yield * items(numbers, () => {
    const length = numbers.varint()
    if (at + length > strings.length) throw damaged()
    return strings.slice(at, at += length)
  }, format === 3)
  if (at !== strings.length) throw damaged()
}

/**
 * The items whose numbers `r` holds; `text` reads the next string, where the format keeps it.
 * `digests`: heads carry the written digest's bit (format 3).
 */
function * items (r: Reader, text: () => string, digests: boolean): Generator<LogItem> {
  let conversation = ''
  let ts = 0
  while (!r.done) {
    let head = r.varint()
    const digested = digests && head % 2 === 1
    if (digests) head = Math.floor(head / 2)
    const flag = FLAGS[Math.floor(head / 2) % FLAGS.length]
    const how = Math.floor(head / 2 / FLAGS.length)
    if (how > ABSOLUTE_NEGATIVE) throw damaged()
    if (head % 2 === 1) conversation = text()
    if (how === DELTA) ts += r.signed()
    else ts = how === ABSOLUTE ? r.varint() : -r.varint()
    const item: LogItem = { flag, conversation, ts, id: text() }
    if (digested) item.written = r.raw(WRITTEN_DIGEST_BYTES).slice()
    if (flag === 'prior') item.prior = messageFromWire(ferry.Message.decode(r.bytes()))
    yield item
  }
}

const damaged = (): FerryError => new FerryError(ErrorCode.STORE, 'the journal holds a damaged undo entry')
