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
 * store no longer holds as it was written; undefined when every one still is. Read a conversation's run
 * of a batch at a time: it runs only once a verification failed, over a log of any size.
 */
export async function firstChangedHere (sink: HistorySink, batches: AsyncIterable<Iterable<LogItem>>): Promise<ChangedHere | undefined> {
  let run: LogItem[] = []
  const check = async (): Promise<ChangedHere | undefined> => {
    if (run.length === 0) return undefined
    const items = run
    run = []
    const stored = new Map((await sink.findMessages(items[0].conversation, items.map(it => it.id))).map(m => [m.id, m]))
    for (const it of items) {
      const now = stored.get(it.id)
      if (now === undefined) return { conversation: it.conversation, id: it.id, deleted: true }
      if (!stillAsWritten('message', now, it.written as Uint8Array)) return { conversation: it.conversation, id: it.id, deleted: false }
    }
    return undefined
  }
  for await (const batch of batches) {
    for (const it of batch) {
      if (it.written === undefined) continue
      if (run.length > 0 && run[0].conversation !== it.conversation) {
        const found = await check()
        if (found !== undefined) return found
      }
      run.push(it)
    }
    const found = await check()
    if (found !== undefined) return found
  }
  return undefined
}
