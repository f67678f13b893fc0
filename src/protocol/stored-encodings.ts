import type { EncodedMessage, HistorySource, MessagePosition } from '../store/history.js'
import type { Message } from '../store/model.js'
import { encodedMessage } from './leaves.js'
import type { PagedMessages } from './manifest.js'

// A store's messages as the encodings a transfer digests: the store's own, when it keeps each message
// as its encoding (HistorySource.encodedMessages), or each message read and encoded again. Digests
// of what a store holds (a read-back, a phone's own leaves) read it through here.

export interface StoredEncodings {
  /** The store's messages in order, as selectedPages reads them (their keys at least). */
  pages: PagedMessages<MessagePosition>
  /** The encoding of an item of `pages`. */
  encodingOf: (m: MessagePosition) => Uint8Array
}

export function storedEncodings (history: Pick<HistorySource, 'messages' | 'messagesPerRead' | 'encodedMessages'>): StoredEncodings {
  const kept = history.encodedMessages
  if (kept === undefined) return { pages: history, encodingOf: m => encodedMessage(m as Message) }
  return {
    pages: { messages: async (c, after, limit) => await kept.call(history, c, after, limit), messagesPerRead: history.messagesPerRead },
    encodingOf: m => (m as EncodedMessage).encoded
  }
}
