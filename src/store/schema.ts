import type { Conversation, Contact, Link, MediaRecord, Message, MessageKind, MessageStatus, ConversationKind } from './model.js'

// The layout of history.db and the one place that maps its rows to the chat model and back.
// SQL NULL is the model's "absent": a column is NULL exactly when the field is undefined, and "" stays "".

// 2: the overwritten table and its trigger (a refused transfer is undone, not just untagged).
// 3: messages stored in canonical order (see below); upgrading rebuilds the table (MIGRATE_TO_3).
// 4: optional message fields from imported exports (MESSAGE_V4_COLUMNS); upgrading only adds columns.
export const SCHEMA_VERSION = 4

// A message's fields after its key, shared by messages and the overwritten rows kept to undo a transfer.
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

// WITHOUT ROWID: every table here is looked up by its natural key, so the key is the row's storage order
// and no hidden rowid b-tree is kept alongside. transfers keeps a rowid: its local integer id is what tags
// messages (a small integer per row rather than a 16-byte blob).
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
-- each read looked its row up by that key (~5 us per message on either phone).
CREATE TABLE IF NOT EXISTS messages (
  conversation TEXT NOT NULL,
  id TEXT NOT NULL,
  ${MESSAGE_FIELDS}
  xfer INTEGER, -- transfers.id of the transfer that last wrote the row; NULL when written locally
  PRIMARY KEY (conversation, ts, id)
) WITHOUT ROWID;

-- A message's identity is the source app's (conversation, id): a merge is an upsert on it and never
-- duplicates, even when the incoming copy has another timestamp.
${MESSAGES_KEY};

-- What a transfer overwrote, kept until it is verified. A transfer that fails verification (a lying or
-- broken sender) is undone: its rows are deleted and these put back, so the history is as it was before
-- it. Only updates of rows the transfer did not write itself land here: a fresh store pays nothing.
CREATE TABLE IF NOT EXISTS overwritten (
  owner INTEGER NOT NULL, -- transfers.id of the transfer that overwrote the row
  conversation TEXT NOT NULL,
  id TEXT NOT NULL,
  ${MESSAGE_FIELDS}
  xfer INTEGER,
  PRIMARY KEY (owner, conversation, id)
) WITHOUT ROWID;

-- OR IGNORE: the first version a transfer overwrote is the one to restore.
CREATE TRIGGER IF NOT EXISTS keep_overwritten BEFORE UPDATE ON messages
WHEN new.xfer IS NOT NULL AND new.xfer IS NOT old.xfer
BEGIN
  INSERT OR IGNORE INTO overwritten (owner, conversation, id, sender, ts, kind, text, media, duration_ms, lat, lon, label, reply_to, status,
    forwarded_from, via_bot, edited_at, pinned, file_name, links, xfer)
  VALUES (new.xfer, old.conversation, old.id, old.sender, old.ts, old.kind, old.text, old.media, old.duration_ms, old.lat, old.lon, old.label,
    old.reply_to, old.status, old.forwarded_from, old.via_bot, old.edited_at, old.pinned, old.file_name, old.links, old.xfer);
END;

