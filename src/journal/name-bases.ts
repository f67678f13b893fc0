import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { logger } from '@libp2p/logger'
import type { Contact, Conversation } from '../store/model.js'
import { fromJson, jsonValue, type Journal, type JournalOp } from './journal.js'

const log = logger('ferry:journal')

// The base of the three-way rule for names (src/protocol/own-names.ts): per old phone's history, what
// the last verified transfer from it carried of each contact's and chat's user-editable fields. A
// second transfer compares both phones' values with it to tell which side changed a name since.
//
// Only digests are kept, never the names: the journal outlives what the app deletes from its own tables,
// and must not become a second copy of the person's address book. A digest is salted with the source's
// history id, which keeps bases of different old phones apart; a short name can still be guessed from
// it by someone who reads the journal, which is private to its user like the rest of it.
//
// A contact's and a chat's base also say which store the transfer carried it into (a digest of that
// store's history id): a contact in the base of this store and missing from it was deleted here, and
// stays deleted (own-names.ts); so does such a chat of which the old phone sends no message
// (receiver.ts: one it sends messages of is decided by its leaves). Keyed by the store as the leaf bases
// are (leaf-bases.ts): a store wiped and made again beside the same journal must not take every contact
// or chat the old phone sent before as deleted. Nor must a store put back to an older copy of itself
// (base-generation.ts): then no base of the source is read, and the next verification drops them all
// before it records its own (another store's beside the same journal too: keyed by source, they are
// not told apart, and a base dropped only ever lets something come back).
//
// Bases taken over from a history the source continues (former-bases.ts: a phone restored from its own
// backup) keep that history's salt, which a record beside them names (SALT): a digest cannot be salted
// again without the name it digests, and the salt only keeps sources apart, never decides anything.

/** Every key of this module's records. */
export const NAME_BASES = 'n/'
const LABEL = 'ferry/name-base/1'

/**
 * Digests of a contact's fields as the old phone last sent them (see NameBases.digest). `store`: the
 * store that transfer went into; absent in a base written before it was kept (the contact then is not
 * taken as deleted here, and the next verification records it).
 */
export interface ContactBase { name: string, phone: string, store?: string }
/**
 * Digests of a conversation's fields as the old phone last sent them. `members`: one digest per member id;
 * absent in a base written before members were kept (the merge then keeps both phones' members).
 * `store`: as a contact's; absent in a base written before it was kept (the chat then is not taken as
 * deleted here for it, and the next verification records it).
 */
export interface ConversationBase { title: string, members?: Set<string>, store?: string }

const hash = (...parts: unknown[]): string => bytesToHex(sha256(new TextEncoder().encode(JSON.stringify([LABEL, ...parts]))).subarray(0, 16))
/** The prefix of the name bases of `sourceId`. */
export const nameBasesPrefix = (sourceId: string): string => `${NAME_BASES}${hash('source', sourceId)}/`
const sourcePrefix = nameBasesPrefix
const CONTACT = 'p/'
const CONVERSATION = 'c/'
/** Under a source's prefix: the history id its digests are salted with, when not its own (see above). */
export const NAME_BASES_SALT = 'salt'

/** The bases of one source, read from the journal at the start of a session. */
export class NameBases {
  private constructor (
    private readonly sourceId: string,
    /** The history id the digests are salted with: the source's own but for bases taken over (above). */
    private readonly salt: string,
    private readonly storeId: string,
    private readonly contacts: Map<string, ContactBase>,
    private readonly conversations: Map<string, ConversationBase>,
    private readonly stale: boolean
  ) {}

  /**
   * The bases the journal holds for `sourceId` (none before a transfer from it was verified with them),
   * for the store whose history id is `storeId`. An entry that does not read as one counts as none: a
   * base only ever makes this phone keep its own name or deletion, and without one the old phone's
   * contact or chat is taken, as at a first transfer. `trusted` false: the bases describe another
   * generation of the store, and none is read.
   */
  static async load (journal: Journal, sourceId: string, storeId: string, trusted = true): Promise<NameBases> {
    const prefix = sourcePrefix(sourceId)
    const contacts = new Map<string, ContactBase>()
    const conversations = new Map<string, ConversationBase>()
    let salt = sourceId
    if (trusted) for await (const [k, v] of journal.list(prefix)) {
      const key = k.slice(prefix.length)
      if (key === NAME_BASES_SALT) {
        salt = new TextDecoder().decode(v)
        continue
      }
      let b: Record<string, unknown> | undefined
      try {
        b = fromJson<Record<string, unknown>>(v)
      } catch {}
      if (key.startsWith(CONTACT) && typeof b?.name === 'string' && typeof b.phone === 'string') {
        const base: ContactBase = { name: b.name, phone: b.phone }
        if (typeof b.store === 'string') base.store = b.store
        contacts.set(key.slice(CONTACT.length), base)
      } else if (key.startsWith(CONVERSATION) && typeof b?.title === 'string') {
        const members = Array.isArray(b.members) && b.members.every(m => typeof m === 'string') ? new Set(b.members as string[]) : undefined
        const base: ConversationBase = members === undefined ? { title: b.title } : { title: b.title, members }
        if (typeof b.store === 'string') base.store = b.store
        conversations.set(key.slice(CONVERSATION.length), base)
      } else {
        log('ignoring a damaged name base %s', k)
      }
    }
    return new NameBases(sourceId, salt, storeId, contacts, conversations, !trusted)
  }

