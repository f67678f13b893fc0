import type { Conversation, Contact, Link, MediaRecord, Message, MessageKind, MessageStatus, ConversationKind } from './model.js'

// The layout of history.db and the one place that maps its rows to the chat model and back.
// SQL NULL is the model's "absent": a column is NULL exactly when the field is undefined, and "" stays "".

// 2: the overwritten table and its trigger (a refused transfer is undone, not just untagged).
// 3: messages stored in canonical order (see below); upgrading rebuilds the table (MIGRATE_TO_3).
// 4: optional message fields from imported exports (MESSAGE_V4_COLUMNS); upgrading only adds columns.
// 5: transfer bookkeeping leaves the history (it is the journal's now, src/journal): the transfers,
//    parts and overwritten tables, the trigger and the messages' transfer tag go (migrateTo5).
// 6: the leaves table and the triggers that keep it true (LEAVES); upgrading only adds them.
export const SCHEMA_VERSION = 6

// A message's fields after its key.
const MESSAGE_FIELDS = `sender TEXT NOT NULL, ts INTEGER NOT NULL, kind TEXT NOT NULL, text TEXT, media TEXT,
  duration_ms INTEGER, lat REAL, lon REAL, label TEXT, reply_to TEXT, status TEXT,
  forwarded_from TEXT, via_bot TEXT, edited_at INTEGER, pinned TEXT, file_name TEXT,
  links TEXT, -- JSON array of {text?, url}`

/** Columns schema 4 added to messages and overwritten, with their types: an upgrade adds them (nullable). */
export const MESSAGE_V4_COLUMNS: ReadonlyArray<[string, string]> = [
  ['forwarded_from', 'TEXT'], ['via_bot', 'TEXT'], ['edited_at', 'INTEGER'], ['pinned', 'TEXT'], ['file_name', 'TEXT'], ['links', 'TEXT']
]

/** The unique index that makes (conversation, id) a message's identity; a bulk load builds it afterwards. */
export const MESSAGES_KEY = 'CREATE UNIQUE INDEX IF NOT EXISTS messages_key ON messages (conversation, id)'

/**
 * The insert half of the leaves' rule. A bulk load into an empty history (deferMessageKey in
 * sqlite-store.ts) drops it with the messages' key and makes it again with the key: with no message
 * stored there is no leaf for an insert to drop, and the trigger cost each inserted row a statement.
 */
export const LEAVES_ON_INSERT = `CREATE TRIGGER IF NOT EXISTS leaves_on_insert AFTER INSERT ON messages BEGIN
  DELETE FROM leaves WHERE conversation = NEW.conversation AND (last_ts, last_id) >= (NEW.ts, NEW.id);
END;`

/**
 * The store's LeafIndex (src/store/history.ts, leaf-index.ts): the leaves the last transfer cut each
 * conversation into. The triggers make its one rule hold whoever writes the messages (a transfer, an
 * import, an undo, a person with the sqlite3 shell): a message written, moved or deleted at a key drops
 * the conversation's leaves that end at or after it, in the same transaction.
 */
const LEAVES = `
CREATE TABLE IF NOT EXISTS leaves (
  conversation TEXT NOT NULL,
  last_ts INTEGER NOT NULL,
  last_id TEXT NOT NULL,
  first_ts INTEGER NOT NULL,
  first_id TEXT NOT NULL,
  count INTEGER NOT NULL,
  digest BLOB NOT NULL,
  PRIMARY KEY (conversation, last_ts, last_id)
) WITHOUT ROWID;
${LEAVES_ON_INSERT}
CREATE TRIGGER IF NOT EXISTS leaves_on_update AFTER UPDATE ON messages BEGIN
  DELETE FROM leaves WHERE conversation = OLD.conversation AND (last_ts, last_id) >= (OLD.ts, OLD.id);
  DELETE FROM leaves WHERE conversation = NEW.conversation AND (last_ts, last_id) >= (NEW.ts, NEW.id);
END;
CREATE TRIGGER IF NOT EXISTS leaves_on_delete AFTER DELETE ON messages BEGIN
  DELETE FROM leaves WHERE conversation = OLD.conversation AND (last_ts, last_id) >= (OLD.ts, OLD.id);
END;
`

