import { ErrorCode, FerryError } from '../errors.js'
import { ferry, varintLength } from '../wire/codec.js'
import { MAX_FRAME_BYTES } from '../wire/framing.js'
import { DEFAULT_OPTIONS } from './options.js'
import { contactToWire, conversationToWire } from '../wire/message-wire.js'
import type { HistorySource } from '../store/history.js'
import type { Contact, Conversation, Selection } from '../store/model.js'

// The manifest's contacts and chats as entries that each fit a frame. A chat's member list has no bound
// of its own, so one too long for a frame goes on in entries that continue it (Conversation.continued);
// what cannot be cut (a contact, a chat without its members, one member) must fit a frame alone, and a
// history with one that does not is refused before anything is sent or written.

/**
 * The most one contact, one chat's id, kind and title, or one member (with its chat's id) may take
 * encoded: a frame (MAX_FRAME_BYTES) less room for the frame's own fields.
 */
export const MAX_ENTRY_BYTES = 1024 * 1024

/** UTF-8 length, at most: each half of a surrogate pair counts 3 bytes (the pair takes 4). */
export function utf8Length (s: string): number {
  let n = s.length
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0x80) n += c >= 0x800 ? 2 : 1
  }
  return n
}

export const stringField = (s: string): number => {
  const n = utf8Length(s)
  return 1 + varintLength(n) + n
}

/** A manifest entry and its encoded length (an upper bound). */
export interface SizedEntry<T> { wire: T, size: number }

/**
 * A chat as manifest entries of at most `entryBytes` each (MAX_ENTRY_BYTES, a frame's worth): the first
 * with its id, kind, title and count, and as many of its members as fit; the rest of its members in
 * entries that continue it. A chat that fits one frame goes in one entry, as before continuations were
 * made: a Ferry that predates them reads it (it refuses a continuation, but it could not move such a
 * chat at all).
 */
export function * conversationEntries (conversation: Conversation, messageCount: number, entryBytes = MAX_ENTRY_BYTES): Generator<SizedEntry<ferry.Conversation.$Properties>> {
  const head = conversationToWire({ ...conversation, members: [] }, messageCount)
  let size = ferry.Conversation.encode(head).len
  let members: string[] = []
  let wire: ferry.Conversation.$Properties = head
  for (const m of conversation.members) {
    const len = stringField(m)
    if (members.length > 0 && size + len > entryBytes) {
      wire.members = members
      yield { wire, size }
      members = []
      wire = { id: conversation.id, continued: true }
      size = stringField(conversation.id) + 2
    }
    members.push(m)
    size += len
  }
  wire.members = members
  yield { wire, size }
}

const MIB = 1024 * 1024

function shown (id: string): string {
  return id.length > 40 ? `${id.slice(0, 40)}…` : id
}

function tooLarge (what: string, bytes: number, leaveOut: string): FerryError {
  return new FerryError(ErrorCode.TOO_LARGE,
    `${what} takes ${(bytes / MIB).toFixed(1)} MiB, and Ferry moves at most ${MAX_ENTRY_BYTES / MIB} MiB of it in one piece: ` +
    `nothing was sent or written. No chat app writes one that long; change it on this phone, or leave out ${leaveOut} with --chats`)
}

/**
 * A chat's entry in the Done frame, at most: its id, its message count and its digest. Done names every
 * chat of the transfer in one frame, which bounds how many chats (by their ids) one transfer moves.
 */
function doneEntryBytes (id: string, messages: number): number {
  const inner = stringField(id) + 1 + varintLength(messages) + 2 + 32
  return 1 + varintLength(inner) + inner
}

/** Done's own fields and the frame's, at most. */
const DONE_OVERHEAD = 64

/**
 * Refuses, with TOO_LARGE in words a person can act on, what a receiver (a phone, or a restore reading a
 * backup) would refuse of this history: a contact or chat whose entry cannot fit a frame even cut at its
 * members, more contacts, chats and members than a manifest may hold (maxManifestRecords, and in bytes
 * maxManifestBytes, the media index aside), or more chats than the Done frame can name.
 */