  contact (id: string): ContactBase | undefined {
    return this.contacts.get(hash('id', id))
  }

  /**
   * True when the last verified transfer from the old phone carried contact `id` into this store: missing
   * here, its owner deleted it.
   */
  carriedHere (id: string): boolean {
    return this.isThisStore(this.contact(id)?.store)
  }

  conversation (id: string): ConversationBase | undefined {
    return this.conversations.get(hash('id', id))
  }

  /**
   * True when the last verified transfer from the old phone carried chat `id` into this store: missing
   * here, its owner deleted it.
   */
  chatCarriedHere (id: string): boolean {
    return this.isThisStore(this.conversation(id)?.store)
  }

  private isThisStore (store: string | undefined): boolean {
    return store !== undefined && store === this.digest('store', this.storeId)
  }

  /**
   * The digest a base holds for a field's value; an absent value (a contact without a number) has its own.
   * A chat's members are digested one by one (`member`), so the base holds a set.
   */
  digest (field: 'name' | 'phone' | 'title' | 'member' | 'store', value: string | undefined): string {
    return hash('value', this.salt, field, value ?? null)
  }

  /**
   * The journal ops that make what the old phone sent this session the bases of its next transfer:
   * written with the transfer's verification, in the same write (TransferLog.verified), so a transfer
   * refused or never verified leaves the bases as they were. A contact or chat left deleted here is
   * recorded too: it was carried, and stays deleted at the next transfer.
   *
   * `everyContact`: the old phone sent all its contacts (a transfer of the whole history). The base of a
   * contact it no longer has then goes: deleted there too, it is no longer "carried here", and one added
   * there again later under the same id (apps key contacts by phone number) arrives as new. A selection
   * sends only its chats' people, so it says nothing of the others and leaves their bases.
   */
  record (contacts: Contact[], conversations: Conversation[], everyContact = false): JournalOp[] {
    return this.ops(contacts, conversations, everyContact, false)
  }

  /**
   * The ops a restore writes: bases only for the contacts and chats that have none. A backup is the old
   * phone as it was, maybe before the last transfer from it, so it never replaces what that transfer
   * recorded; where nothing was recorded, what the restore carried into this store is the base (a
   * contact of it deleted here stays deleted at the next transfer, as after one).
   */
  recordMissing (contacts: Contact[], conversations: Conversation[]): JournalOp[] {
    return this.ops(contacts, conversations, false, true)
  }

  private ops (contacts: Contact[], conversations: Conversation[], everyContact: boolean, missingOnly: boolean): JournalOp[] {
    const prefix = sourcePrefix(this.sourceId)
    const ops: JournalOp[] = this.stale ? [{ prefix }] : []
    const carried = new Set<string>()
    for (const c of contacts) {
      if (missingOnly && this.contact(c.id) !== undefined) continue
      const base: ContactBase = { name: this.digest('name', c.name), phone: this.digest('phone', c.phone), store: this.digest('store', this.storeId) }
      const key = hash('id', c.id)
      carried.add(key)
      ops.push({ key: `${prefix}${CONTACT}${key}`, value: jsonValue(base) })
    }
    if (everyContact) for (const key of this.contacts.keys()) if (!carried.has(key)) ops.push({ key: `${prefix}${CONTACT}${key}` })
    for (const c of conversations) {
      if (missingOnly && this.conversation(c.id) !== undefined) continue
      const base = { title: this.digest('title', c.title), members: [...new Set(c.members.map(m => this.digest('member', m)))].sort(), store: this.digest('store', this.storeId) }
      ops.push({ key: `${prefix}${CONVERSATION}${hash('id', c.id)}`, value: jsonValue(base) })
    }
    return ops
  }
}
