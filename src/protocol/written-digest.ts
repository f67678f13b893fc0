import { WRITTEN_DIGEST_BYTES } from '../journal/log-codec.js'
import type { Message } from '../store/model.js'
import { encodedMessage } from './leaves.js'
import { sha256Of } from './sha256.js'

/**
 * The digest the undo log keeps of a message's encoding as a transfer wrote it (LogItem.written): an
 * undo takes back only a message still stored so (whatever the person, the app or an import changed
 * since stays), and a refused verification tells a message changed on this phone from one the sender
 * lied about. Always of the encoding made from the message, never of the bytes that came: the undo
 * compares it with a message read from the store, which any store gives as a Message.
 */
export function writtenDigest (encoded: Uint8Array): Uint8Array {
  return sha256Of(encoded).subarray(0, WRITTEN_DIGEST_BYTES)
}

/** writtenDigest of a message as a store reads it back. */
export function storedDigest (m: Message): Uint8Array {
  return writtenDigest(encodedMessage(m))
}
