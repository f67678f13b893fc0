import { ErrorCode, FerryError } from '../errors.js'
import type { Journal, JournalOp, PartFiles } from '../journal/journal.js'
import type { ReceivedMedia } from '../store/history.js'
import { checkRead, chunksFrom, cutChunks, readChunks } from './idb-chunks.js'
import { inTx, randomId, req, syncDb } from './idb.js'
import { IdbWriteQueue } from './idb-queue.js'
import { isHashHex } from '../hash-hex.js'

// Ferry's journal in the browser: the `kv` store of the phone's database, and partial media files as
// chunks (idb-chunks.ts) with a `parts` record each. Writes go through the database's write queue
// (idb-queue.ts): each resolves once queued, commits with the writes around it, in order, and what a
// crash leaves is a prefix of the writes. flush() waits for them all and makes them durable.

/** Entries per read of a listing: no transaction stays open across the caller's awaits. */
const PAGE = 256

function checkSha (sha: string): void {
  if (!isHashHex(sha)) throw new FerryError(ErrorCode.BAD_INPUT, `not a lowercase sha256: '${sha.slice(0, 80)}'`)
}

/** A partial file: whose chunks are its bytes, and how many there are. */
export interface PartRecord { owner: string, size: number }

export class IdbJournal implements Journal {
  readonly parts: IdbPartFiles
  private readonly queue: IdbWriteQueue

  constructor (readonly db: IDBDatabase) {
    this.queue = IdbWriteQueue.of(db)
    this.parts = new IdbPartFiles(db)
  }

  async get (key: string): Promise<Uint8Array | undefined> {
    return await inTx(this.db, ['kv'], 'readonly', 'reading the journal', async tx => await req(tx.objectStore('kv').get(key)) as Uint8Array | undefined)
  }

  async * list (prefix: string): AsyncGenerator<[string, Uint8Array]> {
    let range = prefixRange(prefix)
    const end = range.upper as string
    for (;;) {
      const [keys, values] = await inTx(this.db, ['kv'], 'readonly', 'reading the journal', async tx => {
        const os = tx.objectStore('kv')
        return await Promise.all([req(os.getAllKeys(range, PAGE)), req(os.getAll(range, PAGE))])
      })
      for (let i = 0; i < keys.length; i++) yield [keys[i] as string, values[i] as Uint8Array]
      if (keys.length < PAGE) return
      range = IDBKeyRange.bound(keys[keys.length - 1], end, true, true)
    }
  }

  async write (ops: JournalOp[]): Promise<void> {
    // A view would store its whole underlying buffer: only the bytes it shows go in. Copied now: the
    // caller may reuse its buffers once this resolves, before the write is made.
    const values = ops.map(op => 'prefix' in op || op.value === undefined ? undefined : op.value.slice())
    const bytes = values.reduce((n, v) => n + (v?.byteLength ?? 0), 0)
    await this.queue.write(bytes, tx => {
      const os = tx.objectStore('kv')
      ops.forEach((op, i) => {
        const v = values[i]
        if ('prefix' in op) os.delete(prefixRange(op.prefix))
        else if (v === undefined) os.delete(op.key)
        else os.put(v, op.key)
      })
    })
  }

  async flush (): Promise<void> {
    await this.queue.settled()
    await syncDb(this.db, 'writing the journal')
  }

  /** The database is the page's: it closes it (the store shares it). */
  async close (): Promise<void> {}
}

/**
 * Partial media files in IndexedDB. A part's record names its chunks' owner and its size; chunks and
 * record change in one transaction, so the size is always what the chunks hold.
 */
export class IdbPartFiles implements PartFiles {
  /**
   * The records of the parts this page wrote or read, as the queue will leave them: a chunk appended
   * to one needs nothing read first. Dropped when a write fails.
   */
  private readonly known = new Map<string, PartRecord | undefined>()
  /** Parts handed to the store and not yet taken or removed: the store's adoption may still be queued. */
  private readonly handedOff = new Set<string>()

  /** The database's one write queue, which the journal's writes share (IdbWriteQueue.of). */
  private readonly queue: IdbWriteQueue

  constructor (private readonly db: IDBDatabase) {
    this.queue = IdbWriteQueue.of(db)
  }

  private async record (sha: string): Promise<PartRecord | undefined> {
    checkSha(sha)
    this.queue.check()
    if (this.known.has(sha)) return this.known.get(sha)
    const rec = await inTx(this.db, ['parts'], 'readonly', `reading partial media ${sha}`, async tx => await req(tx.objectStore('parts').get(sha)) as PartRecord | undefined)
    // Unless a write of this page came meanwhile (it knows better).
    if (!this.known.has(sha)) this.known.set(sha, rec)
    return this.known.get(sha)
  }

  async size (sha: string): Promise<number> {
    return (await this.record(sha))?.size ?? 0
  }

