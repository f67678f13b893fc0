import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { logger } from '@libp2p/logger'
import type { Journal, JournalOp } from './journal.js'

const log = logger('ferry:journal')

// The base of the three-way rule for deletions (docs/design-notes.md, "What the new phone deleted"):
// per old phone's history and per store it went into, the digests of the old phone's leaves of each
// conversation as the last verified transfer carried them (or of the runs it planned them as, where a
// date selection's edge cut a leaf: src/protocol/kept-runs.ts). A leaf of the old phone's whose digest
// is here was not changed there since; whatever this phone holds in its range is its owner's doing.
//
// Keyed by this store's history id too: a store wiped and made again must not inherit a base, which
// would keep everything the old phone sent before out of it. For the same reason bases the store's
// generation no longer matches (base-generation.ts: history.db put back to an older copy) are not read,
// and the next verification drops them before it records its own. Conversation ids are salted like the
// name bases' (name-bases.ts); the digests themselves are sha256 over whole messages and say nothing a
// reader of the journal could not learn from the store.

/** Every key of this module's records. */
export const LEAF_BASES = 'l/'
const LABEL = 'ferry/leaf-base/1'
/** Bytes of one digest (LEAF_DIGEST_BYTES; the journal must not depend on the protocol's modules). */
const DIGEST = 16

const hash = (...parts: unknown[]): string => bytesToHex(sha256(new TextEncoder().encode(JSON.stringify([LABEL, ...parts]))).subarray(0, 16))

/** The prefix of the leaf bases of the (old phone, store) pair. */
export const leafBasesPrefix = (sourceId: string, storeId: string): string => `${LEAF_BASES}${hash('pair', sourceId, storeId)}/`

/** The digests of one conversation: packed as they are kept and sent, and as a set to look them up. */
export class LeafBase {
  private readonly set: Set<string>

  constructor (readonly packed: Uint8Array) {
    this.set = new Set()
    for (let i = 0; i + DIGEST <= packed.byteLength; i += DIGEST) this.set.add(bytesToHex(packed.subarray(i, i + DIGEST)))
  }

  get size (): number {
    return this.set.size
  }

  has (digest: Uint8Array): boolean {
    return this.set.has(bytesToHex(digest))
  }

  /** The digests it holds but for `held`, packed (empty when it holds no other). */
  without (held: Uint8Array[]): Uint8Array {
    const skip = new Set(held.map(d => bytesToHex(d)))
    const out = new Uint8Array(this.packed.byteLength)
    let n = 0
    for (let i = 0; i + DIGEST <= this.packed.byteLength; i += DIGEST) {
      const d = this.packed.subarray(i, i + DIGEST)
      if (skip.has(bytesToHex(d))) continue
      out.set(d, n)
      n += DIGEST
    }
    return out.subarray(0, n)
  }

  /** True when it holds exactly `digests`, in any order. */
  equals (digests: Uint8Array[]): boolean {
    const mine = new Set(digests.map(d => bytesToHex(d)))
    if (mine.size !== this.set.size) return false
    for (const d of mine) if (!this.set.has(d)) return false
    return true
  }
}

/** The bases of one (old phone, this store) pair, read from the journal when a manifest comes. */
export class LeafBases {
  private constructor (private readonly prefix: string, private readonly byConversation: Map<string, LeafBase>, private readonly stale: boolean) {}

  /** `trusted` false: the bases recorded describe another generation of the store; none is read. */
  static async load (journal: Journal, sourceId: string, storeId: string, trusted = true): Promise<LeafBases> {
    const prefix = leafBasesPrefix(sourceId, storeId)
    const bases = new Map<string, LeafBase>()
    if (trusted) for await (const [k, v] of journal.list(prefix)) {
      // A damaged entry counts as none: without a base the old phone's leaves come, as at a first transfer.
      if (v.byteLength === 0 || v.byteLength % DIGEST !== 0) { log('ignoring a damaged leaf base %s', k); continue }
      bases.set(k.slice(prefix.length), new LeafBase(v.slice()))
    }
    return new LeafBases(prefix, bases, !trusted)
  }

  /**
   * The ops that drop the bases of another generation of the store (none when they were trusted): written
   * before the ops of record(), so that a conversation this transfer does not verify keeps none of them.
   */
  dropStale (): JournalOp[] {
    return this.stale ? [{ prefix: this.prefix }] : []
  }

  /** The base of a conversation, undefined when none was recorded. */
  of (conversation: string): LeafBase | undefined {
    return this.byConversation.get(hash('id', conversation))
  }

  /**
   * The ops that make `digests` (a verified conversation's leaves, as the old phone cut them) its base:
   * none when it already is. `replace` for a whole conversation; otherwise (a time-bounded selection
   * verified only part of it) they join the digests kept, so that the rest of it stays covered.
   */
  record (conversation: string, digests: Uint8Array[], replace: boolean): JournalOp[] {
    const key = hash('id', conversation)
    const had = this.byConversation.get(key)
    let keep = digests
    if (!replace && had !== undefined) {
      keep = digests.filter(d => !had.has(d))
      if (keep.length === 0) return []
      keep = [had.packed, ...keep]
    } else if (had?.equals(digests) === true) return []
    if (keep.length === 0) return replace && had !== undefined ? [{ key: this.prefix + key }] : []
    let n = 0
    for (const d of keep) n += d.byteLength
    const packed = new Uint8Array(n)
    let at = 0
    for (const d of keep) { packed.set(d, at); at += d.byteLength }
    return [{ key: this.prefix + key, value: packed }]
  }
}
