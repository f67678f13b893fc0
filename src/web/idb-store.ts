import { sha256 as sha256Hash } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { ErrorCode, FerryError } from '../errors.js'
import type { ChatStore, TransferCheckpoint } from '../store/chat-store.js'
import { compareKeys, compareStrings, type Contact, type Conversation, type MediaRecord, type Message, type MessageKey, type Selection } from '../store/model.js'
import { deleteDb, done, entries, openDb, request, STORES } from './idb.js'

type Hasher = ReturnType<typeof sha256Hash.create>

/**
 * `prior`: the version a transfer overwrote (the row another transfer, or none, had written), kept until
 * that transfer is verified, so a refused one can be undone like SQLite's (the overwritten table).
 */
interface StoredMessage { m: Message, xfer: number | null, prior?: { m: Message, xfer: number | null } }
interface StoredTransfer extends TransferCheckpoint { transferId: Uint8Array, sourceId: string, selection: Selection }
/** A media file in the store: `complete` once verified and promoted, a partial file (part) before. */
interface StoredFile { length: number, complete: boolean }

/** Bytes of IndexedDB writes not yet committed above which the receiver stops reading (see drain()). */
export const DEFAULT_BACKLOG_BYTES = 4 * 1024 * 1024

const chunkRange = (sha: string): IDBKeyRange => IDBKeyRange.bound([sha, 0], [sha, Infinity])

/**
 * The browser phone's ChatStore over IndexedDB. ChatStore is synchronous, IndexedDB is not, so the store
 * loads its state into memory when opened and serves reads from there; writes update memory at once and
 * go to IndexedDB write-through, each call in ONE readwrite transaction (a batch with its checkpoint, a
 * media chunk with its part length), like SQLite's. Every write transaction spans all object stores, so
 * IndexedDB runs them one after another in creation order: whatever survives a reload or a crash is a
 * prefix of the commits, and the receiver's Resume, read from it, tells the sender the truth.
 *
 * Media bytes are not held in memory: chunks live in IndexedDB, read back as Blobs (mediaBlob()). The
 * running sha256 of a partial file is kept (rebuilt from its chunks on open), so partDigest stays sync.
 *
 * A failed transaction (quota, a closed database) is latched: every later write and flushMedia() throw it.
 */
export class IdbChatStore implements ChatStore {
  private readonly contactMap = new Map<string, Contact>()
  private readonly conversationMap = new Map<string, Conversation>()
  private readonly mediaMap = new Map<string, MediaRecord>()
  private readonly messageMap = new Map<string, Map<string, StoredMessage>>()
  private readonly sorted = new Map<string, StoredMessage[]>()
  private readonly transferMap = new Map<number, StoredTransfer>()
  private readonly files = new Map<string, StoredFile>()
  private readonly hashers = new Map<string, Hasher>()

  private readonly pending = new Set<Promise<void>>()
  private pendingBytes = 0
  private drainWaiters: Array<() => void> = []
  private failure?: FerryError
  /** Bumped on every write, so a view can tell cheaply whether to redraw. */
  version = 0

  private constructor (private readonly db: IDBDatabase, readonly name: string, readonly storeId: string) {}

  /** Opens the store in database `name`, loading its state into memory. */
  static async open (name = 'ferry'): Promise<IdbChatStore> {
    const db = await openDb(name)
    let storeId = (await request(db.transaction('meta').objectStore('meta').get('storeId'))) as string | undefined
    if (storeId === undefined) {
      storeId = crypto.randomUUID()
      const tx = db.transaction('meta', 'readwrite')
      tx.objectStore('meta').put(storeId, 'storeId')
      await done(tx)
    }
    const store = new IdbChatStore(db, name, storeId)
    await store.load()
    return store
  }

  /** Deletes the database (the page's "start over"). */
  static async destroy (name = 'ferry'): Promise<void> {
    await deleteDb(name)
  }

