import { ErrorCode, isFerryError } from '../errors.js'
import type { HistorySink } from '../store/history.js'
import type { Message } from '../store/model.js'
import type { LogItem } from './log-codec.js'
import type { StillAsWritten } from './still-as-written.js'

// The undo (transfer-log.ts) and a refusal's diagnosis (protocol/changed-here.ts) ask the same of each
// message a transfer logged: does the store still hold it as written? Both walk a log of any size, after
// a failure, so both read the store a conversation's run of a batch at a time, as the batch wrote them.

/** A logged message against the store: the version it holds now (undefined: none), and whether that is still the one written. */
export interface Against {
  item: LogItem
  stored: Message | undefined
  asWritten: boolean
}

/**
 * Each item of `batches` against the store, a conversation's run of a batch at a time (the consumer may
 * stop at any run). An item logged without a digest (by a version from before they were kept) is not
 * looked up and counts as written: it is undone as it always was.
 *
 * `refusedAsWritten`: a store that refuses to look keys up because the transfer stored an id twice (a
 * lying sender's bulk load, sqlite-store.ts: ORDER) refuses every other write until it is undone, so
 * nothing changed them since, and the undo takes each of the run as written. Otherwise the refusal is
 * thrown.
 */
export async function * againstStore (sink: HistorySink, batches: AsyncIterable<Iterable<LogItem>> | Iterable<Iterable<LogItem>>,
  asWritten: StillAsWritten, refusedAsWritten = false): AsyncGenerator<Against[]> {
  const lookUp = async (run: LogItem[]): Promise<Against[]> => {
    let found: Message[]
    try {
      found = await sink.findMessages(run[0].conversation, run.map(it => it.id))
    } catch (err) {
      if (!refusedAsWritten || !isFerryError(err, ErrorCode.ORDER)) throw err
      return run.map(item => ({ item, stored: undefined, asWritten: true }))
    }
    const stored = new Map(found.map(m => [m.id, m]))
    return run.map(item => {
      const now = stored.get(item.id)
      return { item, stored: now, asWritten: asWritten('message', now, item.written as Uint8Array) }
    })
  }
  for await (const batch of batches) {
    const undigested: Against[] = []
    let run: LogItem[] = []
    for (const item of batch) {
      if (item.written === undefined) { undigested.push({ item, stored: undefined, asWritten: true }); continue }
      if (run.length > 0 && run[0].conversation !== item.conversation) {
        yield await lookUp(run)
        run = []
      }
      run.push(item)
    }
    if (run.length > 0) yield await lookUp(run)
    if (undigested.length > 0) yield undigested
  }
}
