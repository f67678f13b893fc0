import { logger } from '@libp2p/logger'
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { ErrorCode, FerryError, isFerryError } from '../errors.js'
import { fsReason, readReason } from '../fs-errors.js'
import { hashFile } from '../store/media-folder.js'
import type { Contact, Conversation, MediaRecord, Message } from '../store/model.js'
import type { SqliteChatStore } from '../store/sqlite-store.js'
import { ChangedMessages, MadeMine, mergeConversations, mergeMessages } from './import-merge.js'
import { ImportNames } from './import-names.js'
import { parseLine, readLines } from './ndjson.js'

const log = logger('ferry:import')

// Import of a canonical NDJSON history into a store, all or nothing.
//
// What is accepted (see ndjson.ts for each field's rules):
// - one JSON object per line, UTF-8, LF or CRLF; blank lines are skipped; keys in any order; records in
//   any order (a message may come before its conversation).
// - refused: invalid JSON or UTF-8, an unknown type, kind or status, a missing, null, wrongly typed or
//   unknown field, a non-integer ts, a sha256 that is not 64 lowercase hex digits.
// - references: a message's conversation and media must each be a record in the file or in the store.
//   Senders, members and replyTo are not checked: people leave groups and messages get deleted.
// - a media line with `path` (relative to the NDJSON file's directory) must name a file that can be read;
//   it is copied into the store. Without `path` only the record is stored. A file whose size or sha256
//   is not its record's (damaged since the export, or by another tool) is left out and counted: its
//   record is stored as one without its file, the way a transfer stores a file the old phone lacks, so
//   one bad photo does not keep the whole history out.
// - the same key twice (contact id, conversation id, media sha256, or message conversation+id): the later
//   line wins; but one sha256 declared with two different sizes is refused.
// - merged with the store as a transfer merges (import-merge.ts): a message the store, or an earlier line,
//   holds a newer version of (recalled, or edited later) keeps it, and a chat's members are never shrunk,
//   so an older export imported after a newer one undoes nothing; nor does it take back names and titles
//   (import-names.ts), which are settled once the whole file is read.
// Any refusal is a FerryError BAD_INPUT "line N: reason" and leaves the store as it was: every row is
// written inside one transaction that is rolled back, and media files are copied only once every line has
// passed (and removed again should the commit still fail). Memory stays bounded by the metadata: messages
// are written in batches, and only references not yet resolved are remembered; contacts and chats are
// held to the end, when what the file shows of each tells which name to write.

export interface ImportOptions {
  /** Directory media `path`s are relative to (default: the file's directory, or the current directory for a stream). */
  baseDir?: string
  /**
   * Media bytes from elsewhere than a `path` (an archive's entries, an export's folder): each is streamed
   * into the store, checked against its sha256 and size, once every line has passed, like `path` files.
   */
  media?: MediaBytes[]
  /**
   * Take a history without a single message (contacts, chats or media records alone). Refused by
   * default: a person importing an export means its chats, and an empty or cut file is no export.
   */
  allowNoMessages?: boolean
  /**
   * Told the sha256 of each media file the import is about to write, one the store did not hold: a
   * process stopped before the import commits removes them (its records never were), as a failed import
   * does itself.
   */
  onMediaWriting?: (sha256: string) => void
  /**
   * The file's chat titles are the person's choice (ferry import --title): written whatever the store
   * holds, where otherwise an older export's title gives way to a newer one's (import-names.ts).
   */
  titlesChosen?: boolean
  /** What the input is called in what the import says (default: the file's path, or "the input" for a stream). */
  inputName?: string
  /**
   * Told each batch of the file's records as the import merges them in (inside its transaction), those
   * the store keeps a newer version of too: what the person now holds by their own doing, which an
   * unverified transfer's undo must leave (KeptWrites).
   */
  onWritten?: (written: WrittenRecords) => void
  /**
   * Awaited once every line passed, inside the import's transaction, before it commits: what must be
   * recorded before the import's rows can be found committed (a crash after the commit must not leave
   * them to an undo that does not know they are the person's).
   */
  beforeCommit?: () => Promise<void>
}

/** A batch of records an import wrote. */
export interface WrittenRecords {
  contacts: readonly Contact[]
  conversations: readonly Conversation[]
  media: readonly MediaRecord[]
  messages: readonly Message[]
}

/** Bytes for a media record, read when the import writes them. */
export interface MediaBytes {
  sha256: string
  size: number
  /** Where they come from, for messages. */
  name: string
  open: () => Promise<AsyncIterable<Uint8Array>>
}

