import { ErrorCode, FerryError } from '../errors.js'

// The browser phone's one IndexedDB database: the page's own chat store (IdbHistoryStore) and Ferry's
// journal (IdbJournal) side by side, so a finished media file passes from the journal to the store by a
// change of owner, never a copy of its bytes. Thin promise wrappers, no library.

/**
 * Object stores. The store's: contacts, conversations, chats (per conversation: message count, index
 * state), pages (messages, many per record), media (records), files (the media the store holds). The
 * journal's: kv, parts (partial media files). Shared: chunks (media bytes, by owner), meta (identity,
 * ids, the cross-tab lease).
 */
export const STORES = ['meta', 'kv', 'parts', 'chunks', 'files', 'media', 'contacts', 'conversations', 'chats', 'pages'] as const
export type StoreName = typeof STORES[number]

/** The pages' index of message-id hashes (a page lists the hashes of its messages' ids, when indexed). */
export const ID_INDEX = 'ids'

// 1: the in-memory IdbChatStore's layout (one record per message, transfer rows beside them). 2: pages.
const DB_VERSION = 2

/** Opens (creating, or replacing an older layout) the phone's database. */
export async function openFerryDb (name: string): Promise<IDBDatabase> {
  // Some private windows offer no IndexedDB at all; a browser blocking this site's storage refuses it.
  if (typeof indexedDB === 'undefined' || indexedDB === null) throw noStorage(undefined, 'this browser offers no IndexedDB here')
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    let req: IDBOpenDBRequest
    try {
      req = indexedDB.open(name, DB_VERSION)
    } catch (err) {
      reject(refused(err) ? noStorage(err, 'this browser refuses IndexedDB here') : idbError(err, `opening IndexedDB ${name}`))
      return
    }
    req.onupgradeneeded = () => {
      const db = req.result
      // The first layout held everything in memory and kept no journal: a history received into it is
      // not carried over (an early version of the page, never released).
      for (const s of Array.from(db.objectStoreNames)) db.deleteObjectStore(s)
      for (const s of STORES) {
        const os = db.createObjectStore(s)
        if (s === 'pages') os.createIndex(ID_INDEX, 'x', { multiEntry: true })
      }
    }
    req.onsuccess = () => resolve(req.result)
    req.onerror = () => reject(refused(req.error) ? noStorage(req.error, 'this browser refuses IndexedDB here') : idbError(req.error, `opening IndexedDB ${name}`))
    req.onblocked = () => reject(new FerryError(ErrorCode.STORE, `IndexedDB ${name} is held open by an older version of this page in another tab: close it and reload`))
  })
  // A newer page in another tab wants to upgrade: let it, rather than blocking it forever.
  db.onversionchange = () => { db.close() }
  return db
}

/**
 * IndexedDB denied to this page, rather than failing: Chromium with the site's storage (cookies) blocked
 * answers the open with "the user denied permission"; a context that may store nothing (an opaque
 * origin, some private windows) throws a SecurityError.
 */
function refused (err: unknown): boolean {
  const e = err as DOMException | null
  return e?.name === 'SecurityError' || (e?.name === 'UnknownError' && /denied/i.test(e.message))
}

function noStorage (cause: unknown, message: string): FerryError {
  return new FerryError(ErrorCode.STORE, message, { reason: 'no-storage' }, cause === undefined ? undefined : { cause })
}

export async function deleteFerryDb (name: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const req = indexedDB.deleteDatabase(name)
    req.onsuccess = () => resolve()
    req.onerror = () => reject(idbError(req.error, `deleting IndexedDB ${name}`))
    req.onblocked = () => resolve()
  })
}

const beforeTransaction = new WeakMap<IDBDatabase, () => void>()

/**
 * Registers what must happen before any transaction on `db` is made: the journal's write queue
 * (idb-queue.ts) hands over what it holds, so that every later transaction runs after those writes.
 */
export function onTransaction (db: IDBDatabase, fn: () => void): void {
  beforeTransaction.set(db, fn)
}

