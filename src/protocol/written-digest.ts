import { WRITTEN_DIGEST_BYTES } from '../journal/log-codec.js'
import type { Message } from '../store/model.js'
import { equalBytes } from './digest.js'
import { encodedMessage } from './leaves.js'

/**
 * The digest the undo log keeps of a message's encoding as a transfer wrote it (LogItem.written): an
 * undo takes back only a message still stored so (whatever the person, the app or an import changed
 * since stays), and a refused verification tells a message changed on this phone from one the sender
 * lied about. Always of the encoding made from the message, never of the bytes that came: the undo
 * compares it with a message read from the store, which any store gives as a Message.
 *
 * Not a cryptographic hash: it tells a version changed on this phone from the one written, and nobody
 * gains by making two collide (a sender that did would only have its own messages taken back). A
 * message-heavy transfer digests every message it writes, on the receiver's busiest thread: a native
 * sha256 call per message, its result allocated, weighed on it (docs/performance.md); two 32-bit
 * multiply-and-xor lanes over the bytes, into eight bytes, weigh far less.
 */
export function writtenDigest (encoded: Uint8Array): Uint8Array {
  let a = 0x9e3779b9 ^ encoded.byteLength
  let b = 0x85ebca6b ^ encoded.byteLength
  for (let i = 0; i < encoded.byteLength; i++) {
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

/** writtenDigest of a message as a store reads it back. */
export function storedDigest (m: Message): Uint8Array {
  return writtenDigest(encodedMessage(m))
}

/** Whether a message as the store reads it back is still the one logged with `written`. */
export function stillAsWritten (m: Message, written: Uint8Array): boolean {
  return equalBytes(storedDigest(m), written)
}
