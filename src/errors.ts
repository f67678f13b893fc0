// Every failure Ferry reports carries a stable code: apps branch on `code`, people read `message`.
export const ErrorCode = {
  BAD_INPUT: 'BAD_INPUT', // malformed user input (NDJSON line, CLI flag, code)
  FRAME_TOO_LARGE: 'FRAME_TOO_LARGE',
  MALFORMED_FRAME: 'MALFORMED_FRAME',
  PROTOCOL: 'PROTOCOL', // a frame that is valid but not allowed here
  VERSION: 'VERSION',
  SELECTION: 'SELECTION', // data outside the agreed selection
  ORDER: 'ORDER', // data out of the canonical order (duplicate or reordered)
  SIZE_MISMATCH: 'SIZE_MISMATCH',
  HASH_MISMATCH: 'HASH_MISMATCH',
  COUNT_MISMATCH: 'COUNT_MISMATCH',
  DIGEST_MISMATCH: 'DIGEST_MISMATCH',
  TOO_LARGE: 'TOO_LARGE', // a declared size beyond the receiver's limits
  STORE_FULL: 'STORE_FULL',
  STORE: 'STORE',
  STORE_BUSY: 'STORE_BUSY', // another process is using the store
  TRUNCATED: 'TRUNCATED', // the stream ended before the transfer did
  PEER_ERROR: 'PEER_ERROR', // the peer sent an Error frame
  CANCELLED: 'CANCELLED',
  WRONG_CODE: 'WRONG_CODE',
  CODE_EXPIRED: 'CODE_EXPIRED',
  NOT_PAIRED: 'NOT_PAIRED',
  NO_PEER: 'NO_PEER',
  ISOLATED: 'ISOLATED', // the other phone is on the network but the network keeps the two apart
  INTERNAL: 'INTERNAL'
} as const

export type ErrorCode = typeof ErrorCode[keyof typeof ErrorCode]

export class FerryError extends Error {
  readonly code: ErrorCode
  readonly details?: Record<string, unknown>

  constructor (code: ErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'FerryError'
    this.code = code
    this.details = details
  }
}

export function isFerryError (err: unknown, code?: ErrorCode): err is FerryError {
  return err instanceof FerryError && (code === undefined || err.code === code)
}

/**
 * Maps a filesystem failure to a typed error, so a full disk reads as STORE_FULL everywhere, and a
 * SQLite that cannot load says how to install it.
 */
export function storeError (err: unknown, what: string): FerryError {
  if (err instanceof FerryError) return err
  const code = (err as { code?: string })?.code
  if (code === 'ENOSPC' || code === 'SQLITE_FULL' || code === 'EDQUOT') {
    return new FerryError(ErrorCode.STORE_FULL, `${what}: the disk is full`, undefined, { cause: err })
  }
  if (typeof code === 'string' && (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB')) {
    // SQLite's "database disk image is malformed" alone tells a person neither what broke nor what to
    // do: Ferry cannot mend the file, so the way out is another copy of the history.
    return new FerryError(ErrorCode.STORE, `${what}: the store's database (history.db) is damaged, so its history cannot be read in full ` +
      `(SQLite: ${(err as Error).message}). Bring the history back from another copy into a new store: ` +
      '\'ferry restore\' from a backup, or \'ferry receive\' from the old phone', { reason: 'damaged-database' }, { cause: err })
  }
  const native = nativeSqliteProblem(err)
  if (native !== undefined) return new FerryError(ErrorCode.STORE, `${what}: ${native}`, undefined, { cause: err })
  return new FerryError(ErrorCode.STORE, `${what}: ${(err as Error)?.message ?? String(err)}`, undefined, { cause: err })
}

const REBUILD = 'run `npm rebuild better-sqlite3` in the app\'s folder (where npm blocks install scripts, ' +
  'allow this one first: `npm install-scripts approve better-sqlite3`)'

/**
 * better-sqlite3's native module not loading: a set-up problem, not a store's. It is built by an install
 * script, which npm skips under --ignore-scripts and, from npm 12, unless the app allows it; the raw
 * error lists the thirteen paths where the module was not found, and the way out nowhere.
 */
function nativeSqliteProblem (err: unknown): string | undefined {
  const message = (err as Error)?.message ?? ''
  if (message.startsWith('Could not locate the bindings file')) {
    return `SQLite's native module (better-sqlite3) is not built: its install script did not run. To build it, ${REBUILD}`
  }
  if (!/better_sqlite3\.node/.test(message)) return undefined
  if (message.includes('NODE_MODULE_VERSION')) {
    return `SQLite's native module (better-sqlite3) was built for another version of Node.js than this one (${process.version}). To build it again, ${REBUILD}`
  }
  if ((err as { code?: string })?.code === 'ERR_DLOPEN_FAILED') {
    return `SQLite's native module (better-sqlite3) does not load (${message.split('\n')[0]}). To build it again, ${REBUILD}`
  }
  return undefined
}
