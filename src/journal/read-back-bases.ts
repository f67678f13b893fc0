import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { logger } from '@libp2p/logger'
import type { Journal, JournalOp } from './journal.js'
import { MessageDigests } from './message-digests.js'

const log = logger('ferry:journal')

// The base a transfer gives itself before its chats are ready (docs/design-notes.md, "What the new phone
// deleted stays deleted"): the digests of the old phone's version of each message its read-back read
// (Verification.readBackAll), per conversation. From then on the new phone is its person's: a read mark,
// an edit or a deletion made while the media go on is theirs. A session that resumes after the link
// dropped is sent the leaves those changes touched again, and a message whose digest is here was not
// changed on the old phone since this transfer brought it: this phone's version (or its absence) stays.
//
// Kept in the journal beside the transfer's record, so that a kill between the read-back and the media
// keeps it; every session's read-back joins it. It goes with the transfer's log when the transfer is
// refused or forgotten; once it is verified, the message bases take it (message-bases.ts).

/** Every key of this module's records. */
export const READ_BACK_BASES = 'r/'
const LABEL = 'ferry/read-back-base/1'

/** The key part that names `conversation`, here and in the message bases (which take these entries over). */
export const conversationKey = (conversation: string): string => bytesToHex(sha256(new TextEncoder().encode(JSON.stringify([LABEL, conversation]))).subarray(0, 16))

/** The op that drops every read-back base of the transfer `transferId` (hex). */
export const dropReadBackBases = (transferId: string): JournalOp => ({ prefix: `${READ_BACK_BASES}${transferId}/` })

/**
 * The digests a journal value at `key` holds: none when there is no value, and none when it is damaged,
 * so that the old phone's versions come, as they always did.
 */
export async function readDigests (journal: Journal, key: string): Promise<MessageDigests> {
  const v = await journal.get(key)
  if (v === undefined) return MessageDigests.EMPTY
  const digests = MessageDigests.fromPacked(v)
  if (digests === undefined) log('ignoring the damaged message digests at %s', key)
  return digests ?? MessageDigests.EMPTY
}

/** The read-back bases of one transfer (`transferId`, hex). */
export class ReadBackBases {
  private readonly prefix: string

  constructor (private readonly journal: Journal, transferId: string) {
    this.prefix = `${READ_BACK_BASES}${transferId}/`
  }

  /** What the transfer's read-backs read of `conversation` (empty when none did). */
  async of (conversation: string): Promise<MessageDigests> {
    return await readDigests(this.journal, this.prefix + conversationKey(conversation))
  }

  /** The op that adds `read` (a read-back of `conversation`) to what earlier sessions read of it. */
  async record (conversation: string, read: MessageDigests): Promise<JournalOp[]> {
    if (read.size === 0) return []
    const all = (await this.of(conversation)).union(read)
    return [{ key: this.prefix + conversationKey(conversation), value: all.packed() }]
  }
}
