import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { logger } from '@libp2p/logger'
import type { Journal, JournalOp } from './journal.js'

const log = logger('ferry:journal')

// The media side of the base of the three-way rule for deletions (docs/design-notes.md, "What the new
// phone deleted stays deleted"): per old phone's history and per store it went into (as leaf-bases.ts),
// which files the last verified transfer from it carried. A file in it that this phone holds no record
// of was removed here (the app removes a record no message refers to), and stays out unless a message
// that arrives refers to it.
//
// A history can list 100k+ files: each is kept as 8 bytes of its sha256, sorted, in one journal value
// (800 kB for 100k files), masked with 8 bytes derived from the pair: a list of known files' hashes made
// once does not read every phone's journal. (The pair's ids are in the store, so a reader of both can
// still test a file; the store lists the files it holds anyway.) The sha256s are already uniform, so
// masking them costs nothing a verification of 100k files would feel, where hashing each did. 64 bits:
// a file not carried matches one by chance once in ~2^64/n, and at worst it then stays out while no
// message here needs it.

/** Every key of this module's records. */
export const MEDIA_BASES = 'm/'
const LABEL = 'ferry/media-base/1'
/** Bytes of one kept digest. */
const DIGEST = 8

const label = (...parts: unknown[]): Uint8Array => sha256(new TextEncoder().encode(JSON.stringify([LABEL, ...parts])))

/** The key of the media base of the (old phone, store) pair. */
export const mediaBaseKey = (sourceId: string, storeId: string): string => `${MEDIA_BASES}${bytesToHex(label('pair', sourceId, storeId).subarray(0, 16))}`

/** The value the pair's digests are masked with (see above). */
function maskOf (sourceId: string, storeId: string): bigint {
  const m = label('mask', sourceId, storeId)
  return new DataView(m.buffer, m.byteOffset, m.byteLength).getBigUint64(0, true)
}

/**
 * The media base `value` of the pair (fromSource, storeId) as the base of (toSource, storeId): the same
 * files, masked with the other pair's value. Undefined for a damaged value.
 */
export function remaskMediaBase (value: Uint8Array, fromSource: string, toSource: string, storeId: string): Uint8Array | undefined {
  if (value.byteLength % DIGEST !== 0) return undefined
  const digests = new BigUint64Array(value.slice().buffer)
  const flip = maskOf(fromSource, storeId) ^ maskOf(toSource, storeId)
  for (let i = 0; i < digests.length; i++) digests[i] ^= flip
  digests.sort()
  return new Uint8Array(digests.buffer)
}

/** The files one (old phone, this store) pair's last verified transfers carried. */
export class MediaBase {
  private constructor (
    private readonly key: string,
    private readonly mask: bigint,
    private digests: BigUint64Array,
    /** The journal holds a base of another generation of the store (base-generation.ts), not read. */
    private readonly stale: boolean
  ) {}

  /** `trusted` false: the base recorded describes another generation of the store; it is not read. */
  static async load (journal: Journal, sourceId: string, storeId: string, trusted = true): Promise<MediaBase> {
    const key = mediaBaseKey(sourceId, storeId)
    const mask = maskOf(sourceId, storeId)
    const v = trusted ? await journal.get(key) : undefined
    let digests = new BigUint64Array(0)
    // A damaged entry counts as none: without a base every file comes, as at a first transfer.
    if (v !== undefined && v.byteLength % DIGEST === 0) digests = new BigUint64Array(v.slice().buffer)
    else if (v !== undefined) log('ignoring a damaged media base %s', key)
    return new MediaBase(key, mask, digests, !trusted)
  }

  get size (): number {
    return this.digests.length
  }

  /** Whether the file with this sha256 (32 bytes) was carried. */
  has (hash: Uint8Array): boolean {
    const d = this.digestOf(hash)
    const a = this.digests
    let lo = 0
    let hi = a.length - 1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      if (a[mid] === d) return true
      if (a[mid] < d) lo = mid + 1
      else hi = mid - 1
    }
    return false
  }

  /**
   * The ops that make `carried` (sha256s, 32 bytes each, of the files a verified transfer carried) the
   * base: none when it already is. `replace` for a transfer of everything; otherwise (a selection's
   * media are only its chats') they join the files kept. A stale base (load) is replaced either way.
   */
  record (carried: Iterable<Uint8Array>, replace: boolean): JournalOp[] {
    const add: bigint[] = []
    for (const h of carried) if (replace || !this.has(h)) add.push(this.digestOf(h))
    if (!replace && add.length === 0) return this.stale ? [{ key: this.key }] : []
    const next = new BigUint64Array(replace ? add.length : this.digests.length + add.length)
    next.set(add)
    if (!replace) next.set(this.digests, add.length)
    next.sort()
    if (replace && !this.stale && sameDigests(next, this.digests)) return []
    if (next.length === 0) return [{ key: this.key }]
    return [{ key: this.key, value: new Uint8Array(next.buffer) }]
  }

  private digestOf (hash: Uint8Array): bigint {
    return new DataView(hash.buffer, hash.byteOffset, hash.byteLength).getBigUint64(0, true) ^ this.mask
  }
}

function sameDigests (a: BigUint64Array, b: BigUint64Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
