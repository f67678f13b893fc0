// Every failure Ferry reports carries a stable code: apps branch on `code`, people read `message`.
// Each code's comment is JSDoc so that it reaches the declarations (dist/errors.d.ts): an app that
// installed the package branches on these codes with no src/ to read.
export const ErrorCode = {
  /** Input a person or the app gave is not usable (a mistyped code, an option, an NDJSON line, a folder): the message says what to change. */
  BAD_INPUT: 'BAD_INPUT',
  /** The other phone sent a frame larger than this phone accepts (or a deflated batch that inflates past it). */
  FRAME_TOO_LARGE: 'FRAME_TOO_LARGE',
  /** The other phone sent bytes that do not decode as a Ferry frame. */
  MALFORMED_FRAME: 'MALFORMED_FRAME',
  /** The other phone sent a valid frame where the protocol does not allow it (or a history that contradicts itself). */
  PROTOCOL: 'PROTOCOL',
  /** The other phone (or a QR code) speaks a version of Ferry's protocol this one does not: update the older Ferry. */
  VERSION: 'VERSION',
  /** The sender sent data outside the selection the phones agreed on. */
  SELECTION: 'SELECTION',
  /** The sender sent data out of the canonical order (duplicated or reordered). */
  ORDER: 'ORDER',
  /** A media file's bytes do not add up to its declared size. */
  SIZE_MISMATCH: 'SIZE_MISMATCH',
  /** A media file's bytes do not hash to its sha256. */
  HASH_MISMATCH: 'HASH_MISMATCH',
  /**
   * Verification: the new phone holds another number of messages (or chats, contacts, media) than the old phone sent.
   * `details.changedHere`: a message the transfer wrote was changed or deleted on the new phone meanwhile (`details.messageId`).
   */
  COUNT_MISMATCH: 'COUNT_MISMATCH',
  /**
   * Verification: what the new phone's store reads back differs from what the old phone sent (`details` names the chat or contact).
   * `details.changedHere`: a message the transfer wrote was changed or deleted on the new phone meanwhile (`details.messageId`).
   */
  DIGEST_MISMATCH: 'DIGEST_MISMATCH',
  /** A size the other phone declared is beyond this phone's limits. */
  TOO_LARGE: 'TOO_LARGE',
  /** The disk (or the browser's storage quota) is full: free some room and run again; what arrived stays. */
  STORE_FULL: 'STORE_FULL',
  /** The store or the journal cannot be read or written (damaged, read-only, closed): the message says which and what to do. */
  STORE: 'STORE',
  /**
   * Another phone (in this process or another) is using the store: `details.pid` names the process. Or
   * this phone is already receiving (`details.receivingFrom` names the phone): one receive at a time. Or
   * a backup to the same file is running (`details.path`, its partial file, and `details.pid`). Or, in a
   * browser, another tab took over receiving (`details.reason` 'taken-over').
   */
  STORE_BUSY: 'STORE_BUSY',
  /**
   * The link or the file ended before the transfer did; a receive retries it for `retryForMs` first.
   * `details.fetchAgain`: the new phone ended the session itself, nothing taken back, as a media file
   * (`details.sha256`) resumed from a part it kept did not match, or was removed here with a message
   * deleted during the transfer while a message that came since shows it: the next session fetches it.
   */
  TRUNCATED: 'TRUNCATED',
  /** The other phone reported an error and ended the transfer: `details.peerCode` is its code. */
  PEER_ERROR: 'PEER_ERROR',
  /** Stopped on purpose: the `signal` was aborted, `stop()` was called, an `onEvent` handler threw, or the old phone ended its offer. */
  CANCELLED: 'CANCELLED',
  /** The typed code did not match: `details.triesLeft` says how many tries of it are left on this phone. */
  WRONG_CODE: 'WRONG_CODE',
  /** The code can pair no phone any more (expired, spent, already paired another phone, tried three times here): ask for a new one (`details.state`). */
  CODE_EXPIRED: 'CODE_EXPIRED',
  /** The other phone does not know this one: no pairing with it to resume (it was forgotten, or it paired another phone). */
  NOT_PAIRED: 'NOT_PAIRED',
  /**
   * The other phone could not be found or reached; or, with `details.notOffering`, it was reached and
   * offers no transfer (yet). A receive retries both for `retryForMs`.
   */
  NO_PEER: 'NO_PEER',
  /** The other phone is on the network but the network keeps the two apart (client isolation): use one phone's hotspot or another network. */
  ISOLATED: 'ISOLATED',
  /** A fault of Ferry's own (or of its build): not the user's doing. */
  INTERNAL: 'INTERNAL'
} as const

export type ErrorCode = typeof ErrorCode[keyof typeof ErrorCode]

