import Database from 'better-sqlite3'
import { logger, type ComponentLogger, type Logger } from '@libp2p/logger'
import { join, resolve } from 'node:path'
import { ErrorCode, FerryError, isFerryError, storeError } from '../errors.js'
import { fsError } from '../fs-errors.js'
import { makeDatabasePrivate, makePrivateDir, tighten } from '../private-files.js'
import type { ConversationInfo, History, HistoryChange, LeafIndex, MessagePosition, ReceivedMedia, SourceSnapshot, StoredMedia, StoreGenerations } from './history.js'
import { assertSha256, MediaFolder, type MediaDigest } from './media-folder.js'
import { SqliteLeafIndex } from './leaf-index.js'
import { StoreLock } from './store-lock.js'
import { prefetchFile } from './prefetch.js'
import { WalCheckpointer } from './wal-checkpointer.js'
import { compareStrings, type Contact, type Conversation, type MediaRecord, type Message, type MessageKey, type Selection } from './model.js'
import {
  CONTACT_COLUMNS, CONVERSATION_COLUMNS, LEAVES_ON_INSERT, MEDIA_COLUMNS, MESSAGE_COLUMNS, MESSAGE_READ_COLUMNS, MESSAGES_KEY, SCHEMA_VERSION,
  contactFromRow, contactParams, conversationFromRow, conversationParams, fillMediaParams, fillMessageParams, insertSql,
  MEDIA_WIDTH, mediaFromRow, MESSAGE_WIDTH, messageFromReadRow,
  MESSAGE_V3_COLUMNS, MESSAGE_V3_WIDTH, MESSAGE_V4_COLUMNS, fillMessageV3Params, hasV4Fields, upsertSql
} from './schema.js'
import { isConstraint, RowWriter } from './row-writer.js'
import { ensureSchema } from './schema-setup.js'
import { foreignEntries, openError, statStore } from './store-opening.js'
import { checkedKeys, checkReferences, noReferences, referencesOf, type References } from './message-references.js'

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
  /**
   * Create the store even in a directory that holds files of its own (default false: BAD_INPUT, since a
   * store there would chmod the folder 0700 and mix a history into someone else's files).
   */
  intoForeignDirectory?: boolean
  /** Appended to that refusal: what the caller offers instead (`seed` names --force). */
  foreignHint?: string
  /**
   * Appended to the refusal of a folder with no store in it: how to make one. By default how a library
   * call does (`{ create: true }`); a command line names its own way, as its users pass no options object.
   */
  missingHint?: string
  /**
   * Where the store's log lines go (default `ferry:store`): a node's `components.logger`, or a
   * `prefixLogger`, tells two phones' stores in one process apart.
   */
  logger?: ComponentLogger
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

const storeLog = (options: { logger?: ComponentLogger }): Logger => options.logger?.forComponent('ferry:store') ?? logger('ferry:store')

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

/** Meta rows of the generations of the store's contents (StoreGenerations), one per source. */
const GENERATION_KEY = 'generation:'
/** Meta key of the histories the store continues (HistorySource.formerIds), as a JSON list. */
const FORMER_IDS_KEY = 'former_ids'
/** Meta rows of what imports last wrote of names (src/sim/import-names.ts). */
const IMPORT_BASE_KEY = 'import-base:'

/** WAL pages between checkpoints, outside a transfer's message phase (OpenOptions.walPages). */
const WAL_PAGES = 8192

/**
 * The embedded store, the simulator's phone: a directory holding history.db (SQLite, WAL) and a
 * content-addressed media/ folder, seen by Ferry through the History port (async, page-grained), and by
 * the simulator, the importers and tools through its own synchronous methods (list*, put*, stats).
 * Messages are keyed by the source's (conversation, id), so every write is an idempotent merge.
 *
 * A selection's `conversations: []` selects nothing (an empty intersection of offer and request), while
 * an absent list selects all conversations.
 */
export class SqliteChatStore implements History {
  readonly storeId: string
  readonly dir: string
  private readonly db: Database.Database
  private readonly folder: MediaFolder
  private readonly statements = new Map<string, Statement>()
  /** Multi-row statements by their SQL's builder, indexed by row count. */
  private readonly rowStatements = new Map<(rows: number) => string, Statement[]>()
  private closed = false
  /** See deferCheckpoints() and catchUpCheckpoints(). */
  private checkpointsDeferred = false
  private checkpointer?: WalCheckpointer
  private catchUp?: Promise<void>
  /** Stops prefetch() at close. */
  private readonly prefetching = new AbortController()
  private prefetched = false
  /**
   * What the messages put in the transaction under way name, checked as it commits (checkReferences)
   * against what the store then holds: a name outlives the message that named it (deleted, replaced, or
   * gone with a savepoint that rolled back), so it only says where to look.
   */
  private references?: References
  /** See deferMessageKey(). */
  private keyDeferred = false
  /** Whether this process decided on a bulk load yet (at its first batch of messages). */
  private bulkDecided = false
  /** A bulk load held a message twice: see ensureMessageKey(). */
  private duplicates = false

