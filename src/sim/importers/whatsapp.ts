import { readFile } from 'node:fs/promises'
import { basename, dirname, resolve } from 'node:path'
import { ErrorCode, FerryError } from '../../errors.js'
import type { Contact, Message, MessageKind } from '../../store/model.js'
import type { SqliteChatStore } from '../../store/sqlite-store.js'
import { appear, digest, MediaFiles, mimeOf, note, writeHistory, type ForeignImportResult, type MappedHistory, type Unmapped } from './common.js'

// WhatsApp's "Export chat" text file. One message starts with a header line, in either format:
//   Android  12/31/23, 21:05 - Alice: text        31/12/2023, 9:05 PM - Alice: text
//   iOS      [31/12/2023, 21:05:33] Alice: text    (attachment lines start with U+200E)
// Lines without a header continue the message before. A header without "Name: " is a system line.
// Times are the phone's local time without a zone: they are read as UTC.

export interface WhatsAppOptions {
  /** The exporter's display name in the chat: their messages get sender "me". */
  me?: string
  /** The chat's title (default: from the file name, "WhatsApp Chat with X.txt" / "WhatsApp Chat - X/_chat.txt"). */
  title?: string
}

const TIME = String.raw`(\d{1,2})[./-](\d{1,2})[./-](\d{2,4}),? (\d{1,2}):(\d{2})(?::(\d{2}))?(?:[\s\u202f]?([AaPp])\.?\s?[Mm]\.?)?`
const ANDROID = new RegExp(`^${TIME} - (.*)$`)
const IOS = new RegExp(`^\\[${TIME}\\] (.*)$`)
const BIDI = /[\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g
const LEADING_BIDI = /^[\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]+/

const SYSTEM_SENDER = 'system'

interface Header {
  a: number
  b: number
  year: number
  hour: number
  minute: number
  second: number
  ampm?: string
  rest: string
  ios: boolean
  shortYear: boolean
  raw: string
}

/** The header of a line that starts a message, or undefined for a continuation line. */
export function parseHeader (line: string): Header | undefined {
  const s = line.replace(LEADING_BIDI, '')
  const ios = IOS.exec(s)
  const m = ios ?? ANDROID.exec(s)
  if (m === null) return undefined
  return {
    a: Number(m[1]),
    b: Number(m[2]),
    year: Number(m[3]) < 100 ? 2000 + Number(m[3]) : Number(m[3]),
    hour: Number(m[4]),
    minute: Number(m[5]),
    second: m[6] === undefined ? 0 : Number(m[6]),
    ampm: m[7]?.toLowerCase(),
    rest: m[8],
    ios: ios !== null,
    shortYear: m[3].length <= 2,
    raw: s
  }
}

/** Does this text look like a WhatsApp chat export (its first non-blank line is a message header)? */
export function looksLikeWhatsApp (text: string): boolean {
  const first = text.split(/\r?\n/).find(l => l.replace(BIDI, '').trim() !== '')
  return first !== undefined && parseHeader(first) !== undefined
}

/**
 * Day/month order for the whole file: a first field above 12 means day first, a second above 12 month
 * first; with neither, 2-digit years (US Android) are month first and 4-digit years day first.
 */
function dayFirst (headers: Header[]): boolean {
  if (headers.some(h => h.a > 12)) return true
  if (headers.some(h => h.b > 12)) return false
  return !headers.some(h => h.shortYear)
}

function tsOf (h: Header, dmy: boolean): number | undefined {
  const [day, month] = dmy ? [h.a, h.b] : [h.b, h.a]
  let hour = h.hour
  if (h.ampm === 'p' && hour < 12) hour += 12
  if (h.ampm === 'a' && hour === 12) hour = 0
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || h.minute > 59 || h.second > 59) return undefined
  const t = Date.UTC(h.year, month - 1, day, hour, h.minute, h.second)
  return new Date(t).getUTCDate() === day ? t : undefined
}

