import Database from 'better-sqlite3'
import { createHash, randomUUID, type Hash } from 'node:crypto'
import { statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { ErrorCode, FerryError, isFerryError, storeError } from '../errors.js'
import { makeDatabasePrivate, makePrivateDir, tighten } from '../private-files.js'
import type { ChatStore, TransferCheckpoint } from './chat-store.js'
import { MediaFolder, type MediaDigest } from './media-folder.js'
import { StoreLock } from './store-lock.js'
import { prefetchFile } from './prefetch.js'
import { WalCheckpointer } from './wal-checkpointer.js'
import { compareKeys, compareStrings, type Contact, type Conversation, type MediaRecord, type Message, type MessageKey, type Selection } from './model.js'
import {
  CONTACT_COLUMNS, CONVERSATION_COLUMNS, MEDIA_COLUMNS, MESSAGE_COLUMNS, MESSAGE_V4_COLUMNS, MESSAGES_KEY, MIGRATE_TO_3, MIGRATE_TO_3_COPY, SCHEMA, SCHEMA_VERSION,
  contactFromRow, contactParams, conversationFromRow, conversationParams, fillMediaParams, fillMessageParams, insertSql,
  MEDIA_WIDTH, mediaFromRow, MESSAGE_WIDTH, messageFromRow, upsertSql
} from './schema.js'
import { isConstraint, RowWriter } from './row-writer.js'

type Row = Array<string | number | null>
type Statement = Database.Statement<unknown[], unknown>

export interface OpenOptions {
  /** Create the directory and an empty store when there is none (default false: a missing store is an error). */
  create?: boolean
  /** WAL pages between checkpoints (default 8192); tests make it small to see checkpoints happen. */
  walPages?: number
  /**
   * Only read: take no lock (share the store with the process writing it, if any), write nothing, and
   * read one consistent snapshot, taken at open, for the store's whole life. For inspecting, exporting
   * and backing up a store while a transfer writes it (SQLite's WAL lets readers and a writer overlap).
   */
  readOnly?: boolean
}

export interface StoreStats {
  contacts: number
  conversations: number
  messages: number
  /** Media records, with or without their file. */
  media: number
  mediaPresent: number
  mediaMissing: number
  mediaBytesPresent: number
  mediaBytesMissing: number
}

/** A media file being received: its committed bytes and, when the record is known, its declared size. */
export interface PartInfo {
  sha256: string
  length: number
  size?: number
}

export type IncomingTransfer = TransferCheckpoint & { transferId: Uint8Array, sourceId: string, selection: Selection, updatedAt: number }

/** Rows per page of a message scan: bounded memory without keeping a statement open between pages. */
const PAGE = 1024
/** Media pages are larger: a filtered page re-evaluates its subquery over the selected messages. */
const MEDIA_PAGE = 8192
// Below and above every safe-integer timestamp, so unbounded ends need no separate SQL.
const MIN_TS = -(2 ** 53)
const MAX_TS = 2 ** 53

/** A selection made ready for SQL: a sorted id list (undefined = all) and closed numeric bounds. */
interface Bounds {
  conversations?: string[]
  json?: string
  since: number
  until: number
  /** True when the selection narrows anything (a conversation list, even empty, or a date bound). */
  filtered: boolean
}

function boundsOf (sel: Selection = {}): Bounds {
  const list = sel.conversations === undefined ? undefined : [...new Set(sel.conversations)].sort(compareStrings)
  return {
    conversations: list,
    json: list === undefined ? undefined : JSON.stringify(list),
    since: sel.since ?? MIN_TS,
    until: sel.until ?? MAX_TS,
    filtered: list !== undefined || sel.since !== undefined || sel.until !== undefined
  }
}

/** At most this much of history.db is prefetched: ~1.7 M messages of the simulator's, no more of a phone's memory. */
const PREFETCH_BYTES = 512 * 1024 * 1024

/** WAL pages between checkpoints, outside a transfer's message phase (OpenOptions.walPages). */
const WAL_PAGES = 8192

/**
 * The embedded ChatStore: a directory holding history.db (SQLite, WAL) and a content-addressed media/
 * folder. Messages are keyed by the source's (conversation, id), so every write is an idempotent merge.
 *
 * A selection's `conversations: []` selects nothing (an empty intersection of offer and request), while
 * an absent list selects all conversations.
 */
export class SqliteChatStore implements ChatStore {
  readonly storeId: string
  readonly dir: string
  private readonly db: Database.Database
  private readonly folder: MediaFolder
  private readonly statements = new Map<string, Statement>()
  /** Multi-row statements by their SQL's builder, indexed by row count. */
  private readonly rowStatements = new Map<(rows: number) => string, Statement[]>()
  /** Running sha256 of .part files appended by this process, so completing a part never re-reads it. */
  private readonly partHashes = new Map<string, { hash: Hash, length: number }>()
  /**
   * The parts table, mirrored: one process owns a store, so after loadParts() every row is written and
   * deleted through here. A sha256 absent from it has no row (the receiver asks per chunk, and a whole
   * photo needs no row to forget).
   */
  private readonly partLengths = new Map<string, number>()
  private closed = false
  /** See deferCheckpoints() and catchUpCheckpoints(). */
  private checkpointsDeferred = false
  private checkpointer?: WalCheckpointer
  private catchUp?: Promise<void>
  /** Stops prefetch() at close. */
  private readonly prefetching = new AbortController()
  private prefetched = false
  /** See deferMessageKey(). */
  private keyDeferred = false
  /** The transfer whose load deferred the key; undefined until this process's first batch. */
  private bulkTransfer?: number

  /** This process's hold on the store (none for a read-only store). */
  private lock?: StoreLock

  private constructor (dir: string, db: Database.Database, storeId: string, private readonly walPages: number, readOnly = false) {
    this.dir = dir
    this.db = db
    this.storeId = storeId
    this.folder = new MediaFolder(join(dir, 'media'), { readOnly })
  }

  static open (dir: string, options: OpenOptions = {}): SqliteChatStore {
    const abs = resolve(dir)
    const dbPath = join(abs, 'history.db')
    // An empty file is as fresh as none (a creation stopped before SQLite wrote anything).
    const fresh = (statSync(dbPath, { throwIfNoEntry: false })?.size ?? 0) === 0
    if (fresh && (options.create !== true || options.readOnly === true)) {
      throw new FerryError(ErrorCode.BAD_INPUT, `no Ferry store at ${abs} (it has no history.db)`)
    }
    // The history is the owner's alone: the folder 0700, its files 0600 (private-files.ts).
    try {
      if (fresh) makePrivateDir(abs)
      else tighten(abs)
      makeDatabasePrivate(dbPath)
    } catch (err) {
      throw storeError(err, `${fresh ? 'creating' : 'opening'} the store ${abs}`)
    }
    if (options.readOnly === true) return SqliteChatStore.openReadOnly(abs, dbPath)
    // One process at a time writes a store (store-lock.ts): a second one is refused here, at once.
    const lock = StoreLock.acquire(abs)
    let db: Database.Database | undefined
    try {
      db = new Database(dbPath)
      // 16 KiB pages for a new store (a page size is fixed once the file has tables): a transfer writes
      // the history in long appends and reads it back in scans, and 1 M inserts ran at 333-341k/s with
      // them against 279-290k/s with SQLite's default 4 KiB (8 KiB: 303k, 32-64 KiB: as 16).
      if (fresh) db.pragma('page_size = 16384')
      db.pragma('journal_mode = WAL')
      // NORMAL in WAL mode never corrupts and never splits a transaction; a power cut may lose the last
      // commits, and a checkpoint rolls back with its batch, so a resume simply re-sends them.
      db.pragma('synchronous = NORMAL')
      // 8 MiB of page cache: transfers read and write messages in canonical order, so only the random
      // (conversation, id) index is looked up at random, and 1 M inserts ran as fast with 8 MiB as with 64.
      db.pragma('cache_size = -8192')
      db.pragma('temp_store = MEMORY')
      // Checkpoint the WAL every 8192 pages rather than every 1000: each checkpoint writes back and syncs
      // the database file, and a transfer commits a batch every few milliseconds (+12% messages/s
      // measured). A transfer's messages go in with none at all (see deferCheckpoints()).
      const walPages = options.walPages ?? WAL_PAGES
      db.pragma(`wal_autocheckpoint = ${walPages}`)
      // A WAL grown past that (a transfer's deferred checkpoint) is cut back when it next starts over.
      db.pragma(`journal_size_limit = ${64 * 1024 * 1024}`)
      const storeId = SqliteChatStore.ensureSchema(db, abs, options.create === true)
      const store = new SqliteChatStore(abs, db, storeId, walPages)
      store.loadParts()
      // A process stopped during a bulk load left the key dropped: build it now, so that the transfer
      // resumes with it (into a store that holds messages: an ordinary load).
      store.keyDeferred = store.one("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'messages_key'") === undefined
      store.ensureMessageKey()
      store.lock = lock
      return store
    } catch (err) {
      db?.close()
      lock.release()
      throw storeError(err, `opening the store ${abs}`)
    }
  }

  /** See OpenOptions.readOnly. A store an older Ferry wrote is upgraded first, by a writer's open. */
  private static openReadOnly (abs: string, dbPath: string, upgraded = false): SqliteChatStore {
    let db: Database.Database | undefined
    try {
      db = new Database(dbPath, { readonly: true, fileMustExist: true })
      db.pragma('cache_size = -8192')
      db.pragma('temp_store = MEMORY')
      // The snapshot: everything this connection reads from here on sees the store as it is now.
      db.exec('BEGIN')
      const hasMeta = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get() !== undefined
      const version = hasMeta ? Number(db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get()) : undefined
      if (version !== undefined && version < SCHEMA_VERSION && !upgraded) {
        db.close()
        SqliteChatStore.open(abs).close()
        return SqliteChatStore.openReadOnly(abs, dbPath, true)
      }
      const storeId = SqliteChatStore.ensureSchema(db, abs, false)
      return new SqliteChatStore(abs, db, storeId, WAL_PAGES, true)
    } catch (err) {
      if (db?.open === true) db.close()
      throw storeError(err, `opening the store ${abs}`)
    }
  }

  /** Creates the schema once (concurrent creators serialize on the write lock) and returns the storeId. */
  private static ensureSchema (db: Database.Database, dir: string, create: boolean): string {
    const read = (): Record<string, string> => {
      const hasMeta = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get() !== undefined
      if (!hasMeta) return {}
      return Object.fromEntries((db.prepare('SELECT key, value FROM meta').raw().all() as string[][]).map(([k, v]) => [k, v]))
    }
    let meta = read()
    if (meta.schema_version === undefined) {
      if (!create) throw new FerryError(ErrorCode.STORE, `${dir}/history.db is not a Ferry store`)
      db.transaction(() => {
        db.exec(SCHEMA)
        const put = db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)')
        put.run('store_id', randomUUID())
        put.run('schema_version', String(SCHEMA_VERSION))
        put.run('created_at', new Date().toISOString())
      }).immediate()
      meta = read()
    }
    const version = Number(meta.schema_version)
    if (version > SCHEMA_VERSION) {
      throw new FerryError(ErrorCode.STORE, `${dir} was written by a newer Ferry (schema ${version}, this one knows ${SCHEMA_VERSION})`)
    }
    if (version < SCHEMA_VERSION) {
      // 1 -> 2 only added tables and a trigger (IF NOT EXISTS): running the schema does it. 2 -> 3 rebuilds
      // the messages table in canonical order, once (about 2 s per million messages here). 3 -> 4 adds
      // nullable columns to the tables that exist (the trigger that copies rows is made again).
      db.transaction(() => {
        if (version < 3) db.exec(MIGRATE_TO_3)
        if (version < 4) addMessageColumns(db)
        db.exec(SCHEMA)
        if (version < 3) db.exec(MIGRATE_TO_3_COPY)
        db.prepare("UPDATE meta SET value = ? WHERE key = 'schema_version'").run(String(SCHEMA_VERSION))
      }).immediate()
    }
    return meta.store_id
  }

  /**
   * Warms history.db in the page cache, up to PREFETCH_BYTES (the WAL is small: checkpoints keep it
   * so). Idempotent: the kernel keeps what was read.
   */
  prefetch (): void {
    if (this.prefetched) return
    this.prefetched = true
    void prefetchFile(join(this.dir, 'history.db'), this.prefetching.signal, PREFETCH_BYTES)
  }

  /** Also builds the key a bulk load deferred: a message the sender repeated fails it (ORDER). */
  messagesDone (): void {
    this.restoreMessageKey()
    this.guard('releasing the page cache', () => this.db.pragma('shrink_memory'))
    this.catchUp = this.catchUpCheckpoints()
  }

  close (): void {
    if (this.closed) return
    this.closed = true
    this.prefetching.abort()
    this.folder.close()
    this.checkpointer?.close()
    this.db.close()
    this.lock?.release()
  }

  /**
   * A transfer's message phase runs without WAL checkpoints: each stalled a commit, on the thread that
   * is the transfer's bottleneck, for 0.3-0.45 s of a 1 M-message phase of ~5 s. Commits stay as
   * durable as before (synchronous=NORMAL syncs the WAL only at checkpoints anyway, and a lost commit is
   * re-sent on resume). A backstop still checkpoints every eight times the usual size.
   */
  private deferCheckpoints (): void {
    if (this.checkpointsDeferred) return
    this.checkpointsDeferred = true
    this.db.pragma(`wal_autocheckpoint = ${8 * this.walPages}`)
  }

  /**
   * Catches up on the deferred checkpoint on a thread of its own, while the media phase goes on; this
   * connection checkpoints as usual again once it is done (or if the thread fails: then the next commit
   * does it here). Resolves when the catch-up is over.
   */
  private async catchUpCheckpoints (): Promise<void> {
    if (!this.checkpointsDeferred || this.checkpointer !== undefined) return
    const restore = (): void => {
      this.checkpointer = undefined
      this.checkpointsDeferred = false
      if (!this.closed) this.guard('checkpointing the store', () => this.db.pragma(`wal_autocheckpoint = ${this.walPages}`))
    }
    let thread: WalCheckpointer
    try {
      thread = new WalCheckpointer(join(this.dir, 'history.db'), restore)
    } catch {
      return restore()
    }
    this.checkpointer = thread
    await thread.checkpoint()
    thread.close()
    if (this.checkpointer === thread) restore()
  }

  /** Waits for a checkpoint catch-up under way (tests, tools). */
  async checkpointsSettled (): Promise<void> {
    await this.catchUp
  }

  // ---- statements ----------------------------------------------------------------------------------

  /** Prepared once per SQL text; rows come back as arrays in column order (see schema.ts). */
  private stmt (sql: string): Statement {
    let s = this.statements.get(sql)
    if (s === undefined) {
      s = this.db.prepare(sql)
      if (s.reader) s.raw(true)
      this.statements.set(sql, s)
    }
    return s
  }

  /** The `rows`-row form of a multi-row statement, prepared once per row count. */
  private rowsStmt (sql: (rows: number) => string, rows: number): Statement {
    let byRows = this.rowStatements.get(sql)
    if (byRows === undefined) this.rowStatements.set(sql, byRows = [])
    return (byRows[rows] ??= this.stmt(sql(rows)))
  }

  private all (sql: string, ...params: unknown[]): Row[] {
    return this.stmt(sql).all(...params) as Row[]
  }

  private one (sql: string, ...params: unknown[]): Row | undefined {
    return this.stmt(sql).get(...params) as Row | undefined
  }

  /** Runs `fn`, turning filesystem and SQLite failures into typed errors (a full disk is STORE_FULL). */
  private guard<T> (what: string, fn: () => T): T {
    try {
      return fn()
    } catch (err) {
      throw storeError(err, what)
    }
  }

  /** Runs `fn` in one transaction (a savepoint when already inside one). */
  transaction<T> (fn: () => T): T {
    return this.guard('writing the store', () => this.db.transaction(fn)())
  }

  /**
   * Runs an async `fn` inside one transaction: committed when it resolves, rolled back when it throws.
   * Everything that uses this store meanwhile joins the transaction, so only one caller (an importer)
   * may use the store while it runs.
   */
  async transactionAsync<T> (fn: () => Promise<T>): Promise<T> {
    if (this.db.inTransaction) throw new FerryError(ErrorCode.INTERNAL, 'transactionAsync cannot nest in another transaction')
    this.guard('starting a transaction', () => this.db.exec('BEGIN IMMEDIATE'))
    let result: T
    try {
      result = await fn()
    } catch (err) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK')
      throw err
    }
    try {
      this.db.exec('COMMIT')
    } catch (err) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK')
      throw storeError(err, 'committing')
    }
    return result
  }

  // ---- reads ---------------------------------------------------------------------------------------

  contacts (selection?: Selection): Contact[] {
    const b = boundsOf(selection)
    return this.guard('reading contacts', () => {
      if (!b.filtered) return this.all(`SELECT ${CONTACT_COLUMNS} FROM contacts ORDER BY id`).map(contactFromRow)
      // The people a selection shows: members of its conversations and senders of its messages.
      const sql = `SELECT ${CONTACT_COLUMNS} FROM contacts WHERE id IN (
          SELECT j.value FROM conversations c, json_each(c.members) j WHERE ${this.inList('c.id', b)}
          UNION SELECT sender FROM messages WHERE ${this.inList('conversation', b)} AND ts >= ? AND ts < ?
        ) ORDER BY id`
      return this.all(sql, ...this.listParam(b), ...this.listParam(b), b.since, b.until).map(contactFromRow)
    })
  }

  conversations (selection?: Selection): Conversation[] {
    const b = boundsOf(selection)
    return this.guard('reading conversations', () =>
      this.all(`SELECT ${CONVERSATION_COLUMNS} FROM conversations WHERE ${this.inList('id', b)} ORDER BY id`, ...this.listParam(b))
        .map(conversationFromRow))
  }

  /** Paged like messages: a photo-heavy phone has 100k+ records, and the manifest streams them. */
  * media (selection?: Selection): Generator<MediaRecord> {
    const b = boundsOf(selection)
    const sql = b.filtered
      ? `SELECT ${MEDIA_COLUMNS} FROM media WHERE sha256 > ? AND sha256 IN (
          SELECT media FROM messages WHERE media IS NOT NULL AND ${this.inList('conversation', b)} AND ts >= ? AND ts < ?
        ) ORDER BY sha256 LIMIT ${MEDIA_PAGE}`
      : `SELECT ${MEDIA_COLUMNS} FROM media WHERE sha256 > ? ORDER BY sha256 LIMIT ${MEDIA_PAGE}`
    const params = b.filtered ? [...this.listParam(b), b.since, b.until] : []
    let after = ''
    for (;;) {
      const rows = this.guard('reading media records', () => this.all(sql, after, ...params))
      for (const r of rows) yield mediaFromRow(r)
      if (rows.length < MEDIA_PAGE) return
      after = rows[rows.length - 1][0] as string
    }
  }

  messageCounts (selection?: Selection): Map<string, number> {
    const b = boundsOf(selection)
    return this.guard('counting messages', () => {
      const sql = `SELECT conversation, count(*) FROM messages WHERE ${this.inList('conversation', b)} AND ts >= ? AND ts < ?
        GROUP BY conversation`
      return new Map(this.all(sql, ...this.listParam(b), b.since, b.until).map(r => [r[0] as string, r[1] as number]))
    })
  }

  /**
   * Messages in canonical order, read a page at a time by a keyset cursor on the (conversation, ts, id)
   * index. No statement stays open between pages: a caller (the sender) may hold this iterator across
   * network waits or abandon it midway, and an open better-sqlite3 iterator would meanwhile lock the
   * connection for every other statement and pin the WAL.
   */
  * messages (selection?: Selection, after?: MessageKey): Generator<Message> {
    const b = boundsOf(selection)
    if (b.conversations === undefined) {
      const sql = `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE (conversation, ts, id) > (?, ?, ?) AND ts >= ? AND ts < ?
        ORDER BY conversation, ts, id LIMIT ${PAGE}`
      yield * this.pages(after ?? { conversation: '', ts: MIN_TS, id: '' }, k => [k.conversation, k.ts, k.id, b.since, b.until], sql)
      return
    }
    // A listed conversation is an equality on the index's first column, so each is one range scan.
    const sql = `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE conversation = ? AND (ts, id) > (?, ?) AND ts >= ? AND ts < ?
      ORDER BY ts, id LIMIT ${PAGE}`
    for (const conversation of b.conversations) {
      if (after !== undefined && compareStrings(conversation, after.conversation) < 0) continue
      const start = after !== undefined && conversation === after.conversation ? after : { conversation, ts: MIN_TS, id: '' }
      yield * this.pages(start, k => [conversation, k.ts, k.id, b.since, b.until], sql)
    }
  }

  transferMessages (transfer: number, conversation: string): Generator<Message> {
    const sql = `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE conversation = ? AND (ts, id) > (?, ?) AND xfer = ?
      ORDER BY ts, id LIMIT ${PAGE}`
    return this.pages({ conversation, ts: MIN_TS, id: '' }, k => [conversation, k.ts, k.id, transfer], sql)
  }

  private * pages (start: MessageKey, params: (after: MessageKey) => unknown[], sql: string): Generator<Message> {
    let after = start
    for (;;) {
      const rows = this.guard('reading messages', () => this.all(sql, ...params(after)))
      for (const r of rows) yield messageFromRow(r)
      if (rows.length < PAGE) return
      const last = rows[rows.length - 1]
      after = { conversation: last[0] as string, ts: last[3] as number, id: last[1] as string }
    }
  }

  /** SQL restricting `column` to the selection's conversation list (bound as one JSON parameter). */
  private inList (column: string, b: Bounds): string {
    return b.json === undefined ? '1' : `${column} IN (SELECT value FROM json_each(?))`
  }

  private listParam (b: Bounds): string[] {
    return b.json === undefined ? [] : [b.json]
  }

  hasConversation (id: string): boolean {
    return this.guard('reading conversations', () => this.one('SELECT 1 FROM conversations WHERE id = ?', id) !== undefined)
  }

  hasMediaRecord (sha256: string): boolean {
    return this.guard('reading media records', () => this.one('SELECT 1 FROM media WHERE sha256 = ?', sha256) !== undefined)
  }

  hasMediaFile (sha256: string): boolean {
    return this.guard(`checking media ${sha256}`, () => this.folder.has(sha256))
  }

  mediaPresence (): (sha256: string) => boolean {
    return this.folder.presence()
  }

  readMedia (sha256: string, offset: number, length: number, into?: Uint8Array): Uint8Array {
    return this.folder.read(sha256, offset, length, into)
  }

  mediaPath (sha256: string): string {
    return this.folder.path(sha256)
  }

  stats (): StoreStats {
    return this.guard('reading store statistics', () => {
      const [contacts, conversations, messages] = this.one(`SELECT (SELECT count(*) FROM contacts),
        (SELECT count(*) FROM conversations), (SELECT count(*) FROM messages)`) as number[]
      const s: StoreStats = { contacts, conversations, messages, media: 0, mediaPresent: 0, mediaMissing: 0, mediaBytesPresent: 0, mediaBytesMissing: 0 }
      for (const m of this.media()) {
        s.media++
        if (this.folder.has(m.sha256)) {
          s.mediaPresent++
          s.mediaBytesPresent += m.size
        } else {
          s.mediaMissing++
          s.mediaBytesMissing += m.size
        }
      }
      return s
    })
  }

  // ---- writes --------------------------------------------------------------------------------------

  putMetadata (contacts: Contact[], conversations: Conversation[], media: Iterable<MediaRecord>): void {
    this.transaction(() => {
      const c = this.stmt(upsertSql('contacts', CONTACT_COLUMNS, 'id'))
      for (const x of contacts) c.run(...contactParams(x))
      const v = this.stmt(upsertSql('conversations', CONVERSATION_COLUMNS, 'id'))
      for (const x of conversations) v.run(...conversationParams(x))
      const m = new RowWriter<MediaRecord>(MEDIA_WIDTH, fillMediaParams, rows => this.rowsStmt(UPSERT_MEDIA, rows))
      for (const x of media) m.add(x)
      m.flush()
    })
  }

  /** Upserts messages written locally (no transfer tag) in one transaction: the importer's and simulator's path. */
  putMessages (messages: Iterable<Message>): void {
    this.ensureMessageKey()
    this.transaction(() => this.upsertMessages(messages, null))
  }

  private upsertMessages (messages: Iterable<Message>, xfer: number | null): void {
    // Plain INSERTs first: most messages are new to this phone, and without the upsert clause SQLite
    // inserts ~15% faster (286k against 249k rows/s). Without the key (a bulk load) nothing can merge and
    // the upsert does not compile: commitBatch builds the key and tries again.
    const rows = new RowWriter<Message>(
      MESSAGE_WIDTH,
      (p, at, m) => fillMessageParams(p, at, m, xfer),
      n => this.rowsStmt(INSERT_MESSAGES, n),
      this.keyDeferred ? undefined : n => this.rowsStmt(UPSERT_MESSAGES, n)
    )
    for (const m of messages) rows.add(m)
    rows.flush()
  }

  /** Copies a file into media/ (hashing while copying); with `expect`, a mismatch adds nothing. */
  async addMediaFromFile (path: string, expect?: MediaDigest): Promise<MediaDigest> {
    return await this.folder.addFile(path, expect)
  }

  /** Streams bytes into media/ under their sha256, never holding them whole; with `expect`, a mismatch adds nothing. */
  async writeMedia (chunks: AsyncIterable<Uint8Array>, expect?: MediaDigest): Promise<MediaDigest> {
    return await this.folder.write(chunks, expect)
  }

  /** Deletes a media file (not its record). */
  removeMediaFile (sha256: string): void {
    this.guard(`removing media ${sha256}`, () => this.folder.remove(sha256))
  }

  // ---- transfers -----------------------------------------------------------------------------------

  openTransfer (transferId: Uint8Array, sourceId: string, selection: Selection): TransferCheckpoint {
    return this.transaction(() => {
      const now = Date.now()
      const found = this.one('SELECT id, state FROM transfers WHERE transfer_id = ?', Buffer.from(transferId))
      if (found === undefined) {
        this.stmt(`INSERT INTO transfers (transfer_id, source_id, selection, started_at, updated_at) VALUES (?, ?, ?, ?, ?)`)
          .run(Buffer.from(transferId), sourceId, JSON.stringify(selection), now, now)
      } else if (found[1] === 'verified') {
        // Received again after it was verified: the rows it wrote then are the phone's history now, and
        // must survive whatever this run does. So this run gets a new local id (ids only grow: transfers
        // are never deleted), which tags only what it writes from here on; overwriting an earlier row
        // saves it for the undo, as for any other transfer's row. It starts from the beginning, so its
        // read-back covers the whole selection as the old phone holds it now.
        this.stmt(`UPDATE transfers SET id = (SELECT max(id) FROM transfers) + 1, cursor_conversation = NULL, cursor_ts = NULL,
          cursor_id = NULL, messages = 0, state = 'receiving', updated_at = ? WHERE id = ?`).run(now, found[0])
      } else {
        this.stmt("UPDATE transfers SET state = 'receiving', updated_at = ? WHERE id = ?").run(now, found[0])
      }
      return this.transferRow(Buffer.from(transferId))
    })
  }

  transfers (): IncomingTransfer[] {
    return this.guard('reading transfers', () =>
      this.all(`${TRANSFER_SELECT} WHERE state = 'receiving' ORDER BY id`).map(transferFromRow))
  }

  private transferRow (transferId: Buffer): IncomingTransfer {
    return transferFromRow(this.one(`${TRANSFER_SELECT} WHERE transfer_id = ?`, transferId) as Row)
  }

  /**
   * Upserts the batch tagged with the transfer and advances its checkpoint, in one transaction. Only
   * messages beyond the stored cursor count as new, so re-applying a batch changes nothing.
   */
  commitBatch (transfer: number, messages: Message[], cursor: MessageKey): void {
    this.deferCheckpoints()
    if (this.bulkTransfer === undefined) this.deferMessageKey(transfer)
    else if (transfer !== this.bulkTransfer) this.ensureMessageKey()
    try {
      this.commitRows(transfer, messages, cursor)
    } catch (err) {
      // A batch that meets stored rows (one applied again) merges through the key: build it, then retry.
      if (!this.keyDeferred || !isConstraint((err as Error).cause)) throw err
      this.ensureMessageKey()
      this.commitRows(transfer, messages, cursor)
    }
  }

  private commitRows (transfer: number, messages: Message[], cursor: MessageKey): void {
    this.transaction(() => {
      const row = this.one('SELECT cursor_conversation, cursor_ts, cursor_id FROM transfers WHERE id = ?', transfer)
      if (row === undefined) throw new FerryError(ErrorCode.STORE, `no transfer ${transfer} in this store`)
      const prev: MessageKey | undefined = row[0] === null ? undefined : { conversation: row[0] as string, ts: row[1] as number, id: row[2] as string }
      this.upsertMessages(messages, transfer)
      let added = 0
      for (const m of messages) if (prev === undefined || compareKeys(m, prev) > 0) added++
      const next = prev !== undefined && compareKeys(cursor, prev) <= 0 ? prev : cursor
      this.stmt(`UPDATE transfers SET cursor_conversation = ?, cursor_ts = ?, cursor_id = ?, messages = messages + ?, updated_at = ?
        WHERE id = ?`).run(next.conversation, next.ts, next.id, added, Date.now(), transfer)
    })
  }

  /**
   * Undoes a refused transfer so its next session starts over (resuming after the cursor would only
   * re-verify the same wrong rows), and so nothing a lying or broken sender wrote stays in the history.
   */
  resetTransfer (transfer: number): void {
    this.transaction(() => { if (!this.isVerified(transfer)) this.undoTransfer(transfer) })
    // A refused bulk load's rows were all this transfer's: with them gone, the key builds.
    this.ensureMessageKey()
  }

  /** A verified transfer's rows are history: nothing undoes them (a later run of it has its own id). */
  private isVerified (transfer: number): boolean {
    return this.one("SELECT 1 FROM transfers WHERE id = ? AND state = 'verified'", transfer) !== undefined
  }

  private undoTransfer (transfer: number): void {
    // Delete what it wrote, put back what it overwrote (kept by the keep_overwritten trigger). A row
    // another transfer has taken over since stays theirs (OR IGNORE).
    this.stmt('DELETE FROM messages WHERE xfer = ?').run(transfer)
    this.stmt(`INSERT OR IGNORE INTO messages (${MESSAGE_COLUMNS}, xfer) SELECT ${MESSAGE_COLUMNS}, xfer FROM overwritten WHERE owner = ?`).run(transfer)
    this.stmt('DELETE FROM overwritten WHERE owner = ?').run(transfer)
    this.stmt(`UPDATE transfers SET cursor_conversation = NULL, cursor_ts = NULL, cursor_id = NULL, messages = 0,
      state = 'receiving', updated_at = ? WHERE id = ?`).run(Date.now(), transfer)
  }

  /**
   * A transfer into an empty history (a new phone's: the usual case) loads its messages without the
   * (conversation, id) index and sorts it in once they are all in (restoreMessageKey). Kept up row by
   * row, its inserts at random places cost the receiver, the transfer's bottleneck, more than one sort:
   * over 1 M messages the receiver spent ~0.4 s less CPU and the chats were ready 0.3-0.6 s sooner (of
   * ~5 s), the build included. Nothing needs the key meanwhile: the receiver takes messages in strictly
   * increasing canonical order after its cursor, so a batch never meets a stored row, and the one way
   * to break it (the sender repeating an id at another time) fails the build. The drop commits alone:
   * a crash before the first batch commits leaves an empty table to index.
   */
  private deferMessageKey (transfer: number): void {
    this.bulkTransfer = transfer
    this.keyDeferred = this.transaction(() => {
      if (this.one('SELECT 1 FROM messages LIMIT 1') !== undefined) return false
      this.db.exec('DROP INDEX messages_key')
      return true
    })
  }

  /** Builds the key deferMessageKey() dropped; refuses (ORDER) a load that holds a message twice. */
  private restoreMessageKey (): void {
    if (!this.keyDeferred) return
    // The sort spills to a temporary file: in memory (temp_store, set for the rest) it raised the
    // receiver's peak by ~50 MiB for 1 M messages.
    this.db.pragma('temp_store = FILE')
    try {
      this.db.exec(MESSAGES_KEY)
    } catch (err) {
      if ((err as { code?: string }).code !== 'SQLITE_CONSTRAINT_UNIQUE') throw storeError(err, 'indexing the messages')
      const twice = this.one('SELECT conversation, id FROM messages GROUP BY conversation, id HAVING count(*) > 1 LIMIT 1') as Row
      throw new FerryError(ErrorCode.ORDER, `message ${twice[0]}/${twice[1]} came twice (at different times)`)
    } finally {
      this.db.pragma('temp_store = MEMORY')
    }
    this.keyDeferred = false
  }

  /**
   * Builds the key before anything else writes messages (a local write, another transfer, a reopened
   * store). A bulk load that holds a message twice could never verify: that transfer starts over.
   */
  private ensureMessageKey (): void {
    try {
      this.restoreMessageKey()
    } catch (err) {
      if (!isFerryError(err) || err.code !== ErrorCode.ORDER) throw err
      this.transaction(() => {
        const repeated = this.all(`SELECT DISTINCT xfer FROM messages WHERE xfer IS NOT NULL AND (conversation, id) IN
          (SELECT conversation, id FROM messages GROUP BY conversation, id HAVING count(*) > 1)`)
        for (const [xfer] of repeated) if (!this.isVerified(xfer as number)) this.undoTransfer(xfer as number)
      })
      this.restoreMessageKey()
    }
  }

  finishTransfer (transfer: number): void {
    // Verified: what it overwrote is history now.
    this.transaction(() => {
      this.stmt("UPDATE transfers SET state = 'verified', updated_at = ? WHERE id = ?").run(Date.now(), transfer)
      this.stmt('DELETE FROM overwritten WHERE owner = ?').run(transfer)
    })
  }

  // ---- partial media -------------------------------------------------------------------------------

  /** Partial media files being received, with their declared size when the record is known. */
  parts (): PartInfo[] {
    return this.guard('reading partial media', () =>
      this.all('SELECT p.sha256, p.length, m.size FROM parts p LEFT JOIN media m ON m.sha256 = p.sha256 ORDER BY p.sha256')
        .map(r => r[2] === null ? { sha256: r[0] as string, length: r[1] as number } : { sha256: r[0] as string, length: r[1] as number, size: r[2] as number }))
  }

  /**
   * Reads the parts table into partLengths. A promotion renames the part, then deletes its record: a
   * crash in between (SIGKILL while the rename is on the thread pool) leaves the record of a file that
   * already has its name, which the receiver would then skip forever and `inspect` list as partial.
   * Such records go here.
   */
  private loadParts (): void {
    for (const [sha, length] of this.all('SELECT sha256, length FROM parts')) {
      if (this.folder.has(sha as string)) this.stmt('DELETE FROM parts WHERE sha256 = ?').run(sha)
      else this.partLengths.set(sha as string, length as number)
    }
  }

  private committedLength (sha256: string): number {
    return this.partLengths.get(sha256) ?? 0
  }

  partials (): Set<string> {
    return this.guard('listing partial media', () => {
      const out = new Set(this.folder.partNames())
      for (const sha256 of this.partLengths.keys()) out.add(sha256)
      return out
    })
  }

  partLength (sha256: string): number {
    return this.guard(`checking partial media ${sha256}`, () => {
      const recorded = this.committedLength(sha256)
      const size = this.folder.partSize(sha256)
      // Bytes past the record were written before a crash but never committed; a file shorter than its
      // record lost its tail, and what remains is still a valid prefix.
      const committed = Math.min(recorded, size)
      if (size > committed) this.folder.truncatePart(sha256, committed)
      if (recorded !== committed) this.recordPart(sha256, committed)
      const running = this.partHashes.get(sha256)
      if (running !== undefined && running.length !== committed) this.partHashes.delete(sha256)
      return committed
    })
  }

  appendPart (sha256: string, offset: number, data: Uint8Array): void {
    this.guard(`writing partial media ${sha256}`, () => {
      const committed = this.committedLength(sha256)
      if (offset !== committed) {
        throw new FerryError(ErrorCode.ORDER, `media ${sha256}: append at ${offset}, but ${committed} bytes are committed`)
      }
      this.folder.writePart(sha256, offset, data)
      this.recordPart(sha256, offset + data.byteLength)
      const running = this.partHashes.get(sha256)
      if (running !== undefined && running.length === offset) {
        running.hash.update(data)
        running.length += data.byteLength
      } else if (offset === 0) {
        this.partHashes.set(sha256, { hash: createHash('sha256').update(data), length: data.byteLength })
      } else {
        this.partHashes.delete(sha256) // resumed from an earlier run: partDigest reads the file once
      }
    })
  }

  private recordPart (sha256: string, length: number): void {
    this.stmt('INSERT INTO parts (sha256, length) VALUES (?, ?) ON CONFLICT (sha256) DO UPDATE SET length = excluded.length').run(sha256, length)
    this.partLengths.set(sha256, length)
  }

  partDigest (sha256: string): string {
    return this.guard(`hashing partial media ${sha256}`, () => {
      const committed = this.committedLength(sha256)
      let running = this.partHashes.get(sha256)
      if (running === undefined || running.length !== committed) {
        running = { hash: committed === 0 ? createHash('sha256') : this.folder.hashPart(sha256, committed), length: committed }
        this.partHashes.set(sha256, running)
      }
      // copy(): the running hash stays usable should more bytes follow.
      return running.hash.copy().digest('hex')
    })
  }

  /**
   * A file that came whole in one chunk: hashed in memory, written and promoted with no parts row. Two
   * SQLite commits per photo (record, then forget, the part) were a fifth of the receiver's disk writes.
   * Killed before the rename, it leaves a .part file with no record, which partLength reads as nothing
   * committed (the tail beyond the record is cut): the file is simply sent again, one chunk.
   */
  putWholeMedia (sha256: string, data: Uint8Array): void {
    this.guard(`storing media ${sha256}`, () => {
      const actual = createHash('sha256').update(data).digest('hex')
      if (actual !== sha256) throw new FerryError(ErrorCode.HASH_MISMATCH, `media ${sha256} arrived with sha256 ${actual}`)
      this.partHashes.delete(sha256)
      const recorded = this.partLengths.get(sha256)
      this.partLengths.delete(sha256)
      this.folder.writeWhole(sha256, data)
      // A row left by an earlier, abandoned attempt goes once the file has its name.
      const forget = recorded === undefined ? undefined : () => { if (this.db.open) this.stmt('DELETE FROM parts WHERE sha256 = ?').run(sha256) }
      this.folder.promotePart(sha256, forget)
    })
  }

  promotePart (sha256: string): void {
    this.guard(`storing media ${sha256}`, () => {
      this.partLength(sha256) // drops an uncommitted tail, should one have appeared
      this.partHashes.delete(sha256)
      // The record goes once the file has its name: a crash in between leaves a complete part, which
      // the receiver verifies and promotes when it resumes.
      this.partLengths.delete(sha256)
      this.folder.promotePart(sha256, () => { if (this.db.open) this.stmt('DELETE FROM parts WHERE sha256 = ?').run(sha256) })
    })
  }

  async flushMedia (): Promise<void> {
    await this.folder.flush()
  }

  discardPart (sha256: string): void {
    this.guard(`discarding partial media ${sha256}`, () => {
      this.folder.discardPart(sha256)
      this.stmt('DELETE FROM parts WHERE sha256 = ?').run(sha256)
      this.partLengths.delete(sha256)
      this.partHashes.delete(sha256)
    })
  }
}

