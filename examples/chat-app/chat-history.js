// @ts-check
// The chat app's database seen by Ferry: the eight methods of Ferry's History port (src/store/history.ts)
// over the app's own tables. The old phone reads through the first five (and readMedia); the new phone
// writes through commit and putMedia, and reads back what it wrote. Ferry keeps everything about the
// transfer itself (checkpoints, partial files, what to undo) in its own journal, never in these tables.
//
// How the app's rows become Ferry's records:
//   people        -> Contact        handle = id, display_name = name, phone_number = phone
//   chats         -> Conversation   handle = id, is_group = kind, title, chat_members in seat order = members
//   attachments   -> MediaRecord    sha256, byte_size = size, mime_type = mime, on_device = stored
//   posts         -> Message        uid = id (see chat-db.js), chat's handle = conversation, author = sender,
//                                   sent_at = ts, body = text, the attachment's sha256 = media, reply_to,
//                                   status, edited_at; Ferry's other fields live in `extras` (JSON)
import { open, rm } from 'node:fs/promises'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { moveFileDurably, writeFileDurably } from './chat-db.js'

/**
 * @typedef {import('chat-ferry').History} History
 * @typedef {import('chat-ferry').HistoryChange} HistoryChange
 * @typedef {import('chat-ferry').Message} Message
 * @typedef {import('chat-ferry').Contact} Contact
 * @typedef {import('chat-ferry').MediaRecord} MediaRecord
 * @typedef {import('chat-ferry').ConversationInfo} ConversationInfo
 * @typedef {import('chat-ferry').StoredMedia} StoredMedia
 * @typedef {import('chat-ferry').MessagePosition} MessagePosition
 * @typedef {import('chat-ferry').ReceivedMedia} ReceivedMedia
 * @typedef {import('chat-ferry').StoreGenerations} StoreGenerations
 * @typedef {import('chat-ferry').SourceSnapshot} SourceSnapshot
 * @typedef {import('./chat-db.js').ChatDb} ChatDb
 *
 * @typedef {object} PostRow
 * @property {string} chat
 * @property {string} uid
 * @property {string} author
 * @property {number} sent_at
 * @property {string} kind
 * @property {string | null} body
 * @property {string | null} sha256
 * @property {string | null} reply_to
 * @property {string | null} status
 * @property {number | null} edited_at
 * @property {string | null} extras
 */

/** Settings rows naming the generation Ferry last recorded for each old phone (StoreGenerations). */
const GENERATION = 'ferry_generation:'

// Before every message: ids are never empty, so (MIN_SAFE_INTEGER, '') precedes any real position.
const START = { ts: Number.MIN_SAFE_INTEGER, id: '' }

const POST_COLUMNS = `chats.handle AS chat, posts.uid, posts.author, posts.sent_at, posts.kind, posts.body,
  attachments.sha256, posts.reply_to, posts.status, posts.edited_at, posts.extras
  FROM posts JOIN chats USING (chat_id) LEFT JOIN attachments USING (attachment_id)`

/** What the old phone sends, read through one connection to chat.db: the app's own, or a snapshot's. */
class ChatSource {
  /**
   * @param {ChatDb} app
   * @param {import('better-sqlite3').Database} db
   * @param {string} historyId
   */
  constructor (app, db, historyId) {
    this.app = app
    this.historyId = historyId
    // Prepared once: the transfer calls these for every page.
    this.reads = {
      chats: db.prepare('SELECT chat_id, handle, is_group, title, (SELECT count(*) FROM posts WHERE posts.chat_id = chats.chat_id) AS posts FROM chats'),
      members: db.prepare('SELECT chat_id, handle FROM chat_members ORDER BY chat_id, seat'),
      people: db.prepare('SELECT handle, display_name, phone_number FROM people'),
      attachments: db.prepare('SELECT sha256, byte_size, mime_type, on_device FROM attachments WHERE sha256 > ? ORDER BY sha256 LIMIT ?'),
      attachment: db.prepare('SELECT attachment_id, on_device FROM attachments WHERE sha256 = ?'),
      // (sent_at, uid) is Ferry's order: uid compares by code point, which is SQLite's BINARY collation.
      page: db.prepare(`SELECT ${POST_COLUMNS}
        WHERE posts.chat_id = (SELECT chat_id FROM chats WHERE handle = ?) AND (posts.sent_at, posts.uid) > (?, ?)
        ORDER BY posts.sent_at, posts.uid LIMIT ?`)
    }
  }