  private async load (): Promise<void> {
    const [contacts, conversations, media, messages, transfers, files] = await Promise.all([
      entries<Contact>(this.db, 'contacts'), entries<Conversation>(this.db, 'conversations'), entries<MediaRecord>(this.db, 'media'),
      entries<StoredMessage>(this.db, 'messages'), entries<StoredTransfer>(this.db, 'transfers'), entries<StoredFile>(this.db, 'files')
    ])
    for (const [, c] of contacts) this.contactMap.set(c.id, c)
    for (const [, c] of conversations) this.conversationMap.set(c.id, c)
    for (const [, m] of media) this.mediaMap.set(m.sha256, m)
    for (const [, s] of messages) this.conversationMessages(s.m.conversation).set(s.m.id, s)
    for (const [, t] of transfers) this.transferMap.set(t.transfer, t)
    for (const [k, f] of files) {
      const sha = k as string
      this.files.set(sha, f)
      if (!f.complete && f.length > 0) {
        const h = sha256Hash.create()
        for (const [, data] of await entries<Uint8Array>(this.db, 'chunks', chunkRange(sha))) h.update(data)
        this.hashers.set(sha, h)
      }
    }
  }

  close (): void {
    this.db.close()
  }

  // ---- write-through ---------------------------------------------------------------------------------

  private check (): void {
    if (this.failure !== undefined) throw this.failure
  }

  /** Runs `fn` in one readwrite transaction over every object store, without waiting for it to commit. */
  private write (what: string, bytes: number, fn: (tx: IDBTransaction) => void): void {
    this.check()
    let tx: IDBTransaction
    try {
      tx = this.db.transaction([...STORES], 'readwrite')
      fn(tx)
    } catch (err) {
      this.failure ??= idbError(err, what)
      throw this.failure
    }
    this.version++
    this.pendingBytes += bytes
    const p: Promise<void> = done(tx)
      .catch(err => { this.failure ??= idbError(err, what) })
      .finally(() => {
        this.pending.delete(p)
        this.pendingBytes -= bytes
        if (this.pendingBytes <= DEFAULT_BACKLOG_BYTES) for (const w of this.drainWaiters.splice(0)) w()
      })
    this.pending.add(p)
  }

  /** Resolves once at most `maxBytes` of writes wait to commit: the receiver reads no faster than IndexedDB writes. */
  async drain (maxBytes = DEFAULT_BACKLOG_BYTES): Promise<void> {
    while (this.pendingBytes > maxBytes) await new Promise<void>(resolve => this.drainWaiters.push(resolve))
    this.check()
  }