export interface ImportResult {
  contacts: number
  conversations: number
  media: number
  /** Media files copied into the store (files it already held are not copied again). */
  mediaFiles: number
  /**
   * Media files the input names that are not the file their record names (size or sha256), left out:
   * their records are stored without them, as missing. Not counted when the store holds the file.
   */
  mediaFilesDamaged: number
  messages: number
  /**
   * Messages the store held as someone else's that the import wrote as the person's own: an export
   * imported again with `ferry import --me NAME`. Their sender stays a member of the chat only where
   * the file names them one.
   */
  messagesMadeMine: number
  /**
   * Messages the store held that the import wrote with other words (an edit a newer export carries), and
   * those it wrote recalled (deleted since): what an export that adds no message may still change.
   */
  messagesEdited: number
  messagesRecalled: number
  lines: number
}

/** Records written per store call: large enough to amortize, small enough to keep memory flat. */
const BATCH = 4096

function lineError (n: number, reason: string): FerryError {
  return new FerryError(ErrorCode.BAD_INPUT, `line ${n}: ${reason}`, { line: n })
}

/**
 * References to records that may come later in the file: a name resolves when the file provides it or
 * the store already holds it; names still unresolved at the end are errors, reported at their first use.
 */
class References {
  private readonly known = new Set<string>()
  private readonly unresolved = new Map<string, number>()

  constructor (private readonly what: string, private readonly inStore: (name: string) => boolean) {}

  provide (name: string): void {
    this.known.add(name)
    this.unresolved.delete(name)
  }

  use (name: string, line: number): void {
    if (this.known.has(name) || this.unresolved.has(name)) return
    if (this.inStore(name)) this.known.add(name)
    else this.unresolved.set(name, line)
  }

  /** The earliest use of a name that nothing provided, as the error to report. */
  firstUnresolved (): FerryError | undefined {
    let first: [string, number] | undefined
    for (const entry of this.unresolved) if (first === undefined || entry[1] < first[1]) first = entry
    return first === undefined ? undefined : lineError(first[1], `${this.what} ${JSON.stringify(first[0])} is neither in the file nor in the store`)
  }
}

/** Throws the unresolved reference with the lowest line number among all kinds. */
function checkReferences (...refs: References[]): void {
  const errors = refs.map(r => r.firstUnresolved()).filter((e): e is FerryError => e !== undefined)
  errors.sort((a, b) => (a.details?.line as number) - (b.details?.line as number))
  if (errors.length > 0) throw errors[0]
}

interface MediaFile {
  line: number
  path: string
  expect: { sha256: string, size: number }
}

/**
 * Accumulates validated records and writes them to the store (inside the import's transaction): media
 * records and messages in batches, contacts and chats at the end, once the file has shown which of their
 * names to write.
 */
class Batches {
  media: MediaRecord[] = []
  messages: Message[] = []
  private readonly names: ImportNames
  private pending = 0
  readonly madeMine = new MadeMine()
  readonly changed = new ChangedMessages()

  constructor (private readonly store: SqliteChatStore, titlesChosen: boolean, private readonly onWritten?: (written: WrittenRecords) => void) {
    this.names = new ImportNames(titlesChosen)
  }

  contact (c: Contact): void {
    this.names.contact(c)
  }

  conversation (c: Conversation): void {
    this.names.conversation(c)
  }

  message (m: Message): void {
    this.messages.push(m)
    this.names.message(m)
  }

  async added (): Promise<void> {
    if (++this.pending >= BATCH) await this.flush()
  }

  async flush (): Promise<void> {
    if (this.pending === 0) return
    this.store.putMetadata([], [], this.media)
    this.store.putMessages(await mergeMessages(this.store, this.messages, this.madeMine, this.changed))
    this.written({ contacts: [], conversations: [], media: this.media, messages: this.messages })
    this.media = []
    this.messages = []
    this.pending = 0
  }

  /** Writes what is left, the contacts and chats with the names they are to keep. */
  async finish (): Promise<void> {
    await this.flush()
    const { contacts, conversations } = this.names.settle(this.store)
    this.store.putMetadata(contacts, mergeConversations(this.store, conversations, this.madeMine), [])
    this.written({ contacts, conversations, media: [], messages: [] })
  }

  /** Every record the file holds, also one the store kept its newer version or name of: the person imported it. */
  private written (w: WrittenRecords): void {
    if (w.contacts.length + w.conversations.length + w.media.length + w.messages.length > 0) this.onWritten?.(w)
  }
}

/**
 * Why a media file is not the one its record names (undefined when it is). One that cannot be read at
 * all is refused: a wrong --base, a folder left behind, which makes every file missing, and the person
 * is to fix that rather than import a history without its media.
 */
