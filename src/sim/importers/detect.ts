import { open } from 'node:fs/promises'
import { extname } from 'node:path'
import { ErrorCode, FerryError } from '../../errors.js'
import { looksLikeWhatsApp } from './whatsapp.js'

// Which format an import file is in, decided by its content (its name only breaks ties):
// - ndjson: the first non-blank line is a complete JSON object with a canonical "type".
// - telegram: a JSON object (Telegram pretty-prints result.json, so its first line is "{" alone) with
//   "messages" or "chats" among its keys.
// - whatsapp: the first non-blank line is a WhatsApp message header (Android or iOS date format).

export type ImportFormat = 'ndjson' | 'telegram' | 'whatsapp'
export const IMPORT_FORMATS: readonly ImportFormat[] = ['ndjson', 'telegram', 'whatsapp']

const HEAD_BYTES = 64 * 1024
const NDJSON_TYPES = new Set(['contact', 'conversation', 'media', 'message'])

/** Decides a file's format from its first bytes. */
export function detectFormat (head: string, name = ''): ImportFormat {
  const text = head.replace(/^\ufeff/, '')
  const first = text.split(/\r?\n/).find(l => l.trim() !== '')
  if (first === undefined) return 'ndjson'
  const trimmed = first.trim()
  if (trimmed.startsWith('{')) {
    try {
      const v = JSON.parse(trimmed) as unknown
      if (typeof v === 'object' && v !== null && NDJSON_TYPES.has((v as Record<string, unknown>).type as string)) return 'ndjson'
    } catch {}
    // A JSON document over many lines: Telegram's keys show near the top ("name", "type", "id", "messages"
    // for one chat; "about", "personal_information", "contacts", "chats" for a full export).
    if (/"(messages|chats)"\s*:/.test(text) || extname(name).toLowerCase() === '.json') return 'telegram'
    return 'ndjson'
  }
  if (looksLikeWhatsApp(text)) return 'whatsapp'
  return 'ndjson'
}

/** Reads a file's first bytes and decides its format. */
export async function detectFileFormat (path: string): Promise<ImportFormat> {
  let fh
  try {
    fh = await open(path, 'r')
  } catch (err) {
    throw new FerryError(ErrorCode.BAD_INPUT, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  try {
    const buf = Buffer.alloc(HEAD_BYTES)
    const { bytesRead } = await fh.read(buf, 0, HEAD_BYTES, 0)
    return detectFormat(buf.subarray(0, bytesRead).toString('utf8'), path)
  } finally {
    await fh.close()
  }
}
