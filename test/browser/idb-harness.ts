// Bundled for Chromium by idb-history.test.ts: the page's IndexedDB store and journal, driven from Node
// through page.evaluate. The sending phone is an app's history kept in memory (MemorySource, a real
// HistorySource over arrays) and the real SenderMachine; the receiving phone is the real ReceiverMachine
// over IdbHistoryStore and IdbJournal, across an in-memory pipe.
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { isFerryError } from '../../src/errors.js'
import { ReceiverMachine } from '../../src/protocol/receiver.js'
import { SenderMachine } from '../../src/protocol/sender.js'
import { runReceiver, runSender } from '../../src/protocol/session.js'
import type { ConversationInfo, HistoryChange, HistorySource, MessagePosition, StoredMedia } from '../../src/store/history.js'
import { comparePositions, compareStrings, type Contact, type Conversation, type MediaRecord, type Message } from '../../src/store/model.js'
import { memoryPipe } from '../../src/wire/memory-duplex.js'
import type { TransferOptions } from '../../src/protocol/options.js'
import { exportNdjsonText, mediaDigests } from '../../src/web/export.js'
import { IdbHistoryStore, type StoreStats } from '../../src/web/idb-history.js'
import { IdbJournal } from '../../src/web/idb-journal.js'
import { openFerryDb } from '../../src/web/idb.js'
import { orderKey } from '../../src/web/id-keys.js'
import { createTabLock, type HeldLock, type LockKind } from '../../src/web/tab-lock.js'
import { explain } from '../../src/web/pair-input.js'
import type { ByteDuplex } from '../../src/wire/duplex.js'

/** A media file of the test history: its bytes are made from `seed`. */
export interface MediaSpec { seed: string, size: number, mime: string }

export interface HistorySpec {
  contacts: Contact[]
  conversations: Conversation[]
  messages: Message[]
  media: MediaSpec[]
}