CREATE TABLE IF NOT EXISTS transfers (
  id INTEGER PRIMARY KEY,
  transfer_id BLOB NOT NULL UNIQUE,
  source_id TEXT NOT NULL,
  selection TEXT NOT NULL, -- JSON of the Selection
  cursor_conversation TEXT,
  cursor_ts INTEGER,
  cursor_id TEXT,
  messages INTEGER NOT NULL DEFAULT 0,
  state TEXT NOT NULL DEFAULT 'receiving',
  started_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

-- Committed length of each media/.part file: bytes beyond it were never acknowledged and are dropped.
CREATE TABLE IF NOT EXISTS parts (
  sha256 TEXT PRIMARY KEY,
  length INTEGER NOT NULL
) WITHOUT ROWID;
`

export const CONTACT_COLUMNS = 'id, name, phone'
export const CONVERSATION_COLUMNS = 'id, kind, title, members'
export const MEDIA_COLUMNS = 'sha256, size, mime'
/** The message columns of schema 3, which a 2 -> 3 upgrade copies (the later ones are added after it). */
const MESSAGE_V3_COLUMNS = 'conversation, id, sender, ts, kind, text, media, duration_ms, lat, lon, label, reply_to, status'
export const MESSAGE_COLUMNS = `${MESSAGE_V3_COLUMNS}, ${MESSAGE_V4_COLUMNS.map(([c]) => c).join(', ')}`

/**
 * Schema 2 -> 3: the same rows, rebuilt in canonical order. Run in one transaction before SCHEMA, which then
 * creates the new table, its index and the trigger (dropped here, as it belongs to the old table).
 */
export const MIGRATE_TO_3 = `
DROP TRIGGER IF EXISTS keep_overwritten;
DROP INDEX IF EXISTS messages_order;
DROP INDEX IF EXISTS messages_key;
ALTER TABLE messages RENAME TO messages_v2;
`
export const MIGRATE_TO_3_COPY = `
INSERT INTO messages (${MESSAGE_V3_COLUMNS}, xfer) SELECT ${MESSAGE_V3_COLUMNS}, xfer FROM messages_v2 ORDER BY conversation, ts, id;
DROP TABLE messages_v2;
`

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

export function messageFromRow (r: Row): Message {
  const m: Message = { conversation: r[0] as string, id: r[1] as string, sender: r[2] as string, ts: r[3] as number, kind: r[4] as MessageKind }
  if (r[5] !== null) m.text = r[5] as string
  if (r[6] !== null) m.media = r[6] as string
  if (r[7] !== null) m.durationMs = r[7] as number
  if (r[8] !== null) {
    m.location = { lat: r[8] as number, lon: r[9] as number }
    if (r[10] !== null) m.location.label = r[10] as string
  }
  if (r[11] !== null) m.replyTo = r[11] as string
  if (r[12] !== null) m.status = r[12] as MessageStatus
  if (r[13] !== null) m.forwardedFrom = r[13] as string
  if (r[14] !== null) m.viaBot = r[14] as string
  if (r[15] !== null) m.editedAt = r[15] as number
  if (r[16] !== null) m.pinned = r[16] as string
  if (r[17] !== null) m.fileName = r[17] as string
  if (r[18] !== null) m.links = JSON.parse(r[18] as string) as Link[]
  return m
}

/** Parameters per message row: MESSAGE_COLUMNS followed by xfer. */
export const MESSAGE_WIDTH = MESSAGE_COLUMNS.split(',').length + 1

/** Writes a message's parameters (MESSAGE_COLUMNS, then xfer) into `p` from `at`. */
export function fillMessageParams (p: Row, at: number, m: Message, xfer: number | null): void {
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
  p[at + 13] = m.forwardedFrom ?? null
  p[at + 14] = m.viaBot ?? null
  p[at + 15] = m.editedAt ?? null
  p[at + 16] = m.pinned ?? null
  p[at + 17] = m.fileName ?? null
  // Written with text before url whatever order the object has, so equal links are equal rows.
  p[at + 18] = m.links === undefined ? null : JSON.stringify(m.links.map(l => l.text === undefined ? { url: l.url } : { text: l.text, url: l.url }))
  p[at + 19] = xfer
}

/** A plain insert of `columns` (comma-separated) for `rows` rows, one `?` per column of each. */
export function insertSql (table: string, columns: string, rows = 1): string {
  const cols = columns.split(',').map(c => c.trim())
  const row = `(${cols.map(() => '?').join(', ')})`
  return `INSERT INTO ${table} (${cols.join(', ')}) VALUES ${Array<string>(rows).fill(row).join(', ')}`
}

/** An upsert of `columns` keyed by `key`: incoming content replaces every other column stored under the same key. */
export function upsertSql (table: string, columns: string, key: string, rows = 1): string {
  const keys = new Set(key.split(',').map(c => c.trim()))
  const updates = columns.split(',').map(c => c.trim()).filter(c => !keys.has(c)).map(c => `${c} = excluded.${c}`).join(', ')
  return `${insertSql(table, columns, rows)} ON CONFLICT (${key}) DO UPDATE SET ${updates}`
}
