import { sha256 } from '@noble/hashes/sha2.js'
import { ferry, encodeFrame, type EncodedFrame } from '../wire/codec.js'
import { contactToWire, conversationToWire } from './message-wire.js'
import { selectionKey, selectionToWire } from './selection.js'
import type { ChatStoreReader } from '../store/chat-store.js'
import type { Contact, Conversation, Selection } from '../store/model.js'
import { ManifestMedia, type MediaEntry } from './manifest-media.js'

/** What a transfer will move, as the sender computes it from its store for the effective selection. */
export interface ManifestData {
  transferId: Uint8Array
  sourceId: string
  selection: Selection
  contacts: Contact[]
  conversations: Array<{ conversation: Conversation, messageCount: number }>
  /** In sha256 order, compact: a large phone lists 100k+ files. */
  media: ManifestMedia
  totalMessages: number
  totalMediaBytes: number
}

const enc = new TextEncoder()

/**
 * A transfer id names (source store, effective selection): the same two phones asking for the same thing
 * again find the receiver's checkpoint, while a different selection starts a fresh one.
 */
export function transferIdOf (sourceId: string, selection: Selection): Uint8Array {
  return sha256(enc.encode(`ferry-transfer-v1\n${sourceId}\n${selectionKey(selection)}`)).subarray(0, 16)
}

/** The store's bulk presence check when it has one, else one hasMediaFile per lookup. */
export function mediaPresence (store: ChatStoreReader): (sha256: string) => boolean {
  return store.mediaPresence?.() ?? (sha256 => store.hasMediaFile(sha256))
}

/**
 * The manifest's header (contacts, conversations and their counts) read at once, and its media index as
 * an iterator over the store, which `manifestFrames` drains as the link takes the frames: a phone with
 * 138k files then sends its first part after the counts (~0.1 s) rather than after reading and
 * checking every record (~0.45 s), and the receiver takes in each part while the next is read.
 */
export function beginManifest (source: ChatStoreReader, selection: Selection): { manifest: ManifestData, media: Iterable<MediaEntry> } {
  const counts = source.messageCounts(selection)
  const conversations = [...source.conversations(selection)].map(conversation => ({ conversation, messageCount: counts.get(conversation.id) ?? 0 }))
  let totalMessages = 0
  for (const c of conversations) totalMessages += c.messageCount
  const manifest: ManifestData = {
    transferId: transferIdOf(source.storeId, selection),
    sourceId: source.storeId,
    selection,
    contacts: [...source.contacts(selection)],
    conversations,
    media: new ManifestMedia(),
    totalMessages,
    totalMediaBytes: 0
  }
  return { manifest, media: mediaEntries(source, selection) }
}

function * mediaEntries (source: ChatStoreReader, selection: Selection): Generator<MediaEntry> {
  // Records come in sha256 order, so the presence check lists each fan-out directory once, in turn.
  const has = mediaPresence(source)
  for (const { sha256, size, mime } of source.media(selection)) yield { sha256, size, mime, missing: !has(sha256) }
}

/** Adds an entry to the manifest's index and totals. */
function addMedia (m: ManifestData, entry: MediaEntry): void {
  m.media.push(entry)
  if (!entry.missing) m.totalMediaBytes += entry.size
}

/** The whole manifest at once (tests, tools); a sender streams it with beginManifest. */
export function buildManifest (source: ChatStoreReader, selection: Selection): ManifestData {
  const { manifest, media } = beginManifest(source, selection)
  for (const entry of media) addMedia(manifest, entry)
  return manifest
}

/**
 * Splits a manifest into frames of about `frameBytes`; the first carries the header, the last has more =
 * false and the media total. Lazily: the sender encodes a frame when the link takes it, so a 138,207-file
 * manifest is never held encoded whole (it was, with its wire objects, ~150 MiB of the large profile's
 * sender peak). With `media` (beginManifest's), the index is read from it as it goes into the frames and
 * into `m`, whose media and totalMediaBytes are complete once the last frame is out. `windowBytes`, the
 * sender's flow-control window, goes in the first frame when it is finite (the receiver acks by it; an
 * unbounded one, a backup file's, has nothing to announce: nobody acks a file).
 */
export function * manifestFrames (m: ManifestData, frameBytes: number, media?: Iterable<MediaEntry>, windowBytes = 0): Generator<EncodedFrame> {
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
  let size = 0
  const add = <K extends 'contacts' | 'conversations' | 'media'>(key: K, entry: NonNullable<ferry.Manifest.$Properties[K]>[number], entrySize: number): void => {
    if (size + entrySize > frameBytes && size > 0) {
      ready.push(encodeFrame({ manifest: { ...cur, more: true } }))
      cur = { contacts: [], conversations: [], media: [] }
      size = 0
    }
    ;(cur[key] as Array<typeof entry>).push(entry)
    size += entrySize + 8
  }
  for (const c of m.contacts) {
    const w = contactToWire(c)
    add('contacts', w, ferry.Contact.encode(w).len)
    yield * ready.splice(0)
  }
  for (const { conversation, messageCount } of m.conversations) {
    const w = conversationToWire(conversation, messageCount)
    add('conversations', w, ferry.Conversation.encode(w).len)
    yield * ready.splice(0)
  }
  for (const md of media ?? m.media) {
    if (media !== undefined) addMedia(m, md)
    add('media', md, mediaInfoLength(md))
    yield * ready.splice(0)
  }
  yield encodeFrame({ manifest: { ...cur, totalMediaBytes: m.totalMediaBytes, more: false } })
}

const varintLength = (n: number): number => {
  let len = 1
  while (n >= 128) { n = Math.floor(n / 128); len++ }
  return len
}

/** UTF-8 length, at most: each half of a surrogate pair counts 3 bytes (the pair takes 4). */
function utf8Length (s: string): number {
  let n = s.length
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0x80) n += c >= 0x800 ? 2 : 1
  }
  return n
}

const stringField = (s: string): number => {
  const n = utf8Length(s)
  return 1 + varintLength(n) + n
}

/**
 * An entry's encoded length (an upper bound), to split frames by size without encoding each entry twice
 * (that was a sixth of the large manifest's cost).
 */
export function mediaInfoLength (m: MediaEntry): number {
  return stringField(m.sha256) + 1 + varintLength(m.size) + stringField(m.mime) + (m.missing ? 2 : 0)
}
