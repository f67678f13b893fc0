import type { Contact, Conversation, Message } from '../store/model.js'

// The one question an undo asks of each thing its transfer wrote before it takes it back, and what it
// is asked of. The journal asks it; the protocol answers it (src/protocol/written-digest.ts), since only
// the protocol knows how a message, a contact or a chat is encoded.

/** What the undo log keeps a digest of as a transfer wrote it, by what it is. */
export interface Written { message: Message, contact: Contact, conversation: Conversation }

/**
 * Whether a message, contact or chat as the store reads it back (undefined: the store holds none) is still
 * the one logged with `written` (the protocol's stillAsWritten).
 */
export type StillAsWritten = <K extends keyof Written>(what: K, stored: Written[K] | undefined, written: Uint8Array) => boolean
