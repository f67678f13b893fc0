import type { Message } from '../store/model.js'
import type { MessagePosition } from '../store/history.js'
import { encodeChatMessage } from '../wire/message-encoder.js'
import { createSha256, type Sha256 } from './sha256.js'

// A conversation is cut into leaves: runs of consecutive messages ending at a message whose key (ts, id)
// hashes to a boundary. The cut depends only on the keys, so two phones holding the same messages cut
// them the same way, and a message added or edited disturbs only the leaf it falls in: comparing leaf
// digests finds what differs between two histories without sending either (range reconciliation, as in
// rsync or Negentropy). A leaf's digest is a sha256 over its messages' encodings; a conversation's
// digest is a sha256 over its leaf digests, which is what the receiver recomputes from its store to
// verify a transfer.

/** Messages per leaf, on average: a power of two. */
export const LEAF_SPAN = 64

/**
 * A leaf ends after this many messages whatever their keys: bounds what a listed leaf costs on the wire
 * when keys happen (or are made) not to cut. Both phones cut the same way, so only a history with such
 * a run can misalign, and it then lists more than it must, nothing worse.
 */
export const LEAF_MAX = 1024
/** ...and after this many bytes of keys, so that a listed leaf always fits a frame. */
export const LEAF_MAX_KEY_BYTES = 256 * 1024

/** Bytes of a leaf digest on the wire. */
export const LEAF_DIGEST_BYTES = 16

/**
 * True when the message with this key ends a leaf. A 32-bit FNV-1a over the id's code units and the
 * timestamp, finished with a murmur3 mix: not cryptographic, and need not be (a sender that picked its
 * keys to make one giant leaf would only make its own transfer list more).
 */
export function endsLeaf (ts: number, id: string): boolean {
  let h = 0x811c9dc5
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  h ^= ts | 0
  h = Math.imul(h, 0x01000193)
  h ^= Math.floor(ts / 0x100000000) | 0
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return (h & (LEAF_SPAN - 1)) === 0
}

export interface LeafSummary {
  first: MessagePosition
  last: MessagePosition
  count: number
  /** LEAF_DIGEST_BYTES of sha256. */
  digest: Uint8Array
}

/** The encoding a message is digested and sent as. */
export function encodedMessage (m: Message): Uint8Array {
  return encodeChatMessage(m)
}

/** The first 8 bytes of the sha256 of a message's encoding: how a listed message is compared. */
export function messageHash (encoded: Uint8Array): Uint8Array {
  const h = createSha256()
  h.update(encoded)
  return h.digest().subarray(0, 8)
}

/**
 * Cuts a conversation's messages, fed in (ts, id) order with their encodings, into leaves. Each complete
 * leaf goes to `onLeaf`; `finish` emits the last, unterminated one.
 */
export class LeafCutter {
  private hash?: Sha256
  private first?: MessagePosition
  // The last key as two fields, made a position once its leaf ends: an object per message was garbage.
  private lastTs = 0
  private lastId = ''
  private count = 0
  private keyBytes = 0
  private readonly len = new Uint8Array(4)
  private readonly lenView = new DataView(this.len.buffer)

  constructor (private readonly onLeaf: (leaf: LeafSummary) => void) {}

  add (ts: number, id: string, encoded: Uint8Array): void {
    if (this.hash === undefined) {
      this.hash = createSha256()
      this.first = { ts, id }
    }
    this.lenView.setUint32(0, encoded.byteLength)
    this.hash.update(this.len)
    this.hash.update(encoded)
    this.count++
    this.keyBytes += 24 + id.length * 3
    this.lastTs = ts
    this.lastId = id
    if (this.count === LEAF_MAX || this.keyBytes >= LEAF_MAX_KEY_BYTES || endsLeaf(ts, id)) this.emit()
  }

  /** True while a leaf has begun and not ended. */
  get open (): boolean {
    return this.hash !== undefined
  }

  finish (): void {
    if (this.hash !== undefined) this.emit()
  }

  private emit (): void {
    const digest = (this.hash as Sha256).digest().subarray(0, LEAF_DIGEST_BYTES)
    const leaf: LeafSummary = { first: this.first as MessagePosition, last: { ts: this.lastTs, id: this.lastId }, count: this.count, digest }
    this.hash = undefined
    this.first = undefined
    this.count = 0
    this.keyBytes = 0
    this.onLeaf(leaf)
  }
}

/** One leaf's digest over messages fed in order, cut nowhere (the sender said where its leaf ends). */
export class LeafHasher {
  private readonly hash = createSha256()
  private readonly len = new Uint8Array(4)
  private readonly lenView = new DataView(this.len.buffer)
  count = 0

  add (encoded: Uint8Array): void {
    this.lenView.setUint32(0, encoded.byteLength)
    this.hash.update(this.len)
    this.hash.update(encoded)
    this.count++
  }

  digest (): Uint8Array {
    return this.hash.digest().subarray(0, LEAF_DIGEST_BYTES)
  }
}

/** A conversation's digest: sha256 over its leaf digests in order, and its message count. */
export class ConversationRoot {
  private readonly hash = createSha256()
  private done?: Uint8Array
  count = 0
  /** The leaf digests, in order. */
  readonly leaves: Uint8Array[] = []

  add (leaf: Pick<LeafSummary, 'count' | 'digest'>): void {
    if (this.done !== undefined) throw new Error('a conversation root was added to after its digest')
    this.hash.update(leaf.digest)
    this.leaves.push(leaf.digest)
    this.count += leaf.count
  }

  /** The root, once every leaf is in (asking again gives the same). */
  digest (): Uint8Array {
    this.done ??= this.hash.digest()
    return this.done
  }
}
