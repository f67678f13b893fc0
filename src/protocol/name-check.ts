import { ErrorCode, FerryError } from '../errors.js'
import type { HistorySink } from '../store/history.js'
import type { Contact, Conversation } from '../store/model.js'

// Read-back of the contacts and chats a transfer stored, as verification.ts reads back its messages: a
// store that silently drops a contact, or mangles a chat's title or members, must not pass as verified,
// or the old phone's owner wipes it believing the address book is safe here. The receiver reads them
// back as soon as it wrote them, not at the end: a rename the app makes while the transfer runs is its
// owner's, and must neither fail the transfer nor be undone by its refusal.
//
// What is checked is what the transfer committed: the merged value (own-names.ts), the old phone's or
// the one this phone kept. Equality is what the port promises (history.ts, the store conformance suite):
// fields by value, an optional field absent or undefined alike. Members are checked as a set: each one
// committed must be stored, and each one the merge took away (held here before, not committed: the
// three-way rule removed it) must be gone, or a store that merges members instead of replacing them
// would keep someone who left the group while the transfer says verified. Any other member stored is
// the app's: it may add one here while the transfer runs (a member is an id whose messages the chat
// holds), as it may write a message of its own. Errors name the contact or chat by id, never by its
// name: a name is the owner's, an id is the app's, and errors reach logs.

/**
 * Throws COUNT_MISMATCH for a contact or chat the store does not hold, DIGEST_MISMATCH for one it holds
 * otherwise than committed. `contacts`, `conversations`: those this phone must now hold (not those that
 * stay deleted here); `replaced`: the versions of those chats the store held before the commit, by id.
 * One read of each list, whatever the size of the history.
 */
export async function verifyNames (sink: HistorySink, contacts: readonly Contact[], conversations: readonly Conversation[],
  replaced: ReadonlyMap<string, Conversation> = new Map()): Promise<void> {
  if (contacts.length > 0) {
    const stored = new Map((await sink.contacts()).map(c => [c.id, c]))
    for (const c of committed(contacts)) {
      const s = stored.get(c.id)
      if (s === undefined) throw new FerryError(ErrorCode.COUNT_MISMATCH, `contact ${c.id} is not on this phone after it was stored`, { contact: c.id })
      if (s.name !== c.name || (s.phone ?? undefined) !== (c.phone ?? undefined)) {
        throw new FerryError(ErrorCode.DIGEST_MISMATCH, `contact ${c.id}: its stored name or number differs from what this transfer stored`, { contact: c.id })
      }
    }
  }
  if (conversations.length > 0) {
    const stored = new Map((await sink.conversations()).map(c => [c.conversation.id, c.conversation]))
    for (const c of committed(conversations)) {
      const s = stored.get(c.id)
      if (s === undefined) throw new FerryError(ErrorCode.COUNT_MISMATCH, `conversation ${c.id} is not on this phone after it was stored`, { conversation: c.id })
      if (s.title !== c.title || s.kind !== c.kind) {
        throw new FerryError(ErrorCode.DIGEST_MISMATCH, `conversation ${c.id}: its stored title or kind differs from what this transfer stored`, { conversation: c.id })
      }
      const members = new Set(s.members)
      const missing = c.members.filter(m => !members.has(m)).length
      if (missing > 0) {
        throw new FerryError(ErrorCode.DIGEST_MISMATCH, `conversation ${c.id}: ${missing} of its ${c.members.length} members are not stored`, { conversation: c.id })
      }
      const kept = new Set(c.members)
      const removed = (replaced.get(c.id)?.members ?? []).filter(m => !kept.has(m) && members.has(m)).length
      if (removed > 0) {
        throw new FerryError(ErrorCode.DIGEST_MISMATCH, `conversation ${c.id}: ${removed} member${removed === 1 ? '' : 's'} removed by this transfer ${removed === 1 ? 'is' : 'are'} still stored`, { conversation: c.id })
      }
    }
  }
}

/** By id, the last of each: a change upserts its records in order, so a repeated id stores the last. */
function committed<T extends { id: string }> (records: readonly T[]): Iterable<T> {
  return new Map(records.map(r => [r.id, r])).values()
}