/** Splits "Name: text" (a sent message) from a system line. */
function splitSender (rest: string): { name?: string, text: string } {
  const i = rest.indexOf(': ')
  const bare = rest.endsWith(':') && !rest.slice(0, -1).includes(': ') ? rest.length - 1 : -1
  const at = i >= 0 ? i : bare
  if (at <= 0) return { text: rest }
  const name = rest.slice(0, at)
  // Names hold no quotes and are short; a system line quoting a subject with a colon is not a name.
  if (name.includes('"') || name.includes('“') || name.length > 80) return { text: rest }
  return { name: name.replace(BIDI, ''), text: rest.slice(at + 2) }
}

function kindOfFile (file: string): MessageKind {
  const f = basename(file)
  if (/-PHOTO-|^IMG-/i.test(f)) return 'image'
  if (/-VIDEO-|^VID-|-GIF-/i.test(f)) return 'video'
  if (/-AUDIO-|^PTT-/i.test(f)) return 'voice'
  if (/-STICKER-|^STK-/i.test(f)) return 'sticker'
  const mime = mimeOf(f)
  if (mime.startsWith('image/') && !/^AUD-|^DOC-/i.test(f)) return 'image'
  if (mime.startsWith('video/')) return 'video'
  return 'file'
}

const OMITTED: Record<string, MessageKind> = { image: 'image', video: 'video', audio: 'voice', sticker: 'sticker', gif: 'video', document: 'file' }

const DELETED = /^(This message was deleted|You deleted this message)\.?$/
const GROUP_EVENT = /\b(created group|created this group|added|removed|left|joined using this group's invite link|changed the subject|changed this group's|changed the group)\b/

function titleFromFile (file: string): string {
  const name = basename(file)
  const m = /^WhatsApp Chat (?:with|-) (.+)\.txt$/i.exec(name)
  if (m !== null) return m[1]
  if (name === '_chat.txt') {
    const dir = basename(dirname(resolve(file)))
    return /^WhatsApp Chat (?:with|-) (.+)$/i.exec(dir)?.[1] ?? dir
  }
  return name.replace(/\.txt$/i, '')
}

const PHONE = /^\+?[\d\s()\-\u00a0]{6,}$/

