import type { TransferLog, TransferRecord } from '../journal/transfer-log.js'
import type { HistorySink } from '../store/history.js'
import type { Contact, Conversation } from '../store/model.js'
import { verifyNames } from './name-check.js'
import { nameDigests } from './written-digest.js'

/** What the store held of the contacts and chats about to be written, by id, read before the write. */
export interface HeldNames {
  contacts: ReadonlyMap<string, Contact>
  conversations: ReadonlyMap<string, Conversation>
}

/**
 * Writes a transfer's contacts and chats as every write of it goes: logged first (the versions they
 * replace, the ids they add, the digest of each as written, so that an undo takes back only those still
 * so), committed, then read back at once (name-check.ts: the app may rename a chat while the transfer
 * runs, and a read at the end could not tell that from a store that mangled the write). One the store
 * did not keep as written refuses the transfer, and its log entry forgets the digests: the store dropped
 * or mangled it, nobody here changed it, and the undo must put back every one whatever the store made
 * of them.
 */
export async function writeNames (sink: HistorySink, log: TransferLog, rec: TransferRecord, contacts: Contact[], conversations: Conversation[], held: HeldNames): Promise<void> {
  if (contacts.length + conversations.length === 0) return
  await log.logMetadata(rec, {
    contacts: contacts.flatMap(c => held.contacts.get(c.id) ?? []),
    conversations: conversations.flatMap(c => held.conversations.get(c.id) ?? []),
    newContacts: contacts.filter(c => !held.contacts.has(c.id)).map(c => c.id),
    newConversations: conversations.filter(c => !held.conversations.has(c.id)).map(c => c.id)
  }, nameDigests(contacts, conversations))
  await sink.commit({ contacts, conversations })
  try {
    await verifyNames(sink, contacts, conversations, held.conversations)
  } catch (err) {
    await log.namesMisstored(rec)
    throw err
  }
}
