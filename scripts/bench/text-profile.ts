// The message-heavy set: a simulated phone with 300,000 messages and no media at all, for the lanes'
// messages/s (the browser phone's above all, where media would dominate the time). The simulator's
// media messages become text messages that keep their caption, so every message is still there.
import { generateHistory } from '../../src/sim/generator.js'
import { PROFILES } from '../../src/sim/profiles.js'
import type { SqliteChatStore } from '../../src/store/sqlite-store.js'
import type { Message } from '../../src/store/model.js'

export const TEXT_PROFILE = 'text'
export const TEXT_MESSAGES = 300_000

function asText (m: Message): Message {
  if (m.media === undefined) return m
  const { media: _media, durationMs: _duration, ...rest } = m
  return { ...rest, kind: 'text', text: m.text ?? `(${m.kind})` }
}

/** Seeds `store` with the text-only history of `seed` (the medium profile's chats, TEXT_MESSAGES messages). */
export function seedTextOnly (store: SqliteChatStore, seed: number, messages = TEXT_MESSAGES): { messages: number, conversations: number } {
  const history = generateHistory({ ...PROFILES.medium, messages, mediaBytes: 0 }, seed)
  // The generator names each message's file by its sha256; no file is written, so any distinct names do.
  const ids = history.media.map(m => m.index.toString(16).padStart(64, '0'))
  store.putMetadata(history.contacts, history.conversations, [])
  let batch: Message[] = []
  let n = 0
  const flush = (): void => {
    const rows = batch
    store.transaction(() => { store.putMessages(rows) })
    n += rows.length
    batch = []
  }
  for (const m of history.messages(ids)) {
    batch.push(asText(m))
    if (batch.length >= 5000) flush()
  }
  if (batch.length > 0) flush()
  return { messages: n, conversations: history.conversations.length }
}
