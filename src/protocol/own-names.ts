import type { Contact, Conversation } from '../store/model.js'
import type { ContactBase, ConversationBase, NameBases } from '../journal/name-bases.js'

// Which name a phone in use keeps when a transfer brings the old phone's version of a contact or a
// chat. A name has no clock, so the rule is three-way, against its base: what the last verified
// transfer from the same old phone carried (src/journal/name-bases.ts).
//
// - Only this phone changed it since (its name differs from the base, the old phone's does not): this
//   phone's stays. A chat renamed here must not get its old name back at every transfer.
// - Only the old phone changed it: the old phone's is taken.
// - Both changed it: the old phone's is taken, as own-versions.ts takes the old phone's message when
//   nothing says this phone's change came later. A second transfer happens because the old phone went
//   on being used, and the person runs it to bring what was done there; taking this phone's instead
//   would drop the old phone's rename for good (the next base records it, so no later transfer would
//   bring it), while a name lost here is set again once and sticks from then on.
// - No base (the first transfer from that phone into this one, another old phone's history merged into
//   this one, a journal from before bases were kept, a store put back to an older copy): nothing says
//   which side changed it, so this phone's stays, as a restore keeps it. Taking the old phone's would put
//   another phone's names over the ones the person set here, and record them as the base, so that every
//   later transfer kept them; the old phone's name, where it differs, is recorded as the base instead,
//   and a rename there since comes with the next transfer. A number this phone has none of arrives.
//
// A chat's members follow the same rule one member at a time, against the members the base holds: one
// this phone removed since (in the base, still on the old phone) stays removed, one the old phone removed
// since (in the base, still here) goes, and one added on either phone since (in no base) stays. Without a
// members base (a first transfer, a journal from before they were kept) a chat keeps every member of
// both phones, as it always did. A contact keeps a number the old phone has none of whatever the base.
//
// A contact the base says the last transfer carried into this store, and which this phone no longer
// holds, was deleted here since: it stays deleted (unless the person asks for what was deleted back,
// restoreDeleted), as a chat deleted here does. It stays deleted even when the old phone renamed it or
// changed its number since, as a chat deleted here and renamed there does (reconciliation.ts makes a chat
// again only for a message the last transfer did not verify): the person deleted the contact, and a new
// name there is no reason to show it again. Unlike a rename kept here, nothing is lost for good: receiving
// with restoreDeleted at any later time brings the contact back as the old phone has it then. Nothing
// else needs the record: the store port holds messages whose sender is no contact (history.ts and its
// conformance suite ask for no such link, and an app names such a sender by its id), so a message from a
// deleted contact that arrives does not bring the contact back either, as on one phone.
// A contact in no base of this store (added on the old phone since, or a first transfer) arrives.
//
// A restore (`restoring`) merges otherwise: its sender is a backup, the old phone as it was when the file
// was written, which may be before the last transfer from it. The bases say what that transfer carried,
// not how old the backup is, so a backup's name differing from its base may be a rename the old phone
// made before the backup or one it undid since, and taking it would roll back what this phone received
// since; so may a member it lacks (one who left the group since, there or here). So a restore only adds:
// a contact or chat this phone holds stays as it is (name, number, title, members), and what this phone
// lacks (a contact or chat deleted here, or never here) comes as the backup has it. Nothing is lost for
// good where the backup was the newer: what the old phone changed after the last transfer from it still
// comes with the next one, whose bases the restore leaves as they were.

/** The contacts and conversations to store, and how many of them kept a value of this phone's. */
export interface MergedNames {
  /** The old phone's contacts as this phone stores them: without those left deleted. */
  contacts: Contact[]
  conversations: Conversation[]
  /** Contacts and chats of which a name, title or number the old phone sent otherwise stays as it is here. */
  kept: number
  /** Contacts the old phone sent that were deleted here since the last transfer, and stay deleted. */
  contactsLeftDeleted: number
}

/**
 * `restoreDeleted`: the person asked for what was deleted here back (ReceiverInit.restoreDeleted).
 * `restoring`: the sender is a backup (ReceiverInit.restoring), which only adds.
 */
