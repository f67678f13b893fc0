import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import { logger } from '@libp2p/logger'
import { ErrorCode, FerryError } from '../errors.js'
import type { Contact, Conversation, Message, Selection } from '../store/model.js'
import type { HistoryChange, HistorySink } from '../store/history.js'
import { fromJson, jsonValue, type Journal, type JournalOp } from './journal.js'
import { againstStore } from './against-store.js'
import type { KeptWrites } from './kept-writes.js'
import { packItems, readItems, type LogItem } from './log-codec.js'
import { mediaInverse, packMedia, readMedia, type MediaPriors } from './media-log.js'
import { dropReadBackBases, ReadBackBases } from './read-back-bases.js'
import { MessageBases } from './message-bases.js'
import { MessageDigests } from './message-digests.js'
import { batchLanded, freshCounts, type TransferCounts } from './transfer-counts.js'
import type { StillAsWritten } from './still-as-written.js'

const log = logger('ferry:journal')

// A receiver's record of each incoming transfer, and the undo log of what an unverified transfer wrote.
//
// Every batch is logged before it is written (write-ahead): its keys, and the version of every message it
// replaces; so are the manifest's contacts, conversations and media records. Verification drops the log:
// what a verified transfer wrote is the phone's history, and no later failure takes it back. A refusal replays the log backwards, so the store is as it was before the
// transfer's unverified sessions, whatever other transfers or the app itself wrote meanwhile elsewhere.
// Only what is still as the transfer wrote it is taken back: each message is logged with a digest of
// the encoding written (LogItem.written), each contact and chat with one of what it wrote of it, and one
// the person, the app or an import changed or deleted since stays as they left it (a recall must never
// be undone into the message coming back, nor a chat's new name into the old one).
// One transfer at a time may be unverified: opening another first undoes it (it is the old phone's data,
// never verified here, and the next transfer fetches it again if it is still wanted).
//
// A restore (ReceiverInit.restoring) is logged the same way, for its own refusal and its read-back, but
// what it wrote is the person's from the moment it is written: they chose the file, and a restore that
// stopped part-way (a damaged copy, Ctrl-C, a kill) never verifies, yet promises that what it restored
// stays. Opening anything else first forgets its log instead of undoing it; only a restore that refused
// its file is still taken back (by itself, or by the next open when a crash cut that undo short). Run
// again over the same file, it carries on its own log as before.

export interface TransferRecord {
  transferId: string
  sourceId: string
  selection: Selection
  /** refused: its undo began (a crash before it ended leaves this, and the next open finishes it). */
  state: 'receiving' | 'refused' | 'verified'
  /** Written by a restore: left unverified, its writes are kept, not undone (see above). Absent: a transfer. */
  restore?: true
  /** Number of the next undo entry. */
  seq: number
  /** First undo entry of the current session: what it wrote is what it reads back to verify. */
  sessionSeq: number
  sessions: number
  /** Messages stored (new or replaced) since the last verification. */
  written: number
  /**
   * What the transfer brought and found over all its sessions since it was last verified; absent in a
   * record begun before they were kept (its stats then cover the last session only).
   */
  counts?: TransferCounts
  /**
   * The undo entry of the media records put back for a moment to see which a message refers to
   * (MediaIntake.verifyPresent), while their removal is to come: a process killed between the two
   * leaves records of files the person deleted, which the next session would take for files wanted and
   * fetch. That session finishes the removal first (finishPutBack). Logged with the entry, in one write.
   */
  putBack?: number
  startedAt: number
  updatedAt: number
  verifiedAt?: number
}

/** What this phone verified from one old phone (TransferLog.verifiedFrom). */
export interface VerifiedFrom {
  selections: Selection[]
  lastAt?: number
}

/** The later of `at` and when `r` was last verified, by this phone's clock; a restore's does not count. */
export function latestVerification (at: number | undefined, r: TransferRecord): number | undefined {
  if (r.restore === true || typeof r.verifiedAt !== 'number') return at
  return at === undefined ? r.verifiedAt : Math.max(at, r.verifiedAt)
}

