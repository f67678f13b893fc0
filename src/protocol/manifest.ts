import { sha256 } from '@noble/hashes/sha2.js'
import { ErrorCode, FerryError } from '../errors.js'
import { ferry, encodeFrame, varintLength, type EncodedFrame } from '../wire/codec.js'
import { contactToWire } from '../wire/message-wire.js'
import { conversationEntries, refuseUnmovable, stringField } from './manifest-entries.js'
import { selectionKey, selectionToWire } from './selection.js'
import type { HistorySource, MessagePosition } from '../store/history.js'
import { comparePositions, compareStrings, type Contact, type Conversation, type Message, type Selection } from '../store/model.js'
import { ManifestMedia, type MediaEntry } from './manifest-media.js'

/** What a transfer will move, as the sender computes it from its store for the effective selection. */
export interface ManifestData {
  transferId: Uint8Array
  sourceId: string
  /** The histories the source continues (HistorySource.formerIds), newest first; empty for most. */
  formerSourceIds: string[]
  selection: Selection
  contacts: Contact[]
  /** In conversation id order (code points): the order messages are sent in. */
  conversations: Array<{ conversation: Conversation, messageCount: number }>
  /** In sha256 order, compact: a large phone lists 100k+ files. */
  media: ManifestMedia
  totalMessages: number
  totalMediaBytes: number
}

const enc = new TextEncoder()

/** Messages per read from the store. */
export const PAGE = 1024
/** The largest page asked of a store whatever it says suits it (HistorySource.messagesPerRead). */
const MAX_READ = 16 * 1024
/**
 * Media records per read. The manifest is built while the sender's process is young, its V8 young
 * generation still small: a page's records, alive as objects until they are in the index and a frame,
 * were promoted to the old generation at 8,192 a page, and stayed there as garbage through the message
 * phase (the large profile's sender peak).
 */
const MEDIA_PAGE = 1024
/** Bytes per manifest frame, at most: the frame being filled holds its entries as objects, for the same reason. */
export const MANIFEST_FRAME_BYTES = 32 * 1024

/**
 * A transfer id names (source store, effective selection): the same two phones asking for the same thing
 * again find the receiver's checkpoint, while a different selection starts a fresh one.
 */
export function transferIdOf (sourceId: string, selection: Selection): Uint8Array {
  return sha256(enc.encode(`ferry-transfer-v1\n${sourceId}\n${selectionKey(selection)}`)).subarray(0, 16)
}

/** A receiver takes at most this many former ids from a manifest, and a sender sends no more. */
export const MAX_FORMER_IDS = 8

/** The source's former ids as a manifest names them: its own id and repeats left out, at most MAX_FORMER_IDS. */
export function formerIdsOf (source: Pick<HistorySource, 'historyId' | 'formerIds'>): string[] {
  const ids: string[] = []
  for (const id of source.formerIds ?? []) {
    if (typeof id !== 'string' || id === '' || id === source.historyId || ids.includes(id)) continue
    ids.push(id)
    if (ids.length === MAX_FORMER_IDS) break
  }
  return ids
}

/** True when the selection narrows anything: a conversation list or a time bound. */
export function isFiltered (sel: Selection): boolean {
  return sel.conversations !== undefined || sel.since !== undefined || sel.until !== undefined
}

/** Where a read of a conversation starts for the selection: just before its first instant. */
export function startOf (sel: Selection): MessagePosition | undefined {
  // Strictly after (since - 1, every id): positions at since - 1 are skipped by inRange.
  return sel.since === undefined ? undefined : { ts: sel.since - 1, id: '\u{10ffff}'.repeat(8) }
}

export function inRange (sel: Selection, ts: number): boolean {
  return (sel.since === undefined || ts >= sel.since) && (sel.until === undefined || ts < sel.until)
}

/** What selectedPages reads: a store's messages, or anything kept in their order and read like them. */
export interface PagedMessages<T extends MessagePosition> {
  messages(conversation: string, after: MessagePosition | undefined, limit: number): Promise<T[]>
  readonly messagesPerRead?: number
}

/**
 * Every message of one conversation inside the selection's time bounds, read a page at a time, checked
 * to come in (ts, id) order: a store that breaks the order would otherwise fail every transfer on the
 * receiver's side, with the blame on the wrong phone. Yields the pages (never an empty one), so that a
 * caller walking millions of messages awaits once a page, not once a message.
 *
 * `readAhead`, for a caller that reads the whole conversation: pages grow to the size the store asks
 * for (messagesPerRead), and the next page is asked for before this one is yielded, so a store that
 * answers on another thread (IndexedDB) reads it while the caller works on this one. A store that
 * answers at once (SQLite) does the same work, a page earlier.
 */