  /** This process's hold on the store (none for a read-only store). */
  private lock?: StoreLock
  private readonly leaves: SqliteLeafIndex
  /** Runs a function in a transaction; wrapped once, as each better-sqlite3 wrapping builds four functions. */
  private readonly inTransaction: <T>(fn: () => T) => T

  /** Snapshots taken of this store and not yet released (see snapshot()). */
  private readonly snapshots = new Set<SqliteChatStore>()
  /** False for a snapshot, which reads its store's media folder. */
  private readonly ownsFolder: boolean

  private constructor (dir: string, db: Database.Database, storeId: string, private readonly walPages: number, private readonly log: Logger, private readonly readOnly = false, folder?: MediaFolder) {
    this.dir = dir
    this.db = db
    this.storeId = storeId
    this.ownsFolder = folder === undefined
    this.folder = folder ?? new MediaFolder(join(dir, 'media'), { readOnly, log })
    this.leaves = new SqliteLeafIndex(db, readOnly)
    // BEGIN IMMEDIATE: the write lock is taken as the transaction begins, where SQLite waits for it
    // (busy_timeout). A deferred one that reads before it writes (commit's removal of media records)
    // must take the lock while holding a read, where SQLite fails at once with "database is locked",
    // waiting for no one: the checkpoint thread's TRUNCATE takes that lock, and so would another
    // connection of an app's. A nested call is a savepoint either way.
    this.inTransaction = db.transaction(<T>(fn: () => T): T => fn()).immediate as <T>(fn: () => T) => T
  }

  /** The port, not the class: the class's better-sqlite3 types stay out of the published declarations. */
  get leafIndex (): LeafIndex { return this.leaves }

