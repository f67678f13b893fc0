import { ErrorCode, FerryError } from '../../errors.js'
import type { Contact, Conversation, Link, Location, Message, MessageKind } from '../../store/model.js'
import type { SqliteChatStore } from '../../store/sqlite-store.js'
import { appear, digest, MediaFiles, NOT_RECOGNISED, note, writeHistory, type ForeignImportResult, type MappedHistory, type Unmapped } from './common.js'
import { dirOf, joinPath, type ExportSource } from './source.js'
import type { ImportOptions } from '../import.js'
import { machineZone, validDate, ZoneClock } from './wall-clock.js'

// Telegram Desktop's JSON export (result.json), either one chat ({name, type, id, messages}) or a full
// export ({personal_information?, contacts?: {list}, chats: {list}, left_chats?: {list}}). Media paths
// are relative to the JSON file. Three eras of the format are read:
//   - before 2020: numeric from_id/actor_id (a user's id), no date_unixtime, no text_entities;
//   - 2020-2021: string ids ("user123", "channel456"), still no date_unixtime or text_entities;
//   - since: date_unixtime, edited_unixtime, text_entities.
// A date without date_unixtime is the exporting computer's wall clock: it is read in the import's zone.
// See the mapping table in the docs of mapTelegram below.

export interface TelegramOptions extends Pick<ImportOptions, 'onMediaWriting' | 'onWritten' | 'beforeCommit'> {
  /** IANA time zone wall-clock dates (old exports) are read in (default: the machine's). */
  timeZone?: string
}

type Json = Record<string, unknown>

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)
// Strings are made well-formed (a lone surrogate becomes U+FFFD): the canonical format refuses them.
const str = (v: unknown): string | undefined => typeof v === 'string' ? v.toWellFormed() : typeof v === 'number' ? String(v) : undefined

/** Telegram puts this in place of a path when the exporter chose not to include a file. */
const NOT_INCLUDED = /^\(File (not included|exceeds maximum size)/

const DIRECT_TYPES = new Set(['personal_chat', 'bot_chat', 'saved_messages'])

/** A sender or actor id: old exports give a user's number, later ones "user123" / "channel456". */
function idOf (v: unknown): string | undefined {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return `user${v}`
  const s = str(v)
  return s === undefined || s === '' ? undefined : s
}

/** `text` (a string, or an array of strings and entity objects with `text`) flattened to its plain text. */
export function flattenText (text: unknown): string {
  if (typeof text === 'string') return text.toWellFormed()
  if (!Array.isArray(text)) return ''
  return text.map(part => typeof part === 'string' ? part : isObject(part) && typeof part.text === 'string' ? part.text : '').join('').toWellFormed()
}

function messageText (m: Json): string {
  const t = flattenText(m.text)
  if (t !== '' || !Array.isArray(m.text_entities)) return t
  return flattenText(m.text_entities)
}

/** Is this parsed JSON a Telegram export (a chat with messages, or a full export with chats)? */
export function isTelegramExport (v: unknown): boolean {
  return isObject(v) && (Array.isArray(v.messages) || (isObject(v.chats) && Array.isArray(v.chats.list)))
}

const MEDIA_KINDS: Record<string, MessageKind> = {
  voice_message: 'voice',
  video_file: 'video',
  video_message: 'video',
  animation: 'video',
  sticker: 'sticker',
  audio_file: 'file'
}

/**
 * The last second a date written with a 4-digit year can name (9999-12-31T23:59:59Z): a unix time past
 * it is no time an export could have written, and would be stored as a date no reader can show.
 */
const LAST_UNIX_SECOND = 253_402_300_799
const DAY = 86_400_000

/** An ISO date as Telegram writes it (a wall clock), or with a fraction and a zone. */
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d\d:\d\d)?$/i

/**
 * What a message writes of one of its times. `ts` is the instant; `impossible` says that something
 * was written there that names no real time (a 13th month, a 30 February, a negative or far-future
 * unix time): such a value is read as no date, never rolled over into another one.
 */
interface Stamp {
  ts?: number
  impossible?: 'unixtime' | 'date'
}