async function checkMediaFile (f: MediaFile): Promise<string | undefined> {
  let size: number
  try {
    size = (await stat(f.path)).size
  } catch (err) {
    throw unreadableMedia(f, err)
  }
  if (size !== f.expect.size) return `has ${size} bytes, the record says ${f.expect.size}`
  let actual
  try {
    actual = await hashFile(f.path)
  } catch (err) {
    throw unreadableMedia(f, err)
  }
  if (actual.sha256 !== f.expect.sha256) return `has sha256 ${actual.sha256}, the record says ${f.expect.sha256}`
  return undefined
}

/** A media file the import cannot read, said with its line and its path (not the NDJSON file's). */
function unreadableMedia (f: MediaFile, err: unknown): FerryError {
  const code = (err as NodeJS.ErrnoException).code
  if (code === 'EACCES' || code === 'EPERM') return lineError(f.line, `media file ${readReason(err, f.path) as string}`)
  return lineError(f.line, `cannot read media file ${f.path}: ${fsReason(err, f.path) ?? code ?? (err as Error).message}`)
}

/** Says a damaged file the import leaves out, for the log: the person is told how many. */
function leaveOut (f: MediaFile, reason: string): void {
  log.error('line %d: media file %s %s: left out, its record stored as missing', f.line, f.path, reason)
}

/** Imports an NDJSON file (a path, or a byte stream) into the store; all or nothing, but for damaged media files (left out). */
export async function importNdjson (store: SqliteChatStore, file: string | AsyncIterable<Uint8Array | string>, options: ImportOptions = {}): Promise<ImportResult> {
  const baseDir = resolve(options.baseDir ?? (typeof file === 'string' ? dirname(resolve(file)) : '.'))
  const input = typeof file === 'string' ? createReadStream(file, { highWaterMark: 1024 * 1024 }) : file
  const added: string[] = []
  let listed = false
  const name = options.inputName ?? (typeof file === 'string' ? file : 'the input')
  try {
    const imported = await store.transactionAsync(async () => {
      const result = await readAll(store, input, baseDir, options.titlesChosen === true, options.onWritten)
      if (result.counts.messages === 0 && options.allowNoMessages !== true) throw noMessages(name, result.counts)
      // Every line passed: only now do media files enter the store. Damaged ones the store holds no
      // good copy of are left out, counted (those it holds lose nothing).
      let damaged = 0
      for (const sha of result.damaged.keys()) if (!result.files.has(sha) && !store.hasMediaFile(sha)) damaged++
      // Listed before the first is written: a process killed before the commit leaves them to the next
      // writer of the store to remove (their records never were).
      store.willAddMedia([...result.files.keys(), ...(options.media ?? []).map(m => m.sha256)].filter(sha => !store.hasMediaFile(sha)))
      listed = true
      for (const f of result.files.values()) {
        if (store.hasMediaFile(f.expect.sha256)) continue
        options.onMediaWriting?.(f.expect.sha256)
        try {
          await store.addMediaFromFile(f.path, f.expect)
        } catch (err) {
          // Changed since it was checked: as damaged as one found so then.
          if (isFerryError(err, ErrorCode.HASH_MISMATCH) || isFerryError(err, ErrorCode.SIZE_MISMATCH)) {
            leaveOut(f, `changed while importing (${err.message})`)
            damaged++
            continue
          }
          throw err
        }
        added.push(f.expect.sha256)
      }
      for (const m of options.media ?? []) {
        if (store.hasMediaFile(m.sha256)) continue
        options.onMediaWriting?.(m.sha256)
        try {
          await store.writeMedia(await m.open(), { sha256: m.sha256, size: m.size })
        } catch (err) {
          if (isFerryError(err, ErrorCode.HASH_MISMATCH) || isFerryError(err, ErrorCode.SIZE_MISMATCH)) {
            throw new FerryError(ErrorCode.BAD_INPUT, `media file ${m.name} changed while importing: ${err.message}`)
          }
          throw err
        }
        added.push(m.sha256)
      }
      await options.beforeCommit?.()
      return { ...result.counts, mediaFiles: added.length, mediaFilesDamaged: damaged }
    })
    // Committed: every file is named by its record, and the list goes.
    settleMedia(store, listed)
    return imported
  } catch (err) {
    // Rolled back: the files it added go, but one a record the store held names (waiting for its file).
    settleMedia(store, listed)
    // The disk alone says nothing of the import: all or nothing, so a person need not look for half of it.
    if (isFerryError(err, ErrorCode.STORE_FULL)) {
      throw new FerryError(err.code, `${err.message}: nothing was imported; free some space and run the same import again`, err.details, { cause: err })
    }
    if (isFerryError(err)) throw err
    // The input itself failed to read (a missing file, a broken pipe): the user's input, not the store.
    throw new FerryError(ErrorCode.BAD_INPUT, `cannot read ${name}: ${(err as Error).message}`, undefined, { cause: err })
  }
}