  static open (dir: string, options: OpenOptions = {}): SqliteChatStore {
    const abs = resolve(dir)
    const dbPath = join(abs, 'history.db')
    const dirStat = statStore(abs, abs)
    if (dirStat?.isDirectory() === false) {
      throw new FerryError(ErrorCode.BAD_INPUT, `${abs} is a file, not a Ferry store (a store is a directory)`)
    }
    // An empty file is as fresh as none (a creation stopped before SQLite wrote anything).
    const dbStat = statStore(dbPath, abs)
    const fresh = (dbStat?.size ?? 0) === 0
    if (fresh && (options.create !== true || options.readOnly === true)) {
      // A reader cannot make one, so only a writer is told how.
      const hint = options.readOnly === true ? '' : (options.missingHint ?? '; to create one there, open it with { create: true }')
      throw new FerryError(ErrorCode.BAD_INPUT, `no Ferry store at ${abs} (${dbStat === undefined ? 'it has no history.db' : 'its history.db is empty'})${hint}`)
    }
    if (fresh && options.intoForeignDirectory !== true) {
      const other = foreignEntries(abs)
      if (other.length > 0) {
        const some = other.slice(0, 3).join(', ') + (other.length > 3 ? `, … (${other.length} in all)` : '')
        throw new FerryError(ErrorCode.BAD_INPUT, `${abs} is not empty and holds no Ferry store (it has ${some}); choose a new or empty directory${options.foreignHint ?? ''}`)
      }
    }
    // The history is the owner's alone: the folder 0700, its files 0600 (private-files.ts).
    try {
      if (fresh) makePrivateDir(abs)
      else tighten(abs)
      makeDatabasePrivate(dbPath)
    } catch (err) {
      throw fsError(err, `${fresh ? 'creating' : 'opening'} the store ${abs}`, abs)
    }
    if (options.readOnly === true) return SqliteChatStore.openReadOnly(abs, dbPath, options)
    const log = storeLog(options)
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
      // the database file, and a transfer commits a batch every few milliseconds, so frequent checkpoints cost
      // messages/s. A transfer's messages go in with none at all (see deferCheckpoints()).
      const walPages = options.walPages ?? WAL_PAGES
      db.pragma(`wal_autocheckpoint = ${walPages}`)
      // A WAL grown past that (a transfer's deferred checkpoint) is cut back when it next starts over.
      db.pragma(`journal_size_limit = ${64 * 1024 * 1024}`)
      const storeId = ensureSchema(db, abs, options.create === true, log)
      const store = new SqliteChatStore(abs, db, storeId, walPages, log)
      // A process stopped during a bulk load left the key dropped: build it now, so that the transfer
      // resumes with it (into a store that holds messages: an ordinary load). A load that held a message
      // twice cannot have it until the transfer is undone, which needs the store open: it opens without.
      store.keyDeferred = store.one("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'messages_key'") === undefined
      store.ensureMessageKey(true)
      store.lock = lock
      // The one place a writer starts: what a writer killed before its records committed added is
      // taken back here. Not under a lock this process shares: its other user may be adding them now.
      // A failure leaves the list to the next open, and keeps no one from the store: a file is weighed
      // against the records only when it is removed, so one a record names meanwhile stays.
      if (lock.first) {
        try {
          store.settleAddedMedia()
        } catch (err) {
          log.error('cannot remove the media files a stopped writer left in %s: %s', abs, (err as Error).message)
        }
      }
      return store
    } catch (err) {
      db?.close()
      lock.release()
      throw openError(err, abs)
    }
  }

  /** See OpenOptions.readOnly. A store an older Ferry wrote is upgraded first, by a writer's open. */
  private static openReadOnly (abs: string, dbPath: string, options: OpenOptions, upgraded = false): SqliteChatStore {
    const log = storeLog(options)
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
        SqliteChatStore.open(abs, { logger: options.logger }).close()
        return SqliteChatStore.openReadOnly(abs, dbPath, options, true)
      }
      const storeId = ensureSchema(db, abs, false, log)
      return new SqliteChatStore(abs, db, storeId, WAL_PAGES, log, true)
    } catch (err) {
      if (db?.open === true) db.close()
      throw openError(err, abs)
    }
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
    if (this.checkpointer === undefined) this.catchUp = this.catchUpCheckpoints()
  }

  /** With no media phase for it to overlap, the deferred checkpoint overlaps the read-back instead. */
  onlyVerifyingLeft (): void {
    if (this.checkpointer === undefined) this.catchUp = this.catchUpCheckpoints()
  }

  close (): void {
    if (this.closed) return
    this.closed = true
    this.prefetching.abort()
    for (const s of this.snapshots) s.close()
    if (this.ownsFolder) this.folder.close()
    this.checkpointer?.close()
    this.db.close()
    this.lock?.release()
  }

  /**
   * A transfer's message phase runs without WAL checkpoints: each stalled a commit, on the thread that
   * is the transfer's bottleneck, for a large part of a message phase. Commits stay as
   * durable as before (synchronous=NORMAL syncs the WAL only at checkpoints anyway, and a lost commit is
   * re-sent on resume). A backstop still checkpoints every eight times the usual size.
   */
  private deferCheckpoints (): void {
    if (this.checkpointsDeferred) return
    this.checkpointsDeferred = true
    this.db.pragma(`wal_autocheckpoint = ${8 * this.walPages}`)
  }

  /**
   * Catches up on the deferred checkpoint on a thread of its own, while the media phase (with none, the
   * read-back: onlyVerifyingLeft) goes on, and gives the WAL's space back once no reader is in it; this
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

  /**
   * synchronous=NORMAL syncs the WAL only at checkpoints, and a transfer defers those: one write under
   * FULL syncs the WAL now, and with it every commit before (the WAL is a log). One fsync, where a
   * checkpoint would first copy the whole transfer into the database file.
   */
  async flush (): Promise<void> {
    this.guard('making the history durable', () => {
      this.db.pragma('synchronous = FULL')
      try {
        this.stmt('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)').run('durable_at', new Date().toISOString())
      } finally {
        this.db.pragma('synchronous = NORMAL')
      }
    })
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

  /**
   * Runs `fn` in one transaction (a savepoint when already inside one). The outermost one checks, before
   * it commits, that what its messages name is there (see putMessages).
   */
  transaction<T> (fn: () => T): T {
    if (this.db.inTransaction) return this.guard('writing the store', () => this.inTransaction(fn))
    try {
      return this.guard('writing the store', () => this.inTransaction(() => {
        const result = fn()
        this.checkWhatMessagesName()
        return result
      }))
    } finally {
      this.references = undefined
    }
  }

  /** See message-references.ts checkReferences: once per outermost transaction, as it commits. */
  private checkWhatMessagesName (): void {
    const refs = this.references
    this.references = undefined
    if (refs !== undefined) checkReferences(refs, { all: (sql, ...p) => this.all(sql, ...p), one: (sql, ...p) => this.one(sql, ...p) })
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
      this.checkWhatMessagesName()
    } catch (err) {
      this.references = undefined
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

  /** Contacts by id; with a selection, the members of its conversations and the senders of its messages. */
  listContacts (selection?: Selection): Contact[] {
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

  listConversations (selection?: Selection): Conversation[] {
    const b = boundsOf(selection)
    return this.guard('reading conversations', () =>
      this.all(`SELECT ${CONVERSATION_COLUMNS} FROM conversations WHERE ${this.inList('id', b)} ORDER BY id`, ...this.listParam(b))
        .map(conversationFromRow))
  }

  /** Paged like messages: a photo-heavy phone has 100k+ records, and the manifest streams them. */
  * listMedia (selection?: Selection): Generator<MediaRecord> {
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
  * listMessages (selection?: Selection, after?: MessageKey): Generator<Message> {
    const b = boundsOf(selection)
    if (b.conversations === undefined) {
      const sql = `SELECT conversation, ${MESSAGE_READ_COLUMNS} FROM messages WHERE (conversation, ts, id) > (?, ?, ?) AND ts >= ? AND ts < ?
        ORDER BY conversation, ts, id LIMIT ${PAGE}`
      yield * this.pages(after ?? { conversation: '', ts: MIN_TS, id: '' }, k => [k.conversation, k.ts, k.id, b.since, b.until], sql)
      return
    }
    // A listed conversation is an equality on the index's first column, so each is one range scan.
    const sql = `SELECT conversation, ${MESSAGE_READ_COLUMNS} FROM messages WHERE conversation = ? AND (ts, id) > (?, ?) AND ts >= ? AND ts < ?
      ORDER BY ts, id LIMIT ${PAGE}`
    for (const conversation of b.conversations) {
      if (after !== undefined && compareStrings(conversation, after.conversation) < 0) continue
      const start = after !== undefined && conversation === after.conversation ? after : { conversation, ts: MIN_TS, id: '' }
      yield * this.pages(start, k => [conversation, k.ts, k.id, b.since, b.until], sql)
    }
  }

  private * pages (start: MessageKey, params: (after: MessageKey) => unknown[], sql: string): Generator<Message> {
    let after = start
    for (;;) {
      const rows = this.guard('reading messages', () => this.all(sql, ...params(after)))
      for (const r of rows) yield messageFromReadRow(r[0] as string, r, 1)
      if (rows.length < PAGE) return
      // conversation, then MESSAGE_READ_COLUMNS: id, sender, ts...
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

  /** The contacts of these ids the store holds. */
  findContacts (ids: readonly string[]): Contact[] {
    if (ids.length === 0) return []
    return this.guard('reading contacts', () =>
      this.all(`SELECT ${CONTACT_COLUMNS} FROM contacts WHERE id IN (SELECT value FROM json_each(?))`, JSON.stringify(ids)).map(contactFromRow))
  }

  /**
   * What imports last wrote of the names of these keys (src/sim/import-names.ts), as they wrote it. Meta
   * rows, in history.db itself: they commit, or roll back, with the import that writes them, and a copy
   * of the file carries them with the names they describe.
   */
  importBases (keys: readonly string[]): Map<string, string> {
    if (keys.length === 0) return new Map()
    return this.guard('reading import bases', () => new Map(
      this.all('SELECT key, value FROM meta WHERE key IN (SELECT ? || value FROM json_each(?))', IMPORT_BASE_KEY, JSON.stringify(keys))
        .map(r => [(r[0] as string).slice(IMPORT_BASE_KEY.length), r[1] as string])))
  }

  /** Records what an import wrote of names, in the caller's transaction (see importBases). */
  putImportBases (bases: Iterable<readonly [string, string]>): void {
    this.transaction(() => {
      const put = this.stmt('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)')
      for (const [key, value] of bases) put.run(IMPORT_BASE_KEY + key, value)
    })
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

  readMediaSync (sha256: string, offset: number, length: number, into?: Uint8Array): Uint8Array {
    return this.folder.read(sha256, offset, length, into)
  }

  mediaPath (sha256: string): string {
    return this.folder.path(sha256)
  }

  /**
   * Reads every page of the database, as SQLite's quick_check does, and fails as any read of a damaged
   * page does (storeError's damaged-database error). Counts are read from indexes, so without it a damaged
   * page of a table goes unseen until something reads the rows on it. Costs one read of the whole file.
   */
  checkPages (): void {
    this.guard('checking the store', () => {
      const problem = this.db.pragma('quick_check(1)', { simple: true }) as string
      if (problem === 'ok') return
      this.log.error('quick_check: %s', problem)
      // As SQLite says it when a statement meets such a page: one wording of damage for every command.
      throw Object.assign(new Error('database disk image is malformed'), { code: 'SQLITE_CORRUPT' })
    })
  }

  stats (): StoreStats {
    return this.guard('reading store statistics', () => {
      const [contacts, conversations, messages] = this.one(`SELECT (SELECT count(*) FROM contacts),
        (SELECT count(*) FROM conversations), (SELECT count(*) FROM messages)`) as number[]
      const s: StoreStats = { contacts, conversations, messages, media: 0, mediaPresent: 0, mediaMissing: 0, mediaBytesPresent: 0, mediaBytesMissing: 0 }
      for (const m of this.listMedia()) {
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

  /** Upserts contacts, conversations and media records (metadata only) in one transaction. */
  putMetadata (contacts: Contact[], conversations: Conversation[], media: Iterable<MediaRecord>): void {
    this.transaction(() => this.putRecords(contacts, conversations, media))
  }

  private putRecords (contacts: Contact[], conversations: Conversation[], media: Iterable<MediaRecord>): void {
    if (contacts.length > 0) {
      const c = this.stmt(upsertSql('contacts', CONTACT_COLUMNS, 'id'))
      for (const x of contacts) c.run(...contactParams(x))
    }
    if (conversations.length > 0) {
      const v = this.stmt(upsertSql('conversations', CONVERSATION_COLUMNS, 'id'))
      for (const x of conversations) v.run(...conversationParams(x))
    }
    const m = new RowWriter<MediaRecord>(MEDIA_WIDTH, fillMediaParams, rows => this.rowsStmt(UPSERT_MEDIA, rows))
    for (const x of media) m.add(x)
    m.flush()
  }

  /** Deletes a message written locally (the simulated phone's user deleting it). */
  deleteMessage (conversation: string, id: string): void {
    this.ensureMessageKey()
    this.leaves.wrote(conversation)
    this.transaction(() => { this.stmt('DELETE FROM messages WHERE conversation = ? AND id = ?').run(conversation, id) })
  }

  /**
   * Upserts messages written locally in one transaction: the importer's and simulator's path, and an
   * app's. Put a message's conversation, and the media record it names, with putMetadata first: a
   * message in a conversation the store does not hold is never sent (Ferry sends conversations), and one
   * that names a media record the store does not hold fails every transfer. Either is refused with
   * BAD_INPUT, nothing of the call written; inside a caller's transaction the check waits for it to
   * commit, so its writes may come in any order (an import's records do). A message whose key is not
   * one (`ts` not an integer, an empty `id`) is refused likewise.
   */
  putMessages (messages: Iterable<Message>): void {
    this.ensureMessageKey()
    this.transaction(() => {
      const refs = this.references ?? noReferences()
      // Merged only once the call's rows are in: a call refused inside a caller's transaction, which
      // the caller may catch and go on from, leaves nothing of it to check.
      const call = noReferences()
      this.upsertMessages(referencesOf(checkedKeys(messages), call, refs))
      for (const [k, v] of call.conversations) refs.conversations.set(k, v)
      for (const [k, v] of call.media) refs.media.set(k, v)
      this.references = refs
    })
  }

  private upsertMessages (messages: Iterable<Message>): void {
    // Plain INSERTs first: most messages are new to this phone, and without the upsert clause SQLite
    // inserts faster. Without the key (a bulk load) nothing can merge and the upsert does not compile:
    // commit builds the key and tries again. A message without the importers' fields (nearly all of
    // them) binds only the schema 3 columns, six NULLs fewer per row. Rows go in their order: a switch
    // between the two writers flushes the one left.
    const merge = !this.keyDeferred
    const wide = new RowWriter<Message>(
      MESSAGE_WIDTH,
      fillMessageParams,
      n => this.rowsStmt(INSERT_MESSAGES, n),
      merge ? n => this.rowsStmt(UPSERT_MESSAGES, n) : undefined
    )
    const narrow = new RowWriter<Message>(
      MESSAGE_V3_WIDTH,
      fillMessageV3Params,
      n => this.rowsStmt(INSERT_V3_MESSAGES, n),
      merge ? n => this.rowsStmt(UPSERT_V3_MESSAGES, n) : undefined
    )
    let last = narrow
    let conversation: string | undefined
    for (const m of messages) {
      if (m.conversation !== conversation) {
        conversation = m.conversation
        this.leaves.wrote(conversation)
      }
      const rows = hasV4Fields(m) ? wide : narrow
      if (rows !== last) {
        last.flush()
        last = rows
      }
      rows.add(m)
    }
    last.flush()
  }

  /**
   * Copies a file into media/ (hashing while copying); with `expect`, a mismatch adds nothing. The file
   * only: its record (the digest this returns, with its mime) goes in with putMetadata.
   */
  async addMediaFromFile (path: string, expect?: MediaDigest): Promise<MediaDigest> {
    return await this.folder.addFile(path, expect)
  }

  /** Streams bytes into media/ under their sha256, never holding them whole; with `expect`, a mismatch adds nothing. */
  async writeMedia (chunks: AsyncIterable<Uint8Array>, expect?: MediaDigest): Promise<MediaDigest> {
    return await this.folder.write(chunks, expect)
  }

  /**
   * Lists, on disk, media files about to be written whose records are not committed yet (an import's,
   * in its transaction), before the first of them is: should the process end before they commit (a
   * SIGKILL, a power cut), the next open for writing removes those no record names. settleAddedMedia()
   * ends the list.
   */
  willAddMedia (shas: readonly string[]): void {
    this.guard('listing the media files to add', () => this.folder.adding.add(shas))
  }

  /**
   * Once the records of willAddMedia's files are committed or rolled back: removes the listed files no
   * record names, then the list. A file a record names stays, whoever's record it is (one the store held
   * before, still waiting for its file). Returns how many files went.
   */
  settleAddedMedia (): number {
    if (this.db.inTransaction) throw new FerryError(ErrorCode.INTERNAL, 'settleAddedMedia inside a transaction would keep files its rollback leaves unnamed')
    return this.guard('removing media files no record names', () => {
      const listed = this.folder.adding.read()
      const unnamed = listed.filter(sha => !this.hasMediaRecord(sha))
      for (const sha of unnamed) this.folder.remove(sha)
      if (unnamed.length > 0) this.log('removed %d media files no record names, left by a writer stopped before its records committed', unnamed.length)
      this.folder.adding.clear()
      return unnamed.length
    })
  }

  /**
   * The files willAddMedia listed that are here and that no record names: what a writer killed before
   * its records committed left, until the store's next open for writing removes them. A reader (inspect)
   * says so; the person need not wonder where the room went.
   */
  unsettledMedia (): { files: number, bytes: number } {
    return this.guard('reading the list of media files being added', () => {
      let files = 0
      let bytes = 0
      for (const sha of this.folder.adding.read()) {
        const size = this.folder.size(sha)
        if (size === undefined || this.hasMediaRecord(sha)) continue
        files++
        bytes += size
      }
      return { files, bytes }
    })
  }

  /** Deletes a media file (not its record). */
  removeMediaFile (sha256: string): void {
    this.guard(`removing media ${sha256}`, () => this.folder.remove(sha256))
  }

  // ---- the History port (async, page-grained) ---------------------------------------------------------

  get historyId (): string {
    return this.storeId
  }

  /** See HistorySource.formerIds: kept in meta by continueFrom. */
  get formerIds (): string[] {
    const v = this.one('SELECT value FROM meta WHERE key = ?', FORMER_IDS_KEY)?.[0] as string | undefined
    if (v === undefined) return []
    try {
      const ids = JSON.parse(v) as unknown
      return Array.isArray(ids) ? ids.filter((id): id is string => typeof id === 'string' && id !== '') : []
    } catch {
      return []
    }
  }

  async continueFrom (formerIds: readonly string[]): Promise<void> {
    this.guard('recording the history the store continues', () => {
      this.stmt('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)').run(FORMER_IDS_KEY, JSON.stringify(formerIds))
    })
  }

  /**
   * See StoreGenerations: one meta row per source, in history.db itself, so that a copy of the file
   * carries the token of the contents it holds. Meta rows are outside every schema the app reads.
   */
  readonly generations: StoreGenerations = {
    generation: async source => this.guard('reading the store\'s generation', () => {
      return this.one('SELECT value FROM meta WHERE key = ?', GENERATION_KEY + source)?.[0] as string | undefined
    }),
    keepGeneration: async (source, token) => {
      this.guard('writing the store\'s generation', () => {
        this.stmt('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)').run(GENERATION_KEY + source, token)
      })
    }
  }

  async conversations (): Promise<ConversationInfo[]> {
    return this.guard('reading conversations', () => {
      const counts = new Map(this.all('SELECT conversation, count(*) FROM messages GROUP BY conversation').map(r => [r[0] as string, r[1] as number]))
      return this.all(`SELECT ${CONVERSATION_COLUMNS} FROM conversations ORDER BY id`).map(r => {
        const conversation = conversationFromRow(r)
        return { conversation, messages: counts.get(conversation.id) ?? 0 }
      })
    })
  }

  async contacts (): Promise<Contact[]> {
    return this.listContacts()
  }

  async media (after: string | undefined, limit: number): Promise<StoredMedia[]> {
    return this.guard('reading media records', () => {
      const has = this.folder.presence()
      // One literal per row: V8 tenured a spread copy of mediaFromRow's object, and a verification
      // listing every file of a photo-heavy history made the receiver's peak of them.
      return this.all(`SELECT ${MEDIA_COLUMNS} FROM media WHERE sha256 > ? ORDER BY sha256 LIMIT ?`, after ?? '', limit)
        .map(r => ({ sha256: r[0] as string, size: r[1] as number, mime: r[2] as string, stored: has(r[0] as string) }))
    })
  }

  /**
   * See HistorySink: a stat of each file, which media() leaves out (it lists each fan-out directory
   * instead), so only the receiver pays it, for the files it would not fetch.
   */
  async wholeMedia (media: readonly StoredMedia[]): Promise<boolean[]> {
    return this.guard('checking media files', () => media.map(m => this.folder.whole(m.sha256, m.size)))
  }

  async messages (conversation: string, after: MessagePosition | undefined, limit: number): Promise<Message[]> {
    this.ensureMessageKey()
    const sql = `SELECT ${MESSAGE_READ_COLUMNS} FROM messages WHERE conversation = ? AND (ts, id) > (?, ?) ORDER BY ts, id LIMIT ?`
    return this.guard('reading messages', () => this.all(sql, conversation, after?.ts ?? MIN_TS, after?.id ?? '', limit).map(r => messageFromReadRow(conversation, r)))
  }

  async findMessages (conversation: string, ids: string[]): Promise<Message[]> {
    this.ensureMessageKey()
    // Each id looked up by the (conversation, id) key: written as `id IN (...)`, SQLite scanned the whole
    // conversation by its primary key for every call, and an undo or a second transfer makes one per batch.
    const sql = `SELECT ${MESSAGE_READ_COLUMNS} FROM (SELECT value AS wanted FROM json_each(?)) CROSS JOIN messages ON conversation = ? AND id = wanted`
    return this.guard('reading messages', () => this.all(sql, JSON.stringify(ids), conversation).map(r => messageFromReadRow(conversation, r)))
  }

  async readMedia (sha256: string, offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    return this.folder.read(sha256, offset, length, into)
  }

  /**
   * See HistorySource.snapshot: a second, read-only connection holding one read transaction until it is
   * released (WAL lets this connection write on meanwhile). Its media are read from this store's folder,
   * and the leaves it cuts are kept through this store's index while their conversation was not written
   * since. Closing the store releases it too. A read-only store is a snapshot already, held since it
   * was opened: it offers that one, and its own close releases it.
   */
  async snapshot (): Promise<SourceSnapshot> {
    if (this.readOnly) return { ...this.sourceOf(this, this.leaves), release: async () => {} }
    const reader = this.guard('taking a snapshot of the store', () => {
      // A snapshot cannot build the key a bulk load deferred: its reads need it.
      this.ensureMessageKey()
      return this.openSnapshot()
    })
    this.snapshots.add(reader)
    return {
      ...this.sourceOf(reader, this.leaves.seenFrom(reader.db, this.db.inTransaction)),
      release: async () => {
        this.snapshots.delete(reader)
        reader.close()
      }
    }
  }

  /** The HistorySource reads of `reader` (this store or a snapshot of it), its media from this store's folder. */
  private sourceOf (reader: SqliteChatStore, leafIndex: LeafIndex): Omit<SourceSnapshot, 'release'> {
    return {
      historyId: this.storeId,
      formerIds: reader.formerIds,
      leafIndex,
      conversations: async () => await reader.conversations(),
      contacts: async () => await reader.contacts(),
      media: async (after, limit) => await reader.media(after, limit),
      messages: async (conversation, after, limit) => await reader.messages(conversation, after, limit),
      readMedia: async (sha256, offset, length, into) => await this.folder.read(sha256, offset, length, into)
    }
  }

  private openSnapshot (): SqliteChatStore {
    const db = new Database(join(this.dir, 'history.db'), { readonly: true, fileMustExist: true })
    try {
      db.pragma('cache_size = -8192')
      db.pragma('temp_store = MEMORY')
      // A read transaction sees the database as of its first read: this one.
      db.exec('BEGIN')
      db.prepare('SELECT count(*) FROM meta').get()
      return new SqliteChatStore(this.dir, db, this.storeId, this.walPages, this.log, true, this.folder)
    } catch (err) {
      db.close()
      throw err
    }
  }

  /**
   * Applies a change in one transaction. Messages into an empty history (a new phone's) go in as a bulk
   * load, without the (conversation, id) key, which is built once they are all in (deferMessageKey).
   */
  async commit (change: HistoryChange): Promise<void> {
    const messages = change.messages ?? []
    const remove = change.remove
    if (messages.length > 0) {
      this.deferCheckpoints()
      if (!this.bulkDecided) this.deferMessageKey()
    }
    if ((remove?.messages?.length ?? 0) > 0) this.ensureMessageKey(true)
    for (const sha of remove?.media ?? []) this.guard('removing media records', () => { assertSha256(sha) })
    let dropped: string[] = []
    const apply = (): void => this.transaction(() => {
      if (remove !== undefined) {
        const m = this.stmt('DELETE FROM messages WHERE conversation = ? AND id = ?')
        for (const r of remove.messages ?? []) {
          this.leaves.wrote(r.conversation)
          m.run(r.conversation, r.id)
        }
        const v = this.stmt('DELETE FROM conversations WHERE id = ?')
        for (const id of remove.conversations ?? []) v.run(id)
        const c = this.stmt('DELETE FROM contacts WHERE id = ?')
        for (const id of remove.contacts ?? []) c.run(id)
      }
      this.putRecords(change.contacts ?? [], change.conversations ?? [], change.media ?? [])
      if (messages.length > 0) this.upsertMessages(messages)
      dropped = this.dropMediaRecords(remove?.media ?? [], change.media ?? [])
    })
    try {
      apply()
    } catch (err) {
      // A batch that meets stored rows during a bulk load merges through the key: build it, then retry.
      if (!this.keyDeferred || !isConstraint((err as Error).cause)) throw err
      this.ensureMessageKey()
      apply()
    }
    // The files once their records are gone for good: a crash between the two leaves files no record
    // names, which nothing lists or counts, and which the same removal, run again, takes.
    if (dropped.length === 0) return
    // A file still taking its name (putMedia not yet resolved, as when a session was cut meanwhile)
    // would land after the removal, with no record to name it: it lands first. A record put back
    // meanwhile keeps its file.
    const naming = dropped.flatMap(sha => this.folder.named(sha) ?? [])
    if (naming.length > 0) {
      await Promise.all(naming)
      dropped = dropped.filter(sha => !this.hasMediaRecord(sha))
    }
    const has = this.guard('listing media files', () => this.folder.presence())
    for (const sha of dropped.sort()) if (has(sha)) this.removeMediaFile(sha)
  }

  /**
   * Inside commit's transaction, once its messages are written: deletes the records of `shas` that no
   * message refers to and the change does not put, and returns those (their files go after the commit).
   */
  private dropMediaRecords (shas: string[], put: MediaRecord[]): string[] {
    if (shas.length === 0) return []
    const putting = new Set(put.map(m => m.sha256))
    const candidates = [...new Set(shas)].filter(s => !putting.has(s))
    // One scan of the messages for the whole list (nothing indexes messages by media, and an index would
    // cost every message written): the list is what SQLite builds its lookup from.
    const referenced = new Set(this.all('SELECT DISTINCT media FROM messages WHERE media IN (SELECT value FROM json_each(?))', JSON.stringify(candidates)).map(r => r[0] as string))
    const drop = candidates.filter(s => !referenced.has(s))
    this.stmt('DELETE FROM media WHERE sha256 IN (SELECT value FROM json_each(?))').run(JSON.stringify(drop))
    if (referenced.size > 0) this.log('kept %d media records that messages still refer to', referenced.size)
    return drop
  }

  /**
   * Takes a checked file: bytes are written and synced, a file on disk (the journal's, on this file
   * system) is synced and renamed into place. Resolves once it is durably under its name; flushes are
   * grouped, so callers keep many in flight.
   */
  async putMedia (file: ReceivedMedia): Promise<void> {
    if (file.path !== undefined) return await this.folder.adopt(file.path, file.sha256)
    if (file.bytes !== undefined) return await this.folder.adoptBytes(file.sha256, file.bytes)
    await this.folder.write(file.stream(), { sha256: file.sha256, size: file.size })
  }

  /**
   * A load into an empty history (a new phone's: the usual case) writes its messages without the
   * (conversation, id) index and sorts it in once they are all in (restoreMessageKey): kept up row by
   * row, its inserts at random places cost the receiver, the transfer's bottleneck, more than one sort.
   * Nothing needs the key meanwhile: the receiver looks nothing up in a conversation it held nothing of,
   * and the one way to break it (the sender repeating an id at another time) fails the build. The drop
   * commits alone: a crash before the first batch commits leaves an empty table to index.
   */
  private deferMessageKey (): void {
    this.bulkDecided = true
    // Still without it (a repeated load, found at open): it is built once that load is undone.
    if (this.keyDeferred) return
    this.keyDeferred = this.transaction(() => {
      if (this.one('SELECT 1 FROM messages LIMIT 1') !== undefined) return false
      this.db.exec('DROP INDEX messages_key')
      // No message, so no true leaf: the insert trigger (which would find none to drop, once a row) goes
      // with the key, and comes back with it.
      this.db.exec('DELETE FROM leaves')
      this.db.exec('DROP TRIGGER IF EXISTS leaves_on_insert')
      this.log('loading into an empty history: the (conversation, id) key is built once the messages are in')
      return true
    })
  }

  /** Builds the key deferMessageKey() dropped; refuses (ORDER) a load that holds a message twice. */
  private restoreMessageKey (): void {
    if (!this.keyDeferred) return
    // The sort spills to a temporary file: in memory (temp_store, set for the rest) it raised the
    // receiver's peak with the size of the history. One helper thread sorts beside this one: the build
    // comes as the media phase starts, when the old phone waits for this one, so a core is free; a
    // second helper bought nothing more.
    this.db.pragma('temp_store = FILE')
    this.db.pragma('threads = 1')
    const t0 = Date.now()
    try {
      // The trigger first: a crash between the two leaves the key missing, which the next open builds.
      this.db.exec(LEAVES_ON_INSERT)
      this.db.exec(MESSAGES_KEY)
      this.log('built the (conversation, id) key in %d ms', Date.now() - t0)
    } catch (err) {
      if ((err as { code?: string }).code !== 'SQLITE_CONSTRAINT_UNIQUE') throw storeError(err, 'indexing the messages')
      const twice = this.one('SELECT conversation, id FROM messages GROUP BY conversation, id HAVING count(*) > 1 LIMIT 1') as Row
      throw new FerryError(ErrorCode.ORDER, `message ${twice[0]}/${twice[1]} came twice (at different times)`)
    } finally {
      this.db.pragma('temp_store = MEMORY')
      this.db.pragma('threads = 0')
    }
    this.keyDeferred = false
    this.duplicates = false
    this.db.exec('DROP INDEX IF EXISTS messages_dup')
  }

  /**
   * Builds the key before anything needs it (a lookup, a local write, a read back). A bulk load that
   * holds a message twice is a lying sender's, which the receiver then undoes: for that, `removing`, the
   * rows are found through a plain index until the duplicates are gone and the key can be built.
   */
  private ensureMessageKey (removing = false): void {
    if (!this.keyDeferred) return
    if (this.duplicates) {
      if (removing) return
      if (this.one('SELECT 1 FROM messages GROUP BY conversation, id HAVING count(*) > 1 LIMIT 1') !== undefined) {
        throw new FerryError(ErrorCode.ORDER, 'the messages of an unfinished transfer repeat ids: it must be undone first')
      }
    }
    try {
      this.restoreMessageKey()
    } catch (err) {
      if (!isFerryError(err) || err.code !== ErrorCode.ORDER) throw err
      this.duplicates = true
      this.db.exec('CREATE INDEX IF NOT EXISTS messages_dup ON messages (conversation, id)')
      if (!removing) throw err
    }
  }
}

const INSERT_MESSAGES = (rows: number): string => insertSql('messages', MESSAGE_COLUMNS, rows)
const UPSERT_MESSAGES = (rows: number): string => upsertSql('messages', MESSAGE_COLUMNS, 'conversation, id', rows)
const INSERT_V3_MESSAGES = (rows: number): string => insertSql('messages', MESSAGE_V3_COLUMNS, rows)
const UPSERT_V3_MESSAGES = (rows: number): string => upsertSql('messages', MESSAGE_V3_COLUMNS, 'conversation, id', rows, MESSAGE_V4_COLUMNS.map(([c]) => c))
const UPSERT_MEDIA = (rows: number): string => upsertSql('media', MEDIA_COLUMNS, 'sha256', rows)

