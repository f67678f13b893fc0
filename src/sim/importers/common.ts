import { createHash } from 'node:crypto'
import { stat } from 'node:fs/promises'
import { extname, isAbsolute, relative, resolve } from 'node:path'
import { hashFile } from '../../store/media-folder.js'
import type { Contact, Conversation, MediaRecord, Message } from '../../store/model.js'
import type { SqliteChatStore } from '../../store/sqlite-store.js'
import { importNdjson, type ImportResult } from '../import.js'
import { toLine } from '../ndjson.js'

// What the foreign-format importers (Telegram, WhatsApp) share: the mapped history they produce, the
// count of what could not be mapped, media files hashed from disk, and the write path. A mapped history
// is written as canonical NDJSON lines through importNdjson, so it passes the same checks and the same
// all-or-nothing transaction as an NDJSON import: on any error the store is left as it was.

/** Why something was not mapped (or not fully), with how often. */
export type Unmapped = Record<string, number>

export interface MappedHistory {
  contacts: Contact[]
  conversations: Conversation[]
  /** Media records with the file (relative to baseDir) that holds their bytes. */
  media: Array<MediaRecord & { path: string }>
  messages: Message[]
  unmapped: Unmapped
}

export interface ForeignImportResult extends ImportResult {
  format: string
  unmapped: Unmapped
}

export function note (unmapped: Unmapped, reason: string): void {
  unmapped[reason] = (unmapped[reason] ?? 0) + 1
}

const MIME: Record<string, string> = {
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.heic': 'image/heic',
  '.mp4': 'video/mp4',
  '.mov': 'video/quicktime',
  '.3gp': 'video/3gpp',
  '.webm': 'video/webm',
  '.ogg': 'audio/ogg',
  '.oga': 'audio/ogg',
  '.opus': 'audio/ogg',
  '.mp3': 'audio/mpeg',
  '.m4a': 'audio/mp4',
  '.aac': 'audio/aac',
  '.wav': 'audio/wav',
  '.amr': 'audio/amr',
  '.pdf': 'application/pdf',
  '.txt': 'text/plain',
  '.vcf': 'text/vcard',
  '.zip': 'application/zip',
  '.tgs': 'application/x-tgsticker',
  '.docx': 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  '.xlsx': 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'
}

/** The MIME type a file name's extension implies (application/octet-stream when unknown). */
export function mimeOf (name: string): string {
  return MIME[extname(name).toLowerCase()] ?? 'application/octet-stream'
}

/** Short stable hex digest of the parts (for ids derived from content). */
export function digest (...parts: string[]): string {
  const h = createHash('sha256')
  for (const p of parts) h.update(p).update('\0')
  return h.digest('hex').slice(0, 16)
}

/**
 * Hashes media files referenced from an export, each once. `add` returns the sha256 to put on the
 * message, or undefined (and counts 'missing media file') when the file is not there.
 */
export class MediaFiles {
  readonly records = new Map<string, MediaRecord & { path: string }>()
  private readonly byPath = new Map<string, string | undefined>()

  constructor (private readonly baseDir: string, private readonly unmapped: Unmapped) {}

  async add (path: string, mime?: string): Promise<string | undefined> {
    const abs = resolve(this.baseDir, path)
    const rel = relative(this.baseDir, abs)
    // A path that leaves the export's folder is not the export's media.
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
      note(this.unmapped, 'media path outside the export')
      return undefined
    }
    if (this.byPath.has(abs)) {
      const known = this.byPath.get(abs)
      if (known === undefined) note(this.unmapped, 'missing media file')
      return known
    }
    let sha: string | undefined
    try {
      if (!(await stat(abs)).isFile()) throw new Error('not a file')
      const d = await hashFile(abs)
      sha = d.sha256
      if (!this.records.has(sha)) this.records.set(sha, { sha256: sha, size: d.size, mime: mime ?? mimeOf(abs), path: rel })
    } catch {
      note(this.unmapped, 'missing media file')
    }
    this.byPath.set(abs, sha)
    return sha
  }
}

/** Appends `id` to `list` unless it holds it already (members in order of appearance). */
export function appear (list: string[], id: string): void {
  if (!list.includes(id)) list.push(id)
}

async function * lines (h: MappedHistory): AsyncGenerator<string> {
  for (const c of h.contacts) yield toLine('contact', c) + '\n'
  for (const c of h.conversations) yield toLine('conversation', c) + '\n'
  for (const m of h.media) yield toLine('media', m) + '\n'
  for (const m of h.messages) yield toLine('message', m) + '\n'
}

/** Writes a mapped history into the store through the NDJSON import: one transaction, all or nothing. */
export async function writeHistory (store: SqliteChatStore, history: MappedHistory, baseDir: string, format: string): Promise<ForeignImportResult> {
  const result = await importNdjson(store, lines(history), { baseDir })
  return { ...result, format, unmapped: history.unmapped }
}
