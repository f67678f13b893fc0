import type { EncodedMessage, MessagePosition } from '../store/history.js'
import { comparePositions, type Message } from '../store/model.js'
import { ErrorCode, FerryError } from '../errors.js'
import { encodedMessage } from '../protocol/leaves.js'
import { ferry } from '../wire/codec.js'
import { messageFromWire } from '../wire/message-wire.js'
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
// A page holds its messages as their canonical encodings (the bytes a transfer digests, src/wire), one
// byte array with their keys beside it. The read-back that verifies a transfer then hashes what is
// stored as it is (encodedMessages), where a page of message objects had each one rebuilt by
// IndexedDB's structured clone and encoded again; and a receiver stores the bytes each message came in
// (HistoryChange.encoded) without encoding it. Pages written before hold the message objects (`m`) and
// are read as they are.

export type PageKey = [string, number, string]

/** A page as stored. */
export interface Page {
  /** The messages' encodings, one after another. */
  b?: Uint8Array
  /** Where each message's encoding ends in `b`. */
  e?: Uint32Array
  /** Each message's ts and id: the keys, read without decoding a message. */
  t?: Float64Array
  i?: string[]
  /** The messages themselves, in a page written before encodings were kept. */
  m?: Message[]
  /** The messages' id hashes, when the page is indexed. */
  x?: number[]
}

/** A message's encoding and key: how pages are written. */
export function encodedEntry (m: Message): EncodedMessage {
  return { ts: m.ts, id: m.id, encoded: encodedMessage(m) }
}

export function encodePage (conversation: string, entries: EncodedMessage[], index: { seed: number } | undefined): Page {
  let size = 0
  for (const en of entries) size += en.encoded.length
  const b = new Uint8Array(size)
  const e = new Uint32Array(entries.length)
  const t = new Float64Array(entries.length)
  const i = new Array<string>(entries.length)
  let at = 0
  for (let k = 0; k < entries.length; k++) {
    const en = entries[k]
    b.set(en.encoded, at)
    e[k] = at += en.encoded.length
    t[k] = en.ts
    i[k] = en.id
  }
  const page: Page = { b, e, t, i }
  if (index !== undefined) page.x = i.map(id => idHash(index.seed, conversation, id))
  return page
}

/** The page's messages, decoded. */
export function decodePage (page: Page): Message[] {
  if (page.m !== undefined) return page.m
  const out = new Array<Message>(pageLength(page))
  for (let k = 0; k < out.length; k++) out[k] = pageMessage(page, k)
  return out
}

/** The page's `k`th message, decoded. */
export function pageMessage (page: Page, k: number): Message {
  if (page.m !== undefined) return page.m[k]
  const { b, e } = page as Required<Page>
  try {
    return messageFromWire(ferry.Message.decode(b.subarray(k === 0 ? 0 : e[k - 1], e[k])))
  } catch (err) {
    throw new FerryError(ErrorCode.STORE, `a message stored in this browser does not decode (${(err as Error).message})`)
  }
}

/** The page's messages as their encodings and keys (a page of objects encodes them). */
export function pageEntries (page: Page): EncodedMessage[] {
  if (page.m !== undefined) return page.m.map(encodedEntry)
  const { b, e, t, i } = page as Required<Page>
  const out = new Array<EncodedMessage>(e.length)
  for (let k = 0, at = 0; k < e.length; k++) {
    out[k] = { ts: t[k], id: i[k], encoded: b.subarray(at, at = e[k]) }
  }
  return out
}

/** The ids of the page's messages, in order. */
export function pageIds (page: Page): string[] {
  return page.m !== undefined ? page.m.map(m => m.id) : page.i as string[]
}

function pageLength (page: Page): number {
  return page.m !== undefined ? page.m.length : (page.i as string[]).length
}

/** The key of a stored page of `conversation`: its first message's. */
export function keyOfPage (conversation: string, page: Page): PageKey {
  return keyOfPosition(conversation, page.m?.[0] ?? { ts: (page.t as Float64Array)[0], id: (page.i as string[])[0] })
}

/** Messages per page, at most. */
export const PAGE_MESSAGES = 256
/**
 * Estimated bytes per page, at most: Chrome writes a value above 64 KiB as a file of its own. A single
 * message above it still gets a page of its own.
 */
export const PAGE_BYTES = 48 * 1024

/** A rough size of a message in a page: its encoding, its id again (two bytes a character) and its ts. */
export function entryBytes (en: EncodedMessage): number {
  return en.encoded.length + 2 * en.id.length + 16
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

/** Cuts sorted messages into page-sized runs. */
export function splitPages (entries: EncodedMessage[]): EncodedMessage[][] {
  const out: EncodedMessage[][] = []
  let run: EncodedMessage[] = []
  let bytes = 0
  for (const m of entries) {
    const b = entryBytes(m)
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
export function lowerBound (messages: MessagePosition[], p: MessagePosition): number {
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
export function putPage (os: IDBObjectStore, conversation: string, oldKey: PageKey | undefined, entries: EncodedMessage[], index: { seed: number } | undefined): void {
  if (entries.length === 0) {
    if (oldKey !== undefined) os.delete(oldKey)
    return
  }
  const first = keyOfPosition(conversation, entries[0])
  if (oldKey !== undefined && compareKeys(oldKey, first) !== 0) os.delete(oldKey)
  for (const run of splitPages(entries)) os.put(encodePage(conversation, run, index), keyOfPosition(conversation, run[0]))
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