/**
 * Whether this tab may still write to a database another tab can take from it (tab-lock.ts, the lease):
 * read and judged inside every write transaction on it, so that the check and the writes commit or
 * abort together. A tab that found out at its next renewal that it lost the lease would be too late:
 * writes it made meanwhile would interleave with those of the tab that took it over.
 */
export interface WriteFence {
  /**
   * Where the record the fence judges is: its store joins the scope of every write, so that a write and
   * a change of the record (another tab taking the lease) run one after the other, in the order made.
   */
  readonly store: StoreName
  readonly key: string
  /** Whether the record, as the write's own transaction reads it, lets this tab write. */
  allows(record: unknown): boolean
  /** The record did not allow a write: the error every write is refused with from now on. */
  refuse(): FerryError
  /** Set once a write was refused (or the lock was found lost): later writes are refused at once. */
  readonly refused: FerryError | undefined
}

const fences = new WeakMap<IDBDatabase, WriteFence>()
/** The transactions a fence aborted, with the error each write in them is refused with. */
const refusals = new WeakMap<IDBTransaction, FerryError>()

/** Fences every later write transaction on `db` (none: writes go unchecked, as under Web Locks). */
export function fenceWrites (db: IDBDatabase, fence: WriteFence | undefined): void {
  if (fence === undefined) fences.delete(db)
  else fences.set(db, fence)
}

/** The fence on `db`'s writes now, if any. */
export function writeFence (db: IDBDatabase): WriteFence | undefined {
  return fences.get(db)
}

/** A transaction on `db`, made after the writes queued before it. */
export function transaction (db: IDBDatabase, stores: StoreName[], mode: IDBTransactionMode, options?: IDBTransactionOptions): IDBTransaction {
  beforeTransaction.get(db)?.()
  return mode === 'readwrite' ? writeTransaction(db, stores, options) : db.transaction(stores, mode, options)
}

/**
 * A readwrite transaction on `db`, checked by its fence when it has one: the fence's store joins the
 * scope and its record is read first; a record that does not allow it aborts the transaction, and the
 * writes in it fail with the fence's error. Throws that error at once once the fence refused a write.
 */
export function writeTransaction (db: IDBDatabase, stores: StoreName[], options?: IDBTransactionOptions): IDBTransaction {
  const fence = fences.get(db)
  if (fence === undefined) return db.transaction(stores, 'readwrite', options)
  if (fence.refused !== undefined) throw fence.refused
  const tx = db.transaction(stores.includes(fence.store) ? stores : [...stores, fence.store], 'readwrite', options)
  const r = tx.objectStore(fence.store).get(fence.key)
  r.onsuccess = () => {
    if (fence.allows(r.result)) return
    refusals.set(tx, fence.refuse())
    tx.abort()
  }
  return tx
}

/** Why `tx` aborted: its fence's refusal, or IndexedDB's own error. */
function abortReason (tx: IDBTransaction): unknown {
  return refusals.get(tx) ?? tx.error ?? new Error('IndexedDB transaction aborted')
}

/** The fence's refusal, when it aborted `tx`: what a write that failed with it reports. */
export function refusalOf (tx: IDBTransaction): FerryError | undefined {
  return refusals.get(tx)
}

/**
 * A request's result. Awaiting it inside a transaction is safe: the continuation runs in the microtask
 * checkpoint of the success event, while the transaction is still active (as long as nothing but
 * IndexedDB requests is awaited in between).
 */
export async function req<T> (r: IDBRequest<T>): Promise<T> {
  return await new Promise<T>((resolve, reject) => {
    r.onsuccess = () => resolve(r.result)
    r.onerror = () => reject(r.error ?? new Error('IndexedDB request failed'))
  })
}

/** Resolves when the transaction commits, rejects when it aborts (quota, a failed request, a closed db). */
export async function txDone (tx: IDBTransaction): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    tx.oncomplete = () => resolve()
    tx.onabort = () => reject(abortReason(tx))
    tx.onerror = () => {} // reported through onabort
  })
}

/**
 * Runs `fn` in one transaction and resolves with its result once the transaction committed. A failure
 * inside `fn` aborts the transaction: nothing of it is applied. `fn` may await IndexedDB requests of
 * `tx` only: awaiting anything else lets the transaction commit under it. `unfenced`: the lease's own
 * writes, which the fence judges by (nothing else is written past it).
 */
