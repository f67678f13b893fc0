import type { MessageDigests } from '../journal/message-digests.js'
import type { MessageBases } from '../journal/message-bases.js'
import type { ReadBackBases } from '../journal/read-back-bases.js'

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