  // ---- HistorySource: what the old phone sends ---------------------------------------------------

  /** @returns {Promise<ConversationInfo[]>} */
  async conversations () {
    /** @type {Map<number, string[]>} */
    const members = new Map()
    for (const { chat_id: chatId, handle } of /** @type {Array<{ chat_id: number, handle: string }>} */ (this.reads.members.all())) {
      const seats = members.get(chatId) ?? []
      seats.push(handle)
      members.set(chatId, seats)
    }
    return /** @type {Array<{ chat_id: number, handle: string, is_group: number, title: string, posts: number }>} */ (this.reads.chats.all()).map(c => ({
      conversation: { id: c.handle, kind: c.is_group === 1 ? 'group' : 'direct', title: c.title, members: members.get(c.chat_id) ?? [] },
      messages: c.posts
    }))
  }

  /** @returns {Promise<Contact[]>} */
  async contacts () {
    return /** @type {Array<{ handle: string, display_name: string, phone_number: string | null }>} */ (this.reads.people.all()).map(p => {
      /** @type {Contact} */
      const contact = { id: p.handle, name: p.display_name }
      if (p.phone_number !== null) contact.phone = p.phone_number
      return contact
    })
  }

  /**
   * @param {string | undefined} after
   * @param {number} limit
   * @returns {Promise<StoredMedia[]>}
   */
  async media (after, limit) {
    return /** @type {Array<{ sha256: string, byte_size: number, mime_type: string, on_device: number }>} */ (this.reads.attachments.all(after ?? '', limit))
      .map(a => ({ sha256: a.sha256, size: a.byte_size, mime: a.mime_type, stored: a.on_device === 1 }))
  }

  /**
   * @param {string} conversation
   * @param {MessagePosition | undefined} after
   * @param {number} limit
   * @returns {Promise<Message[]>}
   */
  async messages (conversation, after, limit) {
    const from = after ?? START
    return /** @type {PostRow[]} */ (this.reads.page.all(conversation, from.ts, from.id, limit)).map(messageOf)
  }

  /**
   * @param {string} sha256
   * @param {number} offset
   * @param {number} length
   * @param {Uint8Array} [into]
   */
  async readMedia (sha256, offset, length, into) {
    const row = /** @type {{ attachment_id: number, on_device: number } | undefined} */ (this.reads.attachment.get(sha256))
    if (row === undefined || row.on_device !== 1) throw new Error(`attachment ${sha256} is not on this phone`)
    const buffer = into ?? new Uint8Array(length)
    const file = await open(this.app.attachmentPath(row.attachment_id), 'r')
    try {
      let filled = 0
      while (filled < length) {
        const { bytesRead } = await file.read(buffer, filled, length - filled, offset + filled)
        if (bytesRead === 0) break
        filled += bytesRead
      }
      return buffer.subarray(0, filled)
    } finally {
      await file.close()
    }
  }
}

