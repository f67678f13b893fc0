import type { MessageDigests } from '../journal/message-digests.js'
import type { MessageBases } from '../journal/message-bases.js'
import type { ReadBackBases } from '../journal/read-back-bases.js'
import type { MessagePosition } from '../store/history.js'
import { comparePositions, type Message, type Selection } from '../store/model.js'
import { inRange } from './manifest.js'

// Whether the old phone changed a message since a base took it: the per-message half of the three-way
// rule (docs/design-notes.md, "What the new phone deleted stays deleted"). The leaf rule keeps what this
// phone's person did in a leaf the old phone left as it was; where the old phone changed the leaf (or a
// session resumes, its leaves differing by what the person did since the chats were ready), its messages
// come, and each one whose digest a base holds is the old phone's version as that base took it. Then
// this phone's version stands: a read mark, an edit, or its absence (deleted here, it stays deleted).
// Only a message the old phone changed since (its digest new) is taken, as own-versions.ts decides.

/**
 * Which base holds the message as the old phone sends it: this transfer's read-back (this transfer
 * brought it), the last verified transfer's, or none.
 */
export type UnchangedSince = 'transfer' | 'verified' | undefined

/** The bases of one conversation, read when its first message comes. */
export class MessageBase {
  private constructor (private readonly readBack: MessageDigests, private readonly verified: MessageDigests) {}

  static async load (readBacks: ReadBackBases, verified: MessageBases, conversation: string): Promise<MessageBase> {
    return new MessageBase(await readBacks.of(conversation), await verified.of(conversation))
  }

  /** Where the old phone's message, of digest `digest` (writtenDigest of its encoding), is unchanged since. */
  unchangedSince (digest: Uint8Array): UnchangedSince {
    if (this.readBack.has(digest)) return 'transfer'
    return this.verified.has(digest) ? 'verified' : undefined
  }
}

/** What dates the last transfer from the old phone, for a chat deleted here (heldWhenChatDeleted). */
export interface HeldUpTo {
  /** The last message of the chat the plan kept: the base holds it unchanged. */
  kept: MessagePosition
  /** The selections verified from the old phone that hold the chat. */
  covered: readonly Selection[]
  /** When, by this phone's clock, a transfer from the old phone was last verified. */
  verifiedAt?: number
}

/**
 * Whether `m`, a message of a chat this phone's owner deleted whole since the last transfer from the old
 * phone and that no base holds, went with the chat: the old phone held it as it is then. A transfer of a
 * date selection carries only part of a chat, and deleting the chat here deletes what it did not carry
 * too, as deleting it on one phone deletes every message it holds; a later, wider transfer must not make
 * the chat again for those. A message in a selection verified from the old phone that no base holds is
 * new or changed there since (their read-backs joined the bases), and comes. One outside them all lay
 * outside what was carried: one before the last message the plan kept was held then, unless its edit
 * came after both that message and the last verified transfer (the old phone changed it since; an edit
 * is dated by the old phone's clock, the transfer by this one's, and the protocol carries no other). A
 * message after the last kept (one the old phone added since) comes, and makes the chat again, as a
 * message arriving in a deleted chat does on one phone. Without `upTo` (the plan kept nothing) nothing
 * dates the last transfer, and the message comes.
 */
export function heldWhenChatDeleted (m: Message, upTo: HeldUpTo | undefined): boolean {
  if (upTo === undefined || comparePositions(m, upTo.kept) > 0) return false
  if (upTo.covered.some(sel => inRange(sel, m.ts))) return false
  return m.editedAt === undefined || m.editedAt <= Math.max(upTo.kept.ts, upTo.verifiedAt ?? -Infinity)
}