/** Maps the text of a WhatsApp export (media relative to baseDir) to the canonical model. */
export async function mapWhatsApp (text: string, baseDir: string, title: string, options: WhatsAppOptions = {}): Promise<MappedHistory> {
  const unmapped: Unmapped = {}
  const media = new MediaFiles(baseDir, unmapped)
  const entries: Array<{ header: Header, lines: string[] }> = []
  let orphans = 0
  for (const line of text.replace(/^\ufeff/, '').split(/\r?\n/)) {
    const header = parseHeader(line)
    if (header !== undefined) entries.push({ header, lines: [header.rest] })
    else if (entries.length > 0) entries[entries.length - 1].lines.push(line)
    else if (line.trim() !== '') orphans++
  }
  if (orphans > 0) unmapped['text before the first message'] = orphans
  // The file's last newline leaves an empty continuation line, which is no part of the message.
  const last = entries[entries.length - 1]
  while (last !== undefined && last.lines.length > 1 && last.lines[last.lines.length - 1] === '') last.lines.pop()
  if (entries.length === 0) return { contacts: [], conversations: [], media: [], messages: [], unmapped }

  const dmy = dayFirst(entries.map(e => e.header))
  // The chat's id: its title and first line, the same on every import of the file (and of later exports
  // of the same chat), different for two chats whose first line (a generic system line) is alike.
  const conversation = `wa-${digest(options.title ?? title, entries[0].header.raw)}`
  const contacts = new Map<string, Contact>()
  const members: string[] = []
  const messages: Message[] = []
  let group = false
  let previous = 0
  for (const [index, { header, lines }] of entries.entries()) {
    let ts = tsOf(header, dmy)
    if (ts === undefined) {
      // Its text is kept, at the time of the message before it.
      note(unmapped, 'invalid date (time of the message before used)')
      ts = previous
    }
    previous = ts
    const body = [header.rest, ...lines.slice(1)].join('\n')
    const { name, text: raw } = splitSender(body)
    const id = `wa${String(index).padStart(8, '0')}-${digest(String(ts), name ?? '', raw)}`
    let sender = SYSTEM_SENDER
    if (name !== undefined) {
      if (options.me !== undefined && name === options.me) sender = 'me'
      else {
        sender = `wa:${name}`
        if (!contacts.has(sender)) contacts.set(sender, PHONE.test(name) ? { id: sender, name, phone: name } : { id: sender, name })
      }
    }
    const msg: Message = { conversation, id, sender, ts, kind: 'text' }
    // iOS marks what WhatsApp wrote itself (attachments, omitted media, system lines) with a leading U+200E.
    const marked = LEADING_BIDI.test(raw)
    const content = raw.replace(LEADING_BIDI, '')
    const firstLine = content.split('\n')[0]
    /** Text after an attachment (on its line or the lines below) is its caption. */
    const caption = (rest: string): void => {
      const t = rest.replace(/^[ \n]/, '')
      if (t.trim() !== '') msg.text = t
    }
    let m: RegExpExecArray | null
    if (name === undefined) {
      msg.kind = 'system'
      msg.text = content
      if (GROUP_EVENT.test(content)) group = true
    } else if ((m = /^<attached: ([^>]+)>/.exec(content)) !== null) {
      msg.kind = kindOfFile(m[1])
      const sha = await media.add(m[1].trim())
      if (sha !== undefined) msg.media = sha
      caption(content.slice(m[0].length))
    } else if ((m = /^(.+?) \(file attached\)$/.exec(firstLine)) !== null) {
      msg.kind = kindOfFile(m[1])
      const sha = await media.add(m[1].replace(BIDI, '').trim())
      if (sha !== undefined) msg.media = sha
      caption(content.slice(firstLine.length))
    } else if (content === '<Media omitted>') {
      msg.kind = 'file'
      note(unmapped, 'media omitted from export')
    } else if ((m = /^(image|video|audio|sticker|GIF|document) omitted$/i.exec(content)) !== null) {
      msg.kind = OMITTED[m[1].toLowerCase()]
      note(unmapped, 'media omitted from export')
    } else if (/^Contact card omitted$/i.test(content)) {
      note(unmapped, 'contact card omitted')
      msg.text = content
    } else if (DELETED.test(content)) {
      msg.status = 'recalled'
    } else if ((m = /^(?:live )?location: https?:\/\/\S*[?&]q=(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?)/i.exec(content)) !== null &&
      Math.abs(Number(m[1])) <= 90 && Math.abs(Number(m[2])) <= 180) {
      msg.kind = 'location'
      msg.location = { lat: Number(m[1]), lon: Number(m[2]) }
      msg.text = content
    } else if (/^POLL:\n/.test(content)) {
      note(unmapped, 'poll')
      msg.text = raw
    } else if (marked && header.ios) {
      // iOS attributes system lines to the chat (its title, or the peer): they are no one's message.
      msg.kind = 'system'
      msg.sender = SYSTEM_SENDER
      msg.text = content
      if (GROUP_EVENT.test(content)) group = true
      messages.push(msg)
      continue
    } else {
      msg.text = raw
    }
    appear(members, sender)
    messages.push(msg)
  }
  // Two people (the exporter among them, named by --me or not) make a direct chat; more make a group.
  if (members.filter(m => m !== SYSTEM_SENDER).length > 2) group = true
  if (options.me !== undefined) appear(members, 'me')
  const used = new Set(members)
  return {
    contacts: [...contacts.values()].filter(c => used.has(c.id)),
    conversations: [{ id: conversation, kind: group ? 'group' : 'direct', title: options.title ?? title, members: members.filter(m => m !== SYSTEM_SENDER) }],
    media: [...media.records.values()],
    messages,
    unmapped
  }
}

/** Imports a WhatsApp "Export chat" .txt (media files beside it) into the store; all or nothing. */
export async function importWhatsApp (store: SqliteChatStore, file: string, options: WhatsAppOptions = {}): Promise<ForeignImportResult> {
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(await readFile(file))
  } catch (err) {
    throw new FerryError(ErrorCode.BAD_INPUT, `cannot read WhatsApp export ${file}: ${(err as Error).message}`)
  }
  const baseDir = dirname(resolve(file))
  return await writeHistory(store, await mapWhatsApp(text, baseDir, titleFromFile(file), options), baseDir, 'whatsapp')
}
