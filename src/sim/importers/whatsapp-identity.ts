import type { Conversation, Message } from '../../store/model.js'
import type { SqliteChatStore } from '../../store/sqlite-store.js'
import { digest, type MappedHistory } from './common.js'

// Which chat and which messages of the store a WhatsApp export is, so that importing another export of
// the same chat adds only what is new in it. An export names neither the chat nor its messages: the
// mapper derives ids from what it shows (whatsapp.ts), and this settles what they cannot:
//
// - The chat. Its id comes from its title, which two chats may share (two groups called "Family", two
//   contacts saved under one name). An export says nothing else that tells them apart for certain: its
//   file name is the title, its first lines may be cut off (an export is capped at the most recent
//   messages) and its members are only those who wrote in it. What two exports of one chat do share is
//   messages. So a chat of the same title in the store is this one when it holds a message of the
//   export (same time, sender and text), the one holding most of them if several do; a chat of that
//   title sharing none is another chat, and the export becomes a chat of its own. The cost: two exports
//   of one chat with no message in common (the second capped after more messages than it holds were
//   written since the first) become two chats of one title, not one; merging two people's chats would
//   be worse, and could not be undone.
// - Messages whose id moved. A message's id holds its place among the messages of its minute, which
//   moves when one before it in that minute was deleted "for me" or cut off by the cap; and stores
//   imported before ids were made so hold ids from each line's place in the file. A message of the
//   export not held under its id, whose time, sender and text a message of the chat in the store has
//   (one not matched already), keeps that message's id, so it is not stored twice.
// What the store holds of a message that is matched so (a recall, an edit, its media) stays as an import
// merges it (import-merge.ts).

/** A message as two exports of it show it alike: its time, sender and text, and whether it holds media. */
function contentKey (m: Message): string {
  const what = m.status === 'recalled' ? 'recalled' : m.kind === 'text' || m.kind === 'system' || m.kind === 'location' ? m.kind : 'media'
  return `${m.ts}\0${m.sender}\0${what}\0${m.text ?? ''}`
}

/** Messages of a stored chat by id and by content, each to be matched at most once. */
class StoredChat {
  readonly byId = new Map<string, Message>()
  private readonly byContent = new Map<string, Message[]>()
  private readonly taken = new Set<string>()

  constructor (messages: Iterable<Message>) {
    for (const m of messages) {
      this.byId.set(m.id, m)
      const key = contentKey(m)
      const same = this.byContent.get(key)
      if (same === undefined) this.byContent.set(key, [m])
      else same.push(m)
    }
  }

  /** How many of `messages` a message of this chat shows alike. */
  shared (messages: readonly Message[]): number {
    let n = 0
    for (const m of messages) if (m.text !== undefined && this.byContent.has(contentKey(m))) n++
    return n
  }

  take (id: string): void {
    this.taken.add(id)
  }

  /** The first message not taken yet that shows as `m` does. */
  alike (m: Message): Message | undefined {
    return this.byContent.get(contentKey(m))?.find(s => !this.taken.has(s.id))
  }
}

function storedChat (store: SqliteChatStore, id: string): StoredChat {
  return new StoredChat(store.listMessages({ conversations: [id] }))
}

/** The history with its chat and message ids those the store holds for them, where it holds them. */
export function matchStore (store: SqliteChatStore, history: MappedHistory): MappedHistory {
  const [mapped] = history.conversations
  if (mapped === undefined) return history
  const { id, chat } = whichChat(store, mapped, history.messages)
  const messages = history.messages.map(m => ({ ...m, conversation: id }))
  if (chat !== undefined) keepIds(chat, messages)
  const conversation: Conversation = { ...mapped, id }
  return { ...history, conversations: [conversation], messages }
}

/** The id the chat has in the store, with its messages; or a new id when the store holds it not. */
function whichChat (store: SqliteChatStore, mapped: Conversation, messages: readonly Message[]): { id: string, chat?: StoredChat } {
  let best: { id: string, chat: StoredChat, shared: number } | undefined
  for (const c of store.listConversations()) {
    if (!c.id.startsWith('wa-') || c.title !== mapped.title) continue
    const chat = storedChat(store, c.id)
    const shared = chat.shared(messages)
    if (shared > 0 && (best === undefined || shared > best.shared)) best = { id: c.id, chat, shared }
  }
  if (best !== undefined) return best
  // Another chat of this title holds the title's id: this one is told apart by its first message.
  if (!store.hasConversation(mapped.id)) return { id: mapped.id }
  const first = messages[0]
  return { id: `wa-${digest(mapped.title, String(first.ts), first.sender, first.text ?? '')}` }
}

/** Gives each message the id of the stored message it is, where that id is another. */
function keepIds (chat: StoredChat, messages: Message[]): void {
  const moved: number[] = []
  // First every message held under its own id as it shows, so none of them is taken by another.
  for (const [i, m] of messages.entries()) {
    const held = chat.byId.get(m.id)
    if (held !== undefined && contentKey(held) === contentKey(m)) chat.take(m.id)
    else moved.push(i)
  }
  for (const i of moved) {
    const alike = chat.alike(messages[i])
    if (alike !== undefined) {
      chat.take(alike.id)
      messages[i].id = alike.id
    }
  }
}
