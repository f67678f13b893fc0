import { againstStore } from '../journal/against-store.js'
import type { LogItem } from '../journal/log-codec.js'
import type { HistorySink } from '../store/history.js'
import { stillAsWritten } from './written-digest.js'

// Why a read-back can differ from the sender's digest other than a sender that lied: the new phone is in
// use once its chats are ready, and its person or app may recall, edit or delete a message the transfer
// wrote before verification reads it back. The session's log keeps a digest of each message as written
// (LogItem.written): one that reads back otherwise, or not at all, was changed here.

/** A message this session wrote that is no longer stored as written. */
export interface ChangedHere {
  conversation: string
  id: string
  /** Gone from the store, rather than stored otherwise. */
  deleted: boolean
}

/**
 * The first message of the session's log (`batches`, as TransferLog.sessionItems gives them) that the
 * store no longer holds as it was written; undefined when every one still is. It runs only once a
 * verification failed, over a log of any size, and stops at the first.
 */
export async function firstChangedHere (sink: HistorySink, batches: AsyncIterable<Iterable<LogItem>>): Promise<ChangedHere | undefined> {
  for await (const run of againstStore(sink, batches, stillAsWritten)) {
    const changed = run.find(c => !c.asWritten)
    if (changed !== undefined) return { conversation: changed.item.conversation, id: changed.item.id, deleted: changed.stored === undefined }
  }
  return undefined
}
