import { basename } from 'node:path'
import { ErrorCode, FerryError } from '../../errors.js'
import type { Contact, Message } from '../../store/model.js'
import type { SqliteChatStore } from '../../store/sqlite-store.js'
import { appear, digest, MediaFiles, mimeOf, note, writeHistory, type ForeignImportResult, type MappedHistory, type Unmapped } from './common.js'
import { decideDateOrder, gregorianYear, readDate, writtenYear, type DateOrder, type Era, type LanguageHint, type WrittenDate } from './date-order.js'
import { dirOf, joinPath, type ExportSource } from './source.js'
import type { ImportOptions } from '../import.js'
import { machineZone, ZoneClock, type WallClock } from './wall-clock.js'
import { captionOf, omittedDocument } from './whatsapp-documents.js'
import { matchStore } from './whatsapp-identity.js'
import { languageHint, type HeaderWords } from './whatsapp-language.js'
import {
  attachment, type Attachment, dateInFileName, isBlockChange, isCall, isDeleted, isDistinctSystem, isGroupEvent, isGroupEventBy, isPoll, isRightToLeftWording, isSpecificGroupEvent, kindOfFile, location, omitted, omittedAt, omittedLine,
  withoutEditMark
} from './whatsapp-phrases.js'

// WhatsApp's "Export chat" text file. A message starts with a header line; the lines after it without
// one continue it. Every era and platform writes the header its own way:
//   Android          12/31/23, 9:05 PM - Alice: text      31.12.23, 21:05 - Alice: text    20/08/24 14.30 - Alice: text
//   iOS              [31/12/2023, 21:05:33] Alice: text   [12/31/23, 9:05:33 PM] Alice: text
//   iOS before 2017  30/08/16, 17:03:58: Alice: text      08/10/13 14:07:41: Alice: text
// with am/pm in the phone's language (a. m., vorm., ÖS...), before the time in some (오후 9:05), and
// years in the Buddhist Era on phones in Thailand (5/1/67, [1/5/2567 BE, 20:15:33]).
// One export writes all its headers alike: a line that reads as a header but is written otherwise, or
// whose date is no date in the file's order, is text someone pasted into a message; so is a run of
// headers dated well before the message they follow, after which the export returns (pastedBack).
// A header without "Name: " is a system line. iOS marks what WhatsApp wrote itself (attachments,
// omitted media, system lines it attributes to the chat) with a leading U+200E; in Arabic it writes
// U+200F, which a person's text may begin with too, so there the mark counts only before WhatsApp's
// own wording. Such a line with an author becomes a system message only when its text is a known
// system phrase or its author is the chat itself. Dates are read in one order for the whole file
// (date-order.ts), times in one time zone (wall-clock.ts).

export interface WhatsAppOptions extends Pick<ImportOptions, 'onMediaWriting' | 'onWritten' | 'beforeCommit'> {
  /** The exporter's display name in the chat: their messages get sender "me". */
  me?: string
  /** The chat's title (default: from the file or archive name, "WhatsApp Chat with X"). */
  title?: string
  /** Force the order of day, month and year instead of deciding it from the file. */
  dateOrder?: DateOrder
  /** IANA time zone the times are read in (default: the machine's). */
  timeZone?: string
}

/** Persian writes its am/pm with a final dot or without ("ب.ظ." or "ب.ظ"). */
const AM = ['am', 'a.m.', 'a. m.', 'vorm.', 'öö', 'ص', 'ق.ظ.', 'ق.ظ', '上午', '오전', '午前', 'π.μ.', 'ก่อนเที่ยง']
const PM = ['pm', 'p.m.', 'p. m.', 'nachm.', 'ös', 'م', 'ب.ظ.', 'ب.ظ', '下午', '오후', '午後', 'μ.μ.', 'หลังเที่ยง']
const AMPM = [...AM, ...PM].map(w => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/ /g, '\\s?')).join('|')

/**
 * Direction marks a right-to-left phone writes inside its headers (U+200F after the day and the month,
 * U+061C, U+200E): they may stand wherever a header allows a space, and around its separators.
 */
