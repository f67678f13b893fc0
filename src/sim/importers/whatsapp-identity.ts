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
//   be worse, and could not be undone. The chat whose id the title gives is one of those chats even when
//   the app renamed it since: a re-import must find it, not make it again (its name stays, import-names.ts).
//   When no chat of the title is it, a chat of another title that holds every worded message of the
//   export, many of them, and nothing else over the time it spans, is (underAnotherTitle): a title can
//   change while its chat does not.
// - Messages whose id moved. A message's id holds its place among the messages of its minute, which
//   moves when one before it in that minute was deleted "for me" or cut off by the cap; and stores
//   imported before ids were made so hold ids from each line's place in the file. A message of the
//   export not held under its id, whose time, sender and text a message of the chat in the store has
//   (one not matched already), keeps that message's id, so it is not stored twice.
// What the store holds of a message that is matched so (a recall, an edit, its media) stays as an import
// merges it (import-merge.ts).

function push<K, V> (map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key)
  if (list === undefined) map.set(key, [value])
  else list.push(value)
}

/** When a message was written and by whom: what two versions of one message share when it was edited. */
function whenKey (m: Message): string {
  return `${m.ts}\0${m.sender}`
}

/** A message as two exports of it show it alike: its time, sender and text, and whether it holds media. */
function contentKey (m: Message): string {
  const what = m.status === 'recalled' ? 'recalled' : m.kind === 'text' || m.kind === 'system' || m.kind === 'location' ? m.kind : 'media'
  return `${m.ts}\0${m.sender}\0${what}\0${m.text ?? ''}`
}

/** Messages of a stored chat by id, by content and by when and who, each to be matched at most once. */
class StoredChat {
  readonly byId = new Map<string, Message>()
  private readonly byContent = new Map<string, Message[]>()
  private readonly byWhen = new Map<string, Message[]>()
  private readonly taken = new Set<string>()

  constructor (messages: Iterable<Message>) {
    for (const m of messages) {
      this.byId.set(m.id, m)
      push(this.byContent, contentKey(m), m)
      push(this.byWhen, whenKey(m), m)
    }
  }

  /** The messages not matched yet that `m`'s sender wrote at `m`'s time: those an edit of `m` may be. */
  sameWhen (m: Message): Message[] {
    return (this.byWhen.get(whenKey(m)) ?? []).filter(s => !this.taken.has(s.id))
  }

  /**
   * How many of `messages` a message of this chat shows alike, or, shown unedited, is an older version
   * of: the chat holds a message of its sender and time marked edited.
   */
  shared (messages: readonly Message[]): number {
    let n = 0
    for (const m of messages) if (m.text !== undefined && (this.byContent.has(contentKey(m)) || this.editedAt(m).length > 0)) n++
    return n
  }

