import { createHash } from 'node:crypto'
import type { Contact, Conversation, Message } from '../store/model.js'
import type { SqliteChatStore } from '../store/sqlite-store.js'

// Which name an import writes for a contact or a chat the store already holds. A name has no clock,
// and an export is a snapshot of one moment: a person may import an older export after a newer one (a
// backup found later), and it must not take the names back to what they were then. So an export is
// judged newer or older by what it holds, and the store remembers, per contact and chat, what the import
// that last wrote its name held (its base: meta rows of history.db, written in the import's transaction).
//
// - When: a chat's moment is the latest its export shows of it, its last message or the last edit of
//   one. That survives what makes two exports of one chat differ otherwise: an export capped at its
//   latest messages, or one without media, still holds the chat's last message, and a group renamed in
//   between shows the rename as a message of its own. A contact's moment is the latest of the chats the
//   export holds it in (a member or a sender), or the export's latest message when it is in none. An
//   export whose moment is earlier than its base's is older: the store's name stays, and the base.
//   At the same moment nothing tells the two exports apart (a contact renamed in the app, without a
//   message since): the import's name is written, as the last one imported is the person's last word.
// - Changed in the store: a name the store holds otherwise than the base says the import wrote it was
//   changed since by the app, the person or a transfer. An export (as new or newer) that still holds the
//   name of the base did not change it: the store's stays. One that changed it too is taken, as a
//   transfer takes the old phone's rename when both phones renamed (src/protocol/own-names.ts).
// - A chat's title the person chose for the import (ferry import --title) is written whatever the rule.
// - No base (a contact or chat that came by a transfer, or an import before bases were kept): the import
//   cannot tell, and its name is written, as it always was; from then on the base is there.
// - A contact's number: an older export's only where the store holds none; otherwise the export's, or
//   the store's when the export has none (an export without numbers deletes none).
// Only digests of names are kept: the base needs only to tell whether a name is the same.

/** What the import that last wrote a name held: the moment it showed of it, and the name's digest. */
interface Base {
  asOf: number
  name: string
}

const nameDigest = (name: string): string => createHash('sha256').update(JSON.stringify(['ferry/import-name/1', name])).digest('hex').slice(0, 32)

function readBase (v: string | undefined): Base | undefined {
  if (v === undefined) return undefined
  try {
    const b = JSON.parse(v) as Partial<Base>
    // A row that does not read as a base counts as none: the import's name is written, as before bases.
    return typeof b.asOf === 'number' && typeof b.name === 'string' ? { asOf: b.asOf, name: b.name } : undefined
  } catch {
    return undefined
  }
}

/** The name to write, and the base to record (none when the base stays as it is). */
function settle (theirs: string, asOf: number | undefined, held: string | undefined, base: Base | undefined, chosen: boolean): { name: string, older: boolean, base?: Base } {
  const digest = nameDigest(theirs)
  if (chosen) {
    const at = asOf === undefined ? base?.asOf : base === undefined ? asOf : Math.max(asOf, base.asOf)
    return { name: theirs, older: false, base: at === undefined ? undefined : { asOf: at, name: digest } }
  }
  const fresh = asOf === undefined ? undefined : { asOf, name: digest }
  if (held === undefined || base === undefined) return { name: theirs, older: false, base: fresh }
  // An export that tells nothing of when (no message) is no newer than what the store holds.
  if (asOf === undefined || asOf < base.asOf) return { name: held, older: true }
  if (digest === base.name && nameDigest(held) !== base.name) return { name: held, older: false, base: { asOf, name: base.name } }
  return { name: theirs, older: false, base: fresh }
}

/**
 * The contacts and chats of one import, with the moment it shows of each, settled against the store at
 * the end (a chat's messages may come in the file after it, and its latest last).
 */
export class ImportNames {
  private readonly contacts = new Map<string, Contact>()
  private readonly conversations = new Map<string, Conversation>()
  /** The latest moment the file shows of each chat. */
  private readonly latest = new Map<string, number>()
  /** The chats each sender writes in, in the file. */
  private readonly wroteIn = new Map<string, Set<string>>()
  private overall: number | undefined

  /** `titlesChosen`: the file's titles are the person's choice (ferry import --title), written whatever the rule. */
  constructor (private readonly titlesChosen = false) {}

  contact (c: Contact): void {
    this.contacts.set(c.id, c)
  }

  /** A later line of the same chat wins, with the members of the earlier it lacks (members are never shrunk). */
  conversation (c: Conversation): void {
    const before = this.conversations.get(c.id)
    const only = before?.members.filter(m => !c.members.includes(m)) ?? []
    this.conversations.set(c.id, only.length === 0 ? c : { ...c, members: [...c.members, ...only] })
  }

  message (m: Message): void {
    const at = Math.max(m.ts, m.editedAt ?? m.ts)
    const before = this.latest.get(m.conversation)
    if (before === undefined || at > before) this.latest.set(m.conversation, at)
    if (this.overall === undefined || at > this.overall) this.overall = at
    let chats = this.wroteIn.get(m.sender)
    if (chats === undefined) this.wroteIn.set(m.sender, chats = new Set())
    chats.add(m.conversation)
  }

  /** The file's contacts and chats as the store is to hold them; records their bases in the store. */
  settle (store: SqliteChatStore): { contacts: Contact[], conversations: Conversation[] } {
    const conversations = [...this.conversations.values()]
    const contacts = [...this.contacts.values()]
    const bases: Array<[string, string]> = []
    const record = (key: string, base: Base | undefined): void => { if (base !== undefined) bases.push([key, JSON.stringify(base)]) }

    const heldChats = new Map(store.listConversations({ conversations: conversations.map(c => c.id) }).map(c => [c.id, c]))
    const chatBases = store.importBases(conversations.map(c => `c:${c.id}`))
    const settledChats = conversations.map(c => {
      const s = settle(c.title, this.latest.get(c.id) ?? this.overall, heldChats.get(c.id)?.title, readBase(chatBases.get(`c:${c.id}`)), this.titlesChosen)
      record(`c:${c.id}`, s.base)
      return s.name === c.title ? c : { ...c, title: s.name }
    })

    const chatsOf = new Map<string, Set<string>>()
    for (const c of conversations) {
      for (const m of c.members) {
        let chats = chatsOf.get(m)
        if (chats === undefined) chatsOf.set(m, chats = new Set())
        chats.add(c.id)
      }
    }
    const heldContacts = new Map(store.findContacts(contacts.map(c => c.id)).map(c => [c.id, c]))
    const contactBases = store.importBases(contacts.map(c => `p:${c.id}`))
    const settledContacts = contacts.map(c => {
      const held = heldContacts.get(c.id)
      const s = settle(c.name, this.contactAsOf(c.id, chatsOf.get(c.id)), held?.name, readBase(contactBases.get(`p:${c.id}`)), false)
      record(`p:${c.id}`, s.base)
      const phone = s.older ? held?.phone ?? c.phone : c.phone ?? held?.phone
      const settled: Contact = { id: c.id, name: s.name }
      if (phone !== undefined) settled.phone = phone
      return settled
    })
    store.putImportBases(bases)
    return { contacts: settledContacts, conversations: settledChats }
  }

  /** A contact's moment: the latest of the chats the file holds it in, or the file's latest when in none. */
  private contactAsOf (id: string, members: Set<string> | undefined): number | undefined {
    let at: number | undefined
    for (const chats of [members, this.wroteIn.get(id)]) {
      for (const c of chats ?? []) {
        const t = this.latest.get(c)
        if (t !== undefined && (at === undefined || t > at)) at = t
      }
    }
    return at ?? this.overall
  }
}
