// @ts-check
// The chat app's own database, as it would be without Ferry: people, chats, posts and attachments in
// SQLite (better-sqlite3), with integer ids, and attachment bytes in files named by their id. Nothing in
// here knows about Ferry except the `uid` column, the name a post keeps across phones, which any app
// that syncs or backs up its messages has in some form. chat-history.js shows this database to Ferry.
import Database from 'better-sqlite3'
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { open, rename, rm } from 'node:fs/promises'
import { join, resolve } from 'node:path'

/**
 * The schema. A post's `uid` is the name it has on every phone: a post written here is named by this
 * phone's tag and its number (two phones' own post 42 are different posts), while a post that came from
 * another phone keeps the name it had there (`origin_uid`), so receiving it again finds it. SQLite
 * computes `uid`, with this phone's tag written into the column's definition when the database is made.
 *
 * @param {string} tag
 */
const schema = tag => `
  CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  CREATE TABLE people (
    person_id    INTEGER PRIMARY KEY,
    handle       TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    phone_number TEXT
  );
  CREATE TABLE chats (
    chat_id  INTEGER PRIMARY KEY,
    handle   TEXT NOT NULL UNIQUE,
    is_group INTEGER NOT NULL,
    title    TEXT NOT NULL
  );
  CREATE TABLE chat_members (
    chat_id INTEGER NOT NULL REFERENCES chats ON DELETE CASCADE,
    seat    INTEGER NOT NULL,
    handle  TEXT NOT NULL,
    PRIMARY KEY (chat_id, seat)
  );
  -- AUTOINCREMENT: a file is named by its attachment_id, and a send reads a snapshot of this table while
  -- the app goes on. A number given again after a deletion would let the snapshot open another file's bytes.
  CREATE TABLE attachments (
    attachment_id INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256        TEXT NOT NULL UNIQUE,
    byte_size     INTEGER NOT NULL,
    mime_type     TEXT NOT NULL,
    on_device     INTEGER NOT NULL DEFAULT 0
  );
  -- AUTOINCREMENT: a deleted post's number is never given again, so neither is its uid.
  CREATE TABLE posts (
    post_id       INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id       INTEGER NOT NULL REFERENCES chats,
    origin_uid    TEXT,
    uid           TEXT NOT NULL GENERATED ALWAYS AS (coalesce(origin_uid, '${tag}.' || post_id)) VIRTUAL,
    author        TEXT NOT NULL,
    sent_at       INTEGER NOT NULL,
    kind          TEXT NOT NULL,
    body          TEXT,
    attachment_id INTEGER REFERENCES attachments,
    reply_to      TEXT,
    status        TEXT,
    edited_at     INTEGER,
    extras        TEXT
  );
  CREATE UNIQUE INDEX posts_by_uid ON posts (chat_id, uid);
  CREATE INDEX posts_timeline ON posts (chat_id, sent_at, uid);
`

/**
 * @typedef {object} NewPost
 * @property {string} author       a person's handle
 * @property {string} [body]
 * @property {string} [kind]       'text' (the default), 'image', ...
 * @property {number} [sentAt]     ms since the epoch (default: now)
 * @property {number} [attachmentId]
 */

export class ChatDb {
  /** @readonly @type {string} */ dir
  /** @readonly @type {Database.Database} */ db

  /**
   * @param {string} dir
   * @param {Database.Database} db
   */
  constructor (dir, db) {
    this.dir = dir
    this.db = db
  }

  /**
   * Opens the app's database in `dir`, making it when there is none.
   * @param {string} dir
   */
  static open (dir) {
    const abs = resolve(dir)
    mkdirSync(join(abs, 'attachments'), { recursive: true, mode: 0o700 })
    const db = new Database(join(abs, 'chat.db'))
    db.pragma('journal_mode = WAL')
    // Every commit synced (in WAL mode better-sqlite3 defaults to NORMAL, which may lose the last commits
    // to a power cut): once Ferry has read a history back here it tells the old phone, which may then be
    // wiped.
    db.pragma('synchronous = FULL')
    db.pragma('foreign_keys = ON')
    const made = db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'settings'").get() !== undefined
    if (!made) {
      // A short random tag names this phone's own posts; base64url needs no quoting inside SQL.
      const tag = randomBytes(6).toString('base64url')
      db.transaction(() => {
        db.exec(schema(tag))
        const set = db.prepare('INSERT INTO settings (name, value) VALUES (?, ?)')
        set.run('device_tag', tag)
        set.run('history_id', randomUUID())
      })()
    }
    return new ChatDb(abs, db)
  }

  /** @param {string} name */
  setting (name) {
    return /** @type {string} */ (this.db.prepare('SELECT value FROM settings WHERE name = ?').pluck().get(name))
  }

  /** Where an attachment's bytes are kept. @param {number} attachmentId */
  attachmentPath (attachmentId) {
    return join(this.dir, 'attachments', String(attachmentId))
  }

  close () {
    this.db.close()
  }

  // ---- what the app's own screens do ---------------------------------------------------------------

