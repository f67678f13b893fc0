import type { MessagePosition } from '../store/history.js'
import { comparePositions, type Message } from '../store/model.js'
import { idHash, orderKey } from './id-keys.js'
import { req } from './idb.js'

// Messages in IndexedDB, many to a record. IndexedDB's cost is per record (a request, a database
// entry, an index entry each), so one record per message kept the page far below the rate it reaches
// with a few hundred messages per record (docs/performance.md). So a conversation's messages are cut
// into pages in canonical order, like the leaves of a B-tree: a page is keyed by its first message,
// [conversation, ts, orderKey(id)], and holds the messages from there up to the next page's key.
//
// A page may carry `x`, the id hashes of its messages, which the `ids` index (multiEntry) makes into a
// lookup by id. Those index entries are most of what a page costs to write, so a conversation filled
// from empty in one go is written without them and indexed when something first needs to find a
// message in it by id.
//
// Pages hold the message objects as they are: columns (the conversation once, arrays of ids, times...)
// were neither faster nor smaller, as IndexedDB's LevelDB compresses the repeated field names away.

export type PageKey = [string, number, string]

/** A page as stored. */
export interface Page {
  m: Message[]
  /** The messages' id hashes, when the page is indexed. */
  x?: number[]
}

export function encodePage (messages: Message[], index: { seed: number } | undefined): Page {
  return index === undefined ? { m: messages } : { m: messages, x: messages.map(m => idHash(index.seed, m.conversation, m.id)) }
}

export function decodePage (page: Page): Message[] {
  return page.m
}

/** The key of a stored page: its first message's. */
export function keyOfPage (page: Page): PageKey {
  return keyOfMessage(page.m[0])
}

/** Messages per page, at most. */
export const PAGE_MESSAGES = 256
/**
 * Estimated bytes per page, at most: Chrome writes a value above 64 KiB as a file of its own. A single
 * message above it still gets a page of its own.
 */
export const PAGE_BYTES = 48 * 1024

export function keyOfMessage (m: Message): PageKey {
  return [m.conversation, m.ts, orderKey(m.id)]
}

export function keyOfPosition (conversation: string, p: MessagePosition): PageKey {
  return [conversation, p.ts, orderKey(p.id)]
}

/** Every page of a conversation. */
export function conversationRange (conversation: string): IDBKeyRange {
  return IDBKeyRange.bound([conversation, -Infinity], [conversation, Infinity])
}

/** Pages after `key` (exclusive) in its conversation. */
export function pagesAfter (conversation: string, key: PageKey): IDBKeyRange {
  return IDBKeyRange.bound(key, [conversation, Infinity], true, false)
}

export function compareKeys (a: PageKey, b: PageKey): number {
  return indexedDB.cmp(a, b)
}

/** A rough size of a message as IndexedDB stores it (strings may be two bytes a character). */
export function messageBytes (m: Message): number {
  return 96 + 2 * (m.id.length + m.sender.length + (m.text?.length ?? 0) + (m.media?.length ?? 0) + (m.replyTo?.length ?? 0) + (m.location?.label?.length ?? 0))
}

/** Cuts sorted messages into page-sized runs. */
export function splitPages (messages: Message[]): Message[][] {
  const out: Message[][] = []
  let run: Message[] = []
  let bytes = 0
  for (const m of messages) {
    const b = messageBytes(m)
    if (run.length > 0 && (run.length >= PAGE_MESSAGES || bytes + b > PAGE_BYTES)) {
      out.push(run)
      run = []
      bytes = 0
    }
    run.push(m)
    bytes += b
  }
  if (run.length > 0) out.push(run)
  return out
}

/** Index of the first message at or after `p` in a sorted page. */
export function lowerBound (messages: Message[], p: MessagePosition): number {
  let lo = 0
  let hi = messages.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (comparePositions(messages[mid], p) < 0) lo = mid + 1
    else hi = mid
  }
  return lo
}

/**
 * Writes a page's messages back in `os` (inside the caller's transaction): as one page or several when
 * it grew, under the key of its first message (the old key goes when that changed), or not at all when
 * it is empty.
 */
export function putPage (os: IDBObjectStore, oldKey: PageKey | undefined, messages: Message[], index: { seed: number } | undefined): void {
  if (messages.length === 0) {
    if (oldKey !== undefined) os.delete(oldKey)
    return
  }
  const first = keyOfMessage(messages[0])
  if (oldKey !== undefined && compareKeys(oldKey, first) !== 0) os.delete(oldKey)
  for (const run of splitPages(messages)) os.put(encodePage(run, index), keyOfMessage(run[0]))
}

/** The page whose range holds `key` (the last page at or before it), with its key; undefined when none is. */
export async function pageAtOrBefore (os: IDBObjectStore, conversation: string, key: PageKey): Promise<{ key: PageKey, page: Page } | undefined> {
  const c = await req(os.openCursor(IDBKeyRange.bound([conversation, -Infinity], key), 'prev'))
  return c === null ? undefined : { key: c.key as PageKey, page: c.value as Page }
}

/** The first or last page of a conversation. */
export async function endPage (os: IDBObjectStore, conversation: string, end: 'first' | 'last'): Promise<{ key: PageKey, page: Page } | undefined> {
  const c = await req(os.openCursor(conversationRange(conversation), end === 'first' ? 'next' : 'prev'))
  return c === null ? undefined : { key: c.key as PageKey, page: c.value as Page }
}

/** The key of the page after `key` in its conversation. */
export async function nextPageKey (os: IDBObjectStore, conversation: string, key: PageKey): Promise<PageKey | undefined> {
  return await req(os.getKey(pagesAfter(conversation, key))) as PageKey | undefined
}