export async function * selectedPages<T extends MessagePosition = Message> (source: PagedMessages<T>, conversation: string, sel: Selection, after = startOf(sel), firstPage = PAGE, readAhead = false): AsyncGenerator<T[]> {
  let pos = after
  const asked = source.messagesPerRead ?? PAGE
  const full = readAhead && Number.isFinite(asked) ? Math.max(1, Math.min(MAX_READ, Math.floor(asked))) : PAGE
  // A caller that expects few messages (one leaf) asks for a small first page; pages grow from there.
  let size = Math.max(1, Math.min(full, firstPage))
  // Without time bounds (the usual transfer) a page goes as the store gave it, once checked.
  const bounded = sel.since !== undefined || sel.until !== undefined
  let next: Promise<T[]> | undefined
  try {
    for (;;) {
      const page = await (next ?? source.messages(conversation, pos, size))
      next = undefined
      const out = checkedPage(page, conversation, sel, bounded, pos)
      if (page.length > 0) pos = page[page.length - 1]
      const more = page.length === size && !out.ended
      size = Math.min(full, size * 2)
      if (more && readAhead) next = source.messages(conversation, pos, size)
      if (out.messages.length > 0) yield out.messages
      if (!more) return
    }
  } finally {
    // A caller that stopped early: the page read ahead is not wanted, nor is its failure.
    next?.catch(() => {})
  }
}

/**
 * A page as selectedPages yields it: checked to come after `pos` in order, cut to the selection's time
 * bounds when it has them (`ended`: a message at or past `until` was reached).
 */
function checkedPage<T extends MessagePosition> (page: T[], conversation: string, sel: Selection, bounded: boolean, pos: MessagePosition | undefined): { messages: T[], ended: boolean } {
  const out: T[] = bounded ? [] : page
  for (const m of page) {
    if (pos !== undefined && ((m.ts - pos.ts) || compareStrings(m.id, pos.id)) <= 0) {
      throw new FerryError(ErrorCode.STORE, `this phone's store returned message ${conversation}/${m.id} out of (ts, id) order, after ${pos.id}`)
    }
    pos = m
    if (!bounded) continue
    if (sel.until !== undefined && m.ts >= sel.until) return { messages: out, ended: true }
    if (inRange(sel, m.ts)) out.push(m)
  }
  return { messages: out, ended: false }
}

/** selectedPages of the messages in (after, last]: `expect` of them, about. */
export async function * pagesThrough<T extends MessagePosition = Message> (source: PagedMessages<T>, conversation: string, sel: Selection, after: MessagePosition | undefined, last: MessagePosition, expect: number): AsyncGenerator<T[]> {
  for await (const page of selectedPages(source, conversation, sel, after, expect + 1)) {
    let end = 0
    while (end < page.length && comparePositions(page[end], last) <= 0) end++
    if (end > 0) yield end === page.length ? page : page.slice(0, end)
    if (end < page.length || comparePositions(page[end - 1], last) === 0) return
  }
}

/**
 * The manifest's header (contacts, conversations and their counts) read at once, and its media index as
 * an iterator over the store, which `manifestFrames` drains as the link takes the frames: a phone with
 * 138k files then sends its first part after the counts rather than after reading every record, and the
 * receiver takes in each part while the next is read. A narrowed selection is read once first for its
 * counts, the people in it and the media its messages use.
 */
export async function beginManifest (source: HistorySource, selection: Selection): Promise<{ manifest: ManifestData, media: AsyncIterable<MediaEntry[]> }> {
  const infos = (await source.conversations()).sort((a, b) => compareStrings(a.conversation.id, b.conversation.id))
  const wanted = selection.conversations === undefined ? undefined : new Set(selection.conversations)
  const chosen = wanted === undefined ? infos : infos.filter(i => wanted.has(i.conversation.id))
  let conversations = chosen.map(i => ({ conversation: i.conversation, messageCount: i.messages }))
  let contacts = (await source.contacts()).sort((a, b) => compareStrings(a.id, b.id))
  let used: Set<string> | undefined
  if (isFiltered(selection)) {
    const people = new Set<string>()
    used = new Set()
    conversations = []
    for (const { conversation } of chosen) {
      for (const member of conversation.members) people.add(member)
      let count = 0
      for await (const page of selectedPages(source, conversation.id, selection)) {
        count += page.length
        for (const m of page) {
          people.add(m.sender)
          if (m.media !== undefined) used.add(m.media)
        }
      }
      conversations.push({ conversation, messageCount: count })
    }
    contacts = contacts.filter(c => people.has(c.id))
  }
  refuseUnmovable(contacts, conversations)
  let totalMessages = 0
  for (const c of conversations) totalMessages += c.messageCount
  const manifest: ManifestData = {
    transferId: transferIdOf(source.historyId, selection),
    sourceId: source.historyId,
    formerSourceIds: formerIdsOf(source),
    selection,
    contacts,
    conversations,
    media: new ManifestMedia(),
    totalMessages,
    totalMediaBytes: 0
  }
  return { manifest, media: mediaEntries(source, used) }
}

