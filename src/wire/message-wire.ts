import {
  CONVERSATION_KINDS, MESSAGE_KINDS, MESSAGE_STATUSES,
  type Contact, type Conversation, type ConversationKind, type Link, type MediaRecord, type Message, type MessageKind, type MessageStatus
} from '../store/model.js'
import { ErrorCode, FerryError } from '../errors.js'
import type { ferry } from './codec.js'
import { isHashHex } from '../hash-hex.js'

// Conversions between the chat model and wire objects. Inbound conversions are the receiver's first line
// of defence: every field is checked, and absent optional fields stay absent (decoded protobufjs objects
// report them as null through their prototype).

const kinds = new Set<string>(MESSAGE_KINDS)
const statuses = new Set<string>(MESSAGE_STATUSES)
const conversationKinds = new Set<string>(CONVERSATION_KINDS)

export function messageToWire (m: Message): ferry.Message.$Properties {
  const w: ferry.Message.$Properties = { conversation: m.conversation, id: m.id, sender: m.sender, ts: m.ts, kind: m.kind }
  if (m.text !== undefined) w.text = m.text
  if (m.media !== undefined) w.media = m.media
  if (m.durationMs !== undefined) w.durationMs = m.durationMs
  if (m.location !== undefined) {
    w.location = { lat: m.location.lat, lon: m.location.lon }
    if (m.location.label !== undefined) w.location.label = m.location.label
  }
  if (m.replyTo !== undefined) w.replyTo = m.replyTo
  if (m.status !== undefined) w.status = m.status
  if (m.forwardedFrom !== undefined) w.forwardedFrom = m.forwardedFrom
  if (m.viaBot !== undefined) w.viaBot = m.viaBot
  if (m.editedAt !== undefined) w.editedAt = m.editedAt
  if (m.pinned !== undefined) w.pinned = m.pinned
  if (m.fileName !== undefined) w.fileName = m.fileName
  if (m.links !== undefined) w.links = m.links.map(l => l.text === undefined ? { url: l.url } : { text: l.text, url: l.url })
  return w
}

function bad (what: string): never {
  throw new FerryError(ErrorCode.MALFORMED_FRAME, what)
}

function requireId (v: string | null | undefined, what: string): string {
  if (typeof v !== 'string' || v.length === 0) bad(`${what} is missing`)
  return v
}

function safeInt (v: unknown, what: string): number {
  const n = Number(v)
  if (!Number.isSafeInteger(n)) bad(`${what} is not a safe integer`)
  return n
}

export function messageFromWire (w: ferry.Message.$Properties): Message {
  const m: Message = {
    conversation: requireId(w.conversation, 'message conversation'),
    id: requireId(w.id, 'message id'),
    sender: requireId(w.sender, 'message sender'),
    ts: safeInt(w.ts ?? 0, 'message ts'),
    kind: (kinds.has(w.kind ?? '') ? w.kind : bad(`unknown message kind '${String(w.kind)}'`)) as MessageKind
  }
  if (w.text != null) m.text = w.text
  if (w.media != null) {
    if (!isHashHex(w.media)) bad('message media is not a sha256')
    m.media = w.media
  }
  if (w.durationMs != null) m.durationMs = safeInt(w.durationMs, 'message durationMs')
  if (w.location != null) {
    const { lat, lon, label } = w.location
    if (!Number.isFinite(lat) || !Number.isFinite(lon)) bad('message location is not a finite lat/lon')
    m.location = { lat: lat as number, lon: lon as number }
    if (label != null) m.location.label = label
  }
  if (w.replyTo != null) m.replyTo = w.replyTo
  if (w.status != null) {
    if (!statuses.has(w.status)) bad(`unknown message status '${w.status}'`)
    m.status = w.status as MessageStatus
  }
  if (w.forwardedFrom != null) m.forwardedFrom = w.forwardedFrom
  if (w.viaBot != null) m.viaBot = requireId(w.viaBot, 'message viaBot')
  if (w.editedAt != null) m.editedAt = safeInt(w.editedAt, 'message editedAt')
  if (w.pinned != null) m.pinned = requireId(w.pinned, 'message pinned')
  if (w.fileName != null) m.fileName = requireId(w.fileName, 'message fileName')
  if (w.links != null && w.links.length > 0) {
    m.links = w.links.map(l => {
      const link: Link = { url: requireId(l.url, 'message link url') }
      return l.text != null ? { text: l.text, ...link } : link
    })
  }
  return m
}

export function contactFromWire (w: ferry.Contact.$Properties): Contact {
  const c: Contact = { id: requireId(w.id, 'contact id'), name: w.name ?? '' }
  if (w.phone != null) c.phone = w.phone
  return c
}

export function contactToWire (c: Contact): ferry.Contact.$Properties {
  return c.phone === undefined ? { id: c.id, name: c.name } : { id: c.id, name: c.name, phone: c.phone }
}

export function conversationToWire (c: Conversation, messageCount: number): ferry.Conversation.$Properties {
  return { id: c.id, kind: c.kind, title: c.title, members: c.members, messageCount }
}

export function conversationFromWire (w: ferry.Conversation.$Properties): { conversation: Conversation, messageCount: number } {
  const kind = w.kind ?? ''
  if (!conversationKinds.has(kind)) bad(`unknown conversation kind '${kind}'`)
  return {
    conversation: { id: requireId(w.id, 'conversation id'), kind: kind as ConversationKind, title: w.title ?? '', members: [...(w.members ?? [])] },
    messageCount: safeInt(w.messageCount ?? 0, 'conversation message count')
  }
}

/**
 * A manifest's conversations, the entries that continue a member list (Conversation.continued) joined to
 * the one before them. MALFORMED_FRAME for a continuation that follows no entry of its id.
 */
export function conversationsFromWire (ws: Iterable<ferry.Conversation.$Properties>): Array<{ conversation: Conversation, messageCount: number }> {
  const out: Array<{ conversation: Conversation, messageCount: number }> = []
  for (const w of ws) {
    if (w.continued === true) {
      const prev = out[out.length - 1]
      if (prev === undefined || prev.conversation.id !== w.id) bad(`members of conversation ${String(w.id)} continue no entry of it`)
      if ((w.members?.length ?? 0) === 0) bad(`an entry continuing conversation ${String(w.id)} carries no member`)
      for (const m of w.members ?? []) prev.conversation.members.push(m)
      continue
    }
    out.push(conversationFromWire(w))
  }
  return out
}

export function mediaFromWire (w: ferry.MediaInfo.$Properties): MediaRecord & { missing: boolean } {
  if (!isHashHex(w.sha256 ?? '')) bad('media sha256 is not 64 lowercase hex digits')
  const size = safeInt(w.size ?? 0, 'media size')
  if (size < 0) bad('media size is negative')
  return { sha256: w.sha256 as string, size, mime: w.mime ?? '', missing: w.missing === true }
}