/**
 * What else a verification counts (TransferStats says what each is), kept with it so that a phone
 * restarted before the old phone heard reports it as the receive did (a damaged file's warning, what
 * stayed deleted). Absent in a journal written before they were kept: left out of the stats, not zero.
 */
export const VERIFIED_COUNTS = ['mediaFilesDamaged', 'mediaFilesMissing', 'messagesKept', 'namesKept', 'messagesLeftDeleted', 'chatsLeftDeleted', 'contactsLeftDeleted', 'mediaLeftDeleted'] as const

/**
 * What the last verified transfer verified, kept with its verification: a phone stopped before it could
 * say so (killed once the old phone had heard) says it when it starts again (FerryService.receive).
 */
export interface VerifiedOutcome extends Partial<Record<typeof VERIFIED_COUNTS[number], number>> {
  transferId: string
  verifiedAt: number
  summary: Array<{ id: string, title: string, messages: number }>
  totalMessages: number
  totalMediaBytes: number
  messagesReceived: number
  messagesHeld: number
  mediaFilesReceived: number
  mediaBytesReceived: number
  mediaFilesHeld: number
  /** The counts above are the last session's: the transfer began before whole transfers were counted (TransferStats.lastSessionOnly). */
  lastSessionOnly?: boolean
}

interface MetadataPriors {
  contacts: Contact[]
  conversations: Conversation[]
  newContacts: string[]
  newConversations: string[]
  /**
   * [id, hex digest] of each contact and chat the entry wrote, as NameDigests gives them. Absent in
   * entries written before it was kept, which undo as they did, whatever the store holds.
   */
  written?: { contacts: Array<[string, string]>, conversations: Array<[string, string]> }
}


/** The digest (the protocol's storedDigest) of each contact and chat a manifest writes, by id. */
export interface NameDigests {
  contacts: ReadonlyMap<string, Uint8Array>
  conversations: ReadonlyMap<string, Uint8Array>
}

const RECORDS = 't/'
/** The last VerifiedOutcome: one key, outside the records' prefix. */
const LAST_VERIFIED = 'verified'
const entryPrefix = (tid: string): string => `u/${tid}/`
const entryKey = (tid: string, seq: number): string => `${entryPrefix(tid)}${String(seq).padStart(12, '0')}`
const MESSAGES = 0x6d // 'm'
const METADATA = 0x63 // 'c'
const MEDIA = 0x66 // 'f'

function tagged (tag: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.byteLength + 1)
  out[0] = tag
  out.set(body, 1)
  return out
}


/** The check of a log made without one: enough to undo entries that keep no digests. */
const cannotCheck: StillAsWritten = () => {
  throw new FerryError(ErrorCode.INTERNAL, 'an undo with no way to digest what the store holds')
}

export class TransferLog {
  private readonly asWritten: StillAsWritten

  /** `asWritten`: needed to undo, once an entry keeps digests; reading records needs none. */
  constructor (private readonly journal: Journal, asWritten?: StillAsWritten) {
    this.asWritten = asWritten ?? cannotCheck
  }

  /** Transfers not verified (yet or since they were received again). */
  async unfinished (): Promise<TransferRecord[]> {
    const out: TransferRecord[] = []
    for await (const [, v] of this.journal.list(RECORDS)) {
      const r = fromJson<TransferRecord>(v) as TransferRecord
      if (r.state !== 'verified') out.push(r)
    }
    return out
  }

  async get (transferId: Uint8Array): Promise<TransferRecord | undefined> {
    return fromJson<TransferRecord>(await this.journal.get(RECORDS + bytesToHex(transferId)))
  }

