import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { toLine } from '../sim/ndjson.js'
import type { IdbChatStore } from './idb-store.js'

/**
 * The store as canonical NDJSON, in the order `ferry export` writes (contacts, conversations, media
 * records, messages): the same bytes as the Node phone's export when the histories are equal.
 */
export function exportNdjsonText (store: IdbChatStore): string {
  const lines: string[] = []
  for (const c of store.contacts()) lines.push(toLine('contact', c))
  for (const c of store.conversations()) lines.push(toLine('conversation', c))
  for (const m of store.media()) lines.push(toLine('media', m))
  for (const m of store.messages()) lines.push(toLine('message', m))
  return lines.map(l => l + '\n').join('')
}

/** sha256 of every complete media file as read back from IndexedDB, by its record's sha256. */
export async function mediaDigests (store: IdbChatStore): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const m of store.media()) {
    const blob = await store.mediaBlob(m.sha256)
    if (blob !== undefined) out[m.sha256] = bytesToHex(sha256(new Uint8Array(await blob.arrayBuffer())))
  }
  return out
}