// WITHOUT ROWID: every table here is looked up by its natural key, so the key is the row's storage order
// and no hidden rowid b-tree is kept alongside.
export const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS contacts (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  phone TEXT
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS conversations (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  title TEXT NOT NULL,
  members TEXT NOT NULL -- JSON array, in the order given: the order is data
) WITHOUT ROWID;

-- Metadata only: the file may not be in media/ yet (or ever, when the source phone lacked it).
CREATE TABLE IF NOT EXISTS media (
  sha256 TEXT PRIMARY KEY,
  size INTEGER NOT NULL,
  mime TEXT NOT NULL
) WITHOUT ROWID;

-- Stored in the canonical order (conversation, ts, id), which every read walks and every transfer writes
-- in: rows go in as appends and come out as one sequential scan. Message ids are random in most apps,
-- and with the rows keyed by (conversation, id) each insert dirtied a random page of the whole table and
-- each read looked its row up by that key.
CREATE TABLE IF NOT EXISTS messages (
  conversation TEXT NOT NULL,
  id TEXT NOT NULL,
  ${MESSAGE_FIELDS}
  PRIMARY KEY (conversation, ts, id)
) WITHOUT ROWID;

-- A message's identity is the source app's (conversation, id): a merge is an upsert on it and never
-- duplicates, even when the incoming copy has another timestamp.
${MESSAGES_KEY};
${LEAVES}`

export const CONTACT_COLUMNS = 'id, name, phone'
export const CONVERSATION_COLUMNS = 'id, kind, title, members'
export const MEDIA_COLUMNS = 'sha256, size, mime'
/** The message columns of schema 3, which a 2 -> 3 upgrade copies (the later ones are added after it). */
export const MESSAGE_V3_COLUMNS = 'conversation, id, sender, ts, kind, text, media, duration_ms, lat, lon, label, reply_to, status'
export const MESSAGE_COLUMNS = `${MESSAGE_V3_COLUMNS}, ${MESSAGE_V4_COLUMNS.map(([c]) => c).join(', ')}`

/**
 * Schema 1/2 -> 3: the same rows, rebuilt in canonical order (with schema 3's transfer tag, which
 * migrateTo5 drops). Runs in the upgrade's transaction.
 */
export const MIGRATE_TO_3 = `
DROP TRIGGER IF EXISTS keep_overwritten;
DROP INDEX IF EXISTS messages_order;
DROP INDEX IF EXISTS messages_key;
ALTER TABLE messages RENAME TO messages_v2;
CREATE TABLE messages (conversation TEXT NOT NULL, id TEXT NOT NULL, sender TEXT NOT NULL, ts INTEGER NOT NULL, kind TEXT NOT NULL,
  text TEXT, media TEXT, duration_ms INTEGER, lat REAL, lon REAL, label TEXT, reply_to TEXT, status TEXT, xfer INTEGER,
  PRIMARY KEY (conversation, ts, id)) WITHOUT ROWID;
INSERT INTO messages (${MESSAGE_V3_COLUMNS}, xfer) SELECT ${MESSAGE_V3_COLUMNS}, xfer FROM messages_v2 ORDER BY conversation, ts, id;
DROP TABLE messages_v2;
${MESSAGES_KEY};
`

type Db = { exec: (sql: string) => unknown, prepare: (sql: string) => { get: (...p: unknown[]) => unknown, all: (...p: unknown[]) => unknown[] } }

const has = (db: Db, name: string): boolean => db.prepare('SELECT 1 FROM sqlite_master WHERE name = ?').get(name) !== undefined
const columnsOf = (db: Db, table: string): Set<string> =>
  new Set((db.prepare(`SELECT name FROM pragma_table_info('${table}')`).all() as Array<{ name: string }>).map(r => r.name))

/** Schema 3 -> 4: the optional message fields, added as nullable columns (to the undo rows too). */
export function migrateTo4 (db: Db): void {
  for (const table of ['messages', 'overwritten']) {
    const have = columnsOf(db, table)
    if (have.size === 0) continue
    for (const [column, type] of MESSAGE_V4_COLUMNS) if (!have.has(column)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`)
  }
}