  /**
   * Starts a session of the transfer `transferId` (`restore`: of a restore of a backup), first undoing
   * any other transfer left unverified and forgetting any other restore (undoBefore). A transfer that was
   * verified and is received again starts a new log: its earlier writes are history. `mediaHeld`: the
   * manifest's files this phone holds now, what a transfer's first session counts as held before it
   * (TransferCounts).
   */
  async open (transferId: Uint8Array, sourceId: string, selection: Selection, sink: HistorySink,
    { restore = false, mediaHeld = { files: 0, bytes: 0 } }: { restore?: boolean, mediaHeld?: { files: number, bytes: number } } = {}): Promise<TransferRecord> {
    const tid = bytesToHex(transferId)
    await this.undoBefore(transferId, sink, { restore })
    const now = Date.now()
    const found = fromJson<TransferRecord>(await this.journal.get(RECORDS + tid))
    const rec: TransferRecord = found ?? { transferId: tid, sourceId, selection, state: 'receiving', seq: 0, sessionSeq: 0, sessions: 0, written: 0, startedAt: now, updatedAt: now }
    if (found === undefined || rec.state === 'verified') {
      rec.state = 'receiving'
      rec.written = 0
      rec.counts = freshCounts(rec.seq, mediaHeld)
    } else if (rec.counts !== undefined) {
      await this.settle(rec, sink)
    }
    // Its log is empty here, unless it is this kind's own (undoBefore): the record takes the kind of its session.
    if (restore) rec.restore = true
    else delete rec.restore
    rec.sessionSeq = rec.seq
    rec.sessions++
    rec.updatedAt = now
    await this.save(rec)
    return rec
  }

  /**
   * What goes before a session of `transferId` (`restore`: a restore's) begins: every other transfer
   * left unverified is undone and forgotten, every other restore left unverified only forgotten (what it
   * wrote stays), and an undo of its own that a crash cut short is finished. A transfer and a restore of
   * the same chats of the same phone share their id, never their log: each is the other's "other". The
   * receiver calls it as soon as a manifest names the transfer, before it counts what this phone holds:
   * an undo takes back the media files its transfer brought.
   */
  async undoBefore (transferId: Uint8Array, sink: HistorySink, { restore = false }: { restore?: boolean } = {}): Promise<void> {
    const tid = bytesToHex(transferId)
    for (const r of await this.unfinished()) {
      if (r.transferId === tid && (r.restore === true) === restore) {
        if (r.state !== 'refused') continue
        log('finishing the undo of refused transfer %s', tid)
        await this.undo(r, sink)
        continue
      }
      if (r.restore === true && r.state !== 'refused') {
        log('keeping what unverified restore %s wrote before %s', r.transferId, tid)
        await this.journal.write([{ prefix: entryPrefix(r.transferId) }, dropReadBackBases(r.transferId), { key: RECORDS + r.transferId }])
        continue
      }
      log('undoing unverified transfer %s before %s', r.transferId, tid)
      if (r.state !== 'refused') await this.keepChangedHere(r, sink)
      await this.undo(r, sink)
      await this.journal.write([dropReadBackBases(r.transferId), { key: RECORDS + r.transferId }])
    }
  }

  /**
   * How many of `keys` the transfer `rec` wrote (added or replaced) since it was last verified: one pass
   * over its log, looked up in the keys, which are few (the messages the person changed meanwhile).
   */
  async wroteOf (rec: TransferRecord, keys: ReadonlyArray<{ conversation: string, id: string }>): Promise<number> {
    if (keys.length === 0) return 0
    const wanted = new Set(keys.map(k => `${k.conversation}\u0000${k.id}`))
    let n = 0
    for await (const [, v] of this.journal.list(entryPrefix(rec.transferId))) {
      if (v[0] !== MESSAGES) continue
      for (const it of readItems(v.subarray(1))) {
        if (it.flag === 'held' || !wanted.delete(`${it.conversation}\u0000${it.id}`)) continue
        n++
      }
      if (wanted.size === 0) break
    }
    return n
  }

