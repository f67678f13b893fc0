import { FerryError } from '../errors.js'
import { idbError, onTransaction, refusalOf, writeTransaction, type StoreName } from './idb.js'

// The journal's writes in the browser (undo entries, checkpoints, partial media and its chunks) are
// queued and committed in groups: a write resolves once it is queued, and everything queued while a
// transaction commits goes into the next one. A transfer's reads of the network and its writes to
// IndexedDB then overlap, where awaiting each commit left the page idle for two commits per batch and
// per media chunk.
//
// What a crash leaves is still a prefix of the writes, in order: the queue's transactions share their
// scope, so IndexedDB runs them in the order they were made, and each one made while the one before it
// was still committing checks, as its first request, that it did (a sequence number it reads and
// writes), aborting otherwise. Every other transaction on the database first hands the queue's writes
// to IndexedDB (onTransaction), so it runs after them and sees them; a store transaction that depends
// on the journal's last write checks the same number (assertAfter). After a failure the queue takes no
// more writes, as the store takes no more commits: the page opens the database again. Like every write
// to the database, each transaction checks first that this tab still holds its lease (idb.ts WriteFence).

/** The stores the queue writes: the journal's key-values, partial media and media bytes. */
export const QUEUE_SCOPE: StoreName[] = ['kv', 'parts', 'chunks']
/** The sequence number of the queue's last transaction, in the journal's store. */
const SEQ_KEY = '\u0000queue'
/** Transactions handed to IndexedDB and not yet committed beyond which writes gather for a moment. */
const MAX_IN_FLIGHT = 2
/** Bytes queued or committing beyond which a write waits for a commit: the page's memory stays bounded. */
const MAX_PENDING_BYTES = 16 * 1024 * 1024

/** Writes made inside the queue's transaction; synchronous (requests only, or their callbacks). */
export type QueuedWrite = (tx: IDBTransaction) => void

const queues = new WeakMap<IDBDatabase, IdbWriteQueue>()

export class IdbWriteQueue {
  private ops: Array<{ write: QueuedWrite, bytes: number }> = []
  private queuedBytes = 0
  private inFlight = 0
  private inFlightBytes = 0
  /** Sequence number of the last transaction made (0: none yet in this page). */
  private seq = 0
  private last: Promise<void> = Promise.resolve()
  private readonly waiting: Array<() => void> = []
  private scheduled = false
  /** The first failure: every later write reports it (what comes after a lost write must not commit). */
  failure?: FerryError

  private constructor (readonly db: IDBDatabase) {}

  /** The database's one queue (the journal and the store share it). */
  static of (db: IDBDatabase): IdbWriteQueue {
    let q = queues.get(db)
    if (q === undefined) {
      const made = new IdbWriteQueue(db)
      onTransaction(db, () => { made.issue() })
      queues.set(db, q = made)
    }
    return q
  }

  check (): void {
    if (this.failure !== undefined) throw this.failure
  }

  /**
   * Queues `write` (`bytes`: about what it holds in memory until it commits). Resolves once queued, or
   * once enough has committed when too much is pending.
   */
  async write (bytes: number, write: QueuedWrite): Promise<void> {
    this.check()
    while (this.queuedBytes + this.inFlightBytes > MAX_PENDING_BYTES && this.inFlight > 0) {
      this.issue()
      await new Promise<void>(resolve => this.waiting.push(resolve))
      this.check()
    }
    this.ops.push({ write, bytes })
    this.queuedBytes += bytes
    if (this.inFlight < MAX_IN_FLIGHT) this.issue()
    else this.issueSoon()
  }

  /**
   * While transactions commit, writes gather for the next one; but never past the current task, so
   * that nothing a transfer counted as written waits on more than IndexedDB itself.
   */
  private issueSoon (): void {
    if (this.scheduled) return
    this.scheduled = true
    setTimeout(() => { this.scheduled = false; this.issue() }, 0)
  }

  /** Resolves once everything queued so far is committed; throws the first failure. */
  async settled (): Promise<void> {
    this.issue()
    await this.last.catch(() => {})
    this.check()
  }

  /**
   * Makes `tx` (which includes 'kv' in its scope, and is made after the queue's last transaction) abort
   * unless that transaction committed: a store write that follows the journal's undo entry must not
   * outlive it.
   */
  assertAfter (tx: IDBTransaction): void {
    // With nothing of the queue committing, its last transaction is known to have committed (a failure
    // stops the queue); and only then may another tab, which took the lock since, have written the number.
    if (this.inFlight === 0) return
    const want = this.seq
    const r = tx.objectStore('kv').get(SEQ_KEY)
    r.onsuccess = () => { if (r.result !== want) tx.abort() }
  }

  /** Hands every queued write to IndexedDB now, in one transaction. */
  issue (): void {
    if (this.ops.length === 0 || this.failure !== undefined) return
    const ops = this.ops
    const bytes = this.queuedBytes
    this.ops = []
    this.queuedBytes = 0
    let tx: IDBTransaction
    try {
      tx = writeTransaction(this.db, QUEUE_SCOPE)
    } catch (err) {
      this.fail(idbError(err, 'writing the journal'))
      return
    }
    const seq = ++this.seq
    const chained = this.inFlight > 0
    this.inFlight++
    this.inFlightBytes += bytes
    const committed = new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve()
      tx.onabort = () => reject(idbError(refusalOf(tx) ?? tx.error ?? new Error('aborted: a write before it did not commit'), 'writing the journal'))
      tx.onerror = () => {} // reported through onabort
    })
    this.last = committed
    committed.then(() => {
      this.inFlight--
      this.inFlightBytes -= bytes
      this.wake()
      if (this.inFlight < MAX_IN_FLIGHT) this.issue()
    }, err => {
      this.inFlight--
      this.inFlightBytes -= bytes
      this.fail(err as FerryError)
    })
    try {
      const kv = tx.objectStore('kv')
      if (chained) {
        const r = kv.get(SEQ_KEY)
        r.onsuccess = () => { if (r.result !== seq - 1) tx.abort() }
      }
      kv.put(seq, SEQ_KEY)
      for (const op of ops) op.write(tx)
    } catch (err) {
      try { tx.abort() } catch {}
      this.fail(idbError(err, 'writing the journal'))
    }
  }

  private fail (err: FerryError): void {
    this.failure ??= err
    this.ops = []
    this.queuedBytes = 0
    this.wake()
  }

  private wake (): void {
    for (const w of this.waiting.splice(0)) w()
  }
}
