import { ErrorCode, FerryError } from '../errors.js'
import { inTx, req } from './idb.js'

// Media bytes in IndexedDB: the `chunks` store holds them as records keyed [owner, offset], where the
// owner is a random id given to one file's bytes when they start to arrive. The journal's partial file
// and, once it is complete, the store's media file name the same owner: handing a file over changes
// which record names it, and no byte is written twice.

/** Chunks read per transaction (each up to a media chunk of the protocol, 256 KiB). */
const READ_BATCH = 8

export type ChunkKey = [string, number]

export function chunksFrom (owner: string, offset = 0): IDBKeyRange {
  return IDBKeyRange.bound([owner, offset], [owner, Infinity])
}

/** The file's bytes from 0 to `length`, in pieces (fewer only if the file is shorter: the caller checks). */
export async function * readChunks (db: IDBDatabase, owner: string, length: number, what: string): AsyncGenerator<Uint8Array> {
  let offset = 0
  while (offset < length) {
    const batch = await inTx(db, ['chunks'], 'readonly', what, async tx => await req(tx.objectStore('chunks').getAll(chunksFrom(owner, offset), READ_BATCH)) as Uint8Array[])
    if (batch.length === 0) return
    for (const c of batch) {
      const piece = c.byteLength > length - offset ? c.subarray(0, length - offset) : c
      offset += piece.byteLength
      yield piece
      if (offset >= length) return
    }
  }
}

/** Cuts the owner's bytes at `length` inside `tx` (a chunk across the cut keeps its head). */
export async function cutChunks (tx: IDBTransaction, owner: string, length: number): Promise<void> {
  const os = tx.objectStore('chunks')
  os.delete(chunksFrom(owner, length))
  if (length === 0) return
  const cursor = await req(os.openCursor(IDBKeyRange.bound([owner, 0], [owner, length], false, true), 'prev'))
  if (cursor === null) return
  const at = (cursor.key as ChunkKey)[1]
  const bytes = cursor.value as Uint8Array
  if (at + bytes.byteLength > length) os.put(bytes.slice(0, length - at), cursor.key)
}

/** Checks that `got` bytes are what a file of `length` should have yielded. */
export function checkRead (got: number, length: number, what: string): void {
  if (got < length) throw new FerryError(ErrorCode.STORE, `${what} is shorter than its ${length} bytes`)
}