export function refuseUnmovable (contacts: Contact[], conversations: Iterable<{ conversation: Conversation, messageCount: number }>): void {
  let bytes = 0
  for (const c of contacts) {
    const size = ferry.Contact.encode(contactToWire(c)).len
    if (size > MAX_ENTRY_BYTES) throw tooLarge(`contact ${shown(c.id)} (its id, name and number)`, size, 'the chats it is in')
    bytes += size
  }
  let chats = 0
  let records = contacts.length
  let done = DONE_OVERHEAD
  let fit = 0
  for (const { conversation, messageCount } of conversations) {
    const head = ferry.Conversation.encode(conversationToWire({ ...conversation, members: [] }, 0)).len + 10
    if (head > MAX_ENTRY_BYTES) throw tooLarge(`chat ${shown(conversation.id)} (its id and title)`, head, 'that chat')
    const id = stringField(conversation.id) + 2
    bytes += head
    for (const m of conversation.members) {
      const size = id + stringField(m)
      if (size > MAX_ENTRY_BYTES) throw tooLarge(`a member of chat ${shown(conversation.id)} (${shown(m)}, with the chat's id)`, size, 'that chat')
      bytes += size - id
    }
    chats++
    records += 1 + conversation.members.length
    done += doneEntryBytes(conversation.id, messageCount)
    if (done <= MAX_FRAME_BYTES) fit = chats
  }
  const inParts = 'nothing was sent or written. Move the chats in parts, some of them at a time with --chats'
  if (records > DEFAULT_OPTIONS.maxManifestRecords) {
    throw new FerryError(ErrorCode.TOO_LARGE, `these ${contacts.length} contacts and ${chats} chats with their members make ${records} entries, ` +
      `and Ferry moves at most ${DEFAULT_OPTIONS.maxManifestRecords} at once: ${inParts}`)
  }
  if (bytes > DEFAULT_OPTIONS.maxManifestBytes) {
    throw new FerryError(ErrorCode.TOO_LARGE, `these ${contacts.length} contacts and ${chats} chats take ${Math.ceil(bytes / MIB)} MiB ` +
      `with their names and members, and Ferry moves at most ${DEFAULT_OPTIONS.maxManifestBytes / MIB} MiB of them at once: ${inParts}`)
  }
  if (done > MAX_FRAME_BYTES) {
    throw new FerryError(ErrorCode.TOO_LARGE, `these ${chats} chats are more than Ferry moves at once: the check that ends a transfer ` +
      `names every chat in one piece of at most ${MAX_ENTRY_BYTES / MIB} MiB, room for the first ${fit} of these by their ids: ${inParts}`)
  }
}

/**
 * refuseUnmovable on a history, before a transfer is offered or a backup written: the chats `sel`
 * names (all without a list), and the contacts among their members (all of them when nothing narrows;
 * the manifest checks the senders a narrowed one adds as it is made, with the same words).
 */
export async function refuseUnmovableHistory (source: Pick<HistorySource, 'contacts' | 'conversations'>, sel: Selection | undefined): Promise<void> {
  const wanted = sel?.conversations === undefined ? undefined : new Set(sel.conversations)
  const chosen = (await source.conversations()).filter(i => wanted === undefined || wanted.has(i.conversation.id))
  let contacts = await source.contacts()
  // A narrowed selection (chats or dates) sends only the people in its chats, as beginManifest does: a
  // contact in none of them is not refused for what would not be sent.
  if (sel !== undefined && (wanted !== undefined || sel.since !== undefined || sel.until !== undefined)) {
    const people = new Set(chosen.flatMap(i => i.conversation.members))
    contacts = contacts.filter(c => people.has(c.id))
  }
  refuseUnmovable(contacts, chosen.map(i => ({ conversation: i.conversation, messageCount: i.messages })))
}