/** Schema 3 -> 4: the new message columns, added (NULL in every row) to messages and overwritten where they exist. */
function addMessageColumns (db: Database.Database): void {
  db.exec('DROP TRIGGER IF EXISTS keep_overwritten')
  for (const table of ['messages', 'overwritten']) {
    const have = new Set((db.prepare(`SELECT name FROM pragma_table_info('${table}')`).pluck().all() as string[]))
    if (have.size === 0) continue
    for (const [column, type] of MESSAGE_V4_COLUMNS) if (!have.has(column)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`)
  }
}

const INSERT_MESSAGES = (rows: number): string => insertSql('messages', `${MESSAGE_COLUMNS}, xfer`, rows)
const UPSERT_MESSAGES = (rows: number): string => upsertSql('messages', `${MESSAGE_COLUMNS}, xfer`, 'conversation, id', rows)
const UPSERT_MEDIA = (rows: number): string => upsertSql('media', MEDIA_COLUMNS, 'sha256', rows)

const TRANSFER_SELECT = `SELECT id, transfer_id, source_id, selection, cursor_conversation, cursor_ts, cursor_id, messages, state, updated_at
  FROM transfers`

function transferFromRow (r: Row): IncomingTransfer {
  const t: IncomingTransfer = {
    transfer: r[0] as number,
    transferId: new Uint8Array(r[1] as unknown as Buffer),
    sourceId: r[2] as string,
    selection: JSON.parse(r[3] as string) as Selection,
    messages: r[7] as number,
    state: r[8] as TransferCheckpoint['state'],
    updatedAt: r[9] as number
  }
  if (r[4] !== null) t.cursor = { conversation: r[4] as string, ts: r[5] as number, id: r[6] as string }
  return t
}
