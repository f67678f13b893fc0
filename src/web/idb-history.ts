import { ErrorCode, FerryError } from '../errors.js'
import type { ConversationInfo, EncodedMessage, HistoryChange, HistorySink, MessagePosition, ReceivedMedia, StoredMedia, StoreGenerations } from '../store/history.js'
import { comparePositions, compareStrings, type Contact, type Conversation, type MediaRecord, type Message } from '../store/model.js'
import { checkRead, chunksFrom, readChunks } from './idb-chunks.js'
import { IdbPartMedia, type PartRecord } from './idb-journal.js'
import {
  compareKeys, conversationRange, decodePage, encodedEntry, encodePage, endPage, entryBytes, keyOfPage, keyOfPosition, lowerBound, nextPageKey,
  PAGE_BYTES, PAGE_MESSAGES, pageAtOrBefore, pageEntries, pageIds, pageMessage, pagesAfter, putPage, type Page, type PageKey
} from './idb-pages.js'
import { idHash } from './id-keys.js'
import { ID_INDEX, idbError, inTx, metaValue, randomId, req, syncDb, writeBehind, type StoreName } from './idb.js'
import { dropMedia, dropUnnamedFiles } from './idb-drop-media.js'
import { IdbWriteQueue } from './idb-queue.js'

// The browser phone's chat store: its history in IndexedDB, read a page at a time, never held in memory.
// It implements the HistorySink port, so the page receives through the same FerryService as Node.

/** What the store keeps per conversation, beside its pages. */
interface ChatRecord {
  /** Messages stored. */
  n: number
  /** Its pages carry their id hashes: the `ids` index finds its messages by id. */
  indexed: boolean
  /**
   * The session filling it from empty without the index: only that session may go on appending so, as
   * only it knows that nothing it appends can already be there.
   */
  appender?: string
  /** Its last message, while it is filled so. */
  last?: MessagePosition
}

/** A media file the store holds: its bytes are the chunks of `owner`. */
interface FileRecord { owner: string, size: number, mime: string }

/**
 * Commits handed to IndexedDB and not yet committed beyond which the next commit waits for the oldest.
 * Each pending transaction's requests keep its whole change alive: unbounded, a receiver faster than
 * the database held every message still to be written, and the page's heap grew with the history.
 */
const MAX_WRITING = 12

/** Meta entries of the generations of the store's contents (StoreGenerations), one per source. */
const GENERATION_KEY = 'generation:'

/** Pages rewritten per transaction when a conversation is indexed. */
const INDEX_BATCH = 64

/** Thrown inside a commit's transaction (aborting it) when a conversation must be indexed first. */
class NeedsIndex extends Error {
  constructor (readonly conversations: string[]) {
    super('index needed')
  }
}

interface Adoption { file: IdbPartMedia, resolve: () => void, reject: (err: unknown) => void }

export interface StoreStats { conversations: number, messages: number, media: number, mediaFiles: number }

export class IdbHistoryStore implements HistorySink {
  /**
   * Each read is a transaction answered on IndexedDB's own thread, plus a lookup of the record where it
   * begins: sixteen records a read keep the page waiting less than four did, and more bought nothing.
   */
  readonly messagesPerRead = 16 * PAGE_MESSAGES
  /** Bumped by every write: a view redraws when it moved. */
  version = 0
  /** Writes to the pages run one at a time, in call order. */
  private writes: Promise<unknown> = Promise.resolve()
  private readonly session = randomId(8)
  /**
   * The conversation this session is appending to: its record and last page as the last append left
   * them, so that the next batch needs nothing read back (see apply).
   */
  private tail?: { conversation: string, page: TailPage }
  /**
   * The records of the conversations this session wrote or read, as it expects them in the database:
   * appends to them need nothing read first (see apply). Forgotten when a write fails.
   */
  private readonly known = new Map<string, ChatRecord>()
  /** The commit of the last change, still being written (commits are write-behind). */
  private writing?: Promise<void>
  /** The commits still being written, oldest first (at most MAX_WRITING). */
  private readonly inFlight: Array<Promise<void>> = []
  /** The first write that failed: every later call reports it. */
  private failure?: FerryError
  private adoptions: Adoption[] = []
  private adopting?: Promise<void>
  /** Files handed over (putMedia) and not yet in, each one's landing, for a removal of its record (commit). */
  private readonly arriving = new Map<string, Promise<void>>()
  /** The files of removed records that were still arriving, being removed once they landed (see commit). */
  private readonly lateRemovals = new Set<Promise<void>>()
  /** The journal's writes (the undo entry of each commit goes through it, just before the commit). */
  private readonly queue: IdbWriteQueue

