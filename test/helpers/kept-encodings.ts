import { encodedMessage } from '../../src/protocol/leaves.js'
import type { EncodedMessage, HistoryChange, MessagePosition } from '../../src/store/history.js'
import type { Message } from '../../src/store/model.js'
import type { SqliteChatStore } from '../../src/store/sqlite-store.js'

// A store that keeps each message as its encoding (HistorySource.encodedMessages), as the browser's
// pages do, made of the SQLite store and a map beside it: for the protocol's tests in Node and the
// History port's conformance suite.

export interface Keeping {
  sink: SqliteChatStore
  kept: Map<string, Uint8Array>
  calls: { messagesRead: number, encodedMessages: number, committedWithBytes: number, committed: number }
  /** The next commit that carries message `id` keeps other bytes for it (as a store that garbled them would). */
  garble: (id: string) => void
}

/** Where `kept` holds a message's bytes. */
export const keyOf = (conversation: string, id: string): string => `${conversation}\u0000${id}`

/** The SQLite store, with its messages' encodings kept beside it as the bytes each commit carried. */
export function keepingEncodings (store: SqliteChatStore): Keeping {
  const kept = new Map<string, Uint8Array>()
  const calls = { messagesRead: 0, encodedMessages: 0, committedWithBytes: 0, committed: 0 }
  const garbled = new Set<string>()
  const own = {
    async commit (change: HistoryChange): Promise<void> {
      await store.commit(change)
      for (const r of change.remove?.messages ?? []) kept.delete(keyOf(r.conversation, r.id))
      ;(change.messages ?? []).forEach((m, i) => {
        calls.committed++
        const came = change.encoded?.[i]
        if (came !== undefined) calls.committedWithBytes++
        const bytes = (came ?? encodedMessage(m)).slice()
        if (garbled.delete(m.id)) bytes[bytes.length - 1] ^= 1
        kept.set(keyOf(m.conversation, m.id), bytes)
      })
    },
    async messages (conversation: string, after: MessagePosition | undefined, limit: number): Promise<Message[]> {
      const page = await store.messages(conversation, after, limit)
      calls.messagesRead += page.length
      return page
    },
    async encodedMessages (conversation: string, after: MessagePosition | undefined, limit: number): Promise<EncodedMessage[]> {
      calls.encodedMessages++
      const page = await store.messages(conversation, after, limit)
      return page.map(m => ({ ts: m.ts, id: m.id, encoded: kept.get(keyOf(conversation, m.id)) ?? encodedMessage(m) }))
    }
  }
  const sink = new Proxy(store, {
    get: (t, p) => {
      if (Object.prototype.hasOwnProperty.call(own, p)) return own[p as keyof typeof own]
      const v = Reflect.get(t, p, t) as unknown
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v
    }
  })
  return { sink, kept, calls, garble: id => { garbled.add(id) } }
}