/**
 * Schema 4 -> 5. A transfer left unverified is undone first (its rows deleted, the rows it replaced put
 * back), as a refusal would have: its undo information lives in the tables that go, and the next
 * transfer fetches whatever is still wanted. Verified rows stay as they are.
 */
export function migrateTo5 (db: Db): void {
  const cols = MESSAGE_COLUMNS
  if (has(db, 'transfers')) {
    const open = "SELECT id FROM transfers WHERE state = 'receiving'"
    db.exec(`DELETE FROM messages WHERE xfer IN (${open})`)
    // A version that one unverified transfer replaced in another's wake is itself undone: only versions
    // written before any of them (the phone's own, or a verified transfer's) come back.
    if (has(db, 'overwritten')) {
      db.exec(`INSERT OR IGNORE INTO messages (${cols}) SELECT ${cols} FROM overwritten
        WHERE owner IN (${open}) AND (xfer IS NULL OR xfer NOT IN (${open}))`)
    }
  }
  db.exec('DROP TRIGGER IF EXISTS keep_overwritten; DROP TABLE IF EXISTS overwritten; DROP TABLE IF EXISTS transfers; DROP TABLE IF EXISTS parts')
  if (columnsOf(db, 'messages').has('xfer')) db.exec('ALTER TABLE messages DROP COLUMN xfer')
}

type Cell = string | number | null
type Row = Cell[]

/** Rows are read with `.raw()` (arrays, in the column order above): no per-row key objects. */
export function contactFromRow (r: Row): Contact {
  const c: Contact = { id: r[0] as string, name: r[1] as string }
  if (r[2] !== null) c.phone = r[2] as string
  return c
}

export function contactParams (c: Contact): Row {
  return [c.id, c.name, c.phone ?? null]
}

export function conversationFromRow (r: Row): Conversation {
  return { id: r[0] as string, kind: r[1] as ConversationKind, title: r[2] as string, members: JSON.parse(r[3] as string) as string[] }
}

export function conversationParams (c: Conversation): Row {
  return [c.id, c.kind, c.title, JSON.stringify(c.members)]
}

export function mediaFromRow (r: Row): MediaRecord {
  return { sha256: r[0] as string, size: r[1] as number, mime: r[2] as string }
}

/** Parameters per media row: MEDIA_COLUMNS. */
export const MEDIA_WIDTH = MEDIA_COLUMNS.split(',').length

/** Writes a media record's parameters (MEDIA_COLUMNS) into `p` from `at`: rows go in through a RowWriter. */
export function fillMediaParams (p: Row, at: number, m: MediaRecord): void {
  p[at] = m.sha256
  p[at + 1] = m.size
  p[at + 2] = m.mime
}

// How a conversation's messages are read: the fields most messages have as columns, the rarely set
// ones packed into one JSON array that is NULL when all of them are. Reads walk whole histories, and
// every column costs a value conversion per row even when it is NULL. Floats stay columns: JSON would
// round them.
const PACKED_FIELDS = ['duration_ms', 'label', 'forwarded_from', 'via_bot', 'edited_at', 'pinned', 'file_name', 'links']
export const MESSAGE_READ_COLUMNS = `id, sender, ts, kind, text, media, status, reply_to, lat, lon,
  CASE WHEN ${PACKED_FIELDS.map(c => `${c} IS NULL`).join(' AND ')} THEN NULL ELSE json_array(${PACKED_FIELDS.join(', ')}) END`