  /**
   * @param {string} handle
   * @param {string} displayName
   * @param {string} [phoneNumber]
   */
  addPerson (handle, displayName, phoneNumber) {
    this.db.prepare('INSERT INTO people (handle, display_name, phone_number) VALUES (?, ?, ?)').run(handle, displayName, phoneNumber ?? null)
  }

  /**
   * Starts a chat; returns its chat_id.
   * @param {{ title: string, members: string[], group?: boolean }} chat
   */
  startChat ({ title, members, group = false }) {
    return this.db.transaction(() => {
      const chatId = Number(this.db.prepare('INSERT INTO chats (handle, is_group, title) VALUES (?, ?, ?)')
        .run(randomUUID(), group ? 1 : 0, title).lastInsertRowid)
      const seat = this.db.prepare('INSERT INTO chat_members (chat_id, seat, handle) VALUES (?, ?, ?)')
      members.forEach((m, i) => seat.run(chatId, i, m))
      return chatId
    })()
  }

  /** @param {string} title */
  chatByTitle (title) {
    return /** @type {number | undefined} */ (this.db.prepare('SELECT chat_id FROM chats WHERE title = ? ORDER BY chat_id').pluck().get(title))
  }

  /**
   * Writes a post; returns its post_id.
   * @param {number} chatId
   * @param {NewPost} post
   */
  post (chatId, { author, body, kind = 'text', sentAt = Date.now(), attachmentId }) {
    return Number(this.db.prepare('INSERT INTO posts (chat_id, author, sent_at, kind, body, attachment_id) VALUES (?, ?, ?, ?, ?, ?)')
      .run(chatId, author, sentAt, kind, body ?? null, attachmentId ?? null).lastInsertRowid)
  }

  /**
   * @param {number} postId
   * @param {string} body
   * @param {number} [editedAt]
   */
  edit (postId, body, editedAt = Date.now()) {
    this.db.prepare('UPDATE posts SET body = ?, edited_at = ? WHERE post_id = ?').run(body, editedAt, postId)
  }

  /**
   * Keeps a file's bytes (durably) and returns its attachment_id; the same bytes twice are one attachment.
   * @param {Uint8Array} bytes
   * @param {string} mimeType
   */
  async attach (bytes, mimeType) {
    const sha256 = createHash('sha256').update(bytes).digest('hex')
    const id = Number(this.db.prepare(`INSERT INTO attachments (sha256, byte_size, mime_type) VALUES (?, ?, ?)
      ON CONFLICT (sha256) DO UPDATE SET mime_type = mime_type RETURNING attachment_id`).pluck().get(sha256, bytes.byteLength, mimeType))
    await writeFileDurably(this.attachmentPath(id), [bytes])
    this.db.prepare('UPDATE attachments SET on_device = 1 WHERE attachment_id = ?').run(id)
    return id
  }

  /** Every chat with its number of posts. */
  chats () {
    return /** @type {Array<{ chat_id: number, title: string, is_group: number, posts: number }>} */ (this.db.prepare(`
      SELECT chat_id, title, is_group, (SELECT count(*) FROM posts WHERE posts.chat_id = chats.chat_id) AS posts
      FROM chats ORDER BY title, chat_id`).all())
  }

  /**
   * A chat's posts as the app shows them: oldest first (posts of the same moment by uid, the same order on
   * every phone), with the author's name when the app knows them.
   * @param {number} chatId
   */
  timeline (chatId) {
    return /** @type {Array<{ post_id: number, uid: string, author: string, sent_at: number, kind: string, body: string | null, edited_at: number | null, attachment_id: number | null }>} */ (this.db.prepare(`
      SELECT post_id, uid, coalesce(display_name, author) AS author, sent_at, kind, body, edited_at, attachment_id
      FROM posts LEFT JOIN people ON people.handle = posts.author
      WHERE chat_id = ? ORDER BY sent_at, uid`).all(chatId))
  }
}

/**
 * Writes a file under a temporary name, syncs it, renames it into place and syncs the folder: once this
 * resolves, a power cut leaves either no file or the whole file.
 * @param {string} path
 * @param {Iterable<Uint8Array> | AsyncIterable<Uint8Array>} chunks
 */
export async function writeFileDurably (path, chunks) {
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`
  try {
    const file = await open(tmp, 'wx', 0o600)
    try {
      for await (const chunk of chunks) await file.write(chunk)
      await file.sync()
    } finally {
      await file.close()
    }
    await rename(tmp, path)
  } catch (err) {
    await rm(tmp, { force: true })
    throw err
  }
  await syncFolderOf(path)
}

/**
 * Moves a file that is on the same file system into place, durably (its bytes synced first).
 * @param {string} from
 * @param {string} path
 */
export async function moveFileDurably (from, path) {
  const file = await open(from, 'r+')
  try {
    await file.sync()
  } finally {
    await file.close()
  }
  await rename(from, path)
  await syncFolderOf(path)
}

/** @param {string} path */
async function syncFolderOf (path) {
  const folder = await open(resolve(path, '..'), 'r')
  try {
    await folder.sync()
  } finally {
    await folder.close()
  }
}