  /**
   * Before another transfer takes `rec` back: the messages it brought that the person changed or deleted
   * once the chats were ready (its read-back read them, and the store no longer holds them as written)
   * are theirs, and the undo leaves them so. The old phone still holds its version, which the next
   * transfer from it sends again; without a base it would come as new, and a message deleted here would
   * come back. So their digests, the old phone's version as this transfer's read-back took it, join the
   * message bases of that old phone and this store, as a verification's read-back does
   * (message-bases.ts): the next transfer keeps this phone's version, or its absence, unless the old
   * phone changed the message since. Written before the undo, whose end drops the read-back bases; a
   * union, so a kill in between is finished by the next take-back.
   */
  private async keepChangedHere (rec: TransferRecord, sink: HistorySink): Promise<void> {
    if (this.asWritten === cannotCheck) return
    const readBack = this.readBackBases(rec)
    const bases = MessageBases.forPair(this.journal, rec.sourceId, sink.historyId)
    const changed = new Map<string, Uint8Array[]>()
    const batches = async function * (journal: Journal): AsyncGenerator<LogItem[]> {
      for await (const [, v] of journal.list(entryPrefix(rec.transferId))) if (v[0] === MESSAGES) yield [...undoable(v)]
    }
    let read: { conversation: string, digests: MessageDigests } | undefined
    for await (const run of againstStore(sink, batches(this.journal), this.asWritten, true)) {
      for (const { item, asWritten } of run) {
        if (asWritten || item.written === undefined) continue
        if (read?.conversation !== item.conversation) read = { conversation: item.conversation, digests: await readBack.of(item.conversation) }
        if (!read.digests.has(item.written)) continue
        const list = changed.get(item.conversation) ?? []
        list.push(item.written)
        changed.set(item.conversation, list)
      }
    }
    const ops: JournalOp[] = []
    for (const [conversation, digests] of changed) {
      const collect = MessageDigests.collector()
      for (const d of digests) collect.add(d)
      ops.push(...await bases.join(conversation, collect.done()))
    }
    if (ops.length === 0) return
    await this.journal.write(ops)
    log('transfer %s: %d conversations keep what the person changed of it once the chats were ready', rec.transferId, changed.size)
  }

  /**
   * A resumed session: batches logged since the last look whose process died before the store committed
   * them are not counted (they come again, and count then). The store commits batches in the order they
   * were logged, so the newest batch found there ends the look: every one before it is there too.
   */
  private async settle (rec: TransferRecord, sink: HistorySink): Promise<void> {
    const counts = rec.counts as TransferCounts
    // A log made without a check (it only reads records, or undoes digest-free entries) cannot look.
    for (let seq = rec.seq - 1; seq >= counts.unsettledSeq && this.asWritten !== cannotCheck; seq--) {
      const v = await this.journal.get(entryKey(rec.transferId, seq))
      if (v === undefined || v[0] !== MESSAGES) continue
      const written = [...readItems(v.subarray(1))].filter(it => it.flag !== 'held')
      if (written.length === 0) continue
      if (await batchLanded(written, sink, this.asWritten)) break
      log('transfer %s: %d messages logged in entry %d never reached the store', rec.transferId, written.length, seq)
      counts.messagesWritten = Math.max(0, counts.messagesWritten - written.length)
    }
    counts.unsettledSeq = rec.seq
  }

  private async save (rec: TransferRecord, entry?: Uint8Array): Promise<void> {
    const ops = [{ key: RECORDS + rec.transferId, value: jsonValue(rec) }]
    if (entry !== undefined) ops.unshift({ key: entryKey(rec.transferId, rec.seq - 1), value: entry })
    await this.journal.write(ops)
  }

  /** What the transfer's read-backs read, the base its later sessions keep this phone's changes by. */
  readBackBases (rec: TransferRecord): ReadBackBases {
    return new ReadBackBases(this.journal, rec.transferId)
  }

  /** Logs a batch before it is written. */
  async logItems (rec: TransferRecord, items: LogItem[]): Promise<void> {
    if (items.length === 0) return
    rec.seq++
    let written = 0
    for (const it of items) if (it.flag !== 'held') written++
    rec.written += written
    // Counted in the entry's own write: a kill cannot keep one without the other.
    if (rec.counts !== undefined) rec.counts.messagesWritten += written
    rec.updatedAt = Date.now()
    await this.save(rec, tagged(MESSAGES, packItems(items)))
  }

  /**
   * Logs the contacts and conversations a manifest is about to replace or add, with `written`, the
   * digest of each as it writes it.
   */
  async logMetadata (rec: TransferRecord, priors: Omit<MetadataPriors, 'written'>, written: NameDigests): Promise<void> {
    if (priors.contacts.length + priors.conversations.length + priors.newContacts.length + priors.newConversations.length === 0) return
    rec.seq++
    const hex = (m: ReadonlyMap<string, Uint8Array>): Array<[string, string]> => [...m].map(([id, d]) => [id, bytesToHex(d)])
    const entry: MetadataPriors = { ...priors, written: { contacts: hex(written.contacts), conversations: hex(written.conversations) } }
    await this.save(rec, tagged(METADATA, jsonValue(entry)))
  }

