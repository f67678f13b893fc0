import { ErrorCode, FerryError } from '../errors.js'
import type { ReceivedMedia } from '../store/history.js'

// Ferry's own state on a phone, apart from the app's history: transfer checkpoints, the undo log of
// what an unverified transfer wrote, partial media files, pairing records. Its port is a small ordered
// key-value store with atomic multi-key writes plus a folder of partial files; the bookkeeping on top
// (transfer-log.ts, pairing-records.ts) is the same everywhere. Implementations: Node
// (node-journal.ts: a SQLite file and a folder beside the store) and the browser (IndexedDB).

/** One change of a write: a key's value put or deleted, or every key under a prefix deleted. */
export type JournalOp = JournalKeyOp | JournalPrefixOp

export interface JournalKeyOp {
  key: string
  /** undefined deletes the key. */
  value?: Uint8Array
}

/**
 * Deletes every key that starts with `prefix`, without reading the values: a verified transfer's undo
 * log, which grows with the history it took in, goes at once, where reading it to name its keys held
 * it in memory.
 */
export interface JournalPrefixOp {
  prefix: string
}

export interface Journal {
  get(key: string): Promise<Uint8Array | undefined>
  /**
   * Entries whose key starts with `prefix`, in key order. Ferry's keys are ASCII, where every order
   * agrees; beyond it an implementation may order by code unit (IndexedDB) or code point (SQLite).
   */
  list(prefix: string): AsyncIterable<[string, Uint8Array]>
  /** Applies every op or none. */
  write(ops: JournalOp[]): Promise<void>
  /**
   * Optional: makes every write so far durable (a journal whose writes are durable when they resolve
   * needs none). Called after a transfer is recorded as verified, before the old phone is told.
   */
  flush?(): Promise<void>
  readonly parts: PartFiles
  close(): Promise<void>
}

/**
 * Partial media files being received. A part's length is its committed length, what a resumed transfer
 * continues from, so a part must only ever hold a prefix of the bytes written to it, in order, whatever
 * stops a write midway: a killed process, a closed tab. No record is kept beside it (one per chunk was a
 * journal commit per chunk). Bytes that are wrong all the same (a disk that kept a length and lost its
 * bytes in a power cut) fail the file's sha256 when it completes: that session is refused and the file
 * fetched again.
 */
export interface PartFiles {
  /** The part's committed length (0 when there is no such part). */
  size(sha256: string): Promise<number>
  /**
   * Writes at `offset` (at most the part's length); cuts the part there first when it is longer. The
   * caller keeps `data` unchanged until the promise settles, and starts the part's next write after it,
   * unless the part files take several at once (writesAtOnce).
   */
  write(sha256: string, offset: number, data: Uint8Array): Promise<void>
  /**
   * How many writes of one part a caller may have unsettled at once (1 when absent). Part files that take
   * more take each write's bytes before write() returns, and land them in order.
   */
  readonly writesAtOnce?: number
  /** Cuts the file to `length` bytes. */
  truncate(sha256: string, length: number): Promise<void>
  /** The file's bytes from 0 to `length`, in pieces (to hash a part resumed from an earlier run). */
  read(sha256: string, length: number): AsyncIterable<Uint8Array>
  /** The complete file, for the store to take (HistorySink.putMedia); it may move it away. */
  handOff(sha256: string, size: number, mime: string): ReceivedMedia
  remove(sha256: string): Promise<void>
  /**
   * Whether the part was handed off and not yet removed: the store may still be taking it (a session cut
   * meanwhile leaves its hand-offs running), so no one else may remove it.
   */
  beingTaken(sha256: string): boolean
  /** Every partial file present. */
  list(): Promise<string[]>
}

const enc = new TextEncoder()
const dec = new TextDecoder()

export function jsonValue (v: unknown): Uint8Array {
  return enc.encode(JSON.stringify(v))
}

/** Throws a typed error (STORE) for a value that is not JSON: a journal damaged on disk. */
export function fromJson<T> (b: Uint8Array | undefined): T | undefined {
  if (b === undefined) return undefined
  try {
    return JSON.parse(dec.decode(b)) as T
  } catch {
    throw new FerryError(ErrorCode.STORE, 'the journal holds a damaged entry')
  }
}
