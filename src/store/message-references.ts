import { ErrorCode, FerryError } from '../errors.js'
import type { Message } from './model.js'

// What a store's writer checks of the messages it is given: a key that is one, and records for what
// they name. A message in a conversation the store does not hold is never sent (Ferry sends
// conversations), and one that names a media record the store does not hold fails every transfer.

/** A message, as an error names it. */
export interface MessageRef { conversation: string, id: string }

/** The conversations and media records some messages name, each with the first message naming it. */
export interface References {
  conversations: Map<string, MessageRef>
  media: Map<string, MessageRef>
}

export const noReferences = (): References => ({ conversations: new Map(), media: new Map() })

type Row = Array<string | number | null>

/** The two reads the check needs of the store's database, inside the transaction it checks. */
export interface ReferenceReads {
  all: (sql: string, ...params: unknown[]) => Row[]
  one: (sql: string, ...params: unknown[]) => Row | undefined
}

/**
 * Passes `messages` on, noting in `into` each conversation and media record they name that `seen` does
 * not hold yet: a set per call, checked once (checkReferences), the order of a call's rows free.
 */
export function * referencesOf (messages: Iterable<Message>, into: References, seen: References): Generator<Message> {
  let last: string | undefined
  for (const m of messages) {
    if (m.conversation !== last) {
      last = m.conversation
      if (!seen.conversations.has(last) && !into.conversations.has(last)) into.conversations.set(last, { conversation: last, id: m.id })
    }
    const media = m.media
    if (media !== undefined && !seen.media.has(media) && !into.media.has(media)) into.media.set(media, { conversation: m.conversation, id: m.id })
    yield m
  }
}

const nameOf = (m: MessageRef): string => `message ${JSON.stringify(m.conversation)}/${JSON.stringify(m.id)}`

/**
 * Passes `messages` on, refusing one whose key is not one: SQLite would store a `ts` of any type in its
 * INTEGER column, and such a message reads back unlike what a transfer sends, failing every transfer
 * of its conversation at verification (DIGEST_MISMATCH) where the app can no longer tell why.
 */
export function * checkedKeys (messages: Iterable<Message>): Generator<Message> {
  for (const m of messages) {
    const where = nameOf(m)
    if (typeof m.conversation !== 'string' || m.conversation === '' || typeof m.id !== 'string' || m.id === '') {
      throw new FerryError(ErrorCode.BAD_INPUT, `${where}: a message needs a non-empty conversation and id`, { conversation: m.conversation, id: m.id })
    }
    if (!Number.isSafeInteger(m.ts)) {
      throw new FerryError(ErrorCode.BAD_INPUT, `${where}: its ts must be an integer (milliseconds since the epoch), not ${JSON.stringify(m.ts) ?? String(m.ts)}`, { conversation: m.conversation, id: m.id })
    }
    yield m
  }
}

/**
 * Refuses (BAD_INPUT) the transaction under way when a message it put, still in the store as it
 * commits, names a conversation or a media record the store does not hold by then: such a message
 * would be lost (never sent) or fail every transfer (the receiver finds no record for its media and
 * blames this phone's peer). A message put and deleted again (or replaced, or rolled back with its
 * savepoint) within the transaction is no longer there, and refuses nothing.
 */
export function checkReferences (refs: References, db: ReferenceReads): void {
  const conversation = strandedConversation(db, refs.conversations)
  if (conversation !== undefined) {
    const [id, m] = conversation
    throw new FerryError(ErrorCode.BAD_INPUT, `${nameOf(m)}: its conversation ${JSON.stringify(id)} is not in the store, so it would never be sent; ` +
      'put the conversation with putMetadata first', { ...m, missing: 'conversation' })
  }
  const media = strandedMedia(db, refs.media)
  if (media !== undefined) {
    const [sha256, m] = media
    throw new FerryError(ErrorCode.BAD_INPUT, `${nameOf(m)}: it names media ${sha256}, which has no record in the store, so no transfer of it could succeed; ` +
      'put its record with putMetadata first (addMediaFromFile and writeMedia store the file, not its record)', { ...m, missing: 'media', sha256 })
  }
}

/** Of `names`, those `table` does not hold, in the order they were named: the one query a transaction that put what it names pays. */
function absent (db: ReferenceReads, table: 'conversations' | 'media', column: 'id' | 'sha256', names: Map<string, MessageRef>): Array<[string, MessageRef]> {
  if (names.size === 0) return []
  const sql = `SELECT value FROM json_each(?) WHERE value NOT IN (SELECT ${column} FROM ${table})`
  const missing = new Set(db.all(sql, JSON.stringify([...names.keys()])).map(r => r[0] as string))
  return missing.size === 0 ? [] : [...names].filter(([name]) => missing.has(name))
}

/** A conversation the store lacks with a message still in it: the first message that named it, when still there. */
function strandedConversation (db: ReferenceReads, names: Map<string, MessageRef>): [string, MessageRef] | undefined {
  for (const [id, first] of absent(db, 'conversations', 'id', names)) {
    if (db.one('SELECT 1 FROM messages WHERE conversation = ? AND id = ?', id, first.id) !== undefined) return [id, first]
    const left = db.one('SELECT id FROM messages WHERE conversation = ? ORDER BY id LIMIT 1', id)
    if (left !== undefined) return [id, { conversation: id, id: left[0] as string }]
  }
  return undefined
}

/**
 * A media record the store lacks that a message still names. Nothing indexes messages by media (an
 * index would cost every message written), so when the messages that first named the lacking records
 * are gone or name another, one scan looks for any other: only a transaction that put a message
 * naming a record it never put pays for it.
 */
function strandedMedia (db: ReferenceReads, names: Map<string, MessageRef>): [string, MessageRef] | undefined {
  const lacking = absent(db, 'media', 'sha256', names)
  if (lacking.length === 0) return undefined
  for (const [sha256, first] of lacking) {
    if (db.one('SELECT 1 FROM messages WHERE conversation = ? AND id = ? AND media = ?', first.conversation, first.id, sha256) !== undefined) return [sha256, first]
  }
  const left = db.one('SELECT media, conversation, id FROM messages WHERE media IN (SELECT value FROM json_each(?)) LIMIT 1', JSON.stringify(lacking.map(([sha256]) => sha256)))
  return left === undefined ? undefined : [left[0] as string, { conversation: left[1] as string, id: left[2] as string }]
}
