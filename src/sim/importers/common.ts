import { createHash } from 'node:crypto'
import { extname } from 'node:path'
import { ErrorCode, FerryError } from '../../errors.js'
import type { Contact, Conversation, MediaRecord, Message } from '../../store/model.js'
import type { SqliteChatStore } from '../../store/sqlite-store.js'
import { importNdjson, type ImportOptions, type ImportResult, type MediaBytes } from '../import.js'
import { toLine } from '../ndjson.js'
import { insidePath, type ExportSource } from './source.js'

// What the foreign-format importers (Telegram, WhatsApp) share: the mapped history they produce, the
// count of what was dropped or simplified, media files hashed from the export, and the write path. A
// mapped history is written as canonical NDJSON lines through importNdjson, so it passes the same checks
// and the same all-or-nothing transaction as an NDJSON import: on any error the store is left as it was.

/** What a person is told of a file that is none of the formats Ferry reads. */
export const NOT_RECOGNISED = 'not a recognised chat export (tried: canonical NDJSON, Telegram JSON, WhatsApp text)'

/** What was dropped or simplified (its reason, worded for the person reading the summary), with how often. */
export type Unmapped = Record<string, number>

export interface MappedHistory {
  contacts: Contact[]
  conversations: Conversation[]
  /** Media records with the export's file that holds their bytes. */
  media: MediaFile[]
  messages: Message[]
  unmapped: Unmapped
  /** What the person should check (a date order that stayed ambiguous...). */
  warnings?: string[]
  /** How the export was read (the date order and why, the time zone). */
  details?: string[]
  /** The chat's title is the person's choice (ferry import --title), not the export's. */
  titleChosen?: boolean
  /** Ids of the messages the export marks as edited (it gives no time of the edit). */
  edited?: ReadonlySet<string>
}

export interface ForeignImportResult extends ImportResult {
  format: string
  unmapped: Unmapped
  warnings: string[]
  details: string[]
}

export function note (unmapped: Unmapped, reason: string, times = 1): void {
  unmapped[reason] = (unmapped[reason] ?? 0) + times
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

/** A media record and the file in the export that holds its bytes. */
export type MediaFile = MediaRecord & { path: string }

/**
 * Hashes the media files an export refers to, each once, streaming them from the export (a folder or an
 * archive). `add` returns the sha256 to put on the message, or undefined (and counts why) when the file
 * is not in the export.
 */
export class MediaFiles {
  readonly records = new Map<string, MediaFile>()
  private readonly byPath = new Map<string, string | undefined>()

  constructor (private readonly source: ExportSource, private readonly unmapped: Unmapped) {}

  async add (path: string, mime?: string): Promise<string | undefined> {
    const rel = insidePath(path)
    // A path that leaves the export is not the export's media.
    if (rel === undefined) {
      note(this.unmapped, 'media path outside the export (not read)')
      return undefined
    }
    if (this.byPath.has(rel)) {
      const known = this.byPath.get(rel)
      if (known === undefined) note(this.unmapped, 'media file missing from the export (message kept without it)')
      return known
    }
    let sha: string | undefined
    if (await this.source.has(rel)) {
      const hash = createHash('sha256')
      let size = 0
      for await (const chunk of await this.source.open(rel)) {
        hash.update(chunk)
        size += chunk.byteLength
      }
      sha = hash.digest('hex')
      if (!this.records.has(sha)) this.records.set(sha, { sha256: sha, size, mime: mime ?? mimeOf(rel), path: rel })
    } else {
      note(this.unmapped, 'media file missing from the export (message kept without it)')
    }
    this.byPath.set(rel, sha)
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
  for (const { path, ...m } of h.media) yield toLine('media', m) + '\n'
  for (const m of h.messages) yield toLine('message', m) + '\n'
}

/**
 * Writes a mapped history into the store through the NDJSON import, its media streamed from the export:
 * one transaction, all or nothing (media files it added are removed again on failure). A history with
 * no message is refused: an export that yields none was not read as what it is.
 */
export async function writeHistory (store: SqliteChatStore, history: MappedHistory, source: ExportSource, main: string, format: string, hooks: Pick<ImportOptions, 'onMediaWriting' | 'onWritten' | 'beforeCommit'> = {}): Promise<ForeignImportResult> {
  if (history.messages.length === 0) {
    throw new FerryError(ErrorCode.BAD_INPUT, `no ${format === 'whatsapp' ? 'WhatsApp' : 'Telegram'} message found in ${main} (in ${source.label}): nothing was imported`)
  }
  const media: MediaBytes[] = history.media.map(m => ({ sha256: m.sha256, size: m.size, name: `${source.label}: ${m.path}`, open: async () => await source.open(m.path) }))
  const result = await importNdjson(store, lines(history), {
    media, titlesChosen: history.titleChosen, onMediaWriting: hooks.onMediaWriting, onWritten: hooks.onWritten, beforeCommit: hooks.beforeCommit
  })
  return { ...result, format, unmapped: history.unmapped, warnings: history.warnings ?? [], details: history.details ?? [] }
}