const MARKS = String.raw`[\u200e\u200f\u061c]*`
const GAP = String.raw`${MARKS}\s?${MARKS}`
/** A year may carry the Buddhist Era's mark: iOS with the Buddhist calendar writes "2/29/2567 BE". */
const DATE = String.raw`${MARKS}(\d{1,4})${MARKS}([./\-\u2011])${GAP}(\d{1,2})${MARKS}[./\-\u2011]${GAP}(\d{1,4})(\sBE)?${MARKS}\.?`
const TIME = String.raw`(?:(${AMPM})${GAP})?(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?(?:${GAP}(${AMPM}))?`
/**
 * Between date and time: a comma (the Arabic one in Arabic, Persian and Urdu), spaces, or a word
 * ("31/12/2023 à 21:05" in French, "12.3.2022 klo 14.08" in Finnish).
 */
const JOIN_WORDS = ['à', 'às', 'klo']
const JOIN = String.raw`(?:${MARKS}[,\u060c][\s\u200e\u200f\u061c]*|\s+(?:(?:${JOIN_WORDS.join('|')})\s+)?)`
const JOIN_WORD = new RegExp(String.raw`\s(${JOIN_WORDS.join('|')})\s`, 'iu')
const BRACKETED = new RegExp(String.raw`^\[${DATE}${JOIN}${TIME}${MARKS}\]\s?(.*)$`, 'iu')
const PLAIN = new RegExp(String.raw`^${DATE}${JOIN}${TIME}(?:${MARKS}\s${MARKS}[-–]${MARKS}\s|:\s)(.*)$`, 'iu')
/** Arabic-Indic digits (Arabic) and Extended Arabic-Indic digits (Persian, Urdu), which phones in those languages write dates in. */
const EASTERN_DIGITS = /[\u0660-\u0669\u06f0-\u06f9]/g
/** The same text with its Eastern Arabic digits as ASCII ones, each still one UTF-16 unit, so positions stay the same. */
const asciiDigits = (s: string): string => s.replace(EASTERN_DIGITS, d => String(d.charCodeAt(0) & 0xf))
/** Marks WhatsApp puts around names and in front of what it wrote itself. */
const BIDI = /[\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g
const LEADING_MARKS = /^[\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]+/

const SYSTEM_SENDER = 'system'
const FIRST_WHATSAPP_YEAR = 2009
const ORDER_NAMES = { dmy: 'day/month/year', mdy: 'month/day/year', ymd: 'year/month/day' }
/** Largest chat text read: the whole text is held while it is mapped. */
const MAX_TEXT_BYTES = 512 * 1024 * 1024

export interface Header {
  date: WrittenDate
  hour: number
  minute: number
  second: number
  ampm?: 'a' | 'p'
  rest: string
  ios: boolean
  /** The date and time as written: what message ids are made from, whatever zone or order they are read in. */
  stamp: string
  /** The words of the phone's language in the header, which may tell how it orders day and month. */
  words: HeaderWords
  /**
   * How the header is written, apart from its values: brackets, separator, year first or last and its
   * digits, am/pm, seconds, the script of its digits. An export writes every header alike; one written otherwise is text a person
   * pasted (a log line, a quoted message from another phone).
   */
  shape: string
}

/** The header of a line that starts a message, or undefined for a continuation line. */
export function parseHeader (line: string): Header | undefined {
  const s = line.replace(LEADING_MARKS, '')
  // The header is read with ASCII digits; the message after it is taken from the line as written.
  const ascii = asciiDigits(s)
  const bracketed = BRACKETED.exec(ascii)
  const m = bracketed ?? PLAIN.exec(ascii)
  if (m === null) return undefined
  const written = m[6] ?? m[10]
  const word = written?.toLowerCase().replace(/\s/g, '')
  const ampm = word === undefined ? undefined : AM.some(w => w.replace(/\s/g, '') === word) ? 'a' : 'p'
  const rest = s.slice(s.length - m[11].length)
  const stamp = s.slice(0, s.length - rest.length)
  const digits = /[\u0660-\u0669]/.test(stamp) ? 'ar' : /[\u06f0-\u06f9]/.test(stamp) ? 'fa' : ''
  const separator = m[2] === '\u2011' ? '-' : m[2]
  return {
    date: { a: Number(m[1]), b: Number(m[3]), c: Number(m[4]), aDigits: m[1].length, separator, twelveHour: ampm !== undefined, buddhist: m[5] !== undefined },
    hour: Number(m[7]),
    minute: Number(m[8]),
    second: m[9] === undefined ? 0 : Number(m[9]),
    ampm,
    rest,
    ios: bracketed !== null,
    stamp,
    words: { ampm: written?.replace(/\s+/g, ' '), join: JOIN_WORD.exec(stamp)?.[1], digits: digits === 'ar' ? 'arabic-indic' : digits === 'fa' ? 'extended-arabic-indic' : 'latin' },
    shape: [bracketed !== null ? '[]' : '', separator, m[1].length === 4 ? 'Y' : 'd', m[4].length > 2 ? 'Y' : 'y', m[5] === undefined ? '' : 'BE', ampm === undefined ? '' : 'ampm', m[9] === undefined ? '' : 's', digits].join(' ')
  }
}

/** Does this text look like a WhatsApp chat export (a message header among its first lines)? */
export function looksLikeWhatsApp (text: string): boolean {
  const lines = text.split(/\r\n|\r|\n/).filter(l => l.replace(BIDI, '').trim() !== '').slice(0, 10)
  return lines.length > 0 && (parseHeader(lines[0]) !== undefined || lines.filter(l => parseHeader(l) !== undefined).length >= 2)
}

/** A display name as the chat shows it: without direction marks, the "~ " of a non-contact, or spaces around it. */
function cleanName (name: string): string {
  return name.replace(BIDI, '').replace(/\u2011/g, '-').replace(/^~[\s\u202f]*/, '').trim()
}

/** The quotes a system line puts around a group's subject, in any language. */
const QUOTES = /["“”„«»]/g

/**
 * Does the text start with the mark iOS puts before what WhatsApp wrote itself? That mark is U+200E.
 * A phone in Arabic puts U+200F there instead, a mark a person's own right-to-left text may begin
 * with too: it marks the line only before WhatsApp's own wording in such a language, so a person's
 * message is never taken for WhatsApp's for its first character.
 */
const isMarked = (text: string): boolean =>
  text.startsWith('\u200e') || (text.startsWith('\u200f') && isRightToLeftWording(text.replace(LEADING_MARKS, '').replace(/\u200e/g, '')))

/** Splits "Name: text" (a sent message) from a system line. */
function splitSender (rest: string): { name?: string, text: string } {
  // The name stands on the header line: a colon in the lines after it is the message's text.
  const first = rest.split('\n', 1)[0]
  const i = first.indexOf(': ')
  const bare = first.endsWith(':') && !first.slice(0, -1).includes(': ') ? first.length - 1 : -1
  const at = i >= 0 ? i : bare
  if (at <= 0) return { text: rest }
  const raw = rest.slice(0, at)
  // Names are short, and hold quotes only in pairs (Robert "Bob" Smith, a nickname in the phone's
  // contacts); a colon inside the subject a system line quotes ("Ann created group "Plans: 2024"")
  // comes after an opening quote not yet closed.
  if ((raw.match(QUOTES)?.length ?? 0) % 2 === 1 || raw.length > 80) return { text: rest }
  const name = cleanName(raw)
  if (name === '') return { text: rest }
  return { name, text: rest.slice(at + 2) }
}

/**
 * What a browser or a phone appends to a file's name when one of that name is there already: " (1)"
 * (Chrome, Android's Files), "(1)" (Firefox). Android's download manager appends "-1", but group names
 * end so too ("Flat-3", "Team-2"): stripped, two groups would share a title and could be taken for one
 * chat. A file saved so keeps the suffix, and is found by its messages (whatsapp-identity.ts) or stays
 * a chat of its own.
 */
const COPY_SUFFIX = /\s?\(\d{1,3}\)$/u

/** The chat's title from WhatsApp's file name in the phone's language ("WhatsApp Chat with Dave.txt" -> "Dave"). */
export function titleFromName (name: string): string {
  const stem = name.replace(/\.(txt|zip)$/i, '').replace(COPY_SUFFIX, '').replace(/_/g, ' ').trim()
  const m = /^(?:WhatsApp[ -]?Chat|Chat(?: de)? WhatsApp|Conversa (?:do|no) WhatsApp|Discussion WhatsApp|Чат WhatsApp|WhatsApp Sohbeti)\s*(?:with|-|con|com|avec|mit|met|с|dengan|ile)\s+(.+)$/iu.exec(stem)
  return m?.[1].trim() ?? stem
}

const PHONE = /^\+?[\d\s()\-\u00a0]{6,}$/

interface Entry {
  header: Header
  /** The header line as written, for when it turns out to be text. */
  line: string
  lines: string[]
}

/** Makes an entry, its header line included, text of the entry before it. */
function absorb (into: Entry, e: Entry): void {
  into.lines.push(e.line)
  for (let i = 1; i < e.lines.length; i++) into.lines.push(e.lines[i])
}

/** The wall-clock time a header names when its date is read in `order` and `era`; undefined when it names none. */
function wallClockOf (header: Header, order: DateOrder, era: Era): WallClock | undefined {
  const d = readDate(header.date, order, era)
  let hour = header.hour
  if (header.ampm === 'p' && hour < 12) hour += 12
  if (header.ampm === 'a' && hour === 12) hour = 0
  if (d === undefined || hour > 23 || header.minute > 59 || header.second > 59) return undefined
  return { ...d, hour, minute: header.minute, second: header.second }
}

/**
 * The era the file counts its years in, judged by its first date that reads. WhatsApp began in 2009:
 * a year before it is a calendar other than the Gregorian (the Solar Hijri 1402 or the Hijri 1445 a
 * phone in Persian or Arabic may write). A year past the next is no Gregorian year a phone wrote; when
 * it is one in the Buddhist Era, which phones in Thailand count in, the file is read so. Any other year
 * is refused rather than stored as a wrong date, as is a year marked "BE" that names no such time.
 */
function eraOf (entries: readonly Entry[], order: DateOrder, main: string): { era: Era, detail?: string } {
  const first = entries.find(e => readDate(e.header.date, order) !== undefined || readDate(e.header.date, order, 'buddhist') !== undefined)?.header.date
  if (first === undefined) return { era: 'gregorian' }
  const written = writtenYear(first, order)
  const latest = new Date().getUTCFullYear() + 1
  const plausible = (y: number): boolean => y >= FIRST_WHATSAPP_YEAR && y <= latest
  const buddhist = gregorianYear(written, 'buddhist')
  const era: Era = first.buddhist === true || (gregorianYear(written) > latest && plausible(buddhist)) ? 'buddhist' : 'gregorian'
  const year = gregorianYear(written, era)
  const dated = era === 'buddhist' ? `${written}${first.buddhist === true ? ' BE' : ''} (${year})` : String(year)
  if (year < FIRST_WHATSAPP_YEAR) {
    throw new FerryError(ErrorCode.BAD_INPUT, `${main}: the first message is dated ${dated}, before WhatsApp existed: the phone wrote its dates in a calendar other than the Gregorian, which is not read; export again with the phone set to the Gregorian calendar`)
  }
  if (year > latest) {
    throw new FerryError(ErrorCode.BAD_INPUT, `${main}: the first message is dated ${dated}, in the future: the phone wrote its dates in a calendar that is not read (the Gregorian and the Buddhist Era are), or its clock was wrong; export again with the phone set to the Gregorian calendar and the right date`)
  }
  if (era === 'gregorian') return { era }
  return { era, detail: `years read in the Buddhist Era (the first, written ${written}${first.buddhist === true ? ' BE' : ''}, is ${year})` }
}

/**
 * The instants of the export's wall-clock times, in order: a time the clocks showed twice (when they
 * went back) is its later occurrence when the earlier one would come before the message before it, as
 * an export is in the order messages arrived. A first header without a date takes the next one's time.
 */
function instantsOf (times: ReadonlyArray<WallClock | undefined>, clock: ZoneClock): number[] {
  const instants: number[] = []
  let before: number | undefined
  for (const w of times) {
    if (w === undefined) {
      instants.push(NaN)
      continue
    }
    before = clock.toInstant(w, before)
    instants.push(before)
  }
  if (Number.isNaN(instants[0])) instants[0] = instants[1]
  return instants
}

const DAY = 86_400_000

/**
 * The headers that are text pasted into the message before them: a run of them more than a day before
 * the message they follow, after which the export's next header returns to within a day of it, and
 * whose senders are people quoted, not members: none of them writes anywhere in the export outside such
 * runs, nor is one of `known` (the exporter, the person a chat is named after). An export is in the order messages arrived, a little out of it at
 * most (a message sent offline, a phone's clock a little off), and a phone whose clock jumped back stays
 * back for what it sends after: only a run that ends with the export back where it was can be lines
 * quoted from an older chat. A run that lasts to the end of the file is kept as messages, and so is one
 * with a line by a member (messages sent offline and delivered days late): taking them for text would
 * give a person's words to the one who wrote before them.
 */
function pastedBack (instants: readonly number[], names: ReadonlyArray<string | undefined>, known: ReadonlySet<string>): Set<number> {
  // The latest instant from each header on, so a run without a return is not searched to the end each time.
  const latestFrom = new Array<number>(instants.length + 1).fill(-Infinity)
  for (let i = instants.length - 1; i >= 0; i--) latestFrom[i] = Math.max(instants[i], latestFrom[i + 1])
  const runs: number[][] = []
  let before = instants[0]
  for (let i = 1; i < instants.length; i++) {
    const floor = before - DAY
    if (instants[i] < floor && latestFrom[i + 1] >= floor) {
      const run: number[] = []
      while (instants[i] < floor) run.push(i++)
      runs.push(run)
    }
    before = instants[i]
  }
  const inRuns = new Set(runs.flat())
  const members = new Set(names.filter((n, i): n is string => n !== undefined && !inRuns.has(i)))
  const quotedOnly = (run: readonly number[]): boolean => {
    const named = run.map(i => names[i]).filter((n): n is string => n !== undefined)
    return named.length > 0 && named.every(n => !known.has(n) && !members.has(n))
  }
  return new Set(runs.filter(quotedOnly).flat())
}

/**
 * A message's id: what the message is, so that every export of the chat gives it the same one whatever
 * it leaves out (messages deleted "for me" since, media, the oldest messages of a capped export): its
 * time as written, its sender, and how many messages that sender wrote at that time before it. Its
 * text is no part of it (an edit changes the text of the same message), nor its line's place in the
 * file. The store orders messages of one time by id, and a minute holds many: the id begins with the
 * message's place among those of its time, so they keep the export's order. Only that place can move
 * between exports (a message deleted "for me" earlier in the same minute), and the import then knows
 * the message by its content (whatsapp-identity.ts).
 */
function messageId (stamp: string, name: string | undefined, ts: number, atTime: Map<number, number>, bySender: Map<string, number>): string {
  const place = atTime.get(ts) ?? 0
  atTime.set(ts, place + 1)
  const who = `${stamp}\0${name ?? ''}`
  const nth = bySender.get(who) ?? 0
  bySender.set(who, nth + 1)
  return `wa_${String(place).padStart(4, '0')}-${digest(stamp, name ?? '', String(nth))}`
}

/**
 * Maps the text of a WhatsApp export to the canonical model. `main` is the chat file's path inside the
 * export; attachments are looked for beside it (and, in an archive, by name anywhere in it).
 */
export async function mapWhatsApp (text: string, source: ExportSource, main: string, title: string, options: WhatsAppOptions = {}): Promise<MappedHistory> {
  const unmapped: Unmapped = {}
  const warnings: string[] = []
  const media = new MediaFiles(source, unmapped)
  let entries: Entry[] = []
  let orphans = 0
  for (const line of text.replace(/^\ufeff/, '').split(/\r\n|\r|\n/)) {
    const header = parseHeader(line)
    if (header !== undefined) entries.push({ header, line, lines: [header.rest] })
    else if (entries.length > 0) entries[entries.length - 1].lines.push(line)
    else if (line.trim() !== '') orphans++
  }
  // An export begins with a header the phone wrote, and writes all the others the same way: a line
  // written like a header but otherwise is text a person pasted, however many such lines there are
  // (a log pasted into a short chat can hold more of them than the chat has messages). The summary says
  // how many, so a person who did join two exports written differently hears of it.
  const shaped: Entry[] = []
  for (const e of entries) {
    if (shaped.length === 0 || e.header.shape === shaped[0].header.shape) shaped.push(e)
    else {
      absorb(shaped[shaped.length - 1], e)
      note(unmapped, 'line like a message in another date or time format than the export\'s (kept as text of the message before)')
    }
  }
  entries = shaped
  if (orphans > 0) unmapped['text before the first message (dropped)'] = orphans
  if (entries.length === 0) return { contacts: [], conversations: [], media: [], messages: [], unmapped, warnings, details: [] }
  // The file's last newline leaves an empty continuation line, which is no part of the message.
  const last = entries[entries.length - 1]
  while (last.lines.length > 1 && last.lines[last.lines.length - 1].trim() === '') last.lines.pop()
  let bodies = entries.map(({ lines }) => splitSender(lines.join('\n')))

  // Dates in attachment names help decide the order of day and month.
  for (const [i, e] of entries.entries()) {
    const found = attachment(bodies[i].text.replace(LEADING_MARKS, ''))
    const fileDate = found === undefined ? undefined : dateInFileName(basename(found.file))
    if (fileDate !== undefined) e.header.date.fileDate = fileDate
  }
  // What WhatsApp wrote itself is in the phone's language: a line without an author, or one it marked.
  const language = (): LanguageHint | undefined => languageHint(entries.map(e => e.header.words),
    bodies.map(b => ({ text: b.text.replace(LEADING_MARKS, '').replace(/\u200e/g, ''), own: b.name === undefined || isMarked(b.text) })))
  const decision = decideDateOrder(entries.map(e => e.header.date), options.dateOrder, language)
  const order = decision.order
  if (decision.ambiguous) {
    const other = order === 'dmy' ? 'mdy' : 'dmy'
    warnings.push(`the dates could be day/month or month/day (${decision.reason}): read as ${order}; if they are wrong, import again with --date-order ${other}`)
  }
  const { era, detail: eraDetail } = eraOf(entries, order, main)
  // WhatsApp writes no header whose date does not read in the export's order: such a line is text too.
  // The first header starts the file, so it stays a message whatever its date says.
  const fitting: Entry[] = []
  const times: Array<WallClock | undefined> = []
  for (const e of entries) {
    const prev = fitting[fitting.length - 1]
    const time = wallClockOf(e.header, order, era)
    if (prev !== undefined && time === undefined) {
      absorb(prev, e)
      note(unmapped, `line like a message header whose date is no ${ORDER_NAMES[order]} date (kept as text of the message before)`)
    } else {
      fitting.push(e)
      times.push(time)
    }
  }
  if (fitting.length < entries.length) {
    entries = fitting
    bodies = entries.map(({ lines }) => splitSender(lines.join('\n')))
  }

  const clock = new ZoneClock(options.timeZone ?? machineZone())
  if (times.length < 2 && times[0] === undefined) throw new FerryError(ErrorCode.BAD_INPUT, `${main}: no message date reads as ${ORDER_NAMES[order]} (${decision.reason})`)
  // Only the first header can be left without a date: it takes the time of the message after it.
  if (times[0] === undefined) note(unmapped, 'first message with an impossible date (time of the next message used)')
  let instants = instantsOf(times, clock)
  // Lines someone pasted from an older chat, written as this export writes its headers, are told by
  // their time and their senders: they jump back, the export's next header returns, and who they quote
  // writes nowhere else in it. Not where the order of day and month is a guess: read the wrong way,
  // real messages jump back and forth by months.
  const known = new Set([options.title ?? title, cleanName(title), ...(options.me === undefined ? [] : [cleanName(options.me)])])
  const pasted = decision.ambiguous ? new Set<number>() : pastedBack(instants, bodies.map(b => b.name), known)
  if (pasted.size > 0) {
    const kept: Entry[] = []
    const keptTimes: Array<WallClock | undefined> = []
    for (const [i, e] of entries.entries()) {
      if (pasted.has(i)) {
        absorb(kept[kept.length - 1], e)
        note(unmapped, 'line like a message header dated more than a day before the message it stands in (kept as text of that message)')
      } else {
        kept.push(e)
        keptTimes.push(times[i])
      }
    }
    entries = kept
    // Read again without them: which of two instants a time the clocks showed twice is depends on the message before.
    instants = instantsOf(keptTimes, clock)
    bodies = entries.map(({ lines }) => splitSender(lines.join('\n')))
  }
  const details = [`dates read as ${ORDER_NAMES[order]} (${decision.reason})`, ...(eraDetail === undefined ? [] : [eraDetail]), `times read in ${clock.zone}`]

  const dir = dirOf(main)
  let listing: string[] | undefined
  /**
   * An attachment's path: beside the chat file, else the one entry of that name anywhere in the export.
   * A name WhatsApp wrote without its extension ("AUD-20190113-WA0000.") is the one file it begins.
   */
  const locate = async (file: string): Promise<string> => {
    const beside = joinPath(dir, file)
    if (await source.has(beside)) return beside
    listing ??= await source.list()
    const fits = file.endsWith('.') ? (p: string) => basename(p).startsWith(basename(file)) : (p: string) => basename(p) === file
    const near = listing.filter(p => fits(p) && dirOf(p) === dir)
    const named = near.length > 0 ? near : listing.filter(fits)
    return named.length === 1 ? named[0] : beside
  }

  /** The attachment the text marks, unless its marker is words people write too and the export lacks the file. */
  const attachmentIn = async (content: string): Promise<Attachment | undefined> => {
    const found = attachment(content)
    return found?.needsFile === true && !(await source.has(await locate(found.file))) ? undefined : found
  }

  const chatTitle = options.title ?? title
  // The chat's id: its title, the one thing every export of the chat shares, however many of its first
  // messages WhatsApp left out (it caps an export). Two chats of one name are told apart on import, by
  // the messages the store holds (whatsapp-identity.ts).
  const conversation = `wa-${digest(chatTitle)}`
  const me = options.me === undefined ? undefined : cleanName(options.me)
  const authors = new Set(bodies.map(b => b.name).filter((n): n is string => n !== undefined))
  // iOS attributes what WhatsApp says in a group (a member's new number, pinned messages, disappearing
  // messages...) to the group's title, every such line marked. A sender named as the chat who never
  // writes an unmarked line is that voice, not a person; in a direct chat the other person, whom the
  // chat is named after, writes unmarked lines.
  const chatNames = new Set([chatTitle, cleanName(title)])
  // A group event after U+200F (Arabic, Persian) counts as the chat's voice only where every line of
  // that sender is WhatsApp's: the words are a person's too, and U+200F may begin a person's text.
  // Who acted (a group's creator, whoever added its members) need never write in the chat; only a
  // Persian sentence around an open actor ("{A} ترک کرد", left), which a person's "بابا سیگار را ترک
  // کرد" (Dad quit smoking) fills as well, must name someone who writes in it (or the exporter).
  // A group verb with an actor the chat does not know ("أبي أزال الصور", Dad removed the photos) is a
  // person's sentence as well: it counts only where the chat cannot be direct, someone other than the
  // person it is named after and the exporter writing in it.
  const others = [...authors].filter(n => !chatNames.has(n) && n !== me)
  const mayBeDirect = others.length <= (me === undefined ? 1 : 0)
  const rtlGroupEvent = (text: string): boolean => {
    if (!text.startsWith('\u200f')) return false
    const content = text.replace(LEADING_MARKS, '').replace(/\u200e/g, '')
    return isSpecificGroupEvent(content, !mayBeDirect) || isGroupEventBy(content, authors)
  }
  const chatSpeaks = bodies.every(b => b.name === undefined || !chatNames.has(b.name) || isMarked(b.text) || rtlGroupEvent(b.text))
  const contacts = new Map<string, Contact>()
  const members: string[] = []
  const messages: Message[] = []
  let group = false
  const atTime = new Map<number, number>()
  const bySender = new Map<string, number>()
  const edited = new Set<string>()
  for (const [index, { header }] of entries.entries()) {
    const ts = instants[index] as number
    const { name, text: raw } = bodies[index]
    const id = messageId(header.stamp, name, ts, atTime, bySender)
    let sender = SYSTEM_SENDER
    if (name !== undefined) {
      if (me !== undefined && name === me) sender = 'me'
      else {
        sender = `wa:${name}`
        if (!contacts.has(sender)) contacts.set(sender, PHONE.test(name) ? { id: sender, name, phone: name } : { id: sender, name })
      }
    }
    const msg: Message = { conversation, id, sender, ts, kind: 'text' }
    const marked = isMarked(raw) || (chatSpeaks && chatNames.has(name ?? '') && rtlGroupEvent(raw))
    // U+200E is WhatsApp's mark, never the writer's: it goes from the text wherever it stands.
    let content = raw.replace(LEADING_MARKS, '').replace(/\u200e/g, '')
    // The edit mark says only that the text changed, not when: the message keeps the text it ended with,
    // and its own time as the edit's, the earliest it can be. That marks it edited in the store, so a copy
    // without the mark (an older export imported after) is known for the older version (own-versions.ts).
    const unedited = withoutEditMark(content)
    if (unedited !== undefined) {
      content = unedited
      edited.add(id)
      msg.editedAt = ts
      note(unmapped, 'mark of an edited message (dropped: the export gives no time of the edit)')
    }
    const setText = (t: string): void => {
      const trimmed = t.replace(/^[ \n]+|[ \n]+$/g, '')
      if (trimmed !== '') msg.text = trimmed
    }
    let found
    let kind
    // An "omitted" marker stands on the first line; what it says is read there alone.
    const [head, ...after] = content.split('\n')
    const caption = after.join('\n')
    // A call's or a block notice's words after U+200F, which may begin a person's text, are WhatsApp's
    // only as the whole message.
    const whole = !raw.startsWith('\u200e')
    const call = isCall(content, whole)
    if (name === undefined) {
      msg.kind = 'system'
      msg.text = content
      if (isGroupEvent(content)) group = true
    } else if ((found = await attachmentIn(content)) !== undefined) {
      const path = await locate(found.file)
      const fileName = basename(path)
      msg.kind = kindOfFile(fileName, mimeOf(fileName))
      msg.fileName = fileName
      const sha = await media.add(path)
      if (sha !== undefined) msg.media = sha
      setText(captionOf(found.before, found.after, found.file))
    } else if ((kind = after.length === 0 ? omitted(content, raw) : omittedLine(head, raw.split('\n', 1)[0], omittedDocument(head, omittedAt(head)) !== undefined)) !== undefined) {
      if (kind === 'contact') {
        note(unmapped, 'contact card left out of the export (kept as text)')
        msg.text = content
      } else {
        msg.kind = kind
        // iOS names a document it left out and counts its pages: what a document brought with it is kept.
        const document = kind === 'file' ? omittedDocument(head, omittedAt(head)) : undefined
        if (document !== undefined) msg.fileName = document.name
        // The lines after the marker are the caption the media was sent with.
        setText([document?.description ?? '', caption].filter(t => t !== '').join('\n'))
        note(unmapped, 'media left out of the export (message kept without it)')
      }
    } else if (isDeleted(content)) {
      msg.status = 'recalled'
    } else if (location(content) !== undefined) {
      msg.kind = 'location'
      msg.location = location(content)
      msg.text = content
    } else if (isPoll(content)) {
      note(unmapped, 'poll (kept as text)')
      msg.text = content
    } else if (marked && (isDistinctSystem(content) || isBlockChange(content, whole) || call || (chatSpeaks && chatNames.has(name)) ||
      (isGroupEvent(content) && (name === chatTitle || isGroupEventBy(content, authors))))) {
      // iOS attributes what WhatsApp says about the chat to the chat's name; a call stays the caller's.
      msg.kind = 'system'
      msg.text = content
      if (isGroupEvent(content)) group = true
      if (!call) {
        msg.sender = SYSTEM_SENDER
        messages.push(msg)
        continue
      }
    } else {
      msg.text = content
    }
    appear(members, msg.sender)
    messages.push(msg)
  }
  // Two people (the exporter among them, named by --me or not) make a direct chat; more make a group.
  if (members.filter(m => m !== SYSTEM_SENDER).length > 2) group = true
  if (me !== undefined) appear(members, 'me')
  const used = new Set(members)
  return {
    contacts: [...contacts.values()].filter(c => used.has(c.id)),
    conversations: [{ id: conversation, kind: group ? 'group' : 'direct', title: chatTitle, members: members.filter(m => m !== SYSTEM_SENDER) }],
    media: [...media.records.values()],
    messages,
    unmapped,
    warnings,
    details,
    edited,
    titleChosen: options.title !== undefined
  }
}

/** Imports a WhatsApp chat (`main`, a .txt inside `source`: a folder or an archive, with its media) into the store; all or nothing. */
export async function importWhatsApp (store: SqliteChatStore, source: ExportSource, main: string, title: string, options: WhatsAppOptions = {}): Promise<ForeignImportResult> {
  const text = await source.readText(main, MAX_TEXT_BYTES)
  const history = await matchStore(store, await mapWhatsApp(text, source, main, title, options))
  return await writeHistory(store, history, source, main, 'whatsapp', options)
}
