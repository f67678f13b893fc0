import { ErrorCode, FerryError } from '../errors.js'
import type { Journal, JournalOp, PartFiles } from '../journal/journal.js'
import type { ReceivedMedia } from '../store/history.js'
import { checkRead, chunksFrom, cutChunks, readChunks } from './idb-chunks.js'
import { inTx, randomId, req, syncDb } from './idb.js'

// Ferry's journal in the browser: the `kv` store of the phone's database, and partial media files as
// chunks (idb-chunks.ts) with a `parts` record each. Every write resolves once its transaction
// committed; IndexedDB runs transactions that share a store in the order they were made, so what a
// crash leaves is a prefix of the writes.

/** Entries per read of a listing: no transaction stays open across the caller's awaits. */
const PAGE = 256

const SHA256_HEX = /^[0-9a-f]{64}$/

function checkSha (sha: string): void {
  if (!SHA256_HEX.test(sha)) throw new FerryError(ErrorCode.BAD_INPUT, `not a lowercase sha256: '${sha.slice(0, 80)}'`)
}

/** A partial file: whose chunks are its bytes, and how many there are. */
export interface PartRecord { owner: string, size: number }

export class IdbJournal implements Journal {
  readonly parts: IdbPartFiles

  constructor (readonly db: IDBDatabase) {
    this.parts = new IdbPartFiles(db)
  }

  async get (key: string): Promise<Uint8Array | undefined> {
    return await inTx(this.db, ['kv'], 'readonly', 'reading the journal', async tx => await req(tx.objectStore('kv').get(key)) as Uint8Array | undefined)
  }

  async * list (prefix: string): AsyncGenerator<[string, Uint8Array]> {
    const end = prefix + '\uffff'
    let range = IDBKeyRange.bound(prefix, end, false, true)
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
    await inTx(this.db, ['kv'], 'readwrite', 'writing the journal', tx => {
      const os = tx.objectStore('kv')
      for (const op of ops) {
        if (op.value === undefined) os.delete(op.key)
        // A view would store its whole underlying buffer: only the bytes it shows go in.
        else os.put(op.value.byteLength === op.value.buffer.byteLength ? op.value : op.value.slice(), op.key)
      }
    })
  }

  async flush (): Promise<void> {
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
  constructor (private readonly db: IDBDatabase) {}

  private async record (sha: string): Promise<PartRecord | undefined> {
    checkSha(sha)
    return await inTx(this.db, ['parts'], 'readonly', `reading partial media ${sha}`, async tx => await req(tx.objectStore('parts').get(sha)) as PartRecord | undefined)
  }

  async size (sha: string): Promise<number> {
    return (await this.record(sha))?.size ?? 0
  }

  async write (sha: string, offset: number, data: Uint8Array): Promise<void> {
    checkSha(sha)
    // `data` is the receiver's buffer, reused once this call returns: copied now, before any await.
    const bytes = data.slice()
    await inTx(this.db, ['parts', 'chunks'], 'readwrite', `writing partial media ${sha}`, async tx => {
      const parts = tx.objectStore('parts')
      const rec = (await req(parts.get(sha)) as PartRecord | undefined) ?? { owner: randomId(), size: 0 }
      if (offset > rec.size) throw new FerryError(ErrorCode.STORE, `partial media ${sha}: a write at ${offset} would leave a gap after its ${rec.size} bytes`)
      // A tail from an earlier session would otherwise survive past the end of this write.
      if (rec.size > offset) await cutChunks(tx, rec.owner, offset)
      if (bytes.byteLength > 0) tx.objectStore('chunks').put(bytes, [rec.owner, offset])
      parts.put({ owner: rec.owner, size: offset + bytes.byteLength } satisfies PartRecord, sha)
    })
  }

  async truncate (sha: string, length: number): Promise<void> {
    checkSha(sha)
    await inTx(this.db, ['parts', 'chunks'], 'readwrite', `cutting partial media ${sha}`, async tx => {
      const parts = tx.objectStore('parts')
      const rec = await req(parts.get(sha)) as PartRecord | undefined
      if (rec === undefined || rec.size <= length) return
      await cutChunks(tx, rec.owner, length)
      parts.put({ owner: rec.owner, size: length } satisfies PartRecord, sha)
    })
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
    return new IdbPartMedia(this, sha, size, mime)
  }

  async remove (sha: string): Promise<void> {
    checkSha(sha)
    await inTx(this.db, ['parts', 'chunks'], 'readwrite', `removing partial media ${sha}`, async tx => {
      const parts = tx.objectStore('parts')
      const rec = await req(parts.get(sha)) as PartRecord | undefined
      // No record: nothing of this file is the journal's (the store took it over).
      if (rec === undefined) return
      tx.objectStore('chunks').delete(chunksFrom(rec.owner))
      parts.delete(sha)
    })
  }

  async list (): Promise<string[]> {
    const keys = await inTx(this.db, ['parts'], 'readonly', 'listing partial media', async tx => await req(tx.objectStore('parts').getAllKeys()))
    return keys.map(String)
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
