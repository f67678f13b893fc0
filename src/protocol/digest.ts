export { bytesToHex as toHex } from '@noble/hashes/utils.js'
import { encodeMessage } from '../wire/codec.js'
import { messageToWire } from '../wire/message-wire.js'
import type { MediaRecord, Message } from '../store/model.js'
import { createSha256, type Sha256 } from './sha256.js'
import { ManifestMedia } from './manifest-media.js'

/**
 * Digest of one conversation's messages: sha256 over each message's protobuf encoding, length-prefixed,
 * in canonical order. The receiver recomputes it from what its store reads back, so a match proves the
 * messages arrived and were stored intact, not merely that frames went through.
 */
export class ConversationDigest {
  private readonly hash: Sha256 = createSha256()
  private readonly len = new Uint8Array(4)
  count = 0

  addEncoded (encoded: Uint8Array): void {
    new DataView(this.len.buffer).setUint32(0, encoded.byteLength)
    this.hash.update(this.len)
    this.hash.update(encoded)
    this.count++
  }

  add (m: Message): void {
    this.addEncoded(encodeMessage(messageToWire(m)))
  }

  digest (): Uint8Array {
    return this.hash.digest()
  }
}

/**
 * Digest of a media index: what the manifest promised, bound into Done. Over the lines
 * `<sha256 hex>:<size>:<1 present | 0 missing>\n`, written straight into one reused buffer: both sides
 * compute it over 100k+ entries at once, and a string and an encoded copy per line were a 40 MiB burst
 * of garbage at the very end of a large transfer, each side's peak RSS.
 */
export function mediaIndexDigest (media: Iterable<MediaRecord & { missing?: boolean }> | ManifestMedia): Uint8Array {
  const lines = new IndexLines()
  if (media instanceof ManifestMedia) {
    for (let i = 0; i < media.length; i++) lines.finish(media.writeHex(i, lines.buf, lines.start()), media.size(i), media.missing(i))
  } else {
    for (const m of media) {
      if (ASCII_HASH.test(m.sha256)) lines.finish(lines.writeAscii(m.sha256, lines.start()), m.size, m.missing === true)
      else lines.text(`${m.sha256}:${m.size}:${m.missing === true ? 0 : 1}\n`) // not a hash: hashed as UTF-8 all the same
    }
  }
  return lines.digest()
}

const LINE_MAX = 64 + 1 + 20 + 3
const ASCII_HASH = /^[\x00-\x7f]{64}$/

class IndexLines {
  readonly buf = new Uint8Array(64 * 1024)
  private pos = 0
  private readonly hash = createSha256()

  /** Where the next line's hash goes. */
  start (): number {
    if (this.pos + LINE_MAX > this.buf.byteLength) this.flush()
    return this.pos
  }

  /** Completes the line whose hash ends at `p`. */
  finish (p: number, size: number, missing: boolean): void {
    this.buf[p++] = 0x3a // ':'
    p = this.writeAscii(String(size), p)
    this.buf[p++] = 0x3a
    this.buf[p++] = missing ? 0x30 : 0x31
    this.buf[p++] = 0x0a
    this.pos = p
  }

  /** ASCII only (hex digests, decimal sizes): one byte per character. */
  writeAscii (s: string, pos: number): number {
    for (let k = 0; k < s.length; k++) this.buf[pos++] = s.charCodeAt(k)
    return pos
  }

  /** A line as text, for entries that are not 64 ASCII characters (only a malformed index has them). */
  text (line: string): void {
    this.flush()
    this.hash.update(new TextEncoder().encode(line))
  }

  digest (): Uint8Array {
    this.flush()
    return this.hash.digest()
  }

  private flush (): void {
    this.hash.update(this.buf.subarray(0, this.pos))
    this.pos = 0
  }
}

export function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  // The length read once, as in writtenDigest: V8 does not hoist a typed array's byteLength out of a
  // loop's condition, and a receiver merging into a phone in use compares every message it held.
  const n = a.byteLength
  if (n !== b.byteLength) return false
  let diff = 0
  for (let i = 0; i < n; i++) diff |= a[i] ^ b[i]
  return diff === 0
}

