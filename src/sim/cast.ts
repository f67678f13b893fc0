import type { Contact, Conversation } from '../store/model.js'
import type { Profile } from './profiles.js'
import { Rng } from './prng.js'
import { LOCALES, fillDigits, groupTitle, nickname, personName, type Locale, type ScriptFamily } from './text.js'

// Who is on the phone: the address book and the chats, each chat with its language and how much each
// member talks.

export const ME = 'me'

export interface Chat {
  conversation: Conversation
  /** The language most of its messages are in. */
  locale: Locale
  /** Who created it: a group's first member; for a direct chat, the contact. */
  creator: string
  /** How much each member talks, aligned with conversation.members. */
  chattiness: number[]
}

export interface Cast {
  contacts: Contact[]
  chats: Chat[]
  localeOf: ReadonlyMap<string, Locale>
  /** Display name as system notices show it: "You" for the owner. */
  nameOf: (id: string) => string
}

const FAMILIES: readonly ScriptFamily[] = ['latin', 'cjk', 'rtl', 'other']

function localesIn (family: ScriptFamily): Locale[] {
  return LOCALES.filter(l => l.script === family)
}

function makeContact (rng: Rng, i: number, locale: Locale): Contact {
  const id = `u${i + 1}`
  // Most contacts have a number; the first two settle both cases even in the smallest address book.
  const phone = i === 0 || (i !== 1 && rng.chance(0.7)) ? fillDigits(rng, locale.phone) : undefined
  const r = rng.float()
  // A few entries are saved by role ("Mom ❤️"), and group members missing from the address book show as their number.
  const name = r < 0.06 ? nickname(rng) : (r < 0.1 && phone !== undefined) ? phone : personName(rng, locale)
  return phone === undefined ? { id, name } : { id, name, phone }
}

function groupSize (rng: Rng, profile: Profile): number {
  const max = Math.min(profile.maxGroupMembers, profile.contacts + 1)
  return Math.min(max, Math.max(3, 3 + Math.floor(rng.heavy() * profile.maxGroupMembers / 6)))
}

export function makeCast (profile: Profile, seed: number): Cast {
  const rng = new Rng(seed, 'cast')
  // Script families take turns (in a seeded order) for contacts and for chats, so that any four
  // consecutive ones cover Latin, CJK, RTL and the rest: even `tiny` carries every kind of text.
  const familyOrder = rng.shuffle([...FAMILIES])
  const localeOf = new Map<string, Locale>()
  const byFamily = new Map<ScriptFamily, Contact[]>(FAMILIES.map(f => [f, []]))
  const contacts: Contact[] = []
  for (let i = 0; i < profile.contacts; i++) {
    const family = familyOrder[i % FAMILIES.length]
    const locale = rng.pick(localesIn(family))
    const contact = makeContact(rng, i, locale)
    contacts.push(contact)
    localeOf.set(contact.id, locale)
    byFamily.get(family)?.push(contact)
  }
  localeOf.set(ME, rng.pick(LOCALES))
  const names = new Map(contacts.map(c => [c.id, c.name]))
  const nameOf = (id: string): string => id === ME ? 'You' : names.get(id) ?? id

  /** A contact of the wanted family, preferring ones not used yet for this purpose. */
  const pickContact = (family: ScriptFamily, used: Set<string>): Contact => {
    const pool = byFamily.get(family) ?? []
    const fresh = pool.filter(c => !used.has(c.id))
    const any = contacts.filter(c => !used.has(c.id))
    const choice = fresh.length > 0 ? rng.pick(fresh) : any.length > 0 ? rng.pick(any) : rng.pick(contacts)
    used.add(choice.id)
    return choice
  }

  const drafts: Array<Omit<Chat, 'conversation'> & Omit<Conversation, 'id'>> = []
  const directs = new Set<string>()
  const kinds = rng.shuffle([...Array<'direct'>(profile.directChats).fill('direct'), ...Array<'group'>(profile.groupChats).fill('group')])
  for (const [k, kind] of kinds.entries()) {
    const family = familyOrder[k % FAMILIES.length]
    if (kind === 'direct') {
      const contact = pickContact(family, directs)
      const locale = localeOf.get(contact.id) as Locale
      drafts.push({ kind, title: contact.name, members: [contact.id, ME], locale, creator: contact.id, chattiness: [rng.heavy() + 0.3, rng.heavy() + 0.3] })
      continue
    }
    // The host sets the group's language; members are in the order they joined, the creator first
    // and "me" wherever I was added.
    const size = groupSize(rng, profile)
    const inGroup = new Set<string>()
    const host = pickContact(family, inGroup).id
    const others: string[] = []
    while (others.length < size - 2) others.push(pickContact(rng.pick(FAMILIES), inGroup).id)
    const ownerCreated = rng.chance(0.25)
    const members = ownerCreated ? [ME, host, ...others] : [host, ...others]
    if (!ownerCreated) members.splice(1 + rng.int(others.length + 1), 0, ME)
    const locale = localeOf.get(host) as Locale
    drafts.push({ kind, title: groupTitle(rng, locale), members, locale, creator: members[0], chattiness: members.map(() => rng.heavy() + 0.05) })
  }

  const chats = drafts.map((d, k): Chat => ({
    conversation: { id: `c${k + 1}`, kind: d.kind, title: d.title, members: d.members },
    locale: d.locale,
    creator: d.creator,
    chattiness: d.chattiness
  }))
  return { contacts, chats, localeOf, nameOf }
}