/**
 * Ends the list of media files an import was adding, once its transaction is settled. Should that fail,
 * the list stays for the next writer to settle (SqliteChatStore.open), and what the import did or why
 * it failed is what is said.
 */
function settleMedia (store: SqliteChatStore, listed: boolean): void {
  if (!listed) return
  try {
    store.settleAddedMedia()
  } catch (err) {
    log.error('cannot settle the media files the import was adding: %s', (err as Error).message)
  }
}

/** An NDJSON history without a message, said with what it did hold. */
function noMessages (name: string, counts: { contacts: number, conversations: number, media: number, lines: number }): FerryError {
  const held = ([[counts.contacts, 'contact'], [counts.conversations, 'conversation'], [counts.media, 'media record']] as const)
    .filter(([n]) => n > 0).map(([n, what]) => `${n} ${what}${n === 1 ? '' : 's'}`)
  return new FerryError(ErrorCode.BAD_INPUT, `no message in ${name} (${held.length === 0 ? 'it is empty' : `only ${held.join(', ')}`}): nothing was imported`)
}

interface ReadFile {
  counts: Omit<ImportResult, 'mediaFiles' | 'mediaFilesDamaged'>
  /** By sha256, the first file that is what its record names. */
  files: Map<string, MediaFile>
  /** By sha256, the first file found damaged. */
  damaged: Map<string, MediaFile>
}

async function readAll (store: SqliteChatStore, input: AsyncIterable<Uint8Array | string>, baseDir: string, titlesChosen: boolean, onWritten?: (written: WrittenRecords) => void): Promise<ReadFile> {
  const counts = { contacts: 0, conversations: 0, media: 0, messages: 0, lines: 0 }
  const conversations = new References('conversation', name => store.hasConversation(name))
  const media = new References('media', name => store.hasMediaRecord(name))
  const files = new Map<string, MediaFile>()
  const damaged = new Map<string, MediaFile>()
  const checked = new Map<string, boolean>() // path + sha256 already checked: whether it is what its record names
  const sizes = new Map<string, { size: number, line: number }>()
  const batches = new Batches(store, titlesChosen, onWritten)
  for await (const { n, text } of readLines(input)) {
    counts.lines = n
    if (text.trim() === '') continue
    let record
    try {
      record = parseLine(text)
    } catch (err) {
      throw isFerryError(err, ErrorCode.BAD_INPUT) ? lineError(n, err.message) : err
    }
    switch (record.type) {
      case 'contact': {
        const { type, ...c } = record
        batches.contact(c)
        counts.contacts++
        break
      }
      case 'conversation': {
        const { type, ...c } = record
        batches.conversation(c)
        conversations.provide(c.id)
        counts.conversations++
        break
      }
      case 'media': {
        const { type, path, ...m } = record
        // A size is a fact of the content its sha256 names: two sizes for one sha256 contradict each other.
        const first = sizes.get(m.sha256)
        if (first !== undefined && first.size !== m.size) {
          throw lineError(n, `media ${m.sha256} has size ${m.size}, but line ${first.line} says ${first.size}`)
        }
        if (first === undefined) sizes.set(m.sha256, { size: m.size, line: n })
        if (path !== undefined) {
          const f = { line: n, path: resolve(baseDir, path), expect: { sha256: m.sha256, size: m.size } }
          const key = f.path + '\0' + m.sha256
          let good = checked.get(key)
          if (good === undefined) {
            const reason = await checkMediaFile(f)
            if (reason !== undefined) leaveOut(f, reason)
            good = reason === undefined
            checked.set(key, good)
          }
          if (!good) { if (!damaged.has(m.sha256)) damaged.set(m.sha256, f) } else if (!files.has(m.sha256)) files.set(m.sha256, f)
        }
        batches.media.push(m)
        media.provide(m.sha256)
        counts.media++
        break
      }
      case 'message': {
        const { type, ...m } = record
        conversations.use(m.conversation, n)
        if (m.media !== undefined) media.use(m.media, n)
        batches.message(m)
        counts.messages++
        break
      }
    }
    await batches.added()
  }
  await batches.finish()
  checkReferences(conversations, media)
  return { counts: { ...counts, messagesMadeMine: batches.madeMine.messages, messagesEdited: batches.changed.edited, messagesRecalled: batches.changed.recalled }, files, damaged }
}