  /** Resolves once every write so far has committed (throws the first failure). */
  async flush (): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending])
    this.check()
  }

  async flushMedia (): Promise<void> {
    await this.flush()
  }

  // ---- key-value side table (identity, pairing record) -----------------------------------------------

  async getMeta<T> (key: string): Promise<T | undefined> {
    return (await request(this.db.transaction('meta').objectStore('meta').get(key))) as T | undefined
  }

  async setMeta (key: string, value: unknown): Promise<void> {
    this.write(`saving ${key}`, 0, tx => {
      if (value === undefined) tx.objectStore('meta').delete(key)
      else tx.objectStore('meta').put(value, key)
    })
    await this.flush()
  }

  // ---- reads -----------------------------------------------------------------------------------------

  private conversationMessages (id: string): Map<string, StoredMessage> {
    let m = this.messageMap.get(id)
    if (m === undefined) { m = new Map(); this.messageMap.set(id, m) }
    return m
  }

  /** A conversation's messages in canonical order (sorted lazily, appended in place when in order). */
  private ordered (conversation: string): StoredMessage[] {
    let list = this.sorted.get(conversation)
    if (list === undefined) {
      list = [...(this.messageMap.get(conversation)?.values() ?? [])].sort((a, b) => compareKeys(a.m, b.m))
      this.sorted.set(conversation, list)
    }
    return list
  }

  private upsert (s: StoredMessage): void {
    const map = this.conversationMessages(s.m.conversation)
    const existed = map.has(s.m.id)
    map.set(s.m.id, s)
    const list = this.sorted.get(s.m.conversation)
    if (list === undefined) return
    // Batches arrive in canonical order: appending keeps the cache sorted without a re-sort.
    if (!existed && (list.length === 0 || compareKeys(list[list.length - 1].m, s.m) < 0)) list.push(s)
    else this.sorted.delete(s.m.conversation)
  }

  private selected (sel: Selection | undefined): string[] {
    const ids = [...this.messageMap.keys(), ...this.conversationMap.keys()]
    const all = [...new Set(ids)].sort(compareStrings)
    if (sel?.conversations === undefined) return all
    const allowed = new Set(sel.conversations)
    return all.filter(id => allowed.has(id))
  }

  private inRange (sel: Selection | undefined, m: Message): boolean {
    return (sel?.since === undefined || m.ts >= sel.since) && (sel?.until === undefined || m.ts < sel.until)
  }

  private filtered (sel: Selection | undefined): boolean {
    return sel !== undefined && (sel.conversations !== undefined || sel.since !== undefined || sel.until !== undefined)
  }

  contacts (selection?: Selection): Contact[] {
    const all = [...this.contactMap.values()].sort((a, b) => compareStrings(a.id, b.id))
    if (!this.filtered(selection)) return all
    const people = new Set<string>()
    for (const id of this.selected(selection)) {
      for (const member of this.conversationMap.get(id)?.members ?? []) people.add(member)
      for (const s of this.messageMap.get(id)?.values() ?? []) if (this.inRange(selection, s.m)) people.add(s.m.sender)
    }
    return all.filter(c => people.has(c.id))
  }

  conversations (selection?: Selection): Conversation[] {
    const ids = new Set(this.selected(selection))
    return [...this.conversationMap.values()].filter(c => ids.has(c.id)).sort((a, b) => compareStrings(a.id, b.id))
  }

  media (selection?: Selection): MediaRecord[] {
    const all = [...this.mediaMap.values()].sort((a, b) => compareStrings(a.sha256, b.sha256))
    if (!this.filtered(selection)) return all
    const used = new Set<string>()
    for (const m of this.messages(selection)) if (m.media !== undefined) used.add(m.media)
    return all.filter(m => used.has(m.sha256))
  }

  * messages (selection?: Selection, after?: MessageKey): Generator<Message> {
    for (const id of this.selected(selection)) {
      if (after !== undefined && compareStrings(id, after.conversation) < 0) continue
      for (const s of this.ordered(id)) {
        if (after !== undefined && compareKeys(s.m, after) <= 0) continue
        if (this.inRange(selection, s.m)) yield s.m
      }
    }
  }

  messageCounts (selection?: Selection): Map<string, number> {
    const out = new Map<string, number>()
    for (const id of this.selected(selection)) {
      let n = 0
      for (const s of this.messageMap.get(id)?.values() ?? []) if (this.inRange(selection, s.m)) n++
      if (n > 0) out.set(id, n)
    }
    return out
  }

  /** A conversation's messages in canonical order (the message view). */
  conversationMessagesOrdered (conversation: string): Message[] {
    return this.ordered(conversation).map(s => s.m)
  }

  contact (id: string): Contact | undefined {
    return this.contactMap.get(id)
  }

  mediaRecord (sha256: string): MediaRecord | undefined {
    return this.mediaMap.get(sha256)
  }

  hasMediaFile (sha256: string): boolean {
    return this.files.get(sha256)?.complete === true
  }

  /** A complete media file's bytes, read back from IndexedDB. */
  async mediaBlob (sha256: string): Promise<Blob | undefined> {
    if (!this.hasMediaFile(sha256)) return undefined
    const chunks = await entries<Uint8Array>(this.db, 'chunks', chunkRange(sha256))
    return new Blob(chunks.map(([, c]) => c as BlobPart), { type: this.mediaMap.get(sha256)?.mime ?? 'application/octet-stream' })
  }

  readMedia (): Uint8Array {
    throw new FerryError(ErrorCode.INTERNAL, 'the browser phone only receives: its media is read asynchronously (mediaBlob)')
  }

  mediaPath (sha256: string): string {
    return `indexeddb://${this.name}/media/${sha256}`
  }

  // ---- receiver writes -------------------------------------------------------------------------------

  putMetadata (contacts: Contact[], conversations: Conversation[], records: Iterable<MediaRecord>): void {
    const media = [...records]
    this.write('storing contacts, conversations and media records', 0, tx => {
      for (const c of contacts) tx.objectStore('contacts').put(c, c.id)
      for (const c of conversations) tx.objectStore('conversations').put(c, c.id)
      for (const m of media) tx.objectStore('media').put(m, m.sha256)
    })
    for (const c of contacts) this.contactMap.set(c.id, c)
    for (const c of conversations) this.conversationMap.set(c.id, c)
    for (const m of media) this.mediaMap.set(m.sha256, m)
  }

  private transferRecord (transfer: number): StoredTransfer {
    const t = this.transferMap.get(transfer)
    if (t === undefined) throw new FerryError(ErrorCode.STORE, `no transfer ${transfer} in this store`)
    return t
  }

  private checkpointOf (t: StoredTransfer): TransferCheckpoint {
    const cp: TransferCheckpoint = { transfer: t.transfer, messages: t.messages, state: t.state }
    if (t.cursor !== undefined) cp.cursor = { ...t.cursor }
    return cp
  }

  private saveTransfer (t: StoredTransfer, what: string, extra?: (tx: IDBTransaction) => void, bytes = 0): void {
    this.write(what, bytes, tx => {
      extra?.(tx)
      tx.objectStore('transfers').put(t, t.transfer)
    })
    this.transferMap.set(t.transfer, t)
  }

  openTransfer (transferId: Uint8Array, sourceId: string, selection: Selection): TransferCheckpoint {
    const hex = bytesToHex(transferId)
    const found = [...this.transferMap.values()].find(t => bytesToHex(t.transferId) === hex)
    const next = Math.max(0, ...this.transferMap.keys()) + 1
    if (found?.state === 'verified') {
      // Received again after it was verified: what it wrote then is history and must survive this run,
      // so the run gets a new number (they only grow) that tags only its own rows, and starts over (see
      // SqliteChatStore.openTransfer).
      const { cursor: _, ...rest } = found
      const t: StoredTransfer = { ...rest, transfer: next, messages: 0, state: 'receiving' }
      this.saveTransfer(t, 'opening the transfer', tx => { tx.objectStore('transfers').delete(found.transfer) })
      this.transferMap.delete(found.transfer)
      return this.checkpointOf(t)
    }
    const t: StoredTransfer = found !== undefined
      ? { ...found, state: 'receiving' }
      : { transfer: next, transferId: transferId.slice(), sourceId, selection, messages: 0, state: 'receiving' }
    this.saveTransfer(t, 'opening the transfer')
    return this.checkpointOf(t)
  }

  transfers (): Array<TransferCheckpoint & { transferId: Uint8Array, sourceId: string, selection: Selection }> {
    return [...this.transferMap.values()].filter(t => t.state === 'receiving').sort((a, b) => a.transfer - b.transfer)
      .map(t => ({ ...this.checkpointOf(t), transferId: t.transferId, sourceId: t.sourceId, selection: t.selection }))
  }

  commitBatch (transfer: number, messages: Message[], cursor: MessageKey): void {
    const t = this.transferRecord(transfer)
    const prev = t.cursor
    let added = 0
    for (const m of messages) if (prev === undefined || compareKeys(m, prev) > 0) added++
    const next = prev !== undefined && compareKeys(cursor, prev) <= 0 ? prev : { conversation: cursor.conversation, ts: cursor.ts, id: cursor.id }
    const updated: StoredTransfer = { ...t, cursor: next, messages: t.messages + added }
    const rows = messages.map((m): StoredMessage => {
      const old = this.messageMap.get(m.conversation)?.get(m.id)
      // The first version this transfer overwrote is the one to restore; its own re-sends keep it.
      const prior = old === undefined ? undefined : old.xfer === transfer ? old.prior : { m: old.m, xfer: old.xfer }
      return prior === undefined ? { m, xfer: transfer } : { m, xfer: transfer, prior }
    })
    // Counted towards the backlog too (roughly: ids, keys and text), so message batches are paced as well.
    let bytes = 0
    for (const m of messages) bytes += 160 + (m.text?.length ?? 0) * 2
    this.saveTransfer(updated, 'storing a batch of messages', tx => {
      const os = tx.objectStore('messages')
      for (const s of rows) os.put(s, [s.m.conversation, s.m.id])
    }, bytes)
    for (const s of rows) this.upsert(s)
  }

  transferMessages (transfer: number, conversation: string): Message[] {
    return this.ordered(conversation).filter(s => s.xfer === transfer).map(s => s.m)
  }

  /** Undoes a refused transfer: its rows deleted, the ones it overwrote put back (see ChatStore). */
  resetTransfer (transfer: number): void {
    const t = this.transferRecord(transfer)
    if (t.state === 'verified') return // its rows are history (see ChatStore.resetTransfer)
    const written = this.rowsOf(transfer)
    const { cursor: _, ...rest } = t
    this.saveTransfer({ ...rest, messages: 0, state: 'receiving' }, 'undoing the transfer', tx => {
      const os = tx.objectStore('messages')
      for (const s of written) {
        if (s.prior === undefined) os.delete([s.m.conversation, s.m.id])
        else os.put(s.prior, [s.m.conversation, s.m.id])
      }
    })
    for (const s of written) {
      if (s.prior !== undefined) { this.upsert(s.prior); continue }
      this.messageMap.get(s.m.conversation)?.delete(s.m.id)
      this.sorted.delete(s.m.conversation)
    }
  }

  finishTransfer (transfer: number): void {
    // Verified: what it overwrote is history now.
    const kept = this.rowsOf(transfer).filter(s => s.prior !== undefined).map(s => ({ m: s.m, xfer: s.xfer }))
    this.saveTransfer({ ...this.transferRecord(transfer), state: 'verified' }, 'finishing the transfer', tx => {
      const os = tx.objectStore('messages')
      for (const s of kept) os.put(s, [s.m.conversation, s.m.id])
    })
    for (const s of kept) this.upsert(s)
  }

  private rowsOf (transfer: number): StoredMessage[] {
    const rows: StoredMessage[] = []
    for (const map of this.messageMap.values()) for (const s of map.values()) if (s.xfer === transfer) rows.push(s)
    return rows
  }

  // ---- media -----------------------------------------------------------------------------------------

  partLength (sha256: string): number {
    const f = this.files.get(sha256)
    return f === undefined || f.complete ? 0 : f.length
  }

  appendPart (sha256: string, offset: number, data: Uint8Array): void {
    const committed = this.partLength(sha256)
    if (offset !== committed) throw new FerryError(ErrorCode.ORDER, `media ${sha256}: append at ${offset}, but ${committed} bytes are committed`)
    // A copy: structured clone of a view would store its whole underlying buffer (the frame).
    const bytes = data.slice()
    const file: StoredFile = { length: offset + bytes.byteLength, complete: false }
    this.write(`storing media ${sha256}`, bytes.byteLength, tx => {
      tx.objectStore('chunks').put(bytes, [sha256, offset])
      tx.objectStore('files').put(file, sha256)
    })
    this.files.set(sha256, file)
    let h = this.hashers.get(sha256)
    if (h === undefined) { h = sha256Hash.create(); this.hashers.set(sha256, h) }
    h.update(bytes)
  }

  partDigest (sha256: string): string {
    return bytesToHex((this.hashers.get(sha256) ?? sha256Hash.create()).clone().digest())
  }

  promotePart (sha256: string): void {
    const file: StoredFile = { length: this.partLength(sha256), complete: true }
    this.write(`storing media ${sha256}`, 0, tx => { tx.objectStore('files').put(file, sha256) })
    this.files.set(sha256, file)
    this.hashers.delete(sha256)
  }

  /** A file that came whole in one chunk: checked in memory, then stored complete in one transaction. */
  putWholeMedia (sha256: string, data: Uint8Array): void {
    const actual = bytesToHex(sha256Hash(data))
    if (actual !== sha256) throw new FerryError(ErrorCode.HASH_MISMATCH, `media ${sha256} arrived with sha256 ${actual}`)
    const bytes = data.slice()
    const file: StoredFile = { length: bytes.byteLength, complete: true }
    this.write(`storing media ${sha256}`, bytes.byteLength, tx => {
      tx.objectStore('chunks').delete(chunkRange(sha256))
      tx.objectStore('chunks').put(bytes, [sha256, 0])
      tx.objectStore('files').put(file, sha256)
    })
    this.files.set(sha256, file)
    this.hashers.delete(sha256)
  }

  discardPart (sha256: string): void {
    this.write(`discarding partial media ${sha256}`, 0, tx => {
      tx.objectStore('chunks').delete(chunkRange(sha256))
      tx.objectStore('files').delete(sha256)
    })
    this.files.delete(sha256)
    this.hashers.delete(sha256)
  }

  /** What the store holds, for the page's summary. */
  stats (): { conversations: number, messages: number, media: number, mediaComplete: number, mediaBytes: number } {
    let messages = 0
    for (const m of this.messageMap.values()) messages += m.size
    let mediaComplete = 0
    let mediaBytes = 0
    for (const [sha, f] of this.files) {
      if (f.complete) mediaComplete++
      if (this.mediaMap.has(sha)) mediaBytes += f.length
    }
    return { conversations: this.conversationMap.size, messages, media: this.mediaMap.size, mediaComplete, mediaBytes }
  }
}

/** IndexedDB failures as Ferry's store errors: a full quota reads as STORE_FULL, like a full disk. */
function idbError (err: unknown, what: string): FerryError {
  if (err instanceof FerryError) return err
  const e = err as DOMException | undefined
  if (e?.name === 'QuotaExceededError') return new FerryError(ErrorCode.STORE_FULL, `${what}: the browser's storage quota is full`, undefined, { cause: err })
  return new FerryError(ErrorCode.STORE, `${what}: ${e?.message ?? String(err)}`, undefined, { cause: err })
}