export function mergeNames (mine: { contacts: Map<string, Contact>, conversations: Map<string, Conversation> },
  theirs: { contacts: Contact[], conversations: Conversation[] }, bases: NameBases, restoreDeleted: boolean, restoring = false): MergedNames {
  if (restoring) return restoreNames(mine, theirs)
  let kept = 0
  let contactsLeftDeleted = 0
  const contacts: Contact[] = []
  for (const c of theirs.contacts) {
    const here = mine.contacts.get(c.id)
    if (here === undefined && !restoreDeleted && bases.carriedHere(c.id)) {
      contactsLeftDeleted++
      continue
    }
    const m = mergeContact(here, c, bases.contact(c.id), bases)
    if (m.kept) kept++
    contacts.push(m.contact)
  }
  const conversations = theirs.conversations.map(c => {
    const m = mergeConversation(mine.conversations.get(c.id), c, bases.conversation(c.id), bases)
    if (m.kept) kept++
    return m.conversation
  })
  return { contacts, conversations, kept, contactsLeftDeleted }
}

/** A restore's merge: what this phone holds stays as it is, the backup adds only what it lacks. */
function restoreNames (mine: { contacts: Map<string, Contact>, conversations: Map<string, Conversation> },
  theirs: { contacts: Contact[], conversations: Conversation[] }): MergedNames {
  let kept = 0
  const contacts = theirs.contacts.map(c => {
    const here = mine.contacts.get(c.id)
    if (here === undefined) return c
    if (here.name !== c.name || (c.phone !== undefined && here.phone !== c.phone)) kept++
    return here
  })
  const conversations = theirs.conversations.map(c => {
    const here = mine.conversations.get(c.id)
    if (here === undefined) return c
    if (here.title !== c.title) kept++
    return here
  })
  return { contacts, conversations, kept, contactsLeftDeleted: 0 }
}

type Digest = Pick<NameBases, 'digest'>

/** True when this phone's value of a field stays: only this phone changed it since the base. */
function keepsMine (field: 'name' | 'phone' | 'title', mine: string | undefined, theirs: string | undefined, base: string | undefined, d: Digest): boolean {
  return base !== undefined && mine !== theirs && d.digest(field, theirs) === base && d.digest(field, mine) !== base
}

function mergeContact (mine: Contact | undefined, theirs: Contact, base: ContactBase | undefined, d: Digest): { contact: Contact, kept: boolean } {
  if (mine === undefined) return { contact: theirs, kept: false }
  if (base === undefined) {
    const phone = mine.phone ?? theirs.phone
    const contact: Contact = phone === undefined ? { ...theirs, name: mine.name } : { ...theirs, name: mine.name, phone }
    return { contact, kept: mine.name !== theirs.name || (mine.phone !== undefined && theirs.phone !== undefined && mine.phone !== theirs.phone) }
  }
  const name = keepsMine('name', mine.name, theirs.name, base?.name, d)
  // A number the old phone lacks is this phone's whatever the base; one it has follows the rule.
  const phone = theirs.phone === undefined || keepsMine('phone', mine.phone, theirs.phone, base?.phone, d)
  const contact: Contact = { ...theirs, name: name ? mine.name : theirs.name }
  if (phone) {
    if (mine.phone === undefined) delete contact.phone
    else contact.phone = mine.phone
  }
  return { contact, kept: name || (phone && theirs.phone !== undefined) }
}

function mergeConversation (mine: Conversation | undefined, theirs: Conversation, base: ConversationBase | undefined, d: Digest): { conversation: Conversation, kept: boolean } {
  if (mine === undefined) return { conversation: theirs, kept: false }
  const title = base === undefined ? mine.title !== theirs.title : keepsMine('title', mine.title, theirs.title, base.title, d)
  const members = mergeMembers(mine.members, theirs.members, base?.members, d)
  if (!title && members === undefined) return { conversation: theirs, kept: false }
  return {
    conversation: { ...theirs, title: title ? mine.title : theirs.title, members: members ?? theirs.members },
    kept: title
  }
}

/**
 * The members a chat keeps, the old phone's in its order, then those only this phone has; undefined when
 * that is the old phone's list as it came.
 */
function mergeMembers (mine: string[], theirs: string[], base: Set<string> | undefined, d: Digest): string[] | undefined {
  const inBase = (m: string): boolean => base?.has(d.digest('member', m)) === true
  const here = new Set(mine)
  const there = new Set(theirs)
  const fromTheirs = theirs.filter(m => here.has(m) || !inBase(m))
  const fromMine = mine.filter(m => !there.has(m) && !inBase(m))
  if (fromTheirs.length === theirs.length && fromMine.length === 0) return undefined
  return [...fromTheirs, ...fromMine]
}