/** @implements {History} */
export class ChatHistory extends ChatSource {
  /** @param {ChatDb} app */
  constructor (app) {
    super(app, app.db, app.setting('history_id'))
    const db = app.db
    // Prepared once: the transfer calls these for every batch.
    this.sql = {
      attachment: this.reads.attachment,
      find: db.prepare(`SELECT ${POST_COLUMNS}
        WHERE posts.chat_id = (SELECT chat_id FROM chats WHERE handle = ?) AND posts.uid IN (SELECT value FROM json_each(?))`),
      chatId: db.prepare('SELECT chat_id FROM chats WHERE handle = ?').pluck(),
      postId: db.prepare('SELECT post_id FROM posts WHERE chat_id = ? AND uid = ?').pluck(),
      insertPost: db.prepare(`INSERT INTO posts (chat_id, origin_uid, author, sent_at, kind, body, attachment_id, reply_to, status, edited_at, extras)
        VALUES (@chat_id, @uid, @author, @sent_at, @kind, @body, @attachment_id, @reply_to, @status, @edited_at, @extras)`),
      updatePost: db.prepare(`UPDATE posts SET author = @author, sent_at = @sent_at, kind = @kind, body = @body, attachment_id = @attachment_id,
        reply_to = @reply_to, status = @status, edited_at = @edited_at, extras = @extras WHERE post_id = @post_id`),
      deletePost: db.prepare('DELETE FROM posts WHERE chat_id = ? AND uid = ?'),
      // A chat someone wrote in since the transfer made it keeps those posts, and so stays.
      deleteChat: db.prepare('DELETE FROM chats WHERE handle = ? AND NOT EXISTS (SELECT 1 FROM posts WHERE posts.chat_id = chats.chat_id)'),
      deletePerson: db.prepare('DELETE FROM people WHERE handle = ?'),
      deleteAttachment: db.prepare(`DELETE FROM attachments WHERE sha256 = ?
        AND NOT EXISTS (SELECT 1 FROM posts WHERE posts.attachment_id = attachments.attachment_id) RETURNING attachment_id`).pluck(),
      upsertPerson: db.prepare(`INSERT INTO people (handle, display_name, phone_number) VALUES (?, ?, ?)
        ON CONFLICT (handle) DO UPDATE SET display_name = excluded.display_name, phone_number = excluded.phone_number`),
      upsertChat: db.prepare(`INSERT INTO chats (handle, is_group, title) VALUES (?, ?, ?)
        ON CONFLICT (handle) DO UPDATE SET is_group = excluded.is_group, title = excluded.title RETURNING chat_id`).pluck(),
      clearSeats: db.prepare('DELETE FROM chat_members WHERE chat_id = ?'),
      seat: db.prepare('INSERT INTO chat_members (chat_id, seat, handle) VALUES (?, ?, ?)'),
      upsertAttachment: db.prepare(`INSERT INTO attachments (sha256, byte_size, mime_type) VALUES (?, ?, ?)
        ON CONFLICT (sha256) DO UPDATE SET byte_size = excluded.byte_size, mime_type = excluded.mime_type RETURNING attachment_id`).pluck(),
      onDevice: db.prepare('UPDATE attachments SET on_device = 1 WHERE attachment_id = ?'),
      generation: db.prepare('SELECT value FROM settings WHERE name = ?').pluck(),
      keepGeneration: db.prepare('INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value')
    }
    // An app whose database can be put back to an older copy of itself (its own backup restored, a file
    // copied back by hand) keeps, in that database, which generation of it Ferry's journal describes:
    // otherwise what Ferry recorded as carried here, and no longer found, would stay out as if deleted
    // here. A settings row is enough; it travels with every copy of chat.db.
    /** @type {StoreGenerations} */
    this.generations = {
      generation: async source => /** @type {string | undefined} */ (this.sql.generation.get(GENERATION + source)),
      keepGeneration: async (source, token) => { this.sql.keepGeneration.run(GENERATION + source, token) }
    }
    // All of a change or none of it: better-sqlite3 rolls the transaction back when the function throws.
    this.apply = db.transaction(/** @param {HistoryChange} change */ change => this.#apply(change))
  }

  /**
   * The history as it is now, held for one transfer (HistorySource.snapshot): a second, read-only
   * connection inside one read transaction, which Ferry releases when the session ends. The app writes on
   * meanwhile (WAL mode), and the new phone gets the history as the transfer's manifest had it; what
   * changes meanwhile comes with the next transfer. Read live instead, a post arriving in a chat not yet
   * sent would fail the transfer.
   * @returns {Promise<SourceSnapshot>}
   */
  async snapshot () {
    const db = new Database(join(this.app.dir, 'chat.db'), { readonly: true, fileMustExist: true })
    try {
      db.exec('BEGIN')
      // A read transaction sees the database as of its first read: this one.
      db.prepare('SELECT count(*) FROM settings').get()
      const source = new ChatSource(this.app, db, this.historyId)
      return Object.assign(source, { release: async () => { db.close() } })
    } catch (err) {
      db.close()
      throw err
    }
  }

  // ---- HistorySink: what the new phone receives ----------------------------------------------------

  /**
   * @param {string} conversation
   * @param {string[]} ids
   * @returns {Promise<Message[]>}
   */
  async findMessages (conversation, ids) {
    return /** @type {PostRow[]} */ (this.sql.find.all(conversation, JSON.stringify(ids))).map(messageOf)
  }

  /** @param {HistoryChange} change */
  async commit (change) {
    const dropped = /** @type {number[]} */ (this.apply(change))
    // An attachment's bytes go once its row is gone for good. A crash in between leaves a file no row
    // names, and no row will (numbers are never given again): the app never opens it.
    for (const id of dropped) await rm(this.app.attachmentPath(id), { force: true })
  }

  /**
   * @param {HistoryChange} change
   * @returns {number[]} the attachments whose rows went (remove.media), for their files to go after
   */
  #apply ({ contacts = [], conversations = [], media = [], messages = [], remove = {} }) {
    const s = this.sql
    for (const { conversation, id } of remove.messages ?? []) {
      const chatId = s.chatId.get(conversation)
      if (chatId !== undefined) s.deletePost.run(chatId, id)
    }
    for (const id of remove.conversations ?? []) s.deleteChat.run(id)
    for (const id of remove.contacts ?? []) s.deletePerson.run(id)
    for (const c of contacts) s.upsertPerson.run(c.id, c.name, c.phone ?? null)
    for (const c of conversations) {
      const chatId = s.upsertChat.get(c.id, c.kind === 'group' ? 1 : 0, c.title)
      s.clearSeats.run(chatId)
      c.members.forEach((m, seat) => s.seat.run(chatId, seat, m))
    }
    for (const m of media) s.upsertAttachment.get(m.sha256, m.size, m.mime)
    for (const m of messages) {
      const chatId = /** @type {number | undefined} */ (s.chatId.get(m.conversation))
      if (chatId === undefined) throw new Error(`message ${m.id} is in chat ${m.conversation}, which this phone does not have`)
      const row = rowOf(m, chatId, this.#attachmentId(m))
      const postId = s.postId.get(chatId, m.id)
      if (postId === undefined) s.insertPost.run(row)
      else s.updatePost.run({ ...row, post_id: postId })
    }
    // Last, once the change's posts are in: an attachment a post refers to stays (a post the person wrote
    // with a photo that came in a transfer since taken back), and so does one the change puts.
    const putting = new Set(media.map(m => m.sha256))
    /** @type {number[]} */
    const dropped = []
    for (const sha256 of remove.media ?? []) {
      if (putting.has(sha256)) continue
      const id = /** @type {number | undefined} */ (s.deleteAttachment.get(sha256))
      if (id !== undefined) dropped.push(id)
    }
    return dropped
  }

  /** @param {Message} m */
  #attachmentId (m) {
    if (m.media === undefined) return null
    const row = /** @type {{ attachment_id: number } | undefined} */ (this.sql.attachment.get(m.media))
    // Ferry stores a transfer's media records before its messages: a message never comes first.
    if (row === undefined) throw new Error(`message ${m.id} has attachment ${m.media}, of which this phone has no record`)
    return row.attachment_id
  }

