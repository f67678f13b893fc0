import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { logger } from '@libp2p/logger'
import type { Journal, JournalOp } from './journal.js'
import { MessageDigests } from './message-digests.js'

const log = logger('ferry:journal')

// The per-message half of the base of the three-way rule (docs/design-notes.md, "What the new phone
// deleted stays deleted"): per old phone's history and per store it went into (as leaf-bases.ts), the
// digests of the old phone's version of each message the verified transfers carried, per conversation.
// The leaf bases keep what this phone's person did in a leaf the old phone left as it was; where the old
// phone changed the leaf (an edit, a new message), its messages come, and one whose digest is here was
// not changed there since: this phone's version stays, or its absence (deleted here, it stays deleted).
//
// Each verification adds what its read-backs read (read-back-bases.ts): the messages it brought or found
// changed. What it found held the same was carried by an earlier transfer, or is this phone's own, and
// an older version a later transfer replaced stays too: the old phone sends it again only if it went
// back to exactly it. Read one conversation at a time (a whole history's set is never in memory), not
// read when the store's generation no longer matches (base-generation.ts), and dropped then.

/** Every key of this module's records. */
export const MESSAGE_BASES = 'b/'
const LABEL = 'ferry/message-base/1'

const hash = (...parts: unknown[]): string => bytesToHex(sha256(new TextEncoder().encode(JSON.stringify([LABEL, ...parts]))).subarray(0, 16))

/** The message bases of one (old phone, this store) pair. */
export class MessageBases {
  private constructor (private readonly journal: Journal, private readonly prefix: string, private readonly stale: boolean) {}

  /** `trusted` false: the bases recorded describe another generation of the store; none is read. */
  static forPair (journal: Journal, sourceId: string, storeId: string, trusted = true): MessageBases {
    return new MessageBases(journal, `${MESSAGE_BASES}${hash('pair', sourceId, storeId)}/`, !trusted)
  }

  /** The base of `conversation` (empty when none was recorded, or none is trusted). */
  async of (conversation: string): Promise<MessageDigests> {
    if (this.stale) return MessageDigests.EMPTY
    const v = await this.journal.get(this.prefix + hash('id', conversation))
    if (v === undefined) return MessageDigests.EMPTY
    const digests = MessageDigests.fromPacked(v)
    // A damaged entry counts as none: the old phone's versions come, as they always did.
    if (digests === undefined) log('ignoring a damaged message base')
    return digests ?? MessageDigests.EMPTY
  }

  /** The ops that drop the bases of another generation of the store: before those of record(). */
  dropStale (): JournalOp[] {
    return this.stale ? [{ prefix: this.prefix }] : []
  }

  /** The op that adds `carried` (what a verified transfer read back of `conversation`) to its base. */
  async record (conversation: string, carried: MessageDigests): Promise<JournalOp[]> {
    if (carried.size === 0) return []
    const had = await this.of(conversation)
    const all = had.union(carried)
    if (all.size === had.size) return []
    return [{ key: this.prefix + hash('id', conversation), value: all.packed() }]
  }
}