  /**
   * The contacts and chats the newest entry logged (logMetadata) did not read back as written: a store
   * that dropped or mangled them, not a person who renamed them. The entry forgets its digests, so the
   * undo puts back every one of them whatever the store holds.
   */
  async namesMisstored (rec: TransferRecord): Promise<void> {
    const key = entryKey(rec.transferId, rec.seq - 1)
    const v = await this.journal.get(key)
    if (v === undefined || v[0] !== METADATA) return
    const { written: _, ...priors } = fromJson<MetadataPriors>(v.subarray(1)) as MetadataPriors
    await this.journal.write([{ key, value: tagged(METADATA, jsonValue(priors)) }])
  }

  /** Logs the media records a manifest is about to add or replace. */
  async logMedia (rec: TransferRecord, priors: MediaPriors): Promise<void> {
    if (priors.added.length + priors.replaced.length === 0) return
    rec.seq++
    await this.save(rec, tagged(MEDIA, packMedia(priors)))
  }

  /** Logs the media records about to be put back for a moment, and that their removal is to come. */
  async logPutBack (rec: TransferRecord, added: string[]): Promise<void> {
    if (added.length === 0) return
    rec.putBack = rec.seq
    await this.logMedia(rec, { added, replaced: [] })
  }

  /** The records put back are removed again (but for those a message refers to, which the store keeps). */
  async putBackRemoved (rec: TransferRecord): Promise<void> {
    if (rec.putBack === undefined) return
    delete rec.putBack
    await this.save(rec)
  }

  /**
   * Before a session of `transferId` counts what this phone holds: a removal of put-back records that a
   * crash cut short (TransferRecord.putBack) is done now, as verifyPresent would have done it. The store
   * keeps those a message refers to, whose files are then wanted; the rest are as the person left them.
   * Done again after a crash, it removes nothing more.
   */
  async finishPutBack (transferId: Uint8Array, sink: HistorySink): Promise<void> {
    const rec = await this.get(transferId)
    if (rec?.putBack === undefined || rec.state !== 'receiving') return
    const v = await this.journal.get(entryKey(rec.transferId, rec.putBack))
    if (v !== undefined && v[0] === MEDIA) {
      const { added } = readMedia(v.subarray(1))
      log('transfer %s: %d media records put back before a crash are removed again', rec.transferId, added.length)
      await sink.commit({ remove: { media: added } })
    }
    await this.putBackRemoved(rec)
  }

  /**
   * The sha256s of the media records the unverified transfer `transferId` (hex) added before it wrote
   * any message: its manifest's, stored as its first session began. Only those known to have reached
   * the store: each entry is logged before its change commits, and the next only once it has, so an
   * entry the log goes on after was committed; erring that way a file comes again, never stays out.
   * The look ends at the first batch of messages, a few entries however long the log (mediaAddedEarlier
   * reads every earlier session's, and names what was logged whether it committed or not).
   */
  async * manifestMediaAdded (transferId: string): AsyncGenerator<string> {
    let before: string[] = []
    for await (const [, v] of this.journal.list(entryPrefix(transferId))) {
      yield * before
      if (v[0] === MESSAGES) return
      before = v[0] === MEDIA ? readMedia(v.subarray(1)).added : []
    }
  }

  /**
   * What the current session wrote, in the order it wrote it: one logged batch per await, its items
   * decoded as they are taken (a verification walks every key; an await per key cost more than the
   * hashing, and a batch decoded at once lived long enough to be promoted out of the young generation).
   */
  async * sessionItems (rec: TransferRecord): AsyncGenerator<Iterable<LogItem>> {
    const from = entryKey(rec.transferId, rec.sessionSeq)
    for await (const [k, v] of this.journal.list(entryPrefix(rec.transferId))) {
      if (k < from || v[0] !== MESSAGES) continue
      yield readItems(v.subarray(1))
    }
  }