export async function inTx<T> (db: IDBDatabase, stores: StoreName[], mode: IDBTransactionMode, what: string, fn: (tx: IDBTransaction) => Promise<T> | T, opts: { unfenced?: boolean } = {}): Promise<T> {
  let tx: IDBTransaction
  try {
    tx = opts.unfenced === true ? db.transaction(stores, mode) : transaction(db, stores, mode)
  } catch (err) {
    throw idbError(err, what)
  }
  const committed = txDone(tx)
  committed.catch(() => {}) // awaited below; an abort caused by fn is reported as fn's error
  let out: T
  try {
    out = await fn(tx)
  } catch (err) {
    try { tx.abort() } catch {}
    // IndexedDB's own failures become store errors (a request the fence's abort ended, its refusal); the
    // caller's (a FerryError, a signal) pass as they are.
    throw err instanceof DOMException ? refusalOf(tx) ?? idbError(err, what) : err
  }
  try {
    await committed
  } catch (err) {
    throw idbError(err, what)
  }
  return out
}

/**
 * Runs `fn` in one readwrite transaction and resolves once its requests are made, with the promise of
 * its commit: the caller goes on while IndexedDB writes. Transactions whose scopes overlap run in the
 * order they were made, so a later transaction (a read, the next write) still sees this one.
 */
export async function writeBehind (db: IDBDatabase, stores: StoreName[], what: string, fn: (tx: IDBTransaction) => Promise<void> | void): Promise<{ committed: Promise<void> }> {
  let tx: IDBTransaction
  try {
    tx = transaction(db, stores, 'readwrite')
  } catch (err) {
    throw idbError(err, what)
  }
  const committed = txDone(tx).catch(err => { throw idbError(err, what) })
  committed.catch(() => {}) // the caller takes it; an abort caused by fn is reported as fn's error
  try {
    await fn(tx)
  } catch (err) {
    try { tx.abort() } catch {}
    throw err instanceof DOMException ? refusalOf(tx) ?? idbError(err, what) : err
  }
  // Wrapped: a promise returned as it is would be adopted, and this would wait for the commit.
  return { committed }
}

/** IndexedDB failures as Ferry's store errors: a full quota reads as STORE_FULL, like a full disk. */
export function idbError (err: unknown, what: string): FerryError {
  if (err instanceof FerryError) return err
  const e = err as DOMException | undefined
  if (e?.name === 'QuotaExceededError') return new FerryError(ErrorCode.STORE_FULL, `${what}: the browser's storage quota is full`, undefined, { cause: err })
  return new FerryError(ErrorCode.STORE, `${what}: ${e?.message ?? String(err)}`, undefined, { cause: err })
}

/** A random id (hex), from getRandomValues: crypto.randomUUID needs a secure context, this page may not have one. */
export function randomId (bytes = 16): string {
  const b = crypto.getRandomValues(new Uint8Array(bytes))
  let s = ''
  for (const x of b) s += x.toString(16).padStart(2, '0')
  return s
}

/** A value of the meta store, made with `make` and saved the first time it is asked for. */
export async function metaValue<T> (db: IDBDatabase, key: string, make: () => T): Promise<T> {
  return await inTx(db, ['meta'], 'readwrite', `reading ${key}`, async tx => {
    const os = tx.objectStore('meta')
    const found = await req(os.get(key)) as T | undefined
    if (found !== undefined) return found
    const v = make()
    os.put(v, key)
    return v
  })
}

/**
 * Makes every transaction committed so far durable. Transactions commit with the browser's default
 * durability, which may report a commit before it reached the disk; one write with 'strict' durability
 * is flushed before it completes, and with it everything the database logged before it.
 */
export async function syncDb (db: IDBDatabase, what: string): Promise<void> {
  let tx: IDBTransaction
  try {
    tx = transaction(db, ['meta'], 'readwrite', { durability: 'strict' })
  } catch (err) {
    throw idbError(err, what)
  }
  tx.objectStore('meta').put(Date.now(), 'durableAt')
  try {
    await txDone(tx)
  } catch (err) {
    throw idbError(err, what)
  }
}
