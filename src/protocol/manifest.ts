import { sha256 } from '@noble/hashes/sha2.js'
import { ferry, encodeFrame, type EncodedFrame } from '../wire/codec.js'
import { contactToWire, conversationToWire } from './message-wire.js'
import { selectionKey, selectionToWire } from './selection.js'
import type { ChatStoreReader } from '../store/chat-store.js'
import type { Contact, Conversation, Selection } from '../store/model.js'
import { ManifestMedia } from './manifest-media.js'

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

export function buildManifest (source: ChatStoreReader, selection: Selection): ManifestData {
  const counts = source.messageCounts(selection)
  const conversations = [...source.conversations(selection)].map(conversation => ({ conversation, messageCount: counts.get(conversation.id) ?? 0 }))
  // Streamed from the store into the compact list: no array of every record, even for a moment.
  const media = new ManifestMedia()
  let totalMediaBytes = 0
  const has = mediaPresence(source)
  for (const { sha256, size, mime } of source.media(selection)) {
    const missing = !has(sha256)
    media.push({ sha256, size, mime, missing })
    if (!missing) totalMediaBytes += size
  }
  let totalMessages = 0
  for (const c of conversations) totalMessages += c.messageCount
  return {
    transferId: transferIdOf(source.storeId, selection),
    sourceId: source.storeId,
    selection,
    contacts: [...source.contacts(selection)],
    conversations,
    media,
    totalMessages,
    totalMediaBytes
  }
}

/**
 * Splits a manifest into frames of about `frameBytes`; the first carries the header, the last has more =
 * false. Lazily: the sender encodes a frame when the link takes it, so a 138,207-file manifest is never
 * held encoded whole (it was, with its wire objects, ~150 MiB of the large profile's sender peak).
 */
export function * manifestFrames (m: ManifestData, frameBytes: number): Generator<EncodedFrame> {
  const ready: EncodedFrame[] = []
  let cur: ferry.Manifest.$Properties = {
    transferId: m.transferId,
    sourceId: m.sourceId,
    selection: selectionToWire(m.selection),
    totalMessages: m.totalMessages,
    totalMediaBytes: m.totalMediaBytes,
    contacts: [],
    conversations: [],
    media: []
  }
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
  for (const md of m.media) {
    const w: ferry.MediaInfo.$Properties = md
    add('media', w, ferry.MediaInfo.encode(w).len)
    yield * ready.splice(0)
  }
  yield encodeFrame({ manifest: { ...cur, more: false } })
}