  /**
   * The sha256s of the media records the transfer's earlier sessions added (since it was last verified),
   * an undo entry at a time, each `late` once messages had been written before it: those are of files
   * its manifest's records left out as deleted here, claimed by a message or sent all the same, and those
   * put back to find which a message refers to (MediaIntake.verifyPresent); also a later session's
   * manifest records, which the caller tells apart.
   */
  async * mediaAddedEarlier (rec: TransferRecord): AsyncGenerator<{ added: string[], late: boolean }> {
    if (rec.sessionSeq === 0) return
    const to = entryKey(rec.transferId, rec.sessionSeq)
    let late = false
    for await (const [k, v] of this.journal.list(entryPrefix(rec.transferId))) {
      if (k >= to) return
      if (v[0] === MESSAGES) late = true
      else if (v[0] === MEDIA) yield { added: readMedia(v.subarray(1)).added, late }
    }
  }

  /**
   * Verified: the log goes, and with it any way to take the transfer back. What it verified is kept
   * (lastVerified), in the same write, and so are `also`: what holds only once the transfer is verified
   * (name-bases.ts). Its read-back bases stay, for the message bases to take (`also` says so:
   * MessageBases.adopt).
   */
  async verified (rec: TransferRecord, outcome: Omit<VerifiedOutcome, 'transferId' | 'verifiedAt'>, also: JournalOp[] = []): Promise<void> {
    rec.state = 'verified'
    delete rec.putBack
    rec.verifiedAt = rec.updatedAt = Date.now()
    rec.written = 0
    rec.sessionSeq = rec.seq
    const last: VerifiedOutcome = { ...outcome, transferId: rec.transferId, verifiedAt: rec.verifiedAt }
    await this.journal.write([
      { prefix: entryPrefix(rec.transferId) },
      { key: RECORDS + rec.transferId, value: jsonValue(rec) },
      { key: LAST_VERIFIED, value: jsonValue(last) },
      ...also
    ])
  }

  /**
   * What this phone verified from the old phone `sourceId`. `selections`: those of its transfers verified
   * here (each record keeps its last one's), what of the old phone's history their verifications read
   * back into the message bases; a transfer received again and not yet verified is not among them.
   * `lastAt`: when, by this phone's clock, a transfer from it was last verified (one received again
   * since too: it was verified then). A restore's is left out: the backup it read is older than that.
   */
  async verifiedFrom (sourceId: string): Promise<VerifiedFrom> {
    const out: VerifiedFrom = { selections: [] }
    for await (const [, v] of this.journal.list(RECORDS)) {
      const r = fromJson<TransferRecord>(v)
      if (r?.sourceId !== sourceId) continue
      if (r.state === 'verified' && typeof r.selection === 'object' && r.selection !== null) out.selections.push(r.selection)
      out.lastAt = latestVerification(out.lastAt, r)
    }
    return out
  }

  /** What the last verified transfer verified (none before a transfer verified here). */
  async lastVerified (): Promise<VerifiedOutcome | undefined> {
    const last = fromJson<VerifiedOutcome>(await this.journal.get(LAST_VERIFIED))
    return typeof last?.verifiedAt === 'number' && Array.isArray(last.summary) ? last : undefined
  }

  /**
   * Takes back everything the transfer wrote since it was last verified, newest first: messages it added
   * are removed, those it replaced put back (each only while it is still as the transfer wrote it), and
   * the same for contacts and conversations (a conversation it added stays while a message is left in
   * it, or once renamed here); media records
   * last (undoMedia). Each entry is dropped once undone, so an undo cut short by a crash carries on where
   * it stopped.
   */
  async undo (rec: TransferRecord, sink: HistorySink): Promise<void> {
    if (rec.state !== 'refused') {
      rec.state = 'refused'
      await this.save(rec)
    }
    const keys: string[] = []
    for await (const [k] of this.journal.list(entryPrefix(rec.transferId))) keys.push(k)
    const media: Array<[string, Uint8Array]> = []
    for (const k of keys.reverse()) {
      const v = await this.journal.get(k)
      if (v === undefined) continue
      if (v[0] === MEDIA) { media.push([k, v]); continue }
      await sink.commit(v[0] === METADATA ? await metadataInverse(v, sink, this.asWritten) : await inverseOf(v, sink, this.asWritten))
      await this.journal.write([{ key: k }])
    }
    await this.undoMedia(media, sink)
    rec.state = 'receiving'
    rec.written = 0
    // Everything it wrote is taken back; what this phone held before it is as it was.
    if (rec.counts !== undefined) rec.counts = { ...rec.counts, messagesWritten: 0, unsettledSeq: rec.seq }
    rec.sessionSeq = rec.seq
    rec.updatedAt = Date.now()
    // What its read-backs read was taken back too: the next session brings it again (read-back-bases.ts).
    await this.journal.write([dropReadBackBases(rec.transferId), { key: RECORDS + rec.transferId, value: jsonValue(rec) }])
  }