/** The instant from `<key>_unixtime` when it is a real time, else from `<key>` (a wall-clock date, or one with a zone). */
function stampOf (m: Json, key: string, clock: ZoneClock): Stamp {
  const unix = str(m[`${key}_unixtime`])
  const unixOk = unix !== undefined && /^\d+$/.test(unix) && Number(unix) <= LAST_UNIX_SECOND
  if (unixOk) return { ts: Number(unix) * 1000 }
  const date = str(m[key])
  const ts = date === undefined ? undefined : dateOf(date, clock)
  // A unix time that is no time is reported even when the wall-clock date stands in for it: that date
  // is read in the import's zone, which may not be the zone it was written in.
  const impossible = unix !== undefined ? 'unixtime' : date !== undefined && ts === undefined ? 'date' : undefined
  return impossible === undefined ? { ts } : { ts, impossible }
}

/** The instant an ISO date names, or undefined when it names none (fields out of range, a day the month lacks). */
function dateOf (date: string, clock: ZoneClock): number | undefined {
  const w = ISO_DATE.exec(date)
  if (w === null) return undefined
  const [year, month, day, hour, minute, second] = w.slice(1, 7).map(x => Number(x ?? 0))
  // Before 1969 is refused here as well as below: Date.UTC would read years 0-99 as 1900-1999.
  if (year < 1969 || !validDate(year, month, day) || hour > 23 || minute > 59 || second > 59) return undefined
  const zone = w[8]
  const offset = zone === undefined || /^z$/i.test(zone) ? 0 : (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)))
  if (zone !== undefined && (Math.abs(offset) > 18 * 60 || Number(zone.slice(4, 6)) > 59)) return undefined
  const ms = Number((w[7] ?? '').padEnd(3, '0').slice(0, 3))
  const ts = zone === undefined ? clock.toInstant({ year, month, day, hour, minute, second }) : Date.UTC(year, month - 1, day, hour, minute, second, ms) - offset * 60_000
  // Telegram began long after 1970; the day before is let through because old exports write the epoch
  // (as the exporter's wall clock, so 31 December 1969 west of UTC) for a message never edited.
  return ts >= -DAY && ts <= LAST_UNIX_SECOND * 1000 ? ts : undefined
}

/** Entities that only style text: the canonical model keeps plain text. */
const FORMATTING = new Set(['bold', 'italic', 'underline', 'strikethrough', 'code', 'pre', 'spoiler', 'blockquote', 'custom_emoji'])

/** Link targets the text does not show (text_link hrefs, mentions of users without a username), and whether formatting was dropped. */
function entitiesOf (m: Json): { links: Link[], formatted: boolean } {
  const parts = Array.isArray(m.text) ? m.text : Array.isArray(m.text_entities) ? m.text_entities : []
  const links: Link[] = []
  let formatted = false
  for (const part of parts) {
    if (!isObject(part)) continue
    const type = str(part.type)
    const text = str(part.text)
    if (type === 'text_link' && typeof part.href === 'string' && part.href !== '') {
      links.push(text === undefined ? { url: part.href.toWellFormed() } : { text, url: part.href.toWellFormed() })
    } else if (type === 'mention_name' && (typeof part.user_id === 'number' || typeof part.user_id === 'string')) {
      links.push(text === undefined ? { url: `tg://user?id=${part.user_id}` } : { text, url: `tg://user?id=${part.user_id}` })
    } else if (type !== undefined && FORMATTING.has(type)) {
      formatted = true
    }
  }
  return { links, formatted }
}

