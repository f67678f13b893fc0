// The chat model shared by the store, the canonical NDJSON format and the wire protocol.
// Optional fields are absent (undefined), never null: an empty string is content.

export const MESSAGE_KINDS = ['text', 'voice', 'image', 'video', 'file', 'location', 'sticker', 'system'] as const
export type MessageKind = typeof MESSAGE_KINDS[number]
export const MESSAGE_STATUSES = ['sent', 'delivered', 'read', 'recalled'] as const
export type MessageStatus = typeof MESSAGE_STATUSES[number]
export const CONVERSATION_KINDS = ['direct', 'group'] as const
export type ConversationKind = typeof CONVERSATION_KINDS[number]

export interface Contact {
  id: string
  name: string
  phone?: string
}

export interface Conversation {
  id: string
  kind: ConversationKind
  title: string
  members: string[]
}

export interface MediaRecord {
  sha256: string
  size: number
  mime: string
}

export interface Location {
  lat: number
  lon: number
  label?: string
}

/** A link inside a message's text whose target the text does not show (Telegram's text_link). */
export interface Link {
  /** The words that carry the link. */
  text?: string
  url: string
}

export interface Message {
  conversation: string
  id: string
  sender: string
  ts: number
  kind: MessageKind
  text?: string
  media?: string
  durationMs?: number
  location?: Location
  replyTo?: string
  status?: MessageStatus
  /** Forwarded: the original author's display name ("" when the origin is hidden). */
  forwardedFrom?: string
  /** Sent through an inline bot: its username. */
  viaBot?: string
  /** When the message was last edited (ms since the epoch). */
  editedAt?: number
  /** A "pinned a message" event: the id of the message it pinned. */
  pinned?: string
  /** The attachment's original file name. */
  fileName?: string
  /** Links whose target is not in the text; never empty when present. */
  links?: Link[]
}

/** A message's place in the canonical order: (conversation, ts, id). */
export interface MessageKey {
  conversation: string
  ts: number
  id: string
}

/** Which part of a history to move. No conversations = all; `since` inclusive, `until` exclusive (ms). */
export interface Selection {
  conversations?: string[]
  since?: number
  until?: number
}

/**
 * Compares strings by Unicode code point, which is the byte order of their UTF-8 encodings and so
 * SQLite's BINARY collation. JS's `<` compares UTF-16 code units and disagrees beyond the BMP.
 */
export function compareStrings (a: string, b: string): number {
  if (a === b) return 0
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x !== y) {
      // A surrogate (0xD800-0xDFFF) encodes a code point above 0xFFFF, so it sorts after 0xE000-0xFFFF.
      const xs = x >= 0xd800 && x <= 0xdfff
      const ys = y >= 0xd800 && y <= 0xdfff
      if (xs !== ys) return xs ? 1 : -1
      return x - y
    }
  }
  return a.length - b.length
}

export function compareKeys (a: MessageKey, b: MessageKey): number {
  return compareStrings(a.conversation, b.conversation) || (a.ts - b.ts) || compareStrings(a.id, b.id)
}

export function keyOf (m: Message): MessageKey {
  return { conversation: m.conversation, ts: m.ts, id: m.id }
}

/** Compares two positions inside one conversation: by ts, then id by code point. */
export function comparePositions (a: { ts: number, id: string }, b: { ts: number, id: string }): number {
  return (a.ts - b.ts) || compareStrings(a.id, b.id)
}
