import type { HistorySink } from '../store/history.js'
import { againstStore } from './against-store.js'
import type { LogItem } from './log-codec.js'
import type { StillAsWritten } from './still-as-written.js'

// What a transfer brought and what this phone held before it, over all its sessions, kept in its record
// (TransferRecord.counts). A session counts only itself: after a resume, what the earlier sessions
// brought is in the store, where the next session finds it held like anything this phone had before.

export interface TransferCounts {
  /**
   * Messages the transfer wrote (new here, or over this phone's other version): counted in the same
   * journal write as their undo entry, less those of entries a resumed session found never landed.
   */
  messagesWritten: number
  /** Of the manifest's media, the files this phone held (and their bytes) as the transfer's first session began. */
  mediaFilesBefore: number
  mediaBytesBefore: number
  /**
   * Undo entries from this number on were logged since a session last checked them: the last of them
   * may never have reached the store (logged ahead of its commit), and the next session looks.
   */
  unsettledSeq: number
}

/** The counts of a transfer's first session (or of one verified and received again), which finds `held` of the manifest's files here. */
export function freshCounts (seq: number, held: { files: number, bytes: number }): TransferCounts {
  return { messagesWritten: 0, mediaFilesBefore: held.files, mediaBytesBefore: held.bytes, unsettledSeq: seq }
}

/**
 * Whether a logged batch reached the store: any message it wrote is stored as written. A store commits
 * a batch whole, so one found is the batch (the rest may have been changed here since), and none found
 * is a batch its process died before committing: the next session is sent those messages again. A store
 * that refuses the lookup (an id stored twice by a lying sender's bulk load) holds the batch.
 */
export async function batchLanded (items: LogItem[], sink: HistorySink, asWritten: StillAsWritten): Promise<boolean> {
  for await (const run of againstStore(sink, [items], asWritten, true)) {
    if (run.some(a => a.asWritten)) return true
  }
  return false
}
