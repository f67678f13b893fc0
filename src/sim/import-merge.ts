import { keepsOwnVersion } from '../protocol/own-versions.js'
import type { Conversation, Message } from '../store/model.js'
import type { SqliteChatStore } from '../store/sqlite-store.js'

// How an import merges into what the store holds: as a transfer does. An export is a snapshot of one
// moment, and a person may import an older one after a newer one (a backup found later, the first of two
// exports of the same chat): it must not undo what the store already knows happened since.
// - A message the store holds a newer version of keeps it: a recall stays (a person who took a message
//   back must never see it return) and a later edit stands (own-versions.ts, the rule a transfer keeps).
//   Otherwise the file's version is written, so a re-export that carries a change lands.
// - A message the store holds with its media, imported from an export that left its media out (a
//   WhatsApp export "without media", a Telegram one without files), keeps its media: such an export
//   says only that the message held some, and what else it says of the message is written.
// - A chat keeps every member it has: an export names the members it knew then (a WhatsApp export only
//   those who wrote in it), so members an import does not list may have joined since or written only
//   outside it. The file's members come first, in its order, then those only the store has. But one
//   whose messages the import now writes as the person's own ("me": the same export imported again with
//   `ferry import --me NAME`) is the person, whom "me" names now: kept, they would stand beside "me" as a
//   third member of a direct chat.
// - A chat's title and a contact's name are the newer export's, judged by what each export holds of it,
//   and one changed in the store since stays unless the export changed it too (import-names.ts).
// The same rule holds between two lines of one file, the earlier being what the store then holds.

/** The sender and member the person is, in every chat of a store. */
const ME = 'me'

/**
 * Messages an import writes as the person's own ("me") that the store held as someone else's, and whose
 * they were, per chat: what `ferry import --me NAME` changes in an export imported before without it.
 */
export class MadeMine {
  messages = 0
  private readonly senders = new Map<string, Set<string>>()

  add (held: Message): void {
    this.messages++
    let senders = this.senders.get(held.conversation)
    if (senders === undefined) this.senders.set(held.conversation, senders = new Set())
    senders.add(held.sender)
  }

  /** Whether `member` of `conversation` had messages the import made the person's own. */
  was (conversation: string, member: string): boolean {
    return this.senders.get(conversation)?.has(member) === true
  }
}

/**
 * Messages the store held that an import wrote changed, other than in whose they are (MadeMine): a newer
 * export carries an edit or a deletion that happened since the older one was imported. Said, so a person
 * whose export brought no new message still learns what it did change.
 */
export class ChangedMessages {
  /** Held messages written with other words or marks (an edit); not one that only gained its media file. */
  edited = 0
  /** Held messages written recalled ("This message was deleted"). */
  recalled = 0

  add (held: Message, written: Message): void {
    if (written.status === 'recalled' && held.status !== 'recalled') this.recalled++
    else if (content(held) !== content(written)) this.edited++
  }
}

/**
 * What of a message a person edits, in one form whatever order its fields were set in: all but its sender
 * and its media, which an export without media leaves out and a later one with media brings.
 */
function content (m: Message): string {
  const { sender, kind, media, fileName, durationMs, ...rest } = m
  return JSON.stringify(rest, (_key, value: unknown) => value !== null && typeof value === 'object' && !Array.isArray(value)
    ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0))
    : value)
}

/**
 * The file's conversations with the members the store holds of each added after the file's, but those
 * whose messages the import made the person's own (`madeMine`).
 */
export function mergeConversations (store: SqliteChatStore, conversations: Conversation[], madeMine?: MadeMine): Conversation[] {
  if (conversations.length === 0) return conversations
  const held = new Map(store.listConversations({ conversations: [...new Set(conversations.map(c => c.id))] }).map(c => [c.id, c]))
  return conversations.map(c => {
    const mine = held.get(c.id)
    const only = mine?.members.filter(m => !c.members.includes(m) && madeMine?.was(c.id, m) !== true) ?? []
    return only.length === 0 ? c : { ...c, members: [...c.members, ...only] }
  })
}

/**
 * The messages to write: the file's, less those the store (or an earlier line) holds a newer version of.
 * Those the store held as someone else's and the file writes as the person's own are told to `madeMine`,
 * those it held with other content to `changed`.
 */
export async function mergeMessages (store: SqliteChatStore, messages: Message[], madeMine?: MadeMine, changed?: ChangedMessages): Promise<Message[]> {
  if (messages.length === 0) return messages
  // Within the batch, one version per key: the later line unless the earlier is newer.
  const latest = new Map<string, Message>()
  const byConversation = new Map<string, string[]>()
  for (const m of messages) {
    const key = `${m.conversation}\0${m.id}`
    const before = latest.get(key)
    if (before === undefined) {
      const ids = byConversation.get(m.conversation)
      if (ids === undefined) byConversation.set(m.conversation, [m.id])
      else ids.push(m.id)
    }
    if (before === undefined) latest.set(key, m)
    else if (!keepsOwnVersion(before, m)) latest.set(key, withHeldMedia(before, m))
  }
  const write: Message[] = []
  for (const [conversation, ids] of byConversation) {
    const held = new Map((await store.findMessages(conversation, ids)).map(m => [m.id, m]))
    for (const id of ids) {
      const m = latest.get(`${conversation}\0${id}`) as Message
      const mine = held.get(id)
      if (mine === undefined) write.push(m)
      else if (!keepsOwnVersion(mine, m)) {
        const written = withHeldMedia(mine, m)
        if (written.sender === ME && mine.sender !== ME) madeMine?.add(mine)
        changed?.add(mine, written)
        write.push(written)
      }
    }
  }
  return write
}

/** `theirs`, with the media of `mine` when `theirs` is the same message from an export that left it out. */
function withHeldMedia (mine: Message, theirs: Message): Message {
  if (mine.media === undefined || theirs.media !== undefined || theirs.kind === 'text' || theirs.status === 'recalled' || mine.ts !== theirs.ts) return theirs
  // Fields the export left out (a file's name, a caption a WhatsApp export without media drops) stay.
  return { ...mine, ...theirs, kind: mine.kind, media: mine.media }
}