  async write (sha: string, offset: number, data: Uint8Array): Promise<void> {
    checkSha(sha)
    // `data` is the receiver's buffer, reused once this call returns: copied now, before any await.
    const bytes = data.slice()
    if (offset === 0) {
      // A file (re)starts: under a new owner, whatever was there before goes with this write. Nothing is
      // read first (most photos come whole, in one chunk).
      const known = this.known.has(sha)
      const old = this.known.get(sha)
      const next: PartRecord = { owner: randomId(), size: bytes.byteLength }
      this.known.set(sha, next)
      await this.guard(this.queue.write(bytes.byteLength, tx => {
        const parts = tx.objectStore('parts')
        const chunks = tx.objectStore('chunks')
        if (old !== undefined) chunks.delete(chunksFrom(old.owner))
        else if (!known) {
          const r = parts.get(sha)
          r.onsuccess = () => { const prev = r.result as PartRecord | undefined; if (prev !== undefined) chunks.delete(chunksFrom(prev.owner)) }
        }
        if (bytes.byteLength > 0) chunks.put(bytes, [next.owner, 0])
        parts.put(next, sha)
      }))
      return
    }
    let rec = await this.record(sha) ?? { owner: randomId(), size: 0 }
    if (offset > rec.size) throw new FerryError(ErrorCode.STORE, `partial media ${sha}: a write at ${offset} would leave a gap after its ${rec.size} bytes`)
    // A tail from an earlier session would otherwise survive past the end of this write.
    if (rec.size > offset) {
      await this.truncate(sha, offset)
      rec = await this.record(sha) ?? rec
    }
    const next: PartRecord = { owner: rec.owner, size: offset + bytes.byteLength }
    this.known.set(sha, next)
    await this.guard(this.queue.write(bytes.byteLength, tx => {
      tx.objectStore('chunks').put(bytes, [next.owner, offset])
      tx.objectStore('parts').put(next, sha)
    }))
  }

  async truncate (sha: string, length: number): Promise<void> {
    checkSha(sha)
    this.known.delete(sha)
    await this.guard(inTx(this.db, ['parts', 'chunks'], 'readwrite', `cutting partial media ${sha}`, async tx => {
      const parts = tx.objectStore('parts')
      const rec = await req(parts.get(sha)) as PartRecord | undefined
      if (rec === undefined || rec.size <= length) return
      await cutChunks(tx, rec.owner, length)
      parts.put({ owner: rec.owner, size: length } satisfies PartRecord, sha)
    }))
  }

  /** What this page knows of the parts is forgotten when a write fails: it may not have happened. */
  private async guard (write: Promise<void>): Promise<void> {
    try {
      await write
    } catch (err) {
      this.known.clear()
      throw err
    }
  }

  async * read (sha: string, length: number): AsyncGenerator<Uint8Array> {
    const rec = await this.record(sha)
    let got = 0
    if (rec !== undefined && length > 0) {
      for await (const piece of readChunks(this.db, rec.owner, Math.min(length, rec.size), `reading partial media ${sha}`)) {
        got += piece.byteLength
        yield piece
      }
    }
    checkRead(got, length, `partial media ${sha}`)
  }

  handOff (sha: string, size: number, mime: string): ReceivedMedia {
    checkSha(sha)
    this.handedOff.add(sha)
    return new IdbPartMedia(this, sha, size, mime)
  }

  beingTaken (sha: string): boolean {
    return this.handedOff.has(sha)
  }

  async remove (sha: string): Promise<void> {
    checkSha(sha)
    this.handedOff.delete(sha)
    this.known.set(sha, undefined)
    await this.guard(this.queue.write(0, tx => {
      const parts = tx.objectStore('parts')
      const r = parts.get(sha)
      r.onsuccess = () => {
        const rec = r.result as PartRecord | undefined
        // No record: nothing of this file is the journal's (the store took it over).
        if (rec === undefined) return
        tx.objectStore('chunks').delete(chunksFrom(rec.owner))
        parts.delete(sha)
      }
    }))
  }

  async list (): Promise<string[]> {
    const keys = await inTx(this.db, ['parts'], 'readonly', 'listing partial media', async tx => await req(tx.objectStore('parts').getAllKeys()))
    return keys.map(String)
  }

  /** This tab is about to write (it took the lock): another tab may have written meanwhile. */
  takeOver (): void {
    this.known.clear()
  }

  /** The store took the file over (its record went with it). */
  adopted (sha: string): void {
    this.handedOff.delete(sha)
    this.known.set(sha, undefined)
  }

  /** Whether `db` is where these parts live (a store in the same database can adopt them). */
  isIn (db: IDBDatabase): boolean {
    return db === this.db
  }
}

/**
 * A complete partial file handed to the store. A store in the same database adopts its chunks
 * (IdbHistoryStore.putMedia); any other store reads them through stream().
 */
export class IdbPartMedia implements ReceivedMedia {
  constructor (readonly parts: IdbPartFiles, readonly sha256: string, readonly size: number, readonly mime: string) {}

  stream (): AsyncIterable<Uint8Array> {
    return this.parts.read(this.sha256, this.size)
  }
}

/** The keys that start with `prefix` (IndexedDB compares strings by code unit). */
function prefixRange (prefix: string): IDBKeyRange {
  return IDBKeyRange.bound(prefix, prefix + '\uffff', false, true)
}