  /**
   * See StoreGenerations: meta entries in the history's own database. The page's journal lives in the
   * same database, so the two are rarely put back apart; the tokens keep the rule the same on every store.
   */
  readonly generations: StoreGenerations = {
    generation: async source => await inTx(this.db, ['meta'], 'readonly', 'reading the store\'s generation', async tx =>
      await req(tx.objectStore('meta').get(GENERATION_KEY + source)) as string | undefined),
    keepGeneration: async (source, token) => {
      // After the commits before it (StoreGenerations): they are written behind, in other object stores.
      await this.flushWrites()
      await inTx(this.db, ['meta'], 'readwrite', 'writing the store\'s generation', tx => { tx.objectStore('meta').put(token, GENERATION_KEY + source) })
    }
  }

  private constructor (readonly db: IDBDatabase, readonly historyId: string, private readonly seed: number) {
    this.queue = IdbWriteQueue.of(db)
  }

  /** The store in the phone's database (openFerryDb). */
  static async open (db: IDBDatabase): Promise<IdbHistoryStore> {
    const historyId = await metaValue(db, 'historyId', () => randomId())
    const seed = await metaValue(db, 'idSeed', () => crypto.getRandomValues(new Uint32Array(1))[0])
    return new IdbHistoryStore(db, historyId, seed)
  }