/** The media index a page per await: an await per entry cost more than encoding it. */
async function * mediaEntries (source: HistorySource, used: Set<string> | undefined): AsyncGenerator<MediaEntry[]> {
  let after: string | undefined
  for (;;) {
    const page = await source.media(after, MEDIA_PAGE)
    const entries: MediaEntry[] = []
    for (const { sha256, size, mime, stored } of page) {
      if (used === undefined || used.has(sha256)) entries.push({ sha256, size, mime, missing: !stored })
    }
    if (entries.length > 0) yield entries
    if (page.length < MEDIA_PAGE) return
    after = page[page.length - 1].sha256
  }
}

/** Adds an entry to the manifest's index and totals. */
function addMedia (m: ManifestData, entry: MediaEntry): void {
  m.media.push(entry)
  if (!entry.missing) m.totalMediaBytes += entry.size
}

/** The whole manifest at once (tests, tools); a sender streams it with beginManifest. */
export async function buildManifest (source: HistorySource, selection: Selection): Promise<ManifestData> {
  const { manifest, media } = await beginManifest(source, selection)
  for await (const page of media) for (const entry of page) addMedia(manifest, entry)
  return manifest
}

/**
 * Splits a manifest into frames of about `frameBytes`; the first carries the header, the last has more =
 * false and the media total. Lazily: the sender encodes a frame when the link takes it, so a 138,207-file
 * manifest is never held encoded whole (it was, with its wire objects, ~150 MiB of the large profile's
 * sender peak). With `media` (beginManifest's), the index is read from it as it goes into the frames and
 * into `m`, whose media and totalMediaBytes are complete once the last frame is out. `windowBytes`, the
 * sender's flow-control window, goes in the first frame when it is finite (the receiver acks by it; an
 * unbounded one, a backup file's, has nothing to announce: nobody acks a file). `plansBases`: the sender
 * answers Holdings with a base (a file answers nothing).
 */
export async function * manifestFrames (m: ManifestData, frameBytes: number, media?: AsyncIterable<MediaEntry[]>, windowBytes = 0, plansBases = false): AsyncGenerator<EncodedFrame> {
  const ready: EncodedFrame[] = []
  let cur: ferry.Manifest.$Properties = {
    transferId: m.transferId,
    sourceId: m.sourceId,
    selection: selectionToWire(m.selection),
    totalMessages: m.totalMessages,
    contacts: [],
    conversations: [],
    media: []
  }
  if (windowBytes > 0 && windowBytes < Number.MAX_SAFE_INTEGER) cur.windowBytes = windowBytes
  if (plansBases) cur.plansBases = true
  if (m.formerSourceIds.length > 0) cur.formerSourceIds = m.formerSourceIds
  let size = 0
  let first = true
  const add = <K extends 'contacts' | 'conversations' | 'media'>(key: K, entry: NonNullable<ferry.Manifest.$Properties[K]>[number], entrySize: number): void => {
    // An entry too large to share a frame goes alone, the first one too: not with the first frame's fields.
    if (size + entrySize > frameBytes && (size > 0 || first)) {
      ready.push(encodeFrame({ manifest: { ...cur, more: true } }))
      cur = { contacts: [], conversations: [], media: [] }
      size = 0
    }
    first = false
    ;(cur[key] as Array<typeof entry>).push(entry)
    size += entrySize + 8
  }
  for (const c of m.contacts) {
    const w = contactToWire(c)
    add('contacts', w, ferry.Contact.encode(w).len)
    yield * ready.splice(0)
  }
  for (const { conversation, messageCount } of m.conversations) {
    for (const { wire, size } of conversationEntries(conversation, messageCount)) {
      add('conversations', wire, size)
      yield * ready.splice(0)
    }
  }
  const pages: AsyncIterable<MediaEntry[]> | Iterable<Iterable<MediaEntry>> = media ?? [m.media]
  for await (const page of pages) {
    for (const md of page) {
      if (media !== undefined) addMedia(m, md)
      add('media', md, mediaInfoLength(md))
      if (ready.length > 0) yield * ready.splice(0)
    }
  }
  yield encodeFrame({ manifest: { ...cur, totalMediaBytes: m.totalMediaBytes, more: false } })
}

/**
 * An entry's encoded length (an upper bound), to split frames by size without encoding each entry twice
 * (that was a sixth of the large manifest's cost).
 */
export function mediaInfoLength (m: MediaEntry): number {
  return stringField(m.sha256) + 1 + varintLength(m.size) + stringField(m.mime) + (m.missing ? 2 : 0)
}
