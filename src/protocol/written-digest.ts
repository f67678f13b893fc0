import { WRITTEN_DIGEST_BYTES } from '../journal/log-codec.js'
import type { StillAsWritten, Written } from '../journal/still-as-written.js'
import type { NameDigests } from '../journal/transfer-log.js'
import type { Contact, Conversation, Message } from '../store/model.js'
import { equalBytes } from './digest.js'
import { encodedMessage } from './leaves.js'

/**
 * The digest the undo log keeps of a message's encoding as a transfer wrote it (LogItem.written), and of
 * each contact and chat it wrote: an undo takes back only one still stored so (whatever the person, the
 * app or an import changed since stays), and a refused verification tells a message changed on this
 * phone from one the sender lied about. Always of the encoding made from the message, never of the bytes that came: the undo
 * compares it with a message read from the store, which any store gives as a Message.
 *
 * Not a cryptographic hash: it tells a version changed on this phone from the one written, and nobody
 * gains by making two collide (a sender that did would only have its own messages taken back). A
 * message-heavy transfer digests every message it writes, on the receiver's busiest thread: a native
 * sha256 call per message, its result allocated, weighed on it (docs/performance.md); two 32-bit
 * multiply-and-xor lanes over the bytes, into eight bytes, weigh far less.
 */
export function writtenDigest (encoded: Uint8Array): Uint8Array {
  // The length read once: V8 does not hoist a typed array's byteLength out of a loop's condition, and
  // read each step it cost several times the loop's own arithmetic (docs/performance.md).
  const n = encoded.byteLength
  let a = 0x9e3779b9 ^ n
  let b = 0x85ebca6b ^ n
  for (let i = 0; i < n; i++) {
    const c = encoded[i]
    a = Math.imul(a ^ c, 0x01000193)
    b = Math.imul(b ^ c, 0x5bd1e995)
  }
  a = Math.imul(a ^ (a >>> 16), 0x85ebca6b) ^ Math.imul(b ^ (b >>> 13), 0xc2b2ae35)
  b = Math.imul(b ^ (b >>> 16), 0x85ebca6b) ^ Math.imul(a ^ (a >>> 13), 0xc2b2ae35)
  const out = new Uint8Array(WRITTEN_DIGEST_BYTES)
  out[0] = a >>> 24; out[1] = a >>> 16; out[2] = a >>> 8; out[3] = a
  out[4] = b >>> 24; out[5] = b >>> 16; out[6] = b >>> 8; out[7] = b
  return out
}

const enc = new TextEncoder()

/**
 * The encoding a contact's or a chat's digest is of: every field a person can change, in a fixed order,
 * an absent number and an undefined one alike, a chat's members as a set (a store may keep them in any
 * order). What the name read-back compares (name-check.ts), so a name read back as written digests as
 * written.
 */
function encodedName (what: 'contact' | 'conversation', r: Contact | Conversation): Uint8Array {
  if (what === 'contact') {
    const c = r as Contact
    return enc.encode(JSON.stringify([c.id, c.name, c.phone ?? null]))
  }
  const c = r as Conversation
  return enc.encode(JSON.stringify([c.id, c.kind, c.title, [...new Set(c.members)].sort()]))
}

/** writtenDigest of a message, a contact or a chat as a store reads it back (or as the transfer writes it). */
export function storedDigest<K extends keyof Written> (what: K, r: Written[K]): Uint8Array {
  if (what === 'message') return writtenDigest(encodedMessage(r as Message))
  return writtenDigest(encodedName(what as 'contact' | 'conversation', r as Contact | Conversation))
}

/**
 * Whether a message, contact or chat as the store reads it back (undefined: it holds none) is still the
 * one the undo log kept as `written`: the one decision of what an undo may take back and of what a
 * refusal blames on this phone. One gone is not: the person or app deleted it since.
 */
export const stillAsWritten: StillAsWritten = (what, stored, written) =>
  stored !== undefined && equalBytes(storedDigest(what, stored), written)

/** The digests logMetadata keeps of the contacts and chats a transfer is about to write. */
export function nameDigests (contacts: readonly Contact[], conversations: readonly Conversation[]): NameDigests {
  return {
    contacts: new Map(contacts.map(c => [c.id, storedDigest('contact', c)])),
    conversations: new Map(conversations.map(c => [c.id, storedDigest('conversation', c)]))
  }
}