  private async serial<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.writes.then(fn, fn)
    this.writes = run.catch(() => {})
    return await run
  }

  // ---- reads -----------------------------------------------------------------------------------------

  /** Drops what this session expects of the database (after a write that may not have happened). */
  private forget (): void {
    this.tail = undefined
    this.known.clear()
  }

  /**
   * This session is about to write (its tab took the lock): what it read before may have been changed
   * by the tab that was writing then, so it is read again.
   */
  takeOver (): void {
    this.forget()
  }

  private check (): void {
    if (this.failure !== undefined) throw this.failure
  }

  /** Resolves once every change committed so far is written (throws the first write that failed). */
  async flushWrites (): Promise<void> {
    await this.writes
    await this.writing
    await this.lateRemoved()
    this.check()
  }

  private async lateRemoved (): Promise<void> {
    while (this.lateRemovals.size > 0) await Promise.allSettled([...this.lateRemovals])
  }

  async conversations (): Promise<ConversationInfo[]> {
    this.check()
    return await inTx(this.db, ['conversations', 'chats'], 'readonly', 'reading conversations', async tx => {
      const [convs, keys, chats] = await Promise.all([
        req(tx.objectStore('conversations').getAll()) as Promise<Conversation[]>,
        req(tx.objectStore('chats').getAllKeys()),
        req(tx.objectStore('chats').getAll()) as Promise<ChatRecord[]>
      ])
      const counts = new Map(keys.map((k, i) => [k as string, chats[i].n]))
      // What this session did not write itself, it now knows as read (appends to it need no read first).
      keys.forEach((k, i) => { if (!this.known.has(k as string)) this.known.set(k as string, chats[i]) })
      for (const c of convs) if (!this.known.has(c.id)) this.known.set(c.id, { n: 0, indexed: true })
      return convs.sort((a, b) => compareStrings(a.id, b.id)).map(c => ({ conversation: c, messages: counts.get(c.id) ?? 0 }))
    })
  }

  async contacts (): Promise<Contact[]> {
    this.check()
    const all = await inTx(this.db, ['contacts'], 'readonly', 'reading contacts', async tx => await req(tx.objectStore('contacts').getAll()) as Contact[])
    return all.sort((a, b) => compareStrings(a.id, b.id))
  }

  async media (after: string | undefined, limit: number): Promise<StoredMedia[]> {
    this.check()
    return await inTx(this.db, ['media', 'files'], 'readonly', 'reading media records', async tx => {
      const records = await req(tx.objectStore('media').getAll(after === undefined ? undefined : IDBKeyRange.lowerBound(after, true), limit)) as MediaRecord[]
      if (records.length === 0) return []
      const held = new Set(await req(tx.objectStore('files').getAllKeys(IDBKeyRange.bound(records[0].sha256, records[records.length - 1].sha256))))
      // Marked in place: IndexedDB handed this call its own copies, so no second object per file.
      const out = records as StoredMedia[]
      for (const r of out) r.stored = held.has(r.sha256)
      return out
    })
  }

  async messages (conversation: string, after: MessagePosition | undefined, limit: number): Promise<Message[]> {
    return await this.read(conversation, after, limit, decodePage)
  }

  /** The messages as the pages keep them (HistorySource.encodedMessages): a read-back decodes none. */
  async encodedMessages (conversation: string, after: MessagePosition | undefined, limit: number): Promise<EncodedMessage[]> {
    return await this.read(conversation, after, limit, pageEntries)
  }

  /** Up to `limit` of a conversation's messages after `after`, in order, as `itemsOf` gives a page's. */
  private async read<T extends MessagePosition> (conversation: string, after: MessagePosition | undefined, limit: number, itemsOf: (page: Page) => T[]): Promise<T[]> {
    this.check()
    if (limit <= 0) return []
    return await inTx(this.db, ['pages'], 'readonly', 'reading messages', async tx => {
      const pages = tx.objectStore('pages')
      const out: T[] = []
      let range = conversationRange(conversation)
      if (after !== undefined) {
        const at = await pageAtOrBefore(pages, conversation, keyOfPosition(conversation, after))
        if (at !== undefined) {
          const ms = itemsOf(at.page)
          let i = lowerBound(ms, after)
          if (i < ms.length && comparePositions(ms[i], after) === 0) i++
          while (i < ms.length && out.length < limit) out.push(ms[i++])
          range = pagesAfter(conversation, at.key)
        }
      }
      while (out.length < limit) {
        const want = Math.min(64, Math.ceil((limit - out.length) / PAGE_MESSAGES) + 1)
        const batch = await req(pages.getAll(range, want)) as Page[]
        for (const p of batch) {
          for (const m of itemsOf(p)) {
            if (out.length === limit) break
            out.push(m)
          }
        }
        if (batch.length < want) break
        range = pagesAfter(conversation, keyOfPage(conversation, batch[batch.length - 1]))
      }
      return out
    })
  }

  /** A conversation's newest `limit` messages, oldest first (what a chat view shows). */
  async latest (conversation: string, limit: number): Promise<Message[]> {
    const runs = await inTx(this.db, ['pages'], 'readonly', 'reading messages', async tx => {
      const out: Message[][] = []
      let n = 0
      const r = tx.objectStore('pages').openCursor(conversationRange(conversation), 'prev')
      await new Promise<void>((resolve, reject) => {
        r.onsuccess = () => {
          const c = r.result
          if (c === null) return resolve()
          const m = decodePage(c.value as Page)
          out.push(m)
          n += m.length
          if (n >= limit) resolve()
          else c.continue()
        }
        r.onerror = () => reject(r.error)
      })
      return out
    })
    const all = runs.reverse().flat()
    return all.slice(Math.max(0, all.length - limit))
  }

  async findMessages (conversation: string, ids: string[]): Promise<Message[]> {
    if (ids.length === 0) return []
    return await this.serial(async () => {
      for (;;) {
        this.check()
        const info = await inTx(this.db, ['chats'], 'readonly', 'reading conversations', async tx => await req(tx.objectStore('chats').get(conversation)) as ChatRecord | undefined)
        if (info === undefined || info.n === 0) return []
        if (!info.indexed) {
          await this.buildIndex(conversation)
          continue
        }
        return await inTx(this.db, ['pages'], 'readonly', 'reading messages', async tx => {
          const want = new Set(ids)
          const out: Message[] = []
          for (const { page } of await this.pagesWithIds(tx.objectStore('pages'), conversation, want)) {
            pageIds(page).forEach((id, k) => { if (want.has(id)) out.push(pageMessage(page, k)) })
          }
          return out
        })
      }
    })
  }

  /** The pages of `conversation` holding any of `ids` (and, rarely, others whose hash matched). */
  private async pagesWithIds (pages: IDBObjectStore, conversation: string, ids: Set<string>): Promise<Array<{ key: PageKey, page: Page }>> {
    const index = pages.index(ID_INDEX)
    const hashes = new Set<number>()
    for (const id of ids) hashes.add(idHash(this.seed, conversation, id))
    const lists = await Promise.all([...hashes].map(async h => await req(index.getAllKeys(h))))
    const keys = new Map<string, PageKey>()
    for (const list of lists) {
      for (const k of list as PageKey[]) if (k[0] === conversation) keys.set(JSON.stringify(k), k)
    }
    const found = await Promise.all([...keys.values()].map(async key => ({ key, page: await req(pages.get(key)) as Page | undefined })))
    return found.filter((f): f is { key: PageKey, page: Page } => f.page !== undefined)
  }

  /** Whether the store holds these media files. */
  async mediaHeld (shas: string[]): Promise<Set<string>> {
    if (shas.length === 0) return new Set()
    return await inTx(this.db, ['files'], 'readonly', 'reading media', async tx => {
      const os = tx.objectStore('files')
      const keys = await Promise.all(shas.map(async s => await req(os.getKey(s))))
      return new Set(keys.filter(k => k !== undefined).map(String))
    })
  }

  async mediaRecords (shas: string[]): Promise<Map<string, MediaRecord>> {
    return await this.getMany<MediaRecord>('media', shas)
  }

  async contactsById (ids: string[]): Promise<Map<string, Contact>> {
    return await this.getMany<Contact>('contacts', ids)
  }

  private async getMany<T> (store: 'media' | 'contacts', keys: string[]): Promise<Map<string, T>> {
    if (keys.length === 0) return new Map()
    return await inTx(this.db, [store], 'readonly', `reading ${store}`, async tx => {
      const os = tx.objectStore(store)
      const values = await Promise.all(keys.map(async k => await req(os.get(k)) as T | undefined))
      const out = new Map<string, T>()
      keys.forEach((k, i) => { const v = values[i]; if (v !== undefined) out.set(k, v) })
      return out
    })
  }

  /** A media file's bytes in pieces; throws when the store does not hold it whole. */
  async * mediaChunks (sha256: string): AsyncGenerator<Uint8Array> {
    const file = await inTx(this.db, ['files'], 'readonly', `reading media ${sha256}`, async tx => await req(tx.objectStore('files').get(sha256)) as FileRecord | undefined)
    if (file === undefined) throw new FerryError(ErrorCode.STORE, `media ${sha256} is not in this browser`)
    let got = 0
    for await (const piece of readChunks(this.db, file.owner, file.size, `reading media ${sha256}`)) {
      got += piece.byteLength
      yield piece
    }
    checkRead(got, file.size, `media ${sha256}`)
  }

  /** A held media file as a Blob, built piece by piece (a large video never sits whole in the page's heap). */
  async mediaBlob (sha256: string, mime: string): Promise<Blob> {
    let blob = new Blob([], { type: mime })
    for await (const piece of this.mediaChunks(sha256)) blob = new Blob([blob, piece as BlobPart], { type: mime })
    return blob
  }

  async stats (): Promise<StoreStats> {
    return await inTx(this.db, ['conversations', 'chats', 'media', 'files'], 'readonly', 'reading the store', async tx => {
      const [conversations, chats, media, mediaFiles] = await Promise.all([
        req(tx.objectStore('conversations').count()),
        req(tx.objectStore('chats').getAll()) as Promise<ChatRecord[]>,
        req(tx.objectStore('media').count()),
        req(tx.objectStore('files').count())
      ])
      return { conversations, messages: chats.reduce((n, c) => n + c.n, 0), media, mediaFiles }
    })
  }

  // ---- writes ----------------------------------------------------------------------------------------

  /**
   * Applies the change in one transaction, write-behind: it resolves once the transaction's writes are
   * made, and the page goes on decoding the next batch while IndexedDB writes this one. The transaction
   * also spans the journal's store, so the journal write that follows (the next batch's undo entry,
   * the verification) commits only after it: what a crash leaves is a prefix of both, in order. A failed
   * commit is reported by the next call.
   */
  async commit (change: HistoryChange): Promise<void> {
    let arriving: Array<Promise<void>> = []
    await this.serial(async () => {
      this.check()
      for (;;) {
        try {
          const { committed } = await this.apply(change)
          this.writing = committed.catch(err => {
            this.failure ??= idbError(err, 'storing the history')
            this.forget()
          })
          const done = this.writing.then(() => { this.inFlight.splice(this.inFlight.indexOf(done), 1) })
          this.inFlight.push(done)
          // Files on their way in now: those not yet in a transaction of their own land after this one.
          arriving = (change.remove?.media ?? []).flatMap(sha => this.arriving.get(sha) ?? [])
          break
        } catch (err) {
          // The transaction was aborted: what the caches saw of it never happened.
          this.forget()
          if (!(err instanceof NeedsIndex)) throw err
          for (const c of err.conversations) await this.buildIndex(c)
        }
      }
      this.version++
      if (this.inFlight.length > MAX_WRITING) await this.inFlight[0]
    })
    if (arriving.length > 0) await this.removeWhenLanded(change.remove?.media ?? [], arriving)
  }

  /**
   * A file still on its way in (putMedia queued, its transaction not yet made) lands after the commit
   * that removed its record, with no record to name it: nothing would list, count or remove it. It is
   * removed once it landed, unless a record was put back meanwhile (that record keeps it). Outside the
   * commits' order, so that a commit made meanwhile (a record put back) goes first.
   */
  private async removeWhenLanded (shas: string[], arriving: Array<Promise<void>>): Promise<void> {
    const removal = (async () => {
      await Promise.allSettled(arriving)
      await inTx(this.db, ['media', 'files', 'chunks'], 'readwrite', 'removing media', async tx => { await dropUnnamedFiles(tx, shas) })
      this.version++
    })()
    this.lateRemovals.add(removal)
    try {
      await removal
    } catch (err) {
      this.failure ??= idbError(err, 'removing media')
      throw this.failure
    } finally {
      this.lateRemovals.delete(removal)
    }
  }

  /** Every commit written, then made durable (HistorySink.flush): the transfer is about to be verified. */
  async flush (): Promise<void> {
    await this.serial(async () => { await this.writing })
    await this.lateRemoved()
    this.check()
    await this.queue.settled()
    await syncDb(this.db, 'making the history durable')
  }

  private async apply (change: HistoryChange): Promise<{ committed: Promise<void> }> {
    const work = byConversation(change)
    const fast = this.fastAppend(work)
    const dropping = change.remove?.media ?? []
    // The journal's store is in the scope to order this after the journal write before it and before
    // the one after it (the next undo entry, or the one an undo drops once this took it back). Files
    // only when records go with them: a commit whose scope held them would wait for files being adopted.
    const scope: StoreName[] = ['contacts', 'conversations', 'media', 'chats', 'pages', 'kv']
    if (dropping.length > 0) scope.push('files', 'chunks')
    return await writeBehind(this.db, scope, 'storing the history', async tx => {
      // The undo entry of this change may still be committing: if it does not, neither does this.
      this.queue.assertAfter(tx)
      const r = change.remove
      for (const id of r?.contacts ?? []) tx.objectStore('contacts').delete(id)
      for (const id of r?.conversations ?? []) tx.objectStore('conversations').delete(id)
      for (const c of change.contacts ?? []) tx.objectStore('contacts').put(c, c.id)
      for (const c of change.conversations ?? []) tx.objectStore('conversations').put(c, c.id)
      for (const m of change.media ?? []) tx.objectStore('media').put({ sha256: m.sha256, size: m.size, mime: m.mime } satisfies MediaRecord, m.sha256)
      if (work.size > 0) await this.writeMessages(tx, work, fast)
      // Last: a message this change wrote may refer to a record it would take back.
      if (dropping.length > 0) await dropMedia(tx, dropping, new Set((change.media ?? []).map(m => m.sha256)))
    })
  }

  /** The messages and removals of a change, inside its transaction (see apply). */
  private async writeMessages (tx: IDBTransaction, work: Map<string, Work>, fast: ReturnType<IdbHistoryStore['fastAppend']>): Promise<void> {
    const chats = tx.objectStore('chats')
    const pages = tx.objectStore('pages')
    if (fast !== undefined) {
      // Appends whose conversations this session knows (it wrote or read their records): written from
      // what it knows, with no read to wait for (a read would hold this until the writes before it
      // committed). Each record is read all the same, and if it is not what this session expects (a
      // commit before this one failed), the transaction is aborted: the database keeps a prefix.
      for (const { conversation, w, expected, tail } of fast) {
        const check = chats.get(conversation)
        check.onsuccess = () => { if (!sameRecord(check.result as ChatRecord | undefined, expected)) tx.abort() }
        const info = { ...expected }
        this.append(pages, conversation, w, info, tail)
        chats.put(info, conversation)
      }
      return
    }
    const convs = [...work.keys()]
    const infos = await Promise.all(convs.map(async c => (await req(chats.get(c)) as ChatRecord | undefined) ?? { n: 0, indexed: true }))
    const unindexed = convs.filter((c, i) => !this.canAppend(infos[i], work.get(c) as Work) && infos[i].n > 0 && !infos[i].indexed)
    if (unindexed.length > 0) throw new NeedsIndex(unindexed)
    for (const [i, c] of convs.entries()) {
      const w = work.get(c) as Work
      if (this.canAppend(infos[i], w)) {
        const last = infos[i].n === 0 ? undefined : await endPage(pages, c, 'last')
        this.append(pages, c, w, infos[i], last === undefined ? { messages: [], bytes: 0 } : tailOf(last.key, last.page))
      } else {
        await this.upsert(pages, c, w, infos[i])
      }
      chats.put(infos[i], c)
      this.known.set(c, { ...infos[i] })
    }
  }

  /**
   * The plan of a change that only appends to conversations whose records this session knows and whose
   * last page it holds (or that are empty); undefined when anything must be read first.
   */
  private fastAppend (work: Map<string, Work>): Array<{ conversation: string, w: Work, expected: ChatRecord, tail: TailPage }> | undefined {
    if (work.size === 0) return undefined
    const plan = []
    for (const [conversation, w] of work) {
      const expected = this.known.get(conversation)
      if (expected === undefined || !this.canAppend(expected, w)) return undefined
      let tail: TailPage
      if (expected.n === 0) tail = { messages: [], bytes: 0 }
      else if (this.tail?.conversation === conversation) tail = this.tail.page
      else return undefined
      plan.push({ conversation, w, expected, tail })
    }
    return plan
  }

  /**
   * Whether `w` can go in without looking anything up: it only adds messages, in order, after the last
   * one of a conversation that was empty when this session began to fill it.
   */
  private canAppend (info: ChatRecord, w: Work): boolean {
    if (w.remove.length > 0 || w.put.length === 0) return false
    if (info.n > 0 && (info.indexed || info.appender !== this.session)) return false
    for (let i = 1; i < w.put.length; i++) if (comparePositions(w.put[i - 1], w.put[i]) >= 0) return false
    return info.n === 0 || info.last === undefined || comparePositions(w.put[0], info.last) > 0
  }

  /**
   * Appends `w.put` after the last page `tail` (its messages are extended), and remembers where it ended:
   * the last page as written, its entries views of the bytes this store made (not of the frame a
   * message's encoding came in).
   */
  private append (pages: IDBObjectStore, conversation: string, w: Work, info: ChatRecord, tail: TailPage): void {
    const { put, encoded } = w
    let page = tail
    for (let k = 0; k < put.length; k++) {
      const m = put[k]
      const enc = encoded[k]
      const entry = enc === undefined ? encodedEntry(m) : { ts: m.ts, id: m.id, encoded: enc }
      const b = entryBytes(entry)
      if (page.messages.length > 0 && (page.messages.length >= PAGE_MESSAGES || page.bytes + b > PAGE_BYTES)) {
        pages.put(encodePage(conversation, page.messages, undefined), page.key ?? keyOfPosition(conversation, page.messages[0]))
        page = { messages: [], bytes: 0 }
      }
      page.messages.push(entry)
      page.bytes += b
    }
    const key = page.key ?? keyOfPosition(conversation, page.messages[0])
    const written = encodePage(conversation, page.messages, undefined)
    pages.put(written, key)
    const last = put[put.length - 1]
    info.n += put.length
    info.indexed = false
    info.appender = this.session
    info.last = { ts: last.ts, id: last.id }
    this.tail = { conversation, page: tailOf(key, written) }
    this.known.set(conversation, { ...info })
  }

  /** Upserts and removals by id, through the index: the stored versions go, the new ones go in place. */
  private async upsert (pages: IDBObjectStore, conversation: string, w: Work, info: ChatRecord): Promise<void> {
    if (this.tail?.conversation === conversation) this.tail = undefined
    const index = { seed: this.seed }
    const ids = new Set(w.remove)
    for (const m of w.put) ids.add(m.id)
    let removed = 0
    if (info.n > 0) {
      for (const { key, page } of await this.pagesWithIds(pages, conversation, ids)) {
        const stored = pageEntries(page)
        const keep = stored.filter(m => !ids.has(m.id))
        if (keep.length === stored.length) continue
        removed += stored.length - keep.length
        putPage(pages, conversation, key, keep, index)
      }
    }
    // The last version of each id, in canonical order.
    const incoming = [...new Map(w.put.map(m => [m.id, m])).values()].sort(comparePositions)
    let cur: { key?: PageKey, messages: EncodedMessage[], next?: PageKey } | undefined
    for (const m of incoming) {
      const k = keyOfPosition(conversation, m)
      if (cur === undefined || (cur.next !== undefined && compareKeys(k, cur.next) >= 0)) {
        if (cur !== undefined) putPage(pages, conversation, cur.key, cur.messages, index)
        cur = await this.pageFor(pages, conversation, k)
      }
      cur.messages.splice(lowerBound(cur.messages, m), 0, encodedEntry(m))
    }
    if (cur !== undefined) putPage(pages, conversation, cur.key, cur.messages, index)
    info.n += incoming.length - removed
    info.indexed = true
    delete info.appender
    delete info.last
  }

  /** The page a message with key `k` goes into, and the key of the page after it. */
  private async pageFor (pages: IDBObjectStore, conversation: string, k: PageKey): Promise<{ key?: PageKey, messages: EncodedMessage[], next?: PageKey }> {
    // Before every page, it opens the first one (which then takes its key).
    const base = await pageAtOrBefore(pages, conversation, k) ?? await endPage(pages, conversation, 'first')
    if (base === undefined) return { messages: [] }
    return { key: base.key, messages: pageEntries(base.page), next: await nextPageKey(pages, conversation, base.key) }
  }

  /** Gives the pages of a conversation filled without the index their id hashes. */
  private async buildIndex (conversation: string): Promise<void> {
    if (this.tail?.conversation === conversation) this.tail = undefined
    this.known.delete(conversation)
    const index = { seed: this.seed }
    let after: PageKey | undefined
    for (let done = false; !done;) {
      done = await inTx(this.db, ['pages', 'chats'], 'readwrite', `indexing the messages of ${conversation}`, async tx => {
        const pages = tx.objectStore('pages')
        const batch = await req(pages.getAll(after === undefined ? conversationRange(conversation) : pagesAfter(conversation, after), INDEX_BATCH)) as Page[]
        for (const p of batch) {
          after = keyOfPage(conversation, p)
          p.x = pageIds(p).map(id => idHash(index.seed, conversation, id))
          pages.put(p, after)
        }
        if (batch.length === INDEX_BATCH) return false
        const chats = tx.objectStore('chats')
        const info = (await req(chats.get(conversation)) as ChatRecord | undefined) ?? { n: 0, indexed: true }
        chats.put({ n: info.n, indexed: true } satisfies ChatRecord, conversation)
        return true
      })
    }
  }

  /**
   * Takes a verified file. From the journal in this database it adopts the partial file's chunks (no
   * byte is written again); files handed over together commit in one transaction. Resolves once the
   * transaction committed.
   */
  async putMedia (file: ReceivedMedia): Promise<void> {
    const landing = file instanceof IdbPartMedia && file.parts.isIn(this.db) ? this.adopt(file) : this.copyMedia(file)
    this.arriving.set(file.sha256, landing)
    try {
      await landing
    } finally {
      if (this.arriving.get(file.sha256) === landing) this.arriving.delete(file.sha256)
    }
  }

  private async adopt (file: IdbPartMedia): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.adoptions.push({ file, resolve, reject })
      this.adopting ??= this.adoptAll()
    })
  }

  /** Resolves once every file handed over so far is in (or failed). */
  async settled (): Promise<void> {
    while (this.adopting !== undefined) await this.adopting
  }

  private async adoptAll (): Promise<void> {
    while (this.adoptions.length > 0) {
      const batch = this.adoptions.splice(0)
      try {
        const failed = await inTx(this.db, ['parts', 'files', 'chunks'], 'readwrite', 'storing media', async tx => {
          const parts = tx.objectStore('parts')
          const files = tx.objectStore('files')
          const [recs, olds] = await Promise.all([
            Promise.all(batch.map(async a => await req(parts.get(a.file.sha256)) as PartRecord | undefined)),
            Promise.all(batch.map(async a => await req(files.get(a.file.sha256)) as FileRecord | undefined))
          ])
          const failed = new Map<Adoption, FerryError>()
          batch.forEach((a, i) => {
            const { sha256, size, mime } = a.file
            const rec = recs[i]
            const old = olds[i]
            if (rec === undefined) {
              if (old?.size !== size) failed.set(a, new FerryError(ErrorCode.STORE, `media ${sha256}: its partial file is gone`))
              return
            }
            if (rec.size !== size) {
              failed.set(a, new FerryError(ErrorCode.STORE, `media ${sha256}: its partial file holds ${rec.size} bytes, not ${size}`))
              return
            }
            if (old !== undefined && old.owner !== rec.owner) tx.objectStore('chunks').delete(chunksFrom(old.owner))
            files.put({ owner: rec.owner, size, mime } satisfies FileRecord, sha256)
            parts.delete(sha256)

          })
          return failed
        })
        this.version++
        for (const a of batch) {
          const err = failed.get(a)
          if (err === undefined) a.file.parts.adopted(a.file.sha256)
          if (err === undefined) a.resolve()
          else a.reject(err)
        }
      } catch (err) {
        for (const a of batch) a.reject(err)
      }
    }
    this.adopting = undefined
  }

  /** A file from elsewhere (another journal): its bytes written under a new owner, then recorded. */
  private async copyMedia (file: ReceivedMedia): Promise<void> {
    const owner = randomId()
    let offset = 0
    const pieces: AsyncIterable<Uint8Array> | Iterable<Uint8Array> = file.bytes !== undefined ? [file.bytes] : file.stream()
    try {
      for await (const piece of pieces) {
        const bytes = piece.slice()
        const at = offset
        await inTx(this.db, ['chunks'], 'readwrite', `storing media ${file.sha256}`, tx => { tx.objectStore('chunks').put(bytes, [owner, at]) })
        offset += bytes.byteLength
      }
      if (offset !== file.size) throw new FerryError(ErrorCode.SIZE_MISMATCH, `media ${file.sha256}: ${offset} bytes arrived, not ${file.size}`)
      await inTx(this.db, ['files', 'chunks'], 'readwrite', `storing media ${file.sha256}`, async tx => {
        const files = tx.objectStore('files')
        const old = await req(files.get(file.sha256)) as FileRecord | undefined
        if (old !== undefined) tx.objectStore('chunks').delete(chunksFrom(old.owner))
        files.put({ owner, size: file.size, mime: file.mime } satisfies FileRecord, file.sha256)
      })
      this.version++
    } catch (err) {
      await inTx(this.db, ['chunks'], 'readwrite', `storing media ${file.sha256}`, tx => { tx.objectStore('chunks').delete(chunksFrom(owner)) }).catch(() => {})
      throw idbError(err, `storing media ${file.sha256}`)
    }
  }
}