/** Deterministic bytes (xorshift32 seeded from the string). */
function bytesOf (seed: string, size: number): Uint8Array {
  let x = 2166136261
  for (let i = 0; i < seed.length; i++) x = Math.imul(x ^ seed.charCodeAt(i), 16777619)
  const out = new Uint8Array(size)
  for (let i = 0; i < size; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

export function mediaOf (spec: MediaSpec): { sha256: string, size: number, mime: string, bytes: Uint8Array } {
  const bytes = bytesOf(spec.seed, spec.size)
  return { sha256: bytesToHex(sha256(bytes)), size: spec.size, mime: spec.mime, bytes }
}

class MemorySource implements HistorySource {
  readonly historyId: string
  private readonly files: Array<{ sha256: string, size: number, mime: string, bytes: Uint8Array }>

  constructor (id: string, private readonly spec: HistorySpec, readonly formerIds: string[] = []) {
    this.historyId = id
    this.files = spec.media.map(mediaOf).sort((a, b) => compareStrings(a.sha256, b.sha256))
  }

  async conversations (): Promise<ConversationInfo[]> {
    return this.spec.conversations.map(c => ({ conversation: c, messages: this.spec.messages.filter(m => m.conversation === c.id).length }))
  }

  async contacts (): Promise<Contact[]> {
    return this.spec.contacts
  }

  async media (after: string | undefined, limit: number): Promise<StoredMedia[]> {
    return this.files.filter(f => after === undefined || compareStrings(f.sha256, after) > 0).slice(0, limit).map(f => ({ sha256: f.sha256, size: f.size, mime: f.mime, stored: true }))
  }

  async messages (conversation: string, after: MessagePosition | undefined, limit: number): Promise<Message[]> {
    return this.spec.messages.filter(m => m.conversation === conversation && (after === undefined || comparePositions(m, after) > 0))
      .sort(comparePositions).slice(0, limit)
  }

  async readMedia (sha: string, offset: number, length: number): Promise<Uint8Array> {
    const f = this.files.find(x => x.sha256 === sha)
    if (f === undefined) throw new Error(`no media ${sha}`)
    return f.bytes.slice(offset, offset + length)
  }
}

/** Bytes put into the `chunks` store so far, by anyone: what the database was asked to write of media. */
let chunkBytesPut = 0
/** The transaction that writes pages which fails after its first write (a disk error, a full quota), counting down. */
let failPagesIn = 0
const failing = new WeakSet<IDBTransaction>()
const seen = new WeakSet<IDBTransaction>()
const put = IDBObjectStore.prototype.put
IDBObjectStore.prototype.put = function (this: IDBObjectStore, value: unknown, key?: IDBValidKey) {
  if (this.name === 'chunks' && value instanceof Uint8Array) chunkBytesPut += value.byteLength
  const r = put.call(this, value, key)
  const tx = this.transaction
  if (this.name === 'pages' && !seen.has(tx)) {
    seen.add(tx)
    if (failPagesIn > 0 && --failPagesIn === 0) {
      failing.add(tx)
      r.addEventListener('success', () => { tx.abort() })
    }
  }
  return r
}

interface Phone { db: IDBDatabase, store: IdbHistoryStore, journal: IdbJournal }
const phones = new Map<string, Phone>()

async function phone (name: string): Promise<Phone> {
  let p = phones.get(name)
  if (p === undefined) {
    const db = await openFerryDb(name)
    p = { db, store: await IdbHistoryStore.open(db), journal: new IdbJournal(db) }
    phones.set(name, p)
  }
  return p
}

export interface TransferOutcome {
  state: string
  error?: { code: string, message: string }
  messagesReceived: number
  messagesHeld: number
  mediaFilesReceived: number
  mediaBytesReceived: number
  messagesKept: number
  namesKept: number
  messagesLeftDeleted: number
  chatsLeftDeleted: number
}

/** What a session came to, as the tests compare it: the receiver's state, its error, its counts. */
function outcomeOf (receiver: ReceiverMachine, err: unknown): TransferOutcome {
  const p = receiver.progress
  return {
    state: receiver.state,
    error: err === undefined ? undefined : isFerryError(err) ? { code: err.code, message: err.message } : { code: 'THROWN', message: String(err) },
    messagesReceived: p.messagesReceived,
    messagesHeld: p.messagesHeld,
    mediaFilesReceived: p.mediaFilesReceived,
    mediaBytesReceived: p.mediaBytesReceived,
    messagesKept: p.messagesKept,
    namesKept: p.namesKept,
    messagesLeftDeleted: p.messagesLeftDeleted,
    chatsLeftDeleted: p.chatsLeftDeleted
  }
}

const held = new Map<string, HeldLock>()

/** A transfer held at a read (startTransfer): its outcome once let go on. */
const running = new Map<string, { go: () => void, outcome: Promise<TransferOutcome & { lost?: { code: string, message: string, words: string } }> }>()

/**
 * The receiver's side of `pipe`, whose reads stop, once `pauseAt` bytes came through, until `go` is
 * called: a transfer paused between two reads, as the page's pauseAt holds one.
 */
function pausing (duplex: ByteDuplex, pauseAt: number, paused: () => void): { duplex: ByteDuplex, go: () => void } {
  let go!: () => void
  const gate = new Promise<void>(resolve => { go = resolve })
  const source = duplex.source
  let seen = 0
  let held = false
  return {
    go,
    duplex: {
      source: (async function * () {
        for await (const c of source) {
          if (!held && seen >= pauseAt) {
            held = true
            paused()
            await gate
          }
          seen += c.byteLength
          yield c
        }
      })(),
      write: async chunks => { await duplex.write(chunks) },
      close: async () => { await duplex.close() },
      abort: err => { duplex.abort(err) }
    }
  }
}

/** Every record of the phone's database but the lease's (which its holder renews) and the durability mark. */
async function records (db: IDBDatabase): Promise<Record<string, string>> {
  const stores = Array.from(db.objectStoreNames)
  const tx = db.transaction(stores)
  const all = <T>(r: IDBRequest<T>): Promise<T> => new Promise((resolve, reject) => { r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error) })
  const hex = (_k: string, v: unknown): unknown => ArrayBuffer.isView(v) ? bytesToHex(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)) : v
  const out: Record<string, string> = {}
  for (const name of stores) {
    const os = tx.objectStore(name)
    const [keys, values] = await Promise.all([all(os.getAllKeys()), all(os.getAll())])
    const kept = keys.map((k, i) => [k, values[i]]).filter(([k]) => !(name === 'meta' && (String(k).startsWith('lease:') || k === 'durableAt')))
    out[name] = `${kept.length} records, sha256 ${bytesToHex(sha256(new TextEncoder().encode(JSON.stringify(kept, hex))))}`
  }
  return out
}