  /** The messages of `m`'s sender and time, not matched yet, that an import marked edited. */
  editedAt (m: Message): Message[] {
    return m.editedAt !== undefined ? [] : this.sameWhen(m).filter(s => s.editedAt !== undefined)
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
export async function matchStore (store: SqliteChatStore, history: MappedHistory): Promise<MappedHistory> {
  const [mapped] = history.conversations
  if (mapped === undefined) return history
  const edited = history.edited ?? new Set<string>()
  const { id, chat, title } = await whichChat(store, mapped, history.messages, edited, history.titleChosen === true)
  const messages = history.messages.map(m => ({ ...m, conversation: id }))
  if (chat !== undefined) keepIds(chat, messages, edited)
  const conversation: Conversation = { ...mapped, id, title: title ?? mapped.title }
  // Said, so a person who meant another chat knows it was taken for this one, and how to keep it apart.
  const found = title === undefined ? [] : [`found as the chat '${title}' (a title of its own: --title)`]
  return { ...history, conversations: [conversation], messages, details: [...(history.details ?? []), ...found] }
}

/**
 * The id the chat has in the store, with its messages; or a new id when the store holds it not. Found
 * under another title, the chat keeps the stored one (`title`).
 */
async function whichChat (store: SqliteChatStore, mapped: Conversation, messages: readonly Message[], edited: ReadonlySet<string>, titleChosen: boolean): Promise<{ id: string, chat?: StoredChat, title?: string }> {
  let best: { id: string, chat: StoredChat, shared: number } | undefined
  for (const c of store.listConversations()) {
    // The chat of the title's id was imported under this title, whatever the app renamed it to since.
    if (!c.id.startsWith('wa-') || (c.title !== mapped.title && c.id !== mapped.id)) continue
    const chat = storedChat(store, c.id)
    const shared = chat.shared(messages)
    if (sameChat(shared, messages, chat, edited) && (best === undefined || shared > best.shared)) best = { id: c.id, chat, shared }
  }
  if (best !== undefined) return best
  // A title the person gave (--title) names another chat than any of another title.
  const elsewhere = titleChosen ? undefined : await underAnotherTitle(store, mapped, messages, edited)
  if (elsewhere !== undefined) return elsewhere
  // Another chat of this title holds the title's id: this one is told apart by its first message.
  if (!store.hasConversation(mapped.id)) return { id: mapped.id }
  const first = messages[0]
  return { id: `wa-${digest(mapped.title, String(first.ts), first.sender, first.text ?? '')}` }
}

/**
 * Fewest messages with words an export must share with a chat of another title to be taken for it: a
 * few alike are what chats that are not the same share too (messages forwarded to several people at
 * once, the same greetings sent to two groups).
 */
const MIN_SHARED_UNDER_ANOTHER_TITLE = 8
/** How many of the export's message ids are looked up in each chat before its messages are read. */
const PROBE = 64

/**
 * A stored WhatsApp chat of another title that is the export's chat: it holds every message of the
 * export with words (but those it marks edited), at least several of them and most of the export, and
 * over the time the export spans it holds no message the export lacks. The title of an export can change
 * while the chat does not: its file saved twice ("Anna (1)", "Anna-1"), the text piped in without its
 * file's name, the contact renamed in the phone. Holding all of many messages, each the same time,
 * sender and text, is what only the same chat (or a copy of it) does; holding more between them is
 * what a chat does that the export's messages were forwarded from or copied into, which is another
 * chat. Message ids come from what the export shows, not from the chat, so a chat holding none of a
 * spread of the export's ids is passed over without reading it.
 */
async function underAnotherTitle (store: SqliteChatStore, mapped: Conversation, messages: readonly Message[], edited: ReadonlySet<string>): Promise<{ id: string, chat: StoredChat, title: string } | undefined> {
  const worded = messages.filter(m => m.text !== undefined && !edited.has(m.id))
  if (worded.length < MIN_SHARED_UNDER_ANOTHER_TITLE || worded.length * 2 <= messages.length) return undefined
  const step = Math.max(1, Math.floor(worded.length / PROBE))
  const probe = worded.filter((_, i) => i % step === 0).slice(0, PROBE).map(m => m.id)
  // Not Math.min(...): an export of many messages would overflow the stack.
  const from = messages.reduce((t, m) => Math.min(t, m.ts), Infinity)
  const to = messages.reduce((t, m) => Math.max(t, m.ts), -Infinity)
  const shown = new Set(messages.map(whenKey))
  let best: { id: string, chat: StoredChat, title: string, size: number } | undefined
  for (const c of store.listConversations()) {
    if (!c.id.startsWith('wa-') || c.title === mapped.title || c.id === mapped.id) continue
    if ((await store.findMessages(c.id, probe)).length === 0) continue
    const chat = storedChat(store, c.id)
    if (chat.shared(worded) !== worded.length) continue
    // A message of its sender and time in the export is the same message, edited or without its media.
    if ([...chat.byId.values()].some(m => m.ts >= from && m.ts <= to && !shown.has(whenKey(m)))) continue
    // Of several that hold it all (copies an earlier import made), the smallest is the closest.
    if (best === undefined || chat.byId.size < best.size) best = { id: c.id, chat, title: c.title, size: chat.byId.size }
  }
  return best
}

/**
 * Whether a stored chat of the export's title that shows `shared` of its messages alike is the same chat:
 * every message of the export with words (but those it marks edited), or at least two and a fifth of
 * the smaller of the two. One message alike of several is not enough: a message forwarded to two groups
 * of one name in the same minute is one.
 */
function sameChat (shared: number, messages: readonly Message[], chat: StoredChat, edited: ReadonlySet<string>): boolean {
  if (shared === 0) return false
  const worded = messages.filter(m => m.text !== undefined).length
  if (shared === messages.filter(m => m.text !== undefined && !edited.has(m.id)).length) return true
  return shared >= 2 && shared * 5 >= Math.min(worded, chat.byId.size)
}

/**
 * Gives each message the id of the stored message it is, where that id is another. A message whose id
 * the store holds for a message with other words, and that is none of the store's, is another message
 * (one before it in its minute was deleted "for me", moving its place): it takes an id of its own rather
 * than be written over that one. One the export marks edited is the one message of its sender and time
 * not matched otherwise, where there is exactly one; where there are several, which one it is cannot be
 * told, and it too takes an id of its own: a version twice is better than a message lost. The other way
 * round, an unmarked message that is the only one of its sender and time not matched is the older
 * version of the one stored message there marked edited, where there is exactly one: it keeps that id,
 * and the merge keeps the edit (import-merge.ts).
 */
function keepIds (chat: StoredChat, messages: Message[], edited: ReadonlySet<string>): void {
  const moved: number[] = []
  // First every message held under its own id as it shows, so none of them is taken by another.
  for (const [i, m] of messages.entries()) {
    const held = chat.byId.get(m.id)
    if (held !== undefined && contentKey(held) === contentKey(m)) chat.take(m.id)
    else moved.push(i)
  }
  const unmatched: number[] = []
  for (const i of moved) {
    const alike = chat.alike(messages[i])
    if (alike !== undefined) {
      chat.take(alike.id)
      messages[i].id = alike.id
    } else {
      unmatched.push(i)
    }
  }
  // Unmarked messages not matched, by sender and time: one alone there may be an older version of an edit.
  const unmarked = new Map<string, number>()
  for (const i of unmatched) if (!edited.has(messages[i].id)) unmarked.set(whenKey(messages[i]), (unmarked.get(whenKey(messages[i])) ?? 0) + 1)
  for (const i of unmatched) {
    const m = messages[i]
    const versions = edited.has(m.id) ? chat.sameWhen(m) : unmarked.get(whenKey(m)) === 1 ? chat.editedAt(m) : []
    if (versions.length === 1) {
      chat.take(versions[0].id)
      m.id = versions[0].id
      continue
    }
    // Held for another message, whose words differ (not only its media, which one export may leave
    // out): an id of its own, the same at every import of this export.
    const held = chat.byId.get(m.id)
    if (held !== undefined && held.text !== undefined && m.text !== undefined && held.text !== m.text) m.id = `${m.id}-${digest(contentKey(m))}`
  }
}