/** A conversation's part of a change: `encoded[k]` is `put[k]`'s encoding as it came, when the change had them. */
interface Work { put: Message[], encoded: Array<Uint8Array | undefined>, remove: string[] }

/** The last page of a conversation as the store is appending to it. */
interface TailPage { key?: PageKey, messages: EncodedMessage[], bytes: number }

function tailOf (key: PageKey, page: Page): TailPage {
  const messages = pageEntries(page)
  return { key, messages, bytes: messages.reduce((n, m) => n + entryBytes(m), 0) }
}

/** Whether the database's record is the one expected (an empty conversation is empty, whatever its record says). */
function sameRecord (a: ChatRecord | undefined, b: ChatRecord): boolean {
  if (b.n === 0) return a === undefined || a.n === 0
  return a !== undefined && a.n === b.n && a.indexed === b.indexed && a.appender === b.appender &&
    a.last?.ts === b.last?.ts && a.last?.id === b.last?.id
}

/** A change's messages and removals by conversation, in the order they come. */
function byConversation (change: HistoryChange): Map<string, Work> {
  const out = new Map<string, Work>()
  const of = (c: string): Work => {
    let w = out.get(c)
    if (w === undefined) { w = { put: [], encoded: [], remove: [] }; out.set(c, w) }
    return w
  }
  for (const r of change.remove?.messages ?? []) of(r.conversation).remove.push(r.id)
  const messages = change.messages ?? []
  const encoded = change.encoded?.length === messages.length ? change.encoded : undefined
  messages.forEach((m, k) => {
    const w = of(m.conversation)
    w.put.push(m)
    w.encoded.push(encoded?.[k])
  })
  return out
}
