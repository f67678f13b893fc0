import type { LogItem } from '../journal/log-codec.js'
import type { Message } from '../store/model.js'
import { equalBytes } from './digest.js'
import { encodedMessage } from './leaves.js'
import type { UnchangedSince } from './message-base.js'
import { keepsOwnVersion, keepsOwnVersionOnRestore } from './own-versions.js'
import { writtenDigest } from './written-digest.js'

// What becomes of one message of the old phone's as it comes into a phone that may hold its own version,
// sans I/O: the receiver looks up this phone's version and the message base, and applies the outcome
// (writes, the undo log, the counts). The rules are docs/promises.md's "Moving again moves only what changed" and
// docs/design-notes.md's "What the new phone deleted stays deleted": moving never deletes and never
// undeletes; what only this phone changed stays; where nothing says the old phone did not change a
// message since, the old phone's version wins unless this phone's carries a later mark (own-versions.ts).

/** How the transfer merges (ReceiverInit). */
export interface MergeMode {
  /** The sender is a backup, which only adds: this phone's version stands unless the backup's is later. */
  restoring: boolean
  /** What this phone's owner deleted comes back (ferry receive --restore-deleted; a restore always). */
  restoreDeleted: boolean
}

/**
 * What becomes of the message, and the undo log's item for it (logged before anything is written).
 * - new: this phone lacks it; the old phone's is written.
 * - same: this phone holds the same bytes; nothing written.
 * - leftDeleted: deleted here, and the old phone did not change it since a base took it: it stays
 *   deleted, counted in messagesLeftDeleted (and in `messages`, so the total is reached).
 * - ownVersion: this phone's version stands, nothing written; `counted` in messagesKept at once unless
 *   this very transfer's read-back took it (a resumed session: the receiver counts those at the end, once
 *   it knows which of them the transfer wrote, so that none counts as brought twice).
 * - replaced: the old phone's version is written over this phone's, which the item keeps for an undo.
 *
 * Each but `new` and `replaced` is logged as held: nothing to undo, and verification reads it back as the
 * old phone sent it (the receiver keeps that encoding for it).
 */
export type MessageMerge =
  | { outcome: 'new' | 'same' | 'leftDeleted' | 'replaced', item: LogItem }
  | { outcome: 'ownVersion', item: LogItem, counted: boolean }

/**
 * Merges the old phone's `theirs` (`encoded` its encodedMessage, `digest` that encoding's writtenDigest)
 * with `mine`, this phone's version at the same id, or undefined where it holds none. `since` is which
 * base holds `theirs` as it is (MessageBase.unchangedSince): the old phone did not change it since.
 */
export function mergeMessage (mine: Message | undefined, theirs: Message, encoded: Uint8Array, digest: Uint8Array, since: UnchangedSince, mode: MergeMode): MessageMerge {
  const { conversation, ts, id } = theirs
  if (mine === undefined) {
    // A base held it and this phone does not: its owner deleted it, and the old phone did not change it.
    if (since !== undefined && !mode.restoreDeleted) return { outcome: 'leftDeleted', item: { flag: 'held', conversation, ts, id, written: digest } }
    return { outcome: 'new', item: { flag: 'new', conversation, ts, id, written: digest } }
  }
  const own = encodedMessage(mine)
  if (equalBytes(own, encoded)) return { outcome: 'same', item: { flag: 'held', conversation, ts, id, written: digest } }
  // Unchanged on the old phone since a base took it: only this phone changed it, and its change stands
  // (a read mark, an edit). At another place the message moved, and the sender's place is the one verified.
  const onlyHere = since !== undefined && mine.ts === ts
  if (onlyHere || (mode.restoring ? keepsOwnVersionOnRestore(mine, theirs) : keepsOwnVersion(mine, theirs))) {
    return { outcome: 'ownVersion', item: { flag: 'held', conversation, ts, id, written: writtenDigest(own) }, counted: since !== 'transfer' }
  }
  return { outcome: 'replaced', item: { flag: 'prior', conversation, ts, id, prior: mine, written: digest } }
}
