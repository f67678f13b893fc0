import { ErrorCode, FerryError } from '../errors.js'
import type { HistoryChange } from '../store/history.js'
import type { MediaRecord } from '../store/model.js'
import { hashHex, parseHashHex } from '../hash-hex.js'
import { fromJson, jsonValue } from './journal.js'

// The undo entry of a transfer's media records: which records it added (the store held none under
// their sha256) and the versions of those it replaced. A new phone's manifest adds every record, 100k+
// on a photo-heavy phone: each is kept as its 32 bytes, where JSON would take 66.

export interface MediaPriors {
  /** sha256s of the records the store did not hold. */
  added: string[]
  /** Records the transfer replaced (another size or type), as the store held them. */
  replaced: MediaRecord[]
}

const FORMAT = 1
const HASH = 32

/** Format, number of added records, their hashes, then the replaced records as JSON. */
export function packMedia (p: MediaPriors): Uint8Array {
  const replaced = p.replaced.length === 0 ? new Uint8Array(0) : jsonValue(p.replaced)
  const out = new Uint8Array(5 + p.added.length * HASH + replaced.byteLength)
  const view = new DataView(out.buffer)
  out[0] = FORMAT
  view.setUint32(1, p.added.length)
  // Each straight into its place: a manifest's 100k+ hashes, without an array apiece.
  p.added.forEach((sha, i) => {
    if (!parseHashHex(sha, out, 5 + i * HASH)) throw new RangeError(`media sha256 ${JSON.stringify(sha)} is not 64 lowercase hex digits`)
  })
  out.set(replaced, 5 + p.added.length * HASH)
  return out
}

export function readMedia (b: Uint8Array): MediaPriors {
  if (b.byteLength < 5 || b[0] !== FORMAT) throw damaged()
  const n = new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(1)
  const end = 5 + n * HASH
  if (end > b.byteLength) throw damaged()
  const added = new Array<string>(n)
  for (let i = 0; i < n; i++) added[i] = hashHex(b, 5 + i * HASH)
  const replaced = end === b.byteLength ? [] : fromJson<MediaRecord[]>(b.subarray(end))
  if (!Array.isArray(replaced)) throw damaged()
  return { added, replaced }
}

/**
 * The change that takes back a transfer's media entries, given newest first: a record it added goes, one
 * it replaced comes back. The oldest entry that names a record says what the store held before the
 * transfer (a later session may have replaced what an earlier one added).
 */
export function mediaInverse (entries: Iterable<MediaPriors>): HistoryChange | undefined {
  const before = new Map<string, MediaRecord | undefined>()
  for (const p of entries) {
    for (const sha of p.added) before.set(sha, undefined)
    for (const r of p.replaced) before.set(r.sha256, r)
  }
  if (before.size === 0) return undefined
  const media: MediaRecord[] = []
  const remove: string[] = []
  for (const [sha, r] of before) {
    if (r === undefined) remove.push(sha)
    else media.push(r)
  }
  return { media, remove: { media: remove } }
}

const damaged = (): FerryError => new FerryError(ErrorCode.STORE, 'the journal holds a damaged undo entry')
