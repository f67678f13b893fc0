import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { logger } from '@libp2p/logger'
import type { Journal, JournalOp } from './journal.js'
import { MessageDigests } from './message-digests.js'
import { conversationKey, READ_BACK_BASES, readDigests } from './read-back-bases.js'

const log = logger('ferry:journal')

// The per-message half of the base of the three-way rule (docs/design-notes.md, "What the new phone
// deleted stays deleted"): per old phone's history and per store it went into (as leaf-bases.ts), the
// digests of the old phone's version of each message the verified transfers carried, per conversation.
// The leaf bases keep what this phone's person did in a leaf the old phone left as it was; where the old
// phone changed the leaf (an edit, a new message), its messages come, and one whose digest is here was
// not changed there since: this phone's version stays, or its absence (deleted here, it stays deleted).
//
// Each verification adds what its read-backs read (read-back-bases.ts): the messages it brought or found
// changed. Not in the journal write that records the verification: a whole history's digests held for
// that one write weighed on the receiver's peak of memory, at its end. That write only marks the
// transfer's read-back bases as the pair's to take (PENDING); the next receive takes them over, one
// conversation a write, before anything else (settle), and a base is read only after that. What it found held the same was carried by an earlier transfer, or is this phone's own, and
// an older version a later transfer replaced stays too: the old phone sends it again only if it went
// back to exactly it. Read one conversation at a time (a whole history's set is never in memory), not
// read when the store's generation no longer matches (base-generation.ts), and dropped then.

/** Every key of this module's records. */
export const MESSAGE_BASES = 'b/'
/** A verified transfer's read-back bases, by transfer id, waiting to join the bases of the pair named. */
export const PENDING_MESSAGE_BASES = 'q/'
const LABEL = 'ferry/message-base/1'
/** About how many bytes of bases settle puts in one journal write. */
const SETTLE_WRITE_BYTES = 1 << 20
const utf8 = new TextEncoder()
const text = new TextDecoder()

const hash = (...parts: unknown[]): string => bytesToHex(sha256(new TextEncoder().encode(JSON.stringify([LABEL, ...parts]))).subarray(0, 16))

/** The prefix of the message bases of the (old phone, store) pair. */
export const messageBasesPrefix = (sourceId: string, storeId: string): string => `${MESSAGE_BASES}${hash('pair', sourceId, storeId)}/`

/** The message bases of one (old phone, this store) pair. */
export class MessageBases {
  private constructor (private readonly journal: Journal, private readonly prefix: string, private readonly stale: boolean) {}

  /** `trusted` false: the bases recorded describe another generation of the store; none is read. */
  static forPair (journal: Journal, sourceId: string, storeId: string, trusted = true): MessageBases {
    return new MessageBases(journal, messageBasesPrefix(sourceId, storeId), !trusted)
  }

  /** The base of `conversation` (empty when none was recorded, or none is trusted). */
  async of (conversation: string): Promise<MessageDigests> {
    if (this.stale) return MessageDigests.EMPTY
    return await readDigests(this.journal, this.prefix + conversationKey(conversation))
  }

  /** The op that adds `digests` to the base of `conversation` (none when it holds them all). */
  async join (conversation: string, digests: MessageDigests): Promise<JournalOp[]> {
    const key = this.prefix + conversationKey(conversation)
    const had = await readDigests(this.journal, key)
    const all = had.union(digests)
    return all.size === had.size ? [] : [{ key, value: all.packed() }]
  }

  /** The ops that drop the bases of another generation of the store (adopt's first). */
  dropStale (): JournalOp[] {
    return this.stale ? [{ prefix: this.prefix }] : []
  }

  /**
   * The ops, for the journal write that records the transfer `transferId` (hex) verified, that give what
   * its read-backs read to this pair's bases (settle takes it over), after dropping a stale generation's.
   */
  adopt (transferId: string): JournalOp[] {
    return [...this.dropStale(), { key: PENDING_MESSAGE_BASES + transferId, value: utf8.encode(this.prefix) }]
  }

  /**
   * Takes over what verified transfers left waiting (adopt): each conversation's read-back base joins
   * its pair's base, a journal write every SETTLE_WRITE_BYTES or so, then the read-back bases and the
   * mark go. Idempotent (a union), so a kill at any point is finished by the next settle. Runs before a
   * receive reads a base or starts a log: a transfer received again takes its own id's read-back bases.
   */
  static async settle (journal: Journal): Promise<void> {
    const pending: Array<[string, string]> = []
    for await (const [key, value] of journal.list(PENDING_MESSAGE_BASES)) pending.push([key.slice(PENDING_MESSAGE_BASES.length), text.decode(value)])
    for (const [transferId, pairPrefix] of pending) {
      const from = `${READ_BACK_BASES}${transferId}/`
      const conversations: string[] = []
      for await (const [key] of journal.list(from)) conversations.push(key.slice(from.length))
      let ops: JournalOp[] = []
      let bytes = 0
      for (const conversation of conversations) {
        const read = await readDigests(journal, from + conversation)
        if (read.size === 0) continue
        const key = pairPrefix + conversation
        const had = await readDigests(journal, key)
        const all = had.union(read)
        if (all.size === had.size) continue
        ops.push({ key, value: all.packed() })
        if ((bytes += all.size * 8) < SETTLE_WRITE_BYTES) continue
        await journal.write(ops)
        ops = []
        bytes = 0
      }
      await journal.write([...ops, { prefix: from }, { key: PENDING_MESSAGE_BASES + transferId }])
      log('took over the message bases transfer %s read back', transferId)
    }
  }
}