  /**
   * Takes a file Ferry received and checked: its bytes go to attachments/<attachment_id>, durably, before
   * the attachment is marked as on this phone.
   * @param {ReceivedMedia} file
   */
  async putMedia (file) {
    const id = Number(this.sql.upsertAttachment.get(file.sha256, file.size, file.mime))
    const path = this.app.attachmentPath(id)
    // Ferry's journal is in this app's folder, on the same file system: its file is moved, not copied.
    if (file.path !== undefined) await moveFileDurably(file.path, path)
    else await writeFileDurably(path, file.bytes !== undefined ? [file.bytes] : file.stream())
    this.sql.onDevice.run(id)
  }
}

/**
 * A post row as Ferry's Message. Optional fields are absent, never null.
 * @param {PostRow} row
 * @returns {Message}
 */
function messageOf (row) {
  /** @type {Message} */
  const m = { conversation: row.chat, id: row.uid, sender: row.author, ts: row.sent_at, kind: /** @type {Message['kind']} */ (row.kind) }
  if (row.body !== null) m.text = row.body
  if (row.sha256 !== null) m.media = row.sha256
  if (row.reply_to !== null) m.replyTo = row.reply_to
  if (row.status !== null) m.status = /** @type {Message['status']} */ (row.status)
  if (row.edited_at !== null) m.editedAt = row.edited_at
  if (row.extras !== null) Object.assign(m, JSON.parse(row.extras))
  return m
}

/**
 * A Message as a post row's columns. Fields the app has no column for (a voice note's duration, a
 * location, links, ...) are kept in `extras`, so that a history passes through this phone unchanged.
 * @param {Message} m
 * @param {number} chatId
 * @param {number | null} attachmentId
 */
function rowOf (m, chatId, attachmentId) {
  const { conversation, id, sender, ts, kind, text, media, replyTo, status, editedAt, ...rest } = m
  const extras = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined))
  return {
    chat_id: chatId,
    uid: id,
    author: sender,
    sent_at: ts,
    kind,
    body: text ?? null,
    attachment_id: attachmentId,
    reply_to: replyTo ?? null,
    status: status ?? null,
    edited_at: editedAt ?? null,
    extras: Object.keys(extras).length > 0 ? JSON.stringify(extras) : null
  }
}
