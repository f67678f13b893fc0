import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { toLine } from '../sim/ndjson.js'
import type { HistorySink } from '../store/history.js'
import { compareStrings } from '../store/model.js'

// The page's `ferry export`: its store as canonical NDJSON, read through the History port a page at a
// time (src/sim/export.ts writes the same lines to a Node stream). Equal histories give equal bytes.

type Readable = Pick<HistorySink, 'contacts' | 'conversations' | 'media' | 'messages'>

/** Records or messages per read. */
const PAGE = 1024

/** The lines, each with its newline: contacts, conversations, media records, messages, in canonical order. */
export async function * ndjsonLines (source: Readable): AsyncGenerator<string> {
  for (const c of (await source.contacts()).sort((a, b) => compareStrings(a.id, b.id))) yield toLine('contact', c) + '\n'
  const conversations = (await source.conversations()).map(i => i.conversation).sort((a, b) => compareStrings(a.id, b.id))
  for (const c of conversations) yield toLine('conversation', c) + '\n'
  for (let after: string | undefined; ;) {
    const page = await source.media(after, PAGE)
    for (const { stored: _, ...m } of page) yield toLine('media', m) + '\n'
    if (page.length < PAGE) break
    after = page[page.length - 1].sha256
  }
  for (const c of conversations) {
    for (let after: { ts: number, id: string } | undefined; ;) {
      const page = await source.messages(c.id, after, PAGE)
      for (const m of page) yield toLine('message', m) + '\n'
      if (page.length < PAGE) break
      after = page[page.length - 1]
    }
  }
}

/** The whole export as one string (for small histories: tests compare it with the sender's). */
export async function exportNdjsonText (source: Readable): Promise<string> {
  const parts: string[] = []
  for await (const line of ndjsonLines(source)) parts.push(line)
  return parts.join('')
}

/** The export's sha256 and size, never held whole (for histories too large to hand over as a string). */
export async function exportDigest (source: Readable): Promise<{ sha256: string, bytes: number, lines: number }> {
  const h = sha256.create()
  const enc = new TextEncoder()
  let bytes = 0
  let lines = 0
  let buffered: string[] = []
  let size = 0
  const flush = (): void => {
    const b = enc.encode(buffered.join(''))
    h.update(b)
    bytes += b.byteLength
    buffered = []
    size = 0
  }
  for await (const line of ndjsonLines(source)) {
    buffered.push(line)
    size += line.length
    lines++
    if (size >= 64 * 1024) flush()
  }
  flush()
  return { sha256: bytesToHex(h.digest()), bytes, lines }
}

/** sha256 of every media file the store holds, read back from IndexedDB, by its record's sha256. */
export async function mediaDigests (store: Readable & { mediaChunks(sha256: string): AsyncIterable<Uint8Array> }): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (let after: string | undefined; ;) {
    const page = await store.media(after, PAGE)
    for (const m of page) {
      if (!m.stored) continue
      const h = sha256.create()
      for await (const piece of store.mediaChunks(m.sha256)) h.update(piece)
      out[m.sha256] = bytesToHex(h.digest())
    }
    if (page.length < PAGE) break
    after = page[page.length - 1].sha256
  }
  return out
}