/**
 * What a FerryError says beyond its code and message: fields an app acts on, and facts for a log. Every
 * field is optional; each is set only with the codes named on it, and an error that passes another on
 * keeps that one's fields (a refusal looked past still has its `from`, plus `unproved`). A type and not
 * an interface so that it still goes where a `Record<string, unknown>` is wanted (a logger's fields).
 */
export type FerryErrorDetails = {
  // Pairing: the code and the phone that answered it.
  /**
   * WRONG_CODE: how many more tries of this typed code this phone allows (0: it cannot be typed here
   * again; the QR code still pairs). Also on the refusal or cuts that end a receive after tries were
   * spent on phones holding another code (with `mismatched`).
   */
  triesLeft?: number
  /** WRONG_CODE: the link dropped while the phones checked the code, after this phone's try was charged (a try spent unheard, not retried). */
  linkDropped?: boolean
  /**
   * WRONG_CODE (and its `interrupted` events): how many phones found by the search checked the code and
   * hold another, each set aside with one try spent (another transfer nearby may show the same first digits).
   */
  mismatched?: number
  /**
   * WRONG_CODE: how many phones showing the code's first three digits the receive met, when more than
   * one: the phone that answered may be another transfer's, and checking the digits does not tell them apart.
   */
  showing?: number
  /**
   * CODE_EXPIRED: why the code pairs no phone: `'expired'` (ten minutes passed), `'exhausted'` (three failed
   * attempts at the old phone), `'used'` (it paired another phone), `'tried'` (this phone tried it three
   * times: `tried`), `'live'` (a QR code's key offered where the code takes none).
   */
  state?: 'live' | 'used' | 'exhausted' | 'expired' | 'tried'
  /** CODE_EXPIRED with `state: 'tried'`: how many times this phone tried the code without pairing. */
  tried?: number
  /** CODE_EXPIRED of a code a phone offers again (`ferry send --code`): in words, why it cannot be offered. */
  why?: string
  /** CODE_EXPIRED with `why`: whether the code already paired a phone. */
  used?: boolean
  /** CODE_EXPIRED with `why`: failed pairing attempts charged to the code. */
  charged?: number
  /** CODE_EXPIRED with `why`: when the code expires or expired (ms since the epoch). */
  expiresAt?: number
  /**
   * CANCELLED, CODE_EXPIRED, WRONG_CODE, VERSION, NOT_PAIRED, PROTOCOL, NO_PEER: the phone whose refusal
   * ended the pairing (`'sender'`: the old phone; `'receiver'`: the new one). A CANCELLED without it is
   * this phone's own.
   */
  from?: 'sender' | 'receiver'
  /** NO_PEER: the other phone was reached but offers no transfer (yet); a receive retries it. */
  notOffering?: boolean
  /** TRUNCATED: the other phone stopped answering within the pairing's (or a stream's) timeout, rather than dropping the link. */
  timedOut?: boolean
  /**
   * Any refusal of a typed code that came before the other phone proved anything of it (its answer tested
   * no guess, or it cut the link): no try was charged, and it says nothing about the code.
   */
  unproved?: boolean
  /** TRUNCATED, NO_PEER (with `notOffering`): the other phone cut the pairing before any valid answer; no try was charged. */
  cut?: boolean
  /** TRUNCATED with `cut`: how many pairings the phones found by the search cut off, in all. */
  cuts?: number
  /** TRUNCATED with `cut`: how many phones found by the search cut the pairing off. */
  phones?: number
  /** With `unproved`: how many phones found by the search refused the code unproved and were set aside. */
  setAside?: number
  /** NO_PEER, ISOLATED (an `interrupted` event's): a phone the search found could not be reached, and was set aside for that look. */
  unreachable?: boolean

  // Finding and reaching the other phone.
  /** NO_PEER, ISOLATED: how this phone learnt of the old phone's addresses. */
  via?: 'mdns' | 'sweep' | 'qr' | 'peer' | 'resume'
  /** NO_PEER, ISOLATED: each address dialled, and what came of it. */
  attempts?: Array<{ addr: string, outcome: 'open' | 'refused' | 'silent' | 'skipped' }>
  /** NO_PEER, ISOLATED: each subnet swept for the old phone, and how many devices (and Ferry phones) answered there. */
  sweeps?: Array<{ subnet: string, ifname: string, hosts: number, probed: number, reached: number, ferry: number }>
  /** NO_PEER: the old phone's addresses, none of a transport this phone dials. */
  offered?: string[]
  /** TRUNCATED: the libp2p protocol of the stream that ended (or could not be written), and its status. */
  protocol?: string
  /** TRUNCATED with `protocol`: the stream's status when it ended. */
  status?: string
  /** TRUNCATED with `protocol`: the stream's write status when a write failed. */
  writeStatus?: string

  // The transfer.
  /** PEER_ERROR: the code the other phone ended the transfer with (an ErrorCode, or one a newer Ferry knows). */
  peerCode?: string
  /**
   * TRUNCATED: the new phone ended the session itself, nothing taken back, because a media file (`sha256`)
   * resumed from a part it kept did not match, or a message that came shows a file removed here with a
   * message deleted during the transfer: the next session fetches it.
   */
  fetchAgain?: boolean
  /** COUNT_MISMATCH, DIGEST_MISMATCH: a message the transfer wrote was changed or deleted on the new phone meanwhile (`conversation`, `messageId`). */
  changedHere?: boolean
  /** COUNT_MISMATCH, DIGEST_MISMATCH with `changedHere`: the message changed on the new phone. */
  messageId?: string
  /** COUNT_MISMATCH, DIGEST_MISMATCH, STORE, BAD_INPUT: the conversation concerned. */
  conversation?: string
  /** STORE, BAD_INPUT (with `conversation`): the message concerned. */
  id?: string
  /** COUNT_MISMATCH, DIGEST_MISMATCH: the contact concerned. */
  contact?: string
  /** TRUNCATED (with `fetchAgain`), STORE, STORE_FULL, BAD_INPUT: the media file concerned. */
  sha256?: string
  /**
   * STORE_FULL: bytes of media still to come, and bytes free on this phone (`freeBytes`); from a backup,
   * about the most room its file takes (`path` names it).
   */
  neededBytes?: number
  /** STORE_FULL with `neededBytes`: bytes free on this phone. */
  freeBytes?: number
  /** STORE_BUSY: the phone this one is already receiving from (one receive at a time). */
  receivingFrom?: string

  // Stores, files and input.
  /** STORE_BUSY: the store in use. */
  dir?: string
  /** STORE_BUSY: the process that uses the store. */
  pid?: number
  /** STORE_BUSY with `pid`: that process's command line. */
  command?: string
  /** BAD_INPUT, STORE: the file or folder concerned. */
  path?: string
  /**
   * STORE: `'damaged-database'` (history.db cannot be read in full) or `'damaged-journal'` (`journal` names
   * it), or `'no-storage'` (a browser that lets the page store nothing: a private window, storage blocked).
   * BAD_INPUT: `'truncated'`, a backup file cut off (`fileBytes`, `at`); `'wrong-password'`, a backup's key
   * check failed with the password given (or its header is damaged). NO_PEER: `'no-webrtc'`, a browser
   * without WebRTC (turned off or unsupported), which can reach no phone. STORE_BUSY: `'taken-over'`, a
   * browser tab that lost its lease on the browser's store to another tab, which receives now.
   */
  reason?: 'damaged-database' | 'damaged-journal' | 'truncated' | 'wrong-password' | 'no-storage' | 'no-webrtc' | 'taken-over'
  /** STORE with `reason: 'damaged-journal'`: the journal's folder. */
  journal?: string
  /** BAD_INPUT with `reason: 'truncated'`: the backup file's size. */
  fileBytes?: number
  /** BAD_INPUT with `reason: 'truncated'`: where in the backup it was cut off, in words. */
  at?: string
  /** BAD_INPUT from a restore whose file failed part-way: the messages from its intact part that stay in the store. */
  keptMessages?: number
  /** BAD_INPUT from a restore whose file failed part-way: the media bytes (whole files and parts) that stay. */
  keptMediaBytes?: number
  /** BAD_INPUT: what is missing: a message's `'conversation'` or `'media'` record, or a package to install. */
  missing?: string
  /** BAD_INPUT: the conversations a selection names that the history does not hold. */
  unknown?: string[]
  /** BAD_INPUT: the line of an NDJSON import that is wrong (from 1). */
  line?: number
  /** BAD_INPUT: where in a typed code the character that is no digit stands (from 1). */
  position?: number
  /** BAD_INPUT: how many digits a typed code had (it needs 11). */
  digits?: number
  /** BAD_INPUT, INTERNAL: the listen address (or addresses) that cannot be used. */
  listen?: string | string[]
  /** BAD_INPUT: the announce address that is no multiaddr. */
  announce?: string
  /** CANCELLED: the event whose `onEvent` handler threw. */
  event?: string
}

export class FerryError extends Error {
  readonly code: ErrorCode
  readonly details?: FerryErrorDetails

  constructor (code: ErrorCode, message: string, details?: FerryErrorDetails, options?: { cause?: unknown }) {
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
  if (isDamagedDatabase(err)) {
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

/** SQLite found its file damaged: not a database at all, or one whose pages do not hold together. */
export function isDamagedDatabase (err: unknown): boolean {
  const code = (err as { code?: string })?.code
  return typeof code === 'string' && (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB')
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