  /**
   * What the person wrote over unverified transfers' writes by their own doing (an import) is theirs:
   * every unfinished transfer's log forgets those keys, so no undo takes them back, even where they hold
   * exactly what the transfer wrote. Entry by entry, as an undo reads them; each rewrite stands alone.
   */
  async keep (kept: KeptWrites): Promise<void> {
    if (kept.empty) return
    for (const r of await this.unfinished()) {
      const keys: string[] = []
      for await (const [k] of this.journal.list(entryPrefix(r.transferId))) keys.push(k)
      let forgotten = 0
      for (const k of keys) {
        const v = await this.journal.get(k)
        if (v === undefined) continue
        const rest = without(v, kept)
        if (rest === v) continue
        forgotten++
        await this.journal.write([rest === undefined ? { key: k } : { key: k, value: rest }])
      }
      if (forgotten > 0) log('%d undo entries of transfer %s leave what was written over them', forgotten, r.transferId)
    }
  }

  /**
   * The media entries (newest first), once every message the transfer wrote is gone: a record it added
   * stays only if a message it did not write refers to it (the store checks that as it removes it,
   * HistoryChange.remove.media). One change for all of them, as the store reads every message for that
   * check; a crash before their keys are dropped applies it again, to the same end.
   */
  private async undoMedia (entries: Array<[string, Uint8Array]>, sink: HistorySink): Promise<void> {
    if (entries.length === 0) return
    const change = mediaInverse(entries.map(([, v]) => readMedia(v.subarray(1))))
    if (change !== undefined) await sink.commit(change)
    await this.journal.write(entries.map(([key]) => ({ key })))
  }
}

/**
 * The contacts and conversations a manifest added go, and those it replaced come back, each only while
 * the store still holds it as the manifest wrote it: a name the person or the app changed since is theirs,
 * and so is a deletion. A conversation it added that stays (renamed here, or still holding messages once
 * the transfer's are undone: the app's own, a reply written while the transfer ran) keeps its members
 * too, or its messages would lose their chat and its people.
 */
async function metadataInverse (entry: Uint8Array, sink: HistorySink, asWritten: StillAsWritten): Promise<HistoryChange> {
  const p = fromJson<MetadataPriors>(entry.subarray(1)) as MetadataPriors
  const untouched = await namesAsWritten(p, sink, asWritten)
  const kept = new Set<string>()
  for (const id of p.newConversations) {
    if (!untouched('conversation', id) || (await sink.messages(id, undefined, 1)).length > 0) kept.add(id)
  }
  const members = new Set<string>()
  if (kept.size > 0) {
    for (const c of await sink.conversations()) if (kept.has(c.conversation.id)) for (const m of c.conversation.members) members.add(m)
  }
  return {
    contacts: p.contacts.filter(c => untouched('contact', c.id)),
    conversations: p.conversations.filter(c => untouched('conversation', c.id)),
    remove: {
      contacts: p.newContacts.filter(id => !members.has(id) && untouched('contact', id)),
      conversations: p.newConversations.filter(id => !kept.has(id))
    }
  }
}

/**
 * Whether the store still holds a contact or chat of the entry `p` as it was written; always true for
 * one logged without a digest (an entry from before they were kept). One read of each list, and none
 * when the entry names no such record.
 */
