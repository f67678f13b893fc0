import { readFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { ErrorCode, FerryError } from '../../errors.js'
import type { Contact, Conversation, Location, Message, MessageKind } from '../../store/model.js'
import type { SqliteChatStore } from '../../store/sqlite-store.js'
import { appear, MediaFiles, note, writeHistory, type ForeignImportResult, type MappedHistory, type Unmapped } from './common.js'

// Telegram Desktop's JSON export (result.json), either one chat ({name, type, id, messages}) or a full
// export ({personal_information?, contacts?: {list}, chats: {list}, left_chats?: {list}}). Media paths
// are relative to the JSON file. See the mapping table in docs of mapTelegram below.

type Json = Record<string, unknown>

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)
// Strings are made well-formed (a lone surrogate becomes U+FFFD): the canonical format refuses them.
const str = (v: unknown): string | undefined => typeof v === 'string' ? v.toWellFormed() : typeof v === 'number' ? String(v) : undefined

/** Telegram puts this in place of a path when the exporter chose not to include a file. */
const NOT_INCLUDED = /^\(File (not included|exceeds maximum size)/

const DIRECT_TYPES = new Set(['personal_chat', 'bot_chat', 'saved_messages'])

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

function ts (m: Json): number | undefined {
  const unix = str(m.date_unixtime)
  if (unix !== undefined && /^\d+$/.test(unix)) return Number(unix) * 1000
  // Older exports: only a local date without a zone, read as UTC.
  const date = str(m.date)
  if (date === undefined) return undefined
  const t = Date.parse(/[zZ]|[+-]\d\d:\d\d$/.test(date) ? date : date + 'Z')
  return Number.isNaN(t) ? undefined : t
}

function describeAction (m: Json, actorName: string | undefined): string {
  const action = str(m.action) ?? 'event'
  const parts = [actorName, action.replace(/_/g, ' ')].filter(p => p !== undefined && p !== '')
  if (typeof m.title === 'string') parts.push(JSON.stringify(m.title))
  if (Array.isArray(m.members)) parts.push(m.members.filter(x => typeof x === 'string').join(', '))
  if (typeof m.duration_seconds === 'number') parts.push(`${m.duration_seconds}s`)
  return parts.join(' ')
}

function pollText (poll: Json): string {
  const answers = Array.isArray(poll.answers) ? poll.answers.filter(isObject).map(a => `- ${flattenText(a.text)}`) : []
  return [flattenText(poll.question), ...answers].join('\n')
}

function contactCardText (c: Json): string {
  return [[str(c.first_name), str(c.last_name)].filter(Boolean).join(' '), str(c.phone_number)].filter(s => s !== undefined && s !== '').join(' ')
}

/** Content fields Telegram may put on a message that the canonical model has no place for. */
const UNSUPPORTED = ['game_title', 'invoice_information', 'dice', 'giveaway_information', 'todo_list'] as const

interface Context {
  me?: string
  contacts: Map<string, Contact>
  media: MediaFiles
  unmapped: Unmapped
}

function senderOf (ctx: Context, id: string | undefined, name: unknown): string {
  if (id === undefined || id === '') return 'unknown'
  if (id === ctx.me) return 'me'
  const known = ctx.contacts.get(id)
  if (known === undefined) ctx.contacts.set(id, { id, name: str(name) ?? '' })
  else if (known.name === '' && typeof name === 'string') known.name = name.toWellFormed()
  return id
}

async function mapMessage (ctx: Context, chatId: string, m: Json): Promise<Message | undefined> {
  const id = str(m.id)
  const time = ts(m)
  if (id === undefined || time === undefined) {
    note(ctx.unmapped, 'message without id or date')
    return undefined
  }
  const text = messageText(m)
  const type = str(m.type)
  if (type === 'service') {
    const sender = senderOf(ctx, str(m.actor_id), m.actor)
    return { conversation: chatId, id, sender, ts: time, kind: 'system', text: text !== '' ? text : describeAction(m, str(m.actor)) }
  }
  const sender = senderOf(ctx, str(m.from_id), m.from)
  const msg: Message = { conversation: chatId, id, sender, ts: time, kind: 'text' }
  if (type !== 'message') {
    note(ctx.unmapped, `unknown message type ${JSON.stringify(type ?? null)}`)
    if (text === '') return undefined
    msg.kind = 'system'
    msg.text = text
    return msg
  }
  const replyTo = str(m.reply_to_message_id)
  if (replyTo !== undefined) msg.replyTo = replyTo
  if (typeof m.duration_seconds === 'number' && m.duration_seconds >= 0) msg.durationMs = Math.round(m.duration_seconds * 1000)

  const attach = async (path: unknown, mime?: string): Promise<void> => {
    if (typeof path !== 'string') return
    if (NOT_INCLUDED.test(path)) { note(ctx.unmapped, 'media not included in export'); return }
    const sha = await ctx.media.add(path, mime)
    if (sha !== undefined) msg.media = sha
  }
  const mime = str(m.mime_type)
  if (m.photo !== undefined) {
    msg.kind = 'image'
    await attach(m.photo, mime)
  } else if (m.file !== undefined || m.media_type !== undefined) {
    const mediaType = str(m.media_type)
    if (mediaType !== undefined && MEDIA_KINDS[mediaType] === undefined) note(ctx.unmapped, `unknown media type ${JSON.stringify(mediaType)}`)
    msg.kind = mediaType !== undefined ? MEDIA_KINDS[mediaType] ?? 'file' : 'file'
    await attach(m.file, mime)
  } else if (isObject(m.location_information)) {
    const { latitude, longitude } = m.location_information
    if (typeof latitude === 'number' && typeof longitude === 'number' && Math.abs(latitude) <= 90 && Math.abs(longitude) <= 180) {
      msg.kind = 'location'
      const location: Location = { lat: latitude, lon: longitude }
      const label = [str(m.place_name), str(m.address)].filter(s => s !== undefined && s !== '').join(', ')
      if (label !== '') location.label = label
      msg.location = location
      if (typeof m.live_location_period_seconds === 'number') msg.durationMs = m.live_location_period_seconds * 1000
    } else {
      note(ctx.unmapped, 'invalid location')
    }
  } else if (isObject(m.poll)) {
    note(ctx.unmapped, 'poll')
    msg.text = [text, pollText(m.poll)].filter(s => s !== '').join('\n')
    return msg
  } else if (isObject(m.contact_information)) {
    note(ctx.unmapped, 'contact card')
    msg.text = [text, contactCardText(m.contact_information)].filter(s => s !== '').join('\n')
    return msg
  } else {
    const unsupported = UNSUPPORTED.find(k => m[k] !== undefined)
    if (unsupported !== undefined) {
      note(ctx.unmapped, `unsupported content ${unsupported}`)
      if (text === '') return undefined
    }
  }
  if (msg.kind === 'text' || text !== '') msg.text = text
  return msg
}

function chatsOf (root: Json): Json[] {
  if (Array.isArray(root.messages)) return [root]
  const lists = [root.chats, root.left_chats].filter(isObject).map(x => x.list).filter(Array.isArray)
  return lists.flat().filter(isObject)
}

/**
 * Maps a parsed Telegram export to the canonical model.
 * - contact: a sender's from_id ("user123", "channel456") with its display name; the full export's
 *   contacts list adds "user<user_id>" with first+last name and phone. The exporter
 *   (personal_information.user_id) is "me".
 * - conversation: "tg<chat id>", title = name, direct for personal/bot/saved chats, else group; members
 *   in order of appearance, the peer of a personal chat first, "me" when identifiable.
 */
export async function mapTelegram (root: unknown, baseDir: string): Promise<MappedHistory> {
  if (!isTelegramExport(root)) throw new FerryError(ErrorCode.BAD_INPUT, 'not a Telegram export: no "messages" and no "chats.list"')
  const json = root as Json
  const unmapped: Unmapped = {}
  const contacts = new Map<string, Contact>()
  const info = isObject(json.personal_information) ? json.personal_information : undefined
  const meUser = str(info?.user_id)
  const ctx: Context = { me: meUser !== undefined ? `user${meUser}` : undefined, contacts, media: new MediaFiles(baseDir, unmapped), unmapped }
  if (isObject(json.contacts) && Array.isArray(json.contacts.list)) {
    for (const c of json.contacts.list.filter(isObject)) {
      const uid = str(c.user_id)
      if (uid === undefined || uid === '0') { note(unmapped, 'contact without user id'); continue }
      const contact: Contact = { id: `user${uid}`, name: [str(c.first_name), str(c.last_name)].filter(s => s !== undefined && s !== '').join(' ') }
      const phone = str(c.phone_number)
      if (phone !== undefined && phone !== '') contact.phone = phone
      if (contact.id !== ctx.me) contacts.set(contact.id, contact)
    }
  }
  const conversations: Conversation[] = []
  const messages: Message[] = []
  for (const chat of chatsOf(json)) {
    const chatId = str(chat.id)
    if (chatId === undefined || !Array.isArray(chat.messages)) { note(unmapped, 'chat without id or messages'); continue }
    const type = str(chat.type) ?? ''
    const direct = DIRECT_TYPES.has(type)
    const members: string[] = []
    // A personal chat's id is the peer's user id: anyone else writing in it is the exporter.
    const chatCtx: Context = { ...ctx }
    if (type === 'personal_chat' || type === 'bot_chat') {
      const peer = `user${chatId}`
      if (chatCtx.me === undefined) {
        const other = chat.messages.filter(isObject).map(m => str(m.from_id) ?? str(m.actor_id)).find(f => f !== undefined && f !== peer)
        chatCtx.me = other
      }
      appear(members, senderOf(chatCtx, peer, chat.name))
    }
    if (type === 'saved_messages' && chatCtx.me === undefined) {
      chatCtx.me = chat.messages.filter(isObject).map(m => str(m.from_id)).find(f => f !== undefined)
    }
    for (const m of chat.messages.filter(isObject)) {
      const msg = await mapMessage(chatCtx, `tg${chatId}`, m)
      if (msg === undefined) continue
      if (msg.sender !== 'unknown') appear(members, msg.sender)
      messages.push(msg)
    }
    if (chatCtx.me !== undefined) appear(members, 'me')
    conversations.push({ id: `tg${chatId}`, kind: direct ? 'direct' : 'group', title: str(chat.name) ?? (type === 'saved_messages' ? 'Saved Messages' : ''), members })
  }
  return { contacts: [...contacts.values()], conversations, media: [...ctx.media.records.values()], messages, unmapped }
}

/** Imports a Telegram result.json (media relative to it) into the store; all or nothing. */
export async function importTelegram (store: SqliteChatStore, file: string): Promise<ForeignImportResult> {
  let root: unknown
  try {
    root = JSON.parse(await readFile(file, 'utf8'))
  } catch (err) {
    throw new FerryError(ErrorCode.BAD_INPUT, `cannot read Telegram export ${file}: ${(err as Error).message}`)
  }
  const baseDir = dirname(resolve(file))
  return await writeHistory(store, await mapTelegram(root, baseDir), baseDir, 'telegram')
}