/** Names as Telegram joins them in a sentence: "Ana", "Ana and Bob", "Ana, Bob and Carl". */
function listed (names: string[]): string {
  return names.length <= 1 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`
}

const namesOf = (v: unknown): string[] => Array.isArray(v) ? v.map(str).filter(nonEmpty) : []

/**
 * How Telegram words the common service actions (its English texts), so a person reads "Ana pinned a
 * message", not the export's action name. An action not worded here stays readable: its name in words
 * and its details.
 */
const WORDED: Record<string, (who: string, m: Json, byMe: boolean) => string> = {
  create_group: (who, m) => `${who} created group «${str(m.title) ?? ''}»`,
  create_channel: (who, m) => `Channel «${str(m.title) ?? ''}» created`,
  migrate_to_supergroup: () => 'This group was upgraded to a supergroup',
  migrate_from_group: (who, m) => `Group «${str(m.title) ?? ''}» was upgraded to a supergroup`,
  edit_group_title: (who, m) => `${who} changed the group name to «${str(m.title) ?? ''}»`,
  edit_group_photo: who => `${who} updated the group photo`,
  delete_group_photo: who => `${who} removed the group photo`,
  invite_members: (who, m) => {
    const members = namesOf(m.members)
    return members.length === 1 && members[0] === who ? `${who} joined the group` : `${who} added ${listed(members)}`
  },
  remove_members: (who, m) => {
    const members = namesOf(m.members)
    return members.length === 1 && members[0] === who ? `${who} left the group` : `${who} removed ${listed(members)}`
  },
  join_group_by_link: who => `${who} joined the group via invite link`,
  join_group_by_request: who => `${who} was accepted into the group`,
  pin_message: who => `${who} pinned a message`,
  clear_history: () => 'History was cleared',
  take_screenshot: who => `${who} took a screenshot`,
  invite_to_group_call: (who, m) => `${who} invited ${listed(namesOf(m.members))} to the voice chat`,
  // A call's actor is its caller; how it ended says whether it was answered ("hangup" simply ended).
  phone_call: (who, m, byMe) => {
    const reason = str(m.discard_reason)
    if (reason === 'missed') return byMe ? 'Cancelled call' : 'Missed call'
    if (reason === 'busy') return 'Declined call'
    const seconds = typeof m.duration_seconds === 'number' && m.duration_seconds > 0 ? Math.round(m.duration_seconds) : undefined
    const length = seconds === undefined ? '' : seconds < 60 ? ` (${seconds} s)` : ` (${Math.floor(seconds / 60)} min${seconds % 60 > 0 ? ` ${seconds % 60} s` : ''})`
    return `${byMe ? 'Outgoing' : 'Incoming'} call${length}`
  }
}

function describeAction (m: Json, actorName: string | undefined, byMe: boolean): string {
  const action = str(m.action) ?? 'event'
  // An action named like an Object member ("constructor") is none of these.
  const worded = Object.hasOwn(WORDED, action) ? WORDED[action] : undefined
  if (worded !== undefined) return worded(actorName !== undefined && actorName !== '' ? actorName : 'Someone', m, byMe)
  const parts = [actorName, action.replace(/_/g, ' ')].filter(p => p !== undefined && p !== '')
  if (typeof m.title === 'string') parts.push(JSON.stringify(m.title))
  if (Array.isArray(m.members)) parts.push(namesOf(m.members).join(', '))
  if (typeof m.duration_seconds === 'number') parts.push(`${m.duration_seconds}s`)
  // How a call ended says whether it was answered; "hangup" is a call that simply ended.
  const reason = str(m.discard_reason)
  if (reason !== undefined && reason !== '' && reason !== 'hangup') parts.push(reason.replace(/_/g, ' '))
  return parts.join(' ')
}

/** What a service message holds that describeAction or mapMessage reads, or that only describes a file. */
const SERVICE_READ = new Set(['id', 'type', 'date', 'date_unixtime', 'edited', 'edited_unixtime', 'actor', 'actor_id', 'action', 'text', 'text_entities',
  'title', 'members', 'inviter', 'duration_seconds', 'discard_reason', 'message_id', 'photo', 'width', 'height', 'photo_file_size'])

/**
 * Counts what a message holds that the canonical model has no place for and that mapMessage leaves out,
 * so the summary says it: reactions (the model holds none), a bot's buttons, a channel post's signature,
 * the photo of a group photo change, and any other detail of a service message than those its text
 * describes.
 */
function noteDropped (ctx: Context, m: Json, service: boolean): void {
  if (Array.isArray(m.reactions)) {
    let n = 0
    for (const r of m.reactions.filter(isObject)) {
      // `count` is everyone's; `recent` only names the last few who reacted.
      n += typeof r.count === 'number' && Number.isSafeInteger(r.count) && r.count > 0 ? r.count : Array.isArray(r.recent) && r.recent.length > 0 ? r.recent.length : 1
    }
    if (n > 0) note(ctx.unmapped, 'reaction (dropped: Ferry keeps no reactions; the message kept)', n)
  }
  if (Array.isArray(m.inline_bot_buttons) && m.inline_bot_buttons.length > 0) note(ctx.unmapped, 'buttons under a bot\'s message (dropped; the message kept)')
  const author = str(m.author)
  if (author !== undefined && author !== '') note(ctx.unmapped, 'signature of a channel post (dropped; the post kept)')
  if (!service) return
  if (typeof m.photo === 'string') note(ctx.unmapped, 'photo of a group photo change (dropped; the change kept as an event)')
  for (const [key, value] of Object.entries(m)) {
    if (SERVICE_READ.has(key) || value === null || value === '' || (Array.isArray(value) && value.length === 0)) continue
    note(ctx.unmapped, `detail "${key}" of an event (dropped; the event kept as a system message)`)
  }
}

function pollText (poll: Json): string {
  const answers = Array.isArray(poll.answers) ? poll.answers.filter(isObject).map(a => `- ${flattenText(a.text)}`) : []
  return [flattenText(poll.question), ...answers].join('\n')
}

/** Whether anyone voted in a poll: then the text Ferry keeps of it loses something. */
function hasVotes (poll: Json): boolean {
  return (typeof poll.total_voters === 'number' && poll.total_voters > 0) ||
    (Array.isArray(poll.answers) && poll.answers.some(a => isObject(a) && typeof a.voters === 'number' && a.voters > 0))
}

function contactCardText (c: Json): string {
  return [[str(c.first_name), str(c.last_name)].filter(Boolean).join(' '), str(c.phone_number)].filter(s => s !== undefined && s !== '').join(' ')
}

/**
 * Content Telegram may put on a message that the canonical model has no place for: each becomes a
 * readable placeholder text, so the message is kept and a person sees what was there.
 */
const UNSUPPORTED: Array<[string, string, (m: Json) => string]> = [
  ['game_title', 'game', m => [str(m.game_title), str(m.game_description)].filter(nonEmpty).join(': ')],
  ['invoice_information', 'invoice', m => {
    const i = m.invoice_information as Json
    return [str(i.title), str(i.description), i.amount !== undefined ? `${str(i.amount) ?? ''} ${str(i.currency) ?? ''}`.trim() : undefined].filter(nonEmpty).join(', ')
  }],
  ['dice', 'dice', m => {
    const d = m.dice as Json
    return [str(d.emoji), str(d.value)].filter(nonEmpty).join(' ')
  }],
  ['giveaway_information', 'giveaway', m => summary(m.giveaway_information)],
  ['giveaway_results', 'giveaway results', m => summary(m.giveaway_results)],
  ['todo_list', 'to-do list', m => {
    const t = m.todo_list as Json
    const items = Array.isArray(t.items) ? t.items.filter(isObject).map(i => `- ${flattenText(i.text)}`) : []
    return [flattenText(t.title), ...items].filter(nonEmpty).join('\n')
  }],
  ['paid_media', 'paid media', m => summary(m.paid_media)],
  ['story', 'story', m => summary(m.story)]
]

const nonEmpty = (s: string | undefined): s is string => s !== undefined && s !== ''

/** A short readable line from an object's simple fields (strings and numbers, in their order). */
function summary (v: unknown): string {
  if (!isObject(v)) return str(v) ?? ''
  return Object.entries(v).filter(([, x]) => typeof x === 'string' || typeof x === 'number').map(([k, x]) => `${k.replace(/_/g, ' ')}: ${String(x)}`).join(', ')
}

function placeholder (label: string, detail: string): string {
  return detail === '' ? `[${label}]` : `[${label}: ${detail}]`
}

interface Context {
  me?: string
  /** The ids the export shows under each display name (senders, actors, the contacts list, the exporter). */
  byName: Map<string, Set<string>>
  contacts: Map<string, Contact>
  media: MediaFiles
  unmapped: Unmapped
  clock: ZoneClock
  /** The export's directory inside the source (media paths are relative to it). */
  dir: string
}

function senderOf (ctx: Context, id: string | undefined, name: unknown): string {
  if (id === undefined || id === '') return 'unknown'
  if (id === ctx.me) return 'me'
  const known = ctx.contacts.get(id)
  if (known === undefined) ctx.contacts.set(id, { id, name: str(name) ?? '' })
  else if (known.name === '' && typeof name === 'string') known.name = name.toWellFormed()
  return id
}

/**
 * Who a service message names only by display name (the members a group was made with, those added or
 * removed, who invited): the one person the export shows under that name, else a contact of that name
 * ("tg:<name>", as WhatsApp's names are "wa:<name>"). A name several people of the export share names
 * none of them for certain: it is counted, and nobody is added.
 */
function namedPerson (ctx: Context, name: string): string | undefined {
  const ids = ctx.byName.get(name)
  if (ids !== undefined && ids.size > 1) {
    note(ctx.unmapped, 'member named in an event whom several people of the export share a name with (not added to the members)')
    return undefined
  }
  const id = ids === undefined ? `tg:${name}` : [...ids][0]
  return senderOf(ctx, id, name)
}

/** The display names a service message gives of the people it adds to its chat. */
function namedMembers (m: Json): string[] {
  return [...namesOf(m.members), ...namesOf([m.inviter])]
}

/** A message's own id, or a stable one made from its content when the export gives none. */
function idFor (m: Json, seen: Map<string, number>, unmapped: Unmapped): string {
  const id = str(m.id)
  if (id !== undefined && id !== '') return id
  note(unmapped, 'message without an id (an id was made from its content)')
  const base = `x${digest(JSON.stringify(m))}`
  const n = (seen.get(base) ?? 0) + 1
  seen.set(base, n)
  return n === 1 ? base : `${base}-${n}`
}

/**
 * A message's time. One without a date, or whose date names no real time, takes the time of the
 * message before it, or, before the first dated message of its chat, that message's time.
 */
function timeOf (ctx: Context, m: Json, previous: number | undefined, first: number): number {
  const { ts, impossible } = stampOf(m, 'date', ctx.clock)
  if (ts !== undefined) {
    if (impossible !== undefined) note(ctx.unmapped, 'date_unixtime that is no real time (its wall-clock date used)')
    return ts
  }
  const bad = impossible !== undefined
  if (previous !== undefined) {
    note(ctx.unmapped, bad ? 'message with an impossible date (read as none: time of the message before used)' : 'message without a date (time of the message before used)')
    return previous
  }
  note(ctx.unmapped, bad ? 'message with an impossible date before the first dated one (time of that one used)' : 'message without a date before the first with one (time of that one used)')
  return first
}

async function mapMessage (ctx: Context, chatId: string, m: Json, id: string, time: number): Promise<Message> {
  const text = messageText(m)
  const type = str(m.type)
  const { links, formatted } = entitiesOf(m)
  const extras = (msg: Message): Message => {
    // Old exports write the epoch as the edit date of a message never edited.
    const { ts: edited, impossible } = stampOf(m, 'edited', ctx.clock)
    if (impossible !== undefined && edited === undefined) note(ctx.unmapped, 'impossible edit date (dropped; the message kept)')
    if (edited !== undefined && edited > 0 && edited >= msg.ts) msg.editedAt = edited
    if (links.length > 0) msg.links = links
    if (formatted) note(ctx.unmapped, 'text formatting (bold, italic...) dropped')
    return msg
  }
  noteDropped(ctx, m, type === 'service')
  if (type === 'service') {
    const sender = senderOf(ctx, idOf(m.actor_id), m.actor)
    const msg: Message = { conversation: chatId, id, sender, ts: time, kind: 'system', text: text !== '' ? text : describeAction(m, str(m.actor), sender === 'me') }
    const pinned = str(m.message_id)
    if (str(m.action) === 'pin_message' && pinned !== undefined) msg.pinned = pinned
    return extras(msg)
  }
  const sender = senderOf(ctx, idOf(m.from_id), m.from)
  const msg: Message = { conversation: chatId, id, sender, ts: time, kind: 'text' }
  if (type !== 'message') {
    note(ctx.unmapped, `message of unknown type ${JSON.stringify(type ?? null)} (kept as a system message)`)
    msg.kind = 'system'
    msg.text = text !== '' ? text : placeholder(type ?? 'message', '')
    return extras(msg)
  }
  const replyTo = str(m.reply_to_message_id)
  if (replyTo !== undefined) {
    // A reply to a message of another chat would name the wrong message here.
    if (m.reply_to_peer_id !== undefined && m.reply_to_peer_id !== null) note(ctx.unmapped, 'reply to a message in another chat (the link dropped)')
    else msg.replyTo = replyTo
  }
  if (m.forwarded_from !== undefined || m.saved_from !== undefined) msg.forwardedFrom = str(m.forwarded_from) ?? str(m.saved_from) ?? ''
  const viaBot = str(m.via_bot)
  if (viaBot !== undefined && viaBot !== '') msg.viaBot = viaBot
  if (typeof m.duration_seconds === 'number' && m.duration_seconds >= 0) msg.durationMs = Math.round(m.duration_seconds * 1000)

  const attach = async (path: unknown, mime?: string): Promise<void> => {
    const name = str(m.file_name)
    if (typeof path !== 'string') {
      if (name !== undefined && name !== '') msg.fileName = name
      return
    }
    if (NOT_INCLUDED.test(path)) {
      note(ctx.unmapped, 'media not included in the export (message kept without it)')
      if (name !== undefined && name !== '') msg.fileName = name
      return
    }
    msg.fileName = name !== undefined && name !== '' ? name : path.split(/[\\/]/).pop() ?? path
    const sha = await ctx.media.add(joinPath(ctx.dir, path), mime)
    if (sha !== undefined) msg.media = sha
  }
  const mime = str(m.mime_type)
  if (m.photo !== undefined) {
    msg.kind = 'image'
    await attach(m.photo, mime)
  } else if (m.file !== undefined || m.media_type !== undefined) {
    const mediaType = str(m.media_type)
    if (mediaType !== undefined && MEDIA_KINDS[mediaType] === undefined) note(ctx.unmapped, `media of unknown type ${JSON.stringify(mediaType)} (kept as a file)`)
    msg.kind = mediaType !== undefined ? MEDIA_KINDS[mediaType] ?? 'file' : 'file'
    await attach(m.file, mime)
  } else if (isObject(m.location_information)) {
    const { latitude, longitude } = m.location_information
    if (typeof latitude === 'number' && typeof longitude === 'number' && Math.abs(latitude) <= 90 && Math.abs(longitude) <= 180) {
      msg.kind = 'location'
      const location: Location = { lat: latitude, lon: longitude }
      const label = [str(m.place_name), str(m.address)].filter(nonEmpty).join(', ')
      if (label !== '') location.label = label
      msg.location = location
      if (typeof m.live_location_period_seconds === 'number') msg.durationMs = m.live_location_period_seconds * 1000
    } else {
      note(ctx.unmapped, 'invalid location (kept as text)')
    }
  } else if (isObject(m.poll)) {
    note(ctx.unmapped, hasVotes(m.poll) ? 'poll (kept as text: its question and answers, not its votes)' : 'poll (kept as text)')
    msg.text = [text, pollText(m.poll)].filter(nonEmpty).join('\n')
    return extras(msg)
  } else if (isObject(m.contact_information)) {
    note(ctx.unmapped, 'contact card (kept as text)')
    msg.text = [text, contactCardText(m.contact_information)].filter(nonEmpty).join('\n')
    return extras(msg)
  } else {
    const unsupported = UNSUPPORTED.find(([key]) => m[key] !== undefined && m[key] !== null)
    if (unsupported !== undefined) {
      const [, label, detail] = unsupported
      note(ctx.unmapped, `${label} (kept as a placeholder text)`)
      let shown = ''
      try {
        shown = detail(m)
      } catch {}
      msg.text = [placeholder(label, shown), text].filter(nonEmpty).join('\n')
      return extras(msg)
    }
  }
  if (msg.kind === 'text' || text !== '') msg.text = text
  return extras(msg)
}

function chatsOf (root: Json): Json[] {
  if (Array.isArray(root.messages)) return [root]
  const lists = [root.chats, root.left_chats].filter(isObject).map(x => x.list).filter(Array.isArray)
  return lists.flat().filter(isObject)
}

const personName = (p: Json): string => [str(p.first_name), str(p.last_name)].filter(nonEmpty).join(' ')

/**
 * The exporter of an export without personal_information. A personal (or bot) chat's id is the peer's
 * user id, so whoever else writes in it is the exporter: the id that does so in the most personal chats.
 * Decided once for the whole export, so that the exporter is "me" in its groups too, not a contact of
 * their own; and so that an export with personal_information, imported before or after, names the same
 * person "me" and its messages are not stored twice. Undefined when no personal chat says, or two ids
 * say so equally.
 */
function exporterOf (chats: Json[]): string | undefined {
  const chatsWith = new Map<string, number>()
  for (const chat of chats) {
    const type = str(chat.type)
    const chatId = str(chat.id)
    if ((type !== 'personal_chat' && type !== 'bot_chat') || chatId === undefined || !Array.isArray(chat.messages)) continue
    const peer = `user${chatId}`
    const others = new Set(chat.messages.filter(isObject).map(m => idOf(m.from_id) ?? idOf(m.actor_id)).filter(f => f !== undefined && f !== peer))
    for (const id of others) chatsWith.set(id as string, (chatsWith.get(id as string) ?? 0) + 1)
  }
  const ranked = [...chatsWith].sort((a, b) => b[1] - a[1])
  return ranked.length > 0 && (ranked.length === 1 || ranked[0][1] > ranked[1][1]) ? ranked[0][0] : undefined
}

/** The ids the export shows under each display name: of senders and actors, of the contacts list, and the exporter's own name. */
function namesIn (json: Json, chats: Json[], me: string | undefined): Map<string, Set<string>> {
  const byName = new Map<string, Set<string>>()
  const add = (name: string | undefined, id: string | undefined): void => {
    if (name === undefined || name === '' || id === undefined) return
    const ids = byName.get(name)
    if (ids === undefined) byName.set(name, new Set([id]))
    else ids.add(id)
  }
  if (isObject(json.personal_information)) add(personName(json.personal_information), me)
  if (isObject(json.contacts) && Array.isArray(json.contacts.list)) {
    for (const c of json.contacts.list.filter(isObject)) {
      const uid = str(c.user_id)
      if (uid !== undefined && uid !== '0') add(personName(c), `user${uid}`)
    }
  }
  for (const chat of chats) {
    if (!Array.isArray(chat.messages)) continue
    for (const m of chat.messages.filter(isObject)) {
      add(str(m.from), idOf(m.from_id))
      add(str(m.actor), idOf(m.actor_id))
    }
  }
  return byName
}

/**
 * Maps a parsed Telegram export to the canonical model.
 * - contact: a sender's from_id ("user123", "channel456") with its display name; the full export's
 *   contacts list adds "user<user_id>" with first+last name and phone. The exporter
 *   (personal_information.user_id, else exporterOf) is "me". A person an event names only by display
 *   name (a group's members) is the one of that name the export shows, else "tg:<name>".
 * - conversation: "tg<chat id>", title = name, direct for personal/bot/saved chats, else group; members
 *   in order of appearance (senders, and those events name), the peer of a personal chat first, "me"
 *   when identifiable.
 */
export async function mapTelegram (root: unknown, source: ExportSource, main: string, options: TelegramOptions = {}): Promise<MappedHistory> {
  if (!isTelegramExport(root)) throw new FerryError(ErrorCode.BAD_INPUT, 'not a Telegram export: no "messages" and no "chats.list"')
  const json = root as Json
  const unmapped: Unmapped = {}
  const contacts = new Map<string, Contact>()
  const info = isObject(json.personal_information) ? json.personal_information : undefined
  const meUser = str(info?.user_id)
  const chats = chatsOf(json)
  const me = meUser !== undefined ? `user${meUser}` : exporterOf(chats)
  const ctx: Context = {
    me,
    byName: namesIn(json, chats, me),
    contacts,
    media: new MediaFiles(source, unmapped),
    unmapped,
    clock: new ZoneClock(options.timeZone ?? machineZone()),
    dir: dirOf(main)
  }
  if (isObject(json.contacts) && Array.isArray(json.contacts.list)) {
    for (const c of json.contacts.list.filter(isObject)) {
      const uid = str(c.user_id)
      if (uid === undefined || uid === '0') { note(unmapped, 'contact without user id'); continue }
      const contact: Contact = { id: `user${uid}`, name: personName(c) }
      const phone = str(c.phone_number)
      if (phone !== undefined && phone !== '') contact.phone = phone
      if (contact.id !== ctx.me) contacts.set(contact.id, contact)
    }
  }
  const conversations: Conversation[] = []
  const messages: Message[] = []
  for (const chat of chats) {
    const chatId = str(chat.id)
    if (chatId === undefined || !Array.isArray(chat.messages)) { note(unmapped, 'chat without id or messages'); continue }
    const type = str(chat.type) ?? ''
    const direct = DIRECT_TYPES.has(type)
    const members: string[] = []
    // The exporter is decided once for the export (exporterOf); a chat only guesses it when the export
    // gives no way to (no personal chat, or personal chats that disagree).
    const chatCtx: Context = { ...ctx }
    if (type === 'personal_chat' || type === 'bot_chat') {
      const peer = `user${chatId}`
      if (chatCtx.me === undefined) {
        const other = chat.messages.filter(isObject).map(m => idOf(m.from_id) ?? idOf(m.actor_id)).find(f => f !== undefined && f !== peer)
        chatCtx.me = other
      }
      appear(members, senderOf(chatCtx, peer, chat.name))
    }
    if (type === 'saved_messages' && chatCtx.me === undefined) {
      chatCtx.me = chat.messages.filter(isObject).map(m => idOf(m.from_id)).find(f => f !== undefined)
    }
    const seen = new Map<string, number>()
    const chatMessages = chat.messages.filter(isObject)
    if (chatMessages.length < chat.messages.length) note(unmapped, 'entry of a chat\'s messages that is no message (skipped)', chat.messages.length - chatMessages.length)
    let first: number | undefined
    for (const m of chatMessages) if ((first = stampOf(m, 'date', ctx.clock).ts) !== undefined) break
    if (first === undefined && chatMessages.length > 0) {
      const impossible = chatMessages.filter(m => stampOf(m, 'date', ctx.clock).impossible !== undefined).length
      const example = chatMessages.map(m => str(m.date_unixtime) ?? str(m.date)).find(d => d !== undefined)
      const some = impossible > 0 ? ` (${impossible} impossible, such as ${JSON.stringify(example)})` : ''
      throw new FerryError(ErrorCode.BAD_INPUT, `no message of chat ${JSON.stringify(str(chat.name) ?? chatId)} has a date${some}: nothing to place them in time by`)
    }
    let previous: number | undefined
    for (const m of chatMessages) {
      const msg = await mapMessage(chatCtx, `tg${chatId}`, m, idFor(m, seen, unmapped), timeOf(chatCtx, m, previous, first as number))
      previous = msg.ts
      if (msg.sender !== 'unknown') appear(members, msg.sender)
      if (str(m.type) === 'service') {
        for (const name of namedMembers(m)) {
          const person = namedPerson(chatCtx, name)
          if (person !== undefined) appear(members, person)
        }
      }
      messages.push(msg)
    }
    if (chatCtx.me !== undefined) appear(members, 'me')
    conversations.push({ id: `tg${chatId}`, kind: direct ? 'direct' : 'group', title: str(chat.name) ?? (type === 'saved_messages' ? 'Saved Messages' : ''), members })
  }
  const wallClock = messages.length > 0 && chats.some(c => Array.isArray(c.messages) && c.messages.some(m => isObject(m) && m.date_unixtime === undefined))
  const details = wallClock ? [`dates without date_unixtime read in ${ctx.clock.zone}`] : []
  return { contacts: [...contacts.values()], conversations, media: [...ctx.media.records.values()], messages, unmapped, details }
}

/**
 * Does this JSON text stop inside a string, an object or an array? What a file cut short looks like, as
 * against one with a wrong byte in it, which closes what it opens.
 */
function endsOpen (text: string): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++ // a backslash: the next character is escaped
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x7b || c === 0x5b) depth++
    else if (c === 0x7d || c === 0x5d) depth--
  }
  return inString || depth > 0
}

/** Largest result.json read: it is parsed whole. */
const MAX_JSON_BYTES = 512 * 1024 * 1024

/** Imports a Telegram export (`main`, its result.json inside `source`: a folder or an archive, with its media) into the store; all or nothing. */
export async function importTelegram (store: SqliteChatStore, source: ExportSource, main: string, options: TelegramOptions = {}): Promise<ForeignImportResult> {
  const text = (await source.readText(main, MAX_JSON_BYTES)).replace(/^\ufeff/, '')
  const where = `${main} (in ${source.label})`
  // An export that did not finish, or a copy or download of it that did not, is the usual way a
  // result.json goes bad: said so, rather than as a file that is no chat export at all.
  if (text.trim() === '') {
    throw new FerryError(ErrorCode.BAD_INPUT, `${where} is an empty Telegram export: the file has nothing in it, as when the export or its copy did not finish. Export the chat again from Telegram Desktop`)
  }
  let root: unknown
  try {
    root = JSON.parse(text)
  } catch (err) {
    if (endsOpen(text)) {
      throw new FerryError(ErrorCode.BAD_INPUT, `${where} is a Telegram export cut off part-way (its JSON stops before it closes), as when the export or its copy did not finish. Export the chat again, or copy the export whole`)
    }
    throw new FerryError(ErrorCode.BAD_INPUT, `${where}: ${NOT_RECOGNISED}: not JSON (${(err as Error).message})`)
  }
  if (!isTelegramExport(root)) throw new FerryError(ErrorCode.BAD_INPUT, `${main} (in ${source.label}): ${NOT_RECOGNISED}: a JSON document without Telegram's "messages" or "chats"`)
  return await writeHistory(store, await mapTelegram(root, source, main, options), source, main, 'telegram', options)
}
