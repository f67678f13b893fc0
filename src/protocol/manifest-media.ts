import { ErrorCode, FerryError } from '../errors.js'
import type { MediaRecord } from '../store/model.js'
import { hashHex, parseHashHex, writeHashHex } from '../hash-hex.js'

/** A manifest entry: a media record, and whether the sender lacks its file (listed, never sent). */
export interface MediaEntry extends MediaRecord {
  missing: boolean
}

const HASH = 32

/**
 * The manifest's media index, held in typed arrays. A photo-heavy phone lists 100k+ files; as objects
 * (a hex string, a mime string and a hidden class each) the 138k entries of the large profile cost
 * ~360 bytes apiece on each side, with the rows they were copied from, and were most of its peak RSS.
 * Here an entry costs its 32-byte hash, a size and a mime id; entries become objects only when asked
 * for, one at a time.
 *
 * Entries must come in strictly increasing sha256 order (the order stores list media in): that rejects
 * repeats for free, and lets `indexOf` binary-search. A hash table keyed on hashes the peer chooses
 * would need a keyed hash to stay linear against a sender that picks colliding ones.
 */
export class ManifestMedia implements Iterable<MediaEntry> {
  length = 0
  private hashes = new Uint8Array(HASH * 16)
  private sizes = new Float64Array(16)
  /** mime id << 1 | missing */
  private kinds = new Uint32Array(16)
  private readonly mimes: string[] = []
  private readonly mimeIds = new Map<string, number>()
  private readonly probe = new Uint8Array(HASH)

  static from (entries: Iterable<MediaEntry>): ManifestMedia {
    const list = new ManifestMedia()
    for (const m of entries) list.push(m)
    return list
  }

  /**
   * Appends an entry and returns its index. Throws MALFORMED_FRAME when `sha256` is not 64 lowercase hex
   * digits or does not sort after the previous entry's.
   */
  push (m: MediaEntry): number {
    const i = this.length
    if (!parseHashHex(m.sha256, this.probe)) throw new FerryError(ErrorCode.MALFORMED_FRAME, `media sha256 ${JSON.stringify(m.sha256)} is not 64 lowercase hex digits`)
    if (i > 0 && this.compareAt(i - 1) >= 0) {
      throw new FerryError(ErrorCode.MALFORMED_FRAME, `media ${m.sha256} is out of sha256 order or listed twice`)
    }
    if (i === this.sizes.length) this.grow()
    this.hashes.set(this.probe, i * HASH)
    this.sizes[i] = m.size
    this.kinds[i] = (this.mimeId(m.mime) << 1) | (m.missing ? 1 : 0)
    this.length++
    return i
  }

  /** The index of `sha256`, or -1. */
  indexOf (sha256: string): number {
    if (!parseHashHex(sha256, this.probe)) return -1
    let lo = 0
    let hi = this.length - 1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      const c = this.compareAt(mid)
      if (c === 0) return mid
      if (c < 0) lo = mid + 1
      else hi = mid - 1
    }
    return -1
  }

  /** Whether entry i's hash is `digest` (32 bytes): a received file checked without its hex. */
  hashIs (i: number, digest: Uint8Array): boolean {
    if (digest.byteLength !== HASH) return false
    const h = this.hashes
    for (let k = 0, at = i * HASH; k < HASH; k++) if (h[at + k] !== digest[k]) return false
    return true
  }

  /** Entry i's hash, 32 bytes: a view, valid until the next push. */
  hashAt (i: number): Uint8Array {
    return this.hashes.subarray(i * HASH, i * HASH + HASH)
  }

  sha256 (i: number): string {
    return hashHex(this.hashes, i * HASH)
  }

  /** Writes entry i's hash as 64 lowercase hex digits (ASCII) into `out` at `pos`; returns the end. */
  writeHex (i: number, out: Uint8Array, pos: number): number {
    return writeHashHex(this.hashes, i * HASH, out, pos)
  }

  size (i: number): number {
    return this.sizes[i]
  }

  mime (i: number): string {
    return this.mimes[this.kinds[i] >>> 1]
  }

  missing (i: number): boolean {
    return (this.kinds[i] & 1) === 1
  }

  get (i: number): MediaEntry {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) throw new RangeError(`no media entry ${i}`)
    return { sha256: this.sha256(i), size: this.sizes[i], mime: this.mime(i), missing: this.missing(i) }
  }

  * [Symbol.iterator] (): Iterator<MediaEntry> {
    for (let i = 0; i < this.length; i++) yield this.get(i)
  }

  private mimeId (mime: string): number {
    let id = this.mimeIds.get(mime)
    if (id === undefined) {
      id = this.mimes.length
      this.mimes.push(mime)
      this.mimeIds.set(mime, id)
    }
    return id
  }

  private grow (): void {
    const cap = this.sizes.length * 2
    const hashes = new Uint8Array(cap * HASH)
    hashes.set(this.hashes)
    this.hashes = hashes
    const sizes = new Float64Array(cap)
    sizes.set(this.sizes)
    this.sizes = sizes
    const kinds = new Uint32Array(cap)
    kinds.set(this.kinds)
    this.kinds = kinds
  }

  /** Entry i's hash against the probe: negative when it sorts before. */
  private compareAt (i: number): number {
    const h = this.hashes
    const at = i * HASH
    for (let k = 0; k < HASH; k++) {
      const d = h[at + k] - this.probe[k]
      if (d !== 0) return d
    }
    return 0
  }
}