async function namesAsWritten (p: MetadataPriors, sink: HistorySink, asWritten: StillAsWritten): Promise<(what: 'contact' | 'conversation', id: string) => boolean> {
  if (p.written === undefined) return () => true
  const digests = { contact: digestsOf(p.written.contacts), conversation: digestsOf(p.written.conversations) }
  const contacts = digests.contact.size === 0 ? new Map<string, Contact>() : new Map((await sink.contacts()).map(c => [c.id, c]))
  const conversations = digests.conversation.size === 0 ? new Map<string, Conversation>() : new Map((await sink.conversations()).map(c => [c.conversation.id, c.conversation]))
  return (what, id) => {
    const written = digests[what].get(id)
    if (written === undefined) return true
    return what === 'contact' ? asWritten('contact', contacts.get(id), written) : asWritten('conversation', conversations.get(id), written)
  }
}

function digestsOf (pairs: unknown): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>()
  if (!Array.isArray(pairs)) throw damaged()
  for (const pair of pairs) {
    if (!Array.isArray(pair) || typeof pair[0] !== 'string' || typeof pair[1] !== 'string' || !/^[0-9a-f]*$/.test(pair[1]) || pair[1].length % 2 !== 0) throw damaged()
    out.set(pair[0], hexToBytes(pair[1]))
  }
  return out
}

const damaged = (): FerryError => new FerryError(ErrorCode.STORE, 'the journal holds a damaged undo entry')

/** An undo entry without what `kept` names: itself when it names none of it, undefined when nothing is left. */
function without (entry: Uint8Array, kept: KeptWrites): Uint8Array | undefined {
  if (entry[0] === MESSAGES) {
    const items = [...readItems(entry.subarray(1))]
    const left = items.filter(it => !kept.hasMessage(it.conversation, it.id))
    if (left.length === items.length) return entry
    return left.length === 0 ? undefined : tagged(MESSAGES, packItems(left))
  }
  if (entry[0] === METADATA) {
    const p = fromJson<MetadataPriors>(entry.subarray(1)) as MetadataPriors
    const left: MetadataPriors = {
      ...p,
      contacts: p.contacts.filter(c => !kept.contacts.has(c.id)),
      conversations: p.conversations.filter(c => !kept.conversations.has(c.id)),
      newContacts: p.newContacts.filter(id => !kept.contacts.has(id)),
      newConversations: p.newConversations.filter(id => !kept.conversations.has(id))
    }
    const n = (q: MetadataPriors): number => q.contacts.length + q.conversations.length + q.newContacts.length + q.newConversations.length
    if (n(left) === n(p)) return entry
    return n(left) === 0 ? undefined : tagged(METADATA, jsonValue(left))
  }
  const p = readMedia(entry.subarray(1))
  const left: MediaPriors = { added: p.added.filter(sha => !kept.media.has(sha)), replaced: p.replaced.filter(r => !kept.media.has(r.sha256)) }
  if (left.added.length + left.replaced.length === p.added.length + p.replaced.length) return entry
  return left.added.length + left.replaced.length === 0 ? undefined : tagged(MEDIA, packMedia(left))
}

/**
 * What takes back one logged batch: a message it added is removed, one it replaced put back; where the
 * item keeps the digest of what was written, only while the store still holds exactly that (deleted or
 * changed since, by the person, the app, an import or another transfer, it is theirs).
 */
async function inverseOf (entry: Uint8Array, sink: HistorySink, asWritten: StillAsWritten): Promise<HistoryChange> {
  const remove: Array<{ conversation: string, id: string }> = []
  const messages: Message[] = []
  for await (const run of againstStore(sink, [undoable(entry)], asWritten, true)) {
    for (const c of run) if (c.asWritten) undoItem(c.item, remove, messages)
  }
  return { messages, remove: { messages: remove } }
}

/** The items of a logged batch that wrote something (a held one wrote nothing). */
function * undoable (entry: Uint8Array): Generator<LogItem> {
  for (const it of readItems(entry.subarray(1))) if (it.flag !== 'held' && (it.flag !== 'prior' || it.prior !== undefined)) yield it
}

function undoItem (it: LogItem, remove: Array<{ conversation: string, id: string }>, messages: Message[]): void {
  if (it.flag === 'new') remove.push({ conversation: it.conversation, id: it.id })
  else if (it.prior !== undefined) messages.push(it.prior)
}