/** A message of `conversation` from a row of MESSAGE_READ_COLUMNS, which start at `at`. */
export function messageFromReadRow (conversation: string, r: Row, at = 0): Message {
  const m: Message = { conversation, id: r[at] as string, sender: r[at + 1] as string, ts: r[at + 2] as number, kind: r[at + 3] as MessageKind }
  if (r[at + 4] !== null) m.text = r[at + 4] as string
  if (r[at + 5] !== null) m.media = r[at + 5] as string
  if (r[at + 6] !== null) m.status = r[at + 6] as MessageStatus
  if (r[at + 7] !== null) m.replyTo = r[at + 7] as string
  if (r[at + 8] !== null) m.location = { lat: r[at + 8] as number, lon: r[at + 9] as number }
  if (r[at + 10] === null) return m
  const [durationMs, label, forwardedFrom, viaBot, editedAt, pinned, fileName, links] = JSON.parse(r[at + 10] as string) as Array<string | number | null>
  if (durationMs !== null) m.durationMs = durationMs as number
  if (label !== null && m.location !== undefined) m.location.label = label as string
  if (forwardedFrom !== null) m.forwardedFrom = forwardedFrom as string
  if (viaBot !== null) m.viaBot = viaBot as string
  if (editedAt !== null) m.editedAt = editedAt as number
  if (pinned !== null) m.pinned = pinned as string
  if (fileName !== null) m.fileName = fileName as string
  if (links !== null) m.links = JSON.parse(links as string) as Link[]
  return m
}

/** Parameters per message row: MESSAGE_COLUMNS. */
export const MESSAGE_WIDTH = MESSAGE_COLUMNS.split(',').length
/** Parameters per message row of the schema 3 columns (MESSAGE_V3_COLUMNS). */
export const MESSAGE_V3_WIDTH = MESSAGE_V3_COLUMNS.split(',').length

/**
 * Whether a message has a field of the columns schema 4 added (the importers'): most messages have
 * none, and are written through the schema 3 columns alone (fillMessageV3Params).
 */
export function hasV4Fields (m: Message): boolean {
  return m.forwardedFrom !== undefined || m.viaBot !== undefined || m.editedAt !== undefined || m.pinned !== undefined ||
    m.fileName !== undefined || m.links !== undefined
}

/** Writes a message's parameters (MESSAGE_COLUMNS) into `p` from `at`. */
export function fillMessageParams (p: Row, at: number, m: Message): void {
  fillMessageV3Params(p, at, m)
  const v4 = at + MESSAGE_V3_WIDTH
  p[v4] = m.forwardedFrom ?? null
  p[v4 + 1] = m.viaBot ?? null
  p[v4 + 2] = m.editedAt ?? null
  p[v4 + 3] = m.pinned ?? null
  p[v4 + 4] = m.fileName ?? null
  // Written with text before url whatever order the object has, so equal links are equal rows.
  p[v4 + 5] = m.links === undefined ? null : JSON.stringify(m.links.map(l => l.text === undefined ? { url: l.url } : { text: l.text, url: l.url }))
}

/** Writes the parameters of MESSAGE_V3_COLUMNS into `p` from `at`. */
export function fillMessageV3Params (p: Row, at: number, m: Message): void {
  const loc = m.location
  p[at] = m.conversation
  p[at + 1] = m.id
  p[at + 2] = m.sender
  p[at + 3] = m.ts
  p[at + 4] = m.kind
  p[at + 5] = m.text ?? null
  p[at + 6] = m.media ?? null
  p[at + 7] = m.durationMs ?? null
  p[at + 8] = loc?.lat ?? null
  p[at + 9] = loc?.lon ?? null
  p[at + 10] = loc?.label ?? null
  p[at + 11] = m.replyTo ?? null
  p[at + 12] = m.status ?? null
}

/** A plain insert of `columns` (comma-separated) for `rows` rows, one `?` per column of each. */
export function insertSql (table: string, columns: string, rows = 1): string {
  const cols = columns.split(',').map(c => c.trim())
  const row = `(${cols.map(() => '?').join(', ')})`
  return `INSERT INTO ${table} (${cols.join(', ')}) VALUES ${Array<string>(rows).fill(row).join(', ')}`
}

/** An upsert of `columns` keyed by `key`: incoming content replaces every other column stored under the same key. */
export function upsertSql (table: string, columns: string, key: string, rows = 1, nulls: string[] = []): string {
  const keys = new Set(key.split(',').map(c => c.trim()))
  const updates = columns.split(',').map(c => c.trim()).filter(c => !keys.has(c)).map(c => `${c} = excluded.${c}`)
  // Columns the insert leaves out: a row that replaces another has none of their values either.
  for (const c of nulls) updates.push(`${c} = NULL`)
  return `${insertSql(table, columns, rows)} ON CONFLICT (${key}) DO UPDATE SET ${updates.join(', ')}`
}