export const harness = {
  /**
   * One session from a history in memory into the phone `name`. `lie: 'digest'` makes the sender's
   * Done claim other digests (as a sender whose data did not match would): the receiver refuses it.
   * `cutAt` breaks the link once that many bytes went to the receiver.
   */
  async transfer (name: string, sourceId: string, spec: HistorySpec, opts: { lie?: 'digest', cutAt?: number, options?: Partial<TransferOptions>, formerIds?: string[] } = {}): Promise<TransferOutcome> {
    const { store, journal } = await phone(name)
    const pipe = memoryPipe({ cutAtAtoB: opts.cutAt })
    const sender = new SenderMachine({ source: new MemorySource(sourceId, spec, opts.formerIds), options: opts.options })
    const receiver = new ReceiverMachine({ sink: store, journal, options: opts.options, agent: 'harness' })
    if (opts.lie === 'digest') {
      const onFrame = receiver.onFrame.bind(receiver)
      receiver.onFrame = async (frame, size) => {
        if (frame.body === 'done') for (const c of frame.done?.conversations ?? []) c.digest = new Uint8Array(32)
        return await onFrame(frame, size)
      }
    }
    const [, r] = await Promise.allSettled([runSender(sender, pipe.a), runReceiver(receiver, pipe.b)])
    const err = r.status === 'rejected' ? r.reason as unknown : undefined
    return outcomeOf(receiver, err)
  },

  /**
   * Starts a session as transfer() does, under the lock this tab holds (its loss stops the session, as
   * on the page), and holds it once `pauseAt` bytes reached the receiver; resolves once it is held (or
   * over). resumeTransfer lets it go on.
   */
  async startTransfer (name: string, sourceId: string, spec: HistorySpec, pauseAt: number, options?: Partial<TransferOptions>): Promise<void> {
    const { store, journal } = await phone(name)
    const lost = held.get(name)?.lost
    const pipe = memoryPipe()
    let paused!: () => void
    const reached = new Promise<void>(resolve => { paused = resolve })
    const gated = pausing(pipe.b, pauseAt, paused)
    const sender = new SenderMachine({ source: new MemorySource(sourceId, spec), options })
    const receiver = new ReceiverMachine({ sink: store, journal, options, agent: 'harness' })
    const outcome = (async () => {
      const [, r] = await Promise.allSettled([runSender(sender, pipe.a), runReceiver(receiver, gated.duplex, { signal: lost })])
      // What the page shows when a receive fails (main.ts): the lock's loss, when that stopped it.
      const err = lost?.aborted === true && isFerryError(lost.reason) ? lost.reason : r.status === 'rejected' ? r.reason as unknown : undefined
      return {
        ...outcomeOf(receiver, err),
        lost: lost?.aborted === true && isFerryError(lost.reason) ? { code: lost.reason.code, message: lost.reason.message, words: explain(lost.reason) } : undefined
      }
    })()
    running.set(name, { go: gated.go, outcome })
    await Promise.race([reached, outcome])
  },

  /** Lets the transfer startTransfer holds go on, and returns its outcome. */
  async resumeTransfer (name: string): Promise<TransferOutcome & { lost?: { code: string, message: string, words: string } }> {
    const run = running.get(name)
    if (run === undefined) throw new Error(`no transfer held in ${name}`)
    running.delete(name)
    run.go()
    return await run.outcome
  },

  /** Every record of the phone's database, as a count and a digest per object store. */
  async records (name: string): Promise<Record<string, string>> {
    return await records((await phone(name)).db)
  },

  /** A write to the store and one to the journal, made now: the error each failed with, if it did. */
  async tryWrites (name: string): Promise<{ store?: string, journal?: string }> {
    const { store, journal } = await phone(name)
    const failure = (err: unknown): string => isFerryError(err) ? `${err.code}: ${err.message}` : String(err)
    const out: { store?: string, journal?: string } = {}
    await store.commit({ contacts: [{ id: 'late', name: 'Late' }] }).then(async () => { await store.flushWrites() }).catch(err => { out.store = failure(err) })
    await journal.write([{ key: 'late', value: new Uint8Array([1]) }]).then(async () => { await journal.flush() }).catch(err => { out.journal = failure(err) })
    return out
  },

  /** The sending history's own export (what the receiver must end up holding). */
  async sourceExport (spec: HistorySpec): Promise<string> {
    return await exportNdjsonText(new MemorySource('source', spec))
  },

  /** This tab is about to write (it took the lock): what the page does (main.ts). */
  async takeOver (name: string): Promise<void> {
    const p = await phone(name)
    p.store.takeOver()
    p.journal.parts.takeOver()
  },

  /** The generation the store holds for a source (StoreGenerations). */
  async generation (name: string, sourceId: string): Promise<string | undefined> {
    return await (await phone(name)).store.generations.generation(sourceId)
  },

  /** Sets it, as a copy of the database from another time would hold another. */
  async keepGeneration (name: string, sourceId: string, token: string): Promise<void> {
    await (await phone(name)).store.generations.keepGeneration(sourceId, token)
  },

  async commit (name: string, change: HistoryChange): Promise<void> {
    await (await phone(name)).store.commit(change)
  },

  /**
   * Appends `batches` batches of `size` messages to a conversation as a receiver does (each commit
   * awaited, but write-behind), then waits for the writes; returns how many commits were accepted and the
   * first error reported. With `failAt`, the failAt-th transaction that writes pages fails after its
   * first write, as one would on a disk error.
   */
  async appendBatches (name: string, conversation: string, batches: number, size: number, textBytes: number, failAt = 0, from = 0, flush = true): Promise<{ accepted: number, error?: { code: string, message: string } }> {
    const { store } = await phone(name)
    failPagesIn = failAt
    let accepted = 0
    // Text that does not compress: the database's own compression would otherwise hide its size.
    let x = 88172645
    const noise = (): string => {
      let t = ''
      for (let i = 0; i < textBytes; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; t += String.fromCharCode(33 + ((x >>> 0) % 90)) }
      return t
    }
    try {
      for (let b = 0; b < batches; b++) {
        const messages: Message[] = []
        for (let i = 0; i < size; i++) {
          const n = from + b * size + i
          messages.push({ conversation, id: `m${String(n).padStart(8, '0')}`, sender: 'u1', ts: 1_700_000_000_000 + n, kind: 'text', text: noise() })
        }
        await store.commit({ messages })
        accepted++
      }
      if (flush) await store.flushWrites()
    } catch (err) {
      return { accepted, error: isFerryError(err) ? { code: err.code, message: err.message } : { code: 'THROWN', message: String(err) } }
    }
    return { accepted }
  },

  /** Every message of a conversation, read through messages() in pages of `limit`. */
  async readAll (name: string, conversation: string, limit: number): Promise<Message[]> {
    const { store } = await phone(name)
    const out: Message[] = []
    for (let after: MessagePosition | undefined; ;) {
      const page = await store.messages(conversation, after, limit)
      out.push(...page)
      if (page.length < limit) return out
      after = page[page.length - 1]
    }
  },

  /** Every message of a conversation as encodedMessages() gives it, in pages of `limit`: keys and hex bytes. */
  async readEncoded (name: string, conversation: string, limit: number): Promise<Array<{ ts: number, id: string, hex: string }>> {
    const { store } = await phone(name)
    const out: Array<{ ts: number, id: string, hex: string }> = []
    for (let after: MessagePosition | undefined; ;) {
      const page = await store.encodedMessages(conversation, after, limit)
      for (const e of page) out.push({ ts: e.ts, id: e.id, hex: bytesToHex(e.encoded) })
      if (page.length < limit) return out
      after = page[page.length - 1]
    }
  },

  /**
   * Writes a conversation as a store written before pages kept encodings did: pages of `perPage` message
   * objects, without the index of ids, and the conversation's record.
   */
  async putLegacyPages (name: string, conversation: Conversation, messages: Message[], perPage: number): Promise<void> {
    const { db } = await phone(name)
    const tx = db.transaction(['conversations', 'chats', 'pages'], 'readwrite')
    tx.objectStore('conversations').put(conversation, conversation.id)
    tx.objectStore('chats').put({ n: messages.length, indexed: false }, conversation.id)
    const sorted = [...messages].sort(comparePositions)
    for (let i = 0; i < sorted.length; i += perPage) {
      const m = sorted.slice(i, i + perPage)
      tx.objectStore('pages').put({ m }, [conversation.id, m[0].ts, orderKey(m[0].id)])
    }
    await new Promise<void>((resolve, reject) => { tx.oncomplete = () => resolve(); tx.onerror = () => reject(tx.error) })
  },

  /** Reads a conversation through messages() and returns only how many there were. */
  async scan (name: string, conversation: string): Promise<number> {
    const { store } = await phone(name)
    let n = 0
    for (let after: MessagePosition | undefined; ;) {
      const page = await store.messages(conversation, after, 1024)
      n += page.length
      if (page.length < 1024) return n
      after = page[page.length - 1]
    }
  },

  async find (name: string, conversation: string, ids: string[]): Promise<Message[]> {
    return await (await phone(name)).store.findMessages(conversation, ids)
  },

  async latest (name: string, conversation: string, limit: number): Promise<Message[]> {
    return await (await phone(name)).store.latest(conversation, limit)
  },

  async counts (name: string): Promise<Record<string, number>> {
    const infos = await (await phone(name)).store.conversations()
    return Object.fromEntries(infos.map(i => [i.conversation.id, i.messages]))
  },

  async exportText (name: string): Promise<string> {
    return await exportNdjsonText((await phone(name)).store)
  },

  async mediaDigests (name: string): Promise<Record<string, string>> {
    return await mediaDigests((await phone(name)).store)
  },

  chunkBytesPut: () => chunkBytesPut,

  /** Counts of the database's records: how many chunk records hold media bytes, and partial files left. */
  async census (name: string): Promise<{ chunks: number, chunkBytes: number, parts: number, files: number, kv: string[] }> {
    const { db } = await phone(name)
    const tx = db.transaction(['chunks', 'parts', 'files', 'kv'])
    const all = <T>(r: IDBRequest<T>): Promise<T> => new Promise((resolve, reject) => { r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error) })
    const [chunks, parts, files, kv] = await Promise.all([
      all(tx.objectStore('chunks').getAll()) as Promise<Uint8Array[]>,
      all(tx.objectStore('parts').count()),
      all(tx.objectStore('files').count()),
      all(tx.objectStore('kv').getAllKeys())
    ])
    return { chunks: chunks.length, chunkBytes: chunks.reduce((n, c) => n + c.byteLength, 0), parts, files, kv: kv.map(String) }
  },

  /** Closes the phone's database: the next call opens it again, as a reload would. */
  close (name: string): void {
    phones.get(name)?.db.close()
    phones.delete(name)
  },

  media: (spec: MediaSpec) => { const m = mediaOf(spec); return { sha256: m.sha256, size: m.size, mime: m.mime } },

  /** Hands a file to the store as a receiver from another journal would (its bytes copied in). */
  async putMedia (name: string, spec: MediaSpec): Promise<void> {
    const { sha256, size, mime, bytes } = mediaOf(spec)
    await (await phone(name)).store.putMedia({ sha256, size, mime, bytes, async * stream () { yield bytes } })
  },

  /** Every media record, and whether the store holds its file. */
  async mediaRecords (name: string): Promise<StoredMedia[]> {
    return await (await phone(name)).store.media(undefined, 100_000)
  },

  async stats (name: string): Promise<StoreStats> {
    return await (await phone(name)).store.stats()
  },

  /**
   * Files received whole into the journal are handed to the store as a receiver hands them (the first
   * one's transaction is then in flight, the others wait for it), and in that gap the records of `remove`
   * are removed (the person deleted the photos), then those of `putBack` are put back (a message that
   * shows one came meanwhile). Returns what failed.
   */
  async removeWhileArriving (name: string, files: { arriving: MediaSpec[], remove: MediaSpec[], putBack: MediaSpec[] }): Promise<Array<{ code: string, message: string }>> {
    const { store, journal } = await phone(name)
    const record = (spec: MediaSpec): MediaRecord => { const { sha256, size, mime } = mediaOf(spec); return { sha256, size, mime } }
    await store.commit({ media: files.arriving.map(record) })
    await store.flushWrites()
    for (const spec of files.arriving) {
      const { sha256, bytes } = mediaOf(spec)
      await journal.parts.write(sha256, 0, bytes)
    }
    await journal.flush()
    const calls = [
      ...files.arriving.map(async spec => { const { sha256, size, mime } = mediaOf(spec); await store.putMedia(journal.parts.handOff(sha256, size, mime)) }),
      store.commit({ remove: { media: files.remove.map(spec => mediaOf(spec).sha256) } }),
      store.commit({ media: files.putBack.map(record) })
    ]
    const failed = (await Promise.allSettled(calls)).flatMap(r => r.status === 'fulfilled' ? [] : [r.reason as unknown])
    await store.flushWrites().catch(err => { failed.push(err) })
    return failed.map(err => isFerryError(err) ? { code: err.code, message: err.message } : { code: 'THROWN', message: String(err) })
  },

  // ---- the cross-tab lock ----------------------------------------------------------------------------

  async lock (name: string, kind: LockKind | undefined, opts: { ttlMs?: number, renewMs?: number } = {}): Promise<{ kind: LockKind, acquired: boolean, elsewhere: boolean }> {
    const { db } = await phone(name)
    const lock = createTabLock(db, 'ferry-receive', { ...opts, kind })
    const elsewhere = await lock.heldElsewhere()
    const h = await lock.tryAcquire()
    if (h !== undefined) {
      held.set(name, h)
      h.lost.addEventListener('abort', () => { (globalThis as { lockLost?: string }).lockLost = String((h.lost.reason as Error)?.message) })
    }
    return { kind: lock.kind, acquired: h !== undefined, elsewhere }
  },

  /** Only looks: whether another tab holds the lock. */
  async heldElsewhere (name: string): Promise<boolean> {
    const { db } = await phone(name)
    return await createTabLock(db, 'ferry-receive').heldElsewhere()
  },

  /** Only tries to take the lock (kept when taken); whether it did, and whether it found a gone tab's lease. */
  async tryLock (name: string): Promise<{ acquired: boolean, foundAbandoned: boolean }> {
    const { db } = await phone(name)
    const lock = createTabLock(db, 'ferry-receive')
    const h = await lock.tryAcquire()
    if (h !== undefined) held.set(name, h)
    return { acquired: h !== undefined, foundAbandoned: lock.foundAbandoned }
  },

  /** Keeps this tab's event loop busy for `ms` once another tab posts on `channel` (a long task in a transfer). */
  blockOn (channel: string, ms: number): void {
    const c = new BroadcastChannel(channel)
    c.onmessage = () => {
      c.close()
      for (const end = Date.now() + ms; Date.now() < end;);
    }
  },

  async unlock (name: string): Promise<void> {
    await held.get(name)?.release()
    held.delete(name)
  }
}

declare global {
  interface Window { harness?: typeof harness }
}

window.harness = harness
