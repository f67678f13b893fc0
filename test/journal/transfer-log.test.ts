import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isDeepStrictEqual } from 'node:util'
import { bytesToHex } from '@noble/hashes/utils.js'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { NodeJournal } from '../../src/journal/node-journal.js'
import { TransferLog, type TransferRecord } from '../../src/journal/transfer-log.js'
import type { LogItem } from '../../src/journal/log-codec.js'
import { ManifestMedia } from '../../src/protocol/manifest-media.js'
import { storeMediaRecords } from '../../src/protocol/media-records.js'
import { writeNames } from '../../src/protocol/name-writes.js'
import { stillAsWritten, storedDigest } from '../../src/protocol/written-digest.js'
import type { Contact, Conversation, MediaRecord, Message, Selection } from '../../src/store/model.js'
import type { SqliteChatStore } from '../../src/store/sqlite-store.js'
import { cleanupTempDirs, exportText, mediaFiles, openStore, tempDir } from '../helpers/stores.js'

// The receiver's transfer records and the undo log, against a real SqliteChatStore as the sink: what an
// unverified transfer wrote can be taken back exactly, what a verified one wrote never is, and an undo a
// crash cut short is finished before anything else happens.

/** What a verification reports; these tests are about the log, not the report. */
const OUTCOME = { summary: [], totalMessages: 0, totalMediaBytes: 0, messagesReceived: 0, messagesHeld: 0, mediaFilesReceived: 0, mediaBytesReceived: 0, mediaFilesHeld: 0 }

const journals: NodeJournal[] = []
function journalOf (store: { dir: string }): NodeJournal {
  const j = NodeJournal.open(store.dir)
  journals.push(j)
  return j
}

afterEach(async () => {
  for (const j of journals.splice(0)) await j.close()
  cleanupTempDirs()
})

const T1 = new Uint8Array(16).fill(1)
const T2 = new Uint8Array(16).fill(2)
const VERIFIED = new Uint8Array(16).fill(9)

const msg = (conversation: string, id: string, ts: number, text: string, extra: Partial<Message> = {}): Message =>
  ({ conversation, id, sender: 'u1', ts, kind: 'text', text, ...extra })

/** Writes a batch as the receiver does: each message's stored version looked up and logged, then the change committed. */
async function receive (log: TransferLog, rec: TransferRecord, store: SqliteChatStore, batch: Message[]): Promise<void> {
  const items: LogItem[] = []
  const write: Message[] = []
  for (const m of batch) {
    const [stored] = await store.findMessages(m.conversation, [m.id])
    if (stored === undefined) {
      items.push({ flag: 'new', conversation: m.conversation, ts: m.ts, id: m.id, written: storedDigest('message', m) })
      write.push(m)
    } else if (isDeepStrictEqual(stored, m)) {
      items.push({ flag: 'held', conversation: m.conversation, ts: m.ts, id: m.id, written: storedDigest('message', stored) })
    } else {
      items.push({ flag: 'prior', conversation: m.conversation, ts: m.ts, id: m.id, prior: stored, written: storedDigest('message', m) })
      write.push(m)
    }
  }
  await log.logItems(rec, items)
  if (write.length > 0) await store.commit({ messages: write })
}

/** Stores a manifest's contacts and conversations as the receiver does, logging what they replace or add. */
async function receiveMetadata (log: TransferLog, rec: TransferRecord, store: SqliteChatStore, contacts: Contact[], conversations: Conversation[]): Promise<void> {
  const mineC = new Map((await store.contacts()).map(c => [c.id, c]))
  const mineV = new Map((await store.conversations()).map(c => [c.conversation.id, c.conversation]))
  const changedC = contacts.filter(c => !isDeepStrictEqual(mineC.get(c.id), c))
  const changedV = conversations.filter(c => !isDeepStrictEqual(mineV.get(c.id), c))
  await writeNames(store, log, rec, changedC, changedV, { contacts: mineC, conversations: mineV })
}

/** Everything a user sees of a history: its export (media records too), its messages, its media files. */
async function snapshot (store: SqliteChatStore): Promise<{ text: string, messages: Message[], files: string[] }> {
  return { text: await exportText(store), messages: [...store.listMessages()], files: mediaFiles(store) }
}

/** A media file's bytes, made from `seed`, written into the store as a transfer would hand it over. */
async function putFile (store: SqliteChatStore, seed: string, mime = 'image/jpeg'): Promise<MediaRecord> {
  const bytes = new TextEncoder().encode(`the bytes of ${seed}`)
  const sha256 = createHash('sha256').update(bytes).digest('hex')
  await store.putMedia({ sha256, size: bytes.byteLength, mime, bytes, stream: async function * () { yield bytes } })
  return { sha256, size: bytes.byteLength, mime }
}

const recordOf = (seed: string, mime = 'image/jpeg'): MediaRecord => {
  const bytes = new TextEncoder().encode(`the bytes of ${seed}`)
  return { sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.byteLength, mime }
}

/** A manifest's media index of these records (sorted, as a manifest lists them). */
const manifestOf = (records: MediaRecord[]): ManifestMedia =>
  ManifestMedia.from([...records].sort((a, b) => a.sha256 < b.sha256 ? -1 : 1).map(r => ({ ...r, missing: false })))

async function entries (journal: NodeJournal, transferId: Uint8Array): Promise<number> {
  let n = 0
  for await (const _ of journal.list(`u/${bytesToHex(transferId)}/`)) n++
  return n
}

/**
 * A phone in use: its own chat, and what an earlier transfer from another phone wrote and verified: a
 * photo among it, and the record of a video whose file that phone lacked.
 */
async function phoneInUse (): Promise<{ store: SqliteChatStore, journal: NodeJournal, log: TransferLog, own: Message[], verified: Message[], media: MediaRecord[] }> {
  const store = openStore()
  const journal = journalOf(store)
  const log = new TransferLog(journal, stillAsWritten)
  store.putMetadata([{ id: 'u1', name: 'Ann' }, { id: 'me', name: 'Me' }], [{ id: 'c1', kind: 'direct', title: 'Ann', members: ['u1', 'me'] }], [])
  const own = [msg('c1', 'own-1', 100, 'written on this phone'), msg('c1', 'own-2', 200, 'also mine', { status: 'read' })]
  store.putMessages(own)
  const earlier = await log.open(VERIFIED, 'old-phone', {}, store)
  await receiveMetadata(log, earlier, store, [{ id: 'u2', name: 'Bo' }], [{ id: 'g1', kind: 'group', title: 'Team', members: ['u1', 'u2', 'me'] }])
  const media = [recordOf('a verified photo'), recordOf('a video the old phone lacked', 'video/mp4')]
  await storeMediaRecords(store, log, earlier, manifestOf(media))
  await putFile(store, 'a verified photo')
  const verified = [msg('g1', 'v-1', 150, 'from the old phone'), msg('c1', 'v-2', 150, 'also from it', { kind: 'image', media: media[0].sha256 })]
  await receive(log, earlier, store, verified)
  await log.verified(earlier, OUTCOME)
  return { store, journal, log, own, verified, media }
}

describe('transfer records', () => {
  it('are made at open, found again after a restart, and count their sessions and writes', async () => {
    const store = openStore()
    const log = new TransferLog(journalOf(store), stillAsWritten)
    const rec = await log.open(T1, 'source-1', { conversations: ['c1'] }, store)
    expect(rec).toMatchObject({ transferId: bytesToHex(T1), sourceId: 'source-1', selection: { conversations: ['c1'] }, state: 'receiving', sessions: 1, written: 0 })
    expect(await log.get(T1)).toEqual(rec)
    expect(await log.get(T2)).toBeUndefined()
    expect(await log.unfinished()).toEqual([rec])
    await receive(log, rec, store, [msg('c1', 'a', 1, 'a'), msg('c1', 'b', 2, 'b')])
    await receive(log, rec, store, [msg('c1', 'b', 2, 'b'), msg('c1', 'a', 1, 'edited')]) // held, then replaced
    expect(rec.written).toBe(3)
    for (const j of journals.splice(0)) await j.close()

    const again = new TransferLog(journalOf(store), stillAsWritten)
    expect(await again.get(T1)).toEqual(rec)
    const resumed = await again.open(T1, 'source-1', { conversations: ['c1'] }, store)
    expect(resumed).toMatchObject({ transferId: rec.transferId, state: 'receiving', sessions: 2, written: 3 })
    expect(store.stats().messages).toBe(2) // resuming takes nothing back
    store.close()
  })

  it('list only transfers not verified', async () => {
    const { store, log } = await phoneInUse()
    expect(await log.unfinished()).toEqual([])
    expect(await log.get(VERIFIED)).toMatchObject({ state: 'verified', verifiedAt: expect.any(Number) })
    const rec = await log.open(T1, 'src', {}, store)
    expect((await log.unfinished()).map(r => r.transferId)).toEqual([rec.transferId])
    store.close()
  })
})

describe('what was verified from an old phone', () => {
  it('is the selections of its verified transfers, and when one was last verified, a restore\'s time left out', async () => {
    const store = openStore()
    const log = new TransferLog(journalOf(store), stillAsWritten)
    const T3 = new Uint8Array(16).fill(3)
    const T4 = new Uint8Array(16).fill(4)
    // This phone's clock, set for each verification: which is the latest must not rest on the moment's ms.
    vi.useFakeTimers({ toFake: ['Date'] })
    try {
      const at = async (ms: number, id: Uint8Array, source: string, selection: Selection, restore = false): Promise<TransferRecord> => {
        vi.setSystemTime(ms)
        const rec = await log.open(id, source, selection, store, { restore })
        await log.verified(rec, OUTCOME)
        return rec
      }
      expect(await log.verifiedFrom('old')).toEqual({ selections: [] })
      await at(1_000, T1, 'old', { since: 5 })
      await at(2_000, T2, 'old', { conversations: ['c1'] })
      // Verified later, but of another phone, or by restoring a backup of this one made who knows when.
      await at(3_000, T3, 'other', {})
      await at(4_000, T4, 'old', {}, true)
      expect(await log.verifiedFrom('old')).toEqual({ selections: [{ since: 5 }, { conversations: ['c1'] }, {}], lastAt: 2_000 })
      expect(await log.verifiedFrom('other')).toEqual({ selections: [{}], lastAt: 3_000 })
      // Received again and not verified yet: its selection is not read back, yet it was verified then.
      vi.setSystemTime(5_000)
      await log.open(T2, 'old', { conversations: ['c1'] }, store)
      expect(await log.verifiedFrom('old')).toEqual({ selections: [{ since: 5 }, {}], lastAt: 2_000 })
    } finally {
      vi.useRealTimers()
    }
    store.close()
  })
})

describe('a transfer\'s counts', () => {
  it('count each message it wrote once over its sessions: a batch logged and never committed counts when it comes again', async () => {
    const store = openStore()
    const journal = journalOf(store)
    const log = new TransferLog(journal, stillAsWritten)
    const rec = await log.open(T1, 'src', {}, store, { mediaHeld: { files: 3, bytes: 3000 } })
    expect(rec.counts).toEqual({ messagesWritten: 0, mediaFilesBefore: 3, mediaBytesBefore: 3000, unsettledSeq: 0 })
    const a = [msg('c1', 'a', 1, 'a'), msg('c1', 'b', 2, 'b')]
    const b = [msg('c1', 'c', 3, 'c'), msg('c1', 'd', 4, 'd')]
    await receive(log, rec, store, a)
    // Logged, then the process died before the store committed it.
    await log.logItems(rec, b.map(m => ({ flag: 'new', conversation: m.conversation, ts: m.ts, id: m.id, written: storedDigest('message', m) })))
    expect(rec.counts?.messagesWritten).toBe(4)
    await journal.close()

    const next = new TransferLog(journalOf(store), stillAsWritten)
    // What this session finds of the manifest's media is no longer what was here before the transfer.
    const resumed = await next.open(T1, 'src', {}, store, { mediaHeld: { files: 5, bytes: 9000 } })
    expect(resumed.counts).toMatchObject({ messagesWritten: 2, mediaFilesBefore: 3, mediaBytesBefore: 3000 })
    // The old phone did not hear of b's last message (it comes again, here as written) nor of c and d.
    await receive(next, resumed, store, [a[1], ...b])
    expect(resumed.counts?.messagesWritten).toBe(4)
    expect(store.stats().messages).toBe(4)
    // A third session, the second never having reached the store's end: nothing is taken off twice.
    const third = await next.open(T1, 'src', {}, store, { mediaHeld: { files: 5, bytes: 9000 } })
    expect(third.counts?.messagesWritten).toBe(4)
    store.close()
  })

  it('start again for a transfer received again after it was verified, and stay absent for one begun before they were kept', async () => {
    const { store, journal, log } = await phoneInUse()
    const again = await log.open(VERIFIED, 'old-phone', {}, store, { mediaHeld: { files: 1, bytes: 10 } })
    expect(again.counts).toEqual({ messagesWritten: 0, mediaFilesBefore: 1, mediaBytesBefore: 10, unsettledSeq: again.seq })
    // A record an earlier version wrote, mid-transfer: no counts, and none made up.
    const older = { transferId: bytesToHex(T2), sourceId: 'src', selection: {}, state: 'receiving', seq: 0, sessionSeq: 0, sessions: 1, written: 7, startedAt: 1, updatedAt: 1 }
    await journal.write([{ key: `t/${bytesToHex(T2)}`, value: new TextEncoder().encode(JSON.stringify(older)) }])
    const resumed = await log.open(T2, 'src', {}, store, { mediaHeld: { files: 1, bytes: 10 } })
    expect(resumed).toMatchObject({ sessions: 2, written: 7 })
    expect(resumed.counts).toBeUndefined()
    store.close()
  })
})

describe('a damaged journal', () => {
  it('is a typed error, not a crash', async () => {
    const store = openStore()
    const journal = journalOf(store)
    const log = new TransferLog(journal, stillAsWritten)
    await journal.write([{ key: `t/${bytesToHex(T1)}`, value: new TextEncoder().encode('{"transferId":"01') }])
    await expect(log.get(T1)).rejects.toMatchObject({ code: 'STORE', message: expect.stringContaining('damaged') })
    await expect(log.unfinished()).rejects.toMatchObject({ code: 'STORE' })
    await expect(log.open(T2, 'src', {}, store)).rejects.toMatchObject({ code: 'STORE' })
    store.close()
  })
})

describe('the undo log', () => {
  it('is written ahead: a batch logged and never committed, or committed and never acknowledged, is undone all the same', async () => {
    const { store, journal, log, own } = await phoneInUse()
    const before = await snapshot(store)
    const rec = await log.open(T1, 'src', {}, store)
    const batch = [{ ...own[0], text: 'forged' }, msg('c1', 'new', 300, 'new')]
    // Logged, then the process died before its commit: the entry is on disk for the next process.
    await log.logItems(rec, [{ flag: 'prior', conversation: 'c1', ts: own[0].ts, id: own[0].id, prior: own[0] }, { flag: 'new', conversation: 'c1', ts: 300, id: 'new' }])
    await journal.close()
    const next = new TransferLog(journalOf(store), stillAsWritten)
    const found = await next.get(T1) as TransferRecord
    const logged: LogItem[] = []
    for await (const batch of next.sessionItems(found)) logged.push(...batch)
    expect(logged.map(i => [i.flag, i.id])).toEqual([['prior', own[0].id], ['new', 'new']])
    await next.undo(found, store)
    expect(await snapshot(store)).toEqual(before)
    // Logged and committed, then gone before anything else: the same.
    const rec2 = await next.open(T1, 'src', {}, store)
    await receive(next, rec2, store, batch)
    await next.undo(rec2, store)
    expect(await snapshot(store)).toEqual(before)
    store.close()
  })

  it('puts back every version a refused transfer replaced and removes what it added: messages, contacts, conversations', async () => {
    const { store, journal, log, own, verified } = await phoneInUse()
    const before = await snapshot(store)
    const rec = await log.open(T1, 'src', {}, store)
    await receiveMetadata(log, rec, store,
      [{ id: 'u1', name: 'Ann (renamed)', phone: '+1 555' }, { id: 'u9', name: 'New' }],
      [{ id: 'c1', kind: 'direct', title: 'Changed', members: ['u1', 'me'] }, { id: 'c9', kind: 'group', title: 'New chat', members: ['u9', 'me'] }])
    // The phone's own message and the verified one replaced (one at another time), new ones added.
    const forged = [
      { ...own[0], ts: 999, text: 'forged' }, { ...verified[1], text: 'forged', status: 'recalled' as const },
      msg('c1', 'n-1', 250, 'added'), msg('c9', 'n-2', 10, 'added in a new chat')
    ]
    await receive(log, rec, store, forged)
    // A resumed session sends them again (held), and one once more changed.
    await receive(log, rec, store, [...forged.slice(1), { ...forged[0], text: 'forged twice' }])
    expect(store.stats().messages).toBe(before.messages.length + 2)
    await log.undo(rec, store)
    expect(await snapshot(store)).toEqual(before)
    expect(await entries(journal, T1)).toBe(0)
    expect(await log.get(T1)).toMatchObject({ state: 'receiving', written: 0 })
    // Reopened after the refusal, the transfer starts over from an empty log.
    const again = await log.open(T1, 'src', {}, store)
    const items: LogItem[] = []
    for await (const batch of log.sessionItems(again)) items.push(...batch)
    expect(items).toEqual([])
    store.close()
  })

  it('takes back the media records a refused transfer added, with their files, and puts back those it replaced', async () => {
    const { store, log, media } = await phoneInUse()
    const before = await snapshot(store)
    const rec = await log.open(T1, 'src', {}, store)
    // The manifest announces the verified photo again, the video under another type, and two new files.
    const manifest = [media[0], { ...media[1], mime: 'video/quicktime' }, recordOf('a new photo'), recordOf('a new voice note', 'audio/ogg')]
    await storeMediaRecords(store, log, rec, manifestOf(manifest))
    for (const [seed, mime] of [['a new photo', 'image/jpeg'], ['a new voice note', 'audio/ogg'], ['a video the old phone lacked', 'video/quicktime']]) await putFile(store, seed, mime)
    await receive(log, rec, store, [msg('c1', 'n-1', 300, '', { kind: 'image', media: manifest[2].sha256 }), msg('g1', 'n-2', 300, '', { kind: 'voice', media: manifest[3].sha256 })])
    expect(store.stats()).toMatchObject({ media: 4, mediaMissing: 0 })
    await log.undo(rec, store)
    // The video's file came for a record this phone held: it is the file that record names, and stays.
    expect(await snapshot(store)).toEqual({ ...before, files: [...before.files, media[1].sha256].sort() })
    expect(store.stats()).toMatchObject({ media: 2, mediaMissing: 0 })
    store.close()
  })

  it('names the manifest records a transfer stored, once the log shows they reached the store', async () => {
    const { store, log, media } = await phoneInUse()
    const rec = await log.open(T1, 'src', {}, store)
    const added = async (): Promise<string[]> => { const out: string[] = []; for await (const sha of log.manifestMediaAdded(rec.transferId)) out.push(sha); return out.sort() }
    const fresh = [recordOf('a new photo'), recordOf('a new voice note', 'audio/ogg')]
    // The verified photo is held as it is: not added, so not named.
    await storeMediaRecords(store, log, rec, manifestOf([media[0], ...fresh]))
    // Logged last, its commit may not have happened (a crash between the two): not named yet.
    expect(await added()).toEqual([])
    await receive(log, rec, store, [msg('c1', 'n-1', 300, '', { kind: 'image', media: fresh[0].sha256 })])
    expect(await added()).toEqual(fresh.map(r => r.sha256).sort())
    // A record logged after the messages began (a file left deleted that a message claims) is not the manifest's.
    await log.logMedia(rec, { added: [recordOf('claimed later').sha256], replaced: [] })
    await receive(log, rec, store, [msg('c1', 'n-2', 301, 'more')])
    expect(await added()).toEqual(fresh.map(r => r.sha256).sort())
    store.close()
  })

  it('keeps a media record a refused transfer added while a message it did not write refers to it', async () => {
    const { store, log, own } = await phoneInUse()
    const rec = await log.open(T1, 'src', {}, store)
    const [photo, other] = [recordOf('a photo the app forwarded'), recordOf('a photo nobody kept')]
    await storeMediaRecords(store, log, rec, manifestOf([photo, other]))
    for (const seed of ['a photo the app forwarded', 'a photo nobody kept']) await putFile(store, seed)
    await receive(log, rec, store, [msg('c1', 'n-1', 300, '', { kind: 'image', media: photo.sha256 }), msg('c1', 'n-2', 301, '', { kind: 'image', media: other.sha256 })])
    // While it ran, the person forwarded the first photo in a message of their own.
    const forwarded = msg('c1', 'own-3', 400, 'look', { kind: 'image', media: photo.sha256 })
    store.putMessages([forwarded])
    await log.undo(rec, store)
    expect([...store.listMessages({ conversations: ['c1'] })].map(m => m.id).sort()).toEqual([own[0].id, own[1].id, forwarded.id, 'v-2'].sort())
    expect(store.hasMediaRecord(photo.sha256) && store.hasMediaFile(photo.sha256)).toBe(true)
    expect(store.hasMediaRecord(other.sha256) || store.hasMediaFile(other.sha256)).toBe(false)
    expect(store.stats().mediaMissing).toBe(1) // the video the first old phone lacked, as before
    store.close()
  })

  it('is dropped at verification: a refused later run of the same transfer takes back only its own writes', async () => {
    const { store, journal, log, own } = await phoneInUse()
    const rec = await log.open(T1, 'src', {}, store)
    const edited = { ...own[1], text: 'edited on the old phone' }
    await receive(log, rec, store, [edited, msg('c1', 'n-1', 250, 'added')])
    await log.verified(rec, OUTCOME)
    expect(await entries(journal, T1)).toBe(0)
    expect(await log.get(T1)).toMatchObject({ state: 'verified', written: 0 })
    const verifiedState = await snapshot(store)

    // The same transfer again (a second move of a changed history): its edits are refused.
    const second = await log.open(T1, 'src', {}, store)
    expect(second).toMatchObject({ state: 'receiving', written: 0, sessions: 2 })
    await receive(log, second, store, [{ ...edited, text: 'a lie' }, msg('c1', 'n-1', 250, 'a lie too'), msg('c1', 'n-2', 260, 'new lie')])
    await log.undo(second, store)
    expect(await snapshot(store)).toEqual(verifiedState)

    // Received again and verified in turn: its rows stand, the earlier verified ones under them too.
    const third = await log.open(T1, 'src', {}, store)
    await receive(log, third, store, [{ ...edited, text: 'edited again' }, msg('c1', 'n-2', 260, 'new')])
    await log.verified(third, OUTCOME)
    await log.undo(third, store) // nothing left to take back
    const texts = new Map([...store.listMessages()].map(m => [m.id, m.text]))
    expect([texts.get(edited.id), texts.get('n-1'), texts.get('n-2'), texts.get(own[0].id)]).toEqual(['edited again', 'added', 'new', own[0].text])
    store.close()
  })

  it('takes back only what is still as the transfer wrote it: a message changed or deleted since stays so', async () => {
    const { store, log, own, verified } = await phoneInUse()
    const rec = await log.open(T1, 'src', {}, store)
    await receiveMetadata(log, rec, store, [{ id: 'u9', name: 'New' }], [{ id: 'c9', kind: 'group', title: 'New chat', members: ['u9', 'me'] }])
    await receive(log, rec, store, [
      { ...own[0], text: 'replaced' }, { ...own[1], text: 'replaced too' }, { ...verified[0], text: 'replaced as well' },
      msg('c9', 'n-1', 10, 'added'), msg('c9', 'n-2', 11, 'added'), msg('c1', 'n-3', 300, 'added')
    ])
    // Meanwhile on this phone: a replaced message recalled, another deleted; an added one edited, another deleted.
    store.putMessages([{ ...own[0], text: 'replaced', status: 'recalled' }, msg('c9', 'n-1', 10, 'added, then edited here', { editedAt: 5 })])
    store.deleteMessage('c1', own[1].id)
    store.deleteMessage('c9', 'n-2')
    await log.undo(rec, store)
    const now = new Map([...store.listMessages()].map(m => [`${m.conversation}/${m.id}`, m]))
    expect(now.get(`c1/${own[0].id}`)).toMatchObject({ text: 'replaced', status: 'recalled' })
    expect(now.has(`c1/${own[1].id}`)).toBe(false)
    expect(now.get(`c9/n-1`)).toMatchObject({ text: 'added, then edited here' })
    expect(now.has('c9/n-2')).toBe(false)
    // What nobody touched is taken back: the replaced message put back, the added one gone.
    expect(now.get(`g1/${verified[0].id}`)).toEqual(verified[0])
    expect(now.has('c1/n-3')).toBe(false)
    // The chat the transfer added holds a message left, so it stays, with its members.
    expect((await store.conversations()).map(c => c.conversation.id)).toContain('c9')
    expect((await store.contacts()).map(c => c.id)).toContain('u9')
    store.close()
  })

  it('takes back a name only while it is still as the transfer wrote it: a rename here since stays', async () => {
    const { store, log } = await phoneInUse()
    const rec = await log.open(T1, 'src', {}, store)
    await receiveMetadata(log, rec, store,
      [{ id: 'u1', name: 'Ann (old phone)' }, { id: 'u2', name: 'Bo (old phone)' }, { id: 'me', name: 'Me (old phone)' }],
      [{ id: 'c1', kind: 'direct', title: 'Ann (old phone)', members: ['u1', 'me'] }, { id: 'g1', kind: 'group', title: 'Team (old phone)', members: ['u1', 'u2', 'me'] }])
    // Meanwhile on this phone: a contact and a chat renamed, a member added to nothing; another contact deleted.
    store.putMetadata([{ id: 'u1', name: 'Annie' }], [{ id: 'c1', kind: 'direct', title: 'Annie and me', members: ['u1', 'me'] }], [])
    await store.commit({ remove: { contacts: ['me'] } })
    await log.undo(rec, store)
    const contacts = new Map((await store.contacts()).map(c => [c.id, c]))
    const chats = new Map((await store.conversations()).map(c => [c.conversation.id, c.conversation]))
    expect(contacts.get('u1')).toEqual({ id: 'u1', name: 'Annie' })
    expect(chats.get('c1')?.title).toBe('Annie and me')
    expect(contacts.has('me')).toBe(false)
    // What nobody touched is put back.
    expect(contacts.get('u2')).toEqual({ id: 'u2', name: 'Bo' })
    expect(chats.get('g1')).toMatchObject({ title: 'Team', members: ['u1', 'u2', 'me'] })
    store.close()
  })

  it('keeps a chat it added that the person renamed, with its members, and takes back its untouched messages', async () => {
    const { store, log } = await phoneInUse()
    const before = await snapshot(store)
    const rec = await log.open(T1, 'src', {}, store)
    await receiveMetadata(log, rec, store, [{ id: 'u8', name: 'Eight' }, { id: 'u9', name: 'Nine' }],
      [{ id: 'c8', kind: 'group', title: 'Added', members: ['u8', 'me'] }, { id: 'c9', kind: 'group', title: 'Added too', members: ['u9', 'me'] }])
    await receive(log, rec, store, [msg('c8', 'n-1', 10, 'added'), msg('c9', 'n-2', 10, 'added')])
    store.putMetadata([], [{ id: 'c9', kind: 'group', title: 'Our group', members: ['u9', 'me'] }], [])
    await log.undo(rec, store)
    const chats = new Map((await store.conversations()).map(c => [c.conversation.id, c.conversation]))
    expect(chats.get('c9')).toEqual({ id: 'c9', kind: 'group', title: 'Our group', members: ['u9', 'me'] })
    expect((await store.contacts()).find(c => c.id === 'u9')).toEqual({ id: 'u9', name: 'Nine' })
    // The rest of the transfer is gone: the untouched chat, its member, every message it wrote.
    expect(chats.has('c8')).toBe(false)
    expect((await store.contacts()).some(c => c.id === 'u8')).toBe(false)
    expect([...store.listMessages()]).toEqual(before.messages)
    store.close()
  })

  it('keeps a rename made after a transfer was cut, when the next receive undoes it', async () => {
    const { store, log } = await phoneInUse()
    const first = await log.open(T1, 'src', {}, store)
    await receiveMetadata(log, first, store, [{ id: 'u7', name: 'Seven' }, { id: 'u2', name: 'Bo (old phone)' }],
      [{ id: 'c7', kind: 'direct', title: 'From the first', members: ['u7', 'me'] }])
    // Cut; the person renames both contacts and the chat before another old phone's transfer opens.
    store.putMetadata([{ id: 'u7', name: 'Sev' }, { id: 'u2', name: 'Bobby' }], [{ id: 'c7', kind: 'direct', title: 'Sev', members: ['u7', 'me'] }], [])
    await log.open(T2, 'other', {}, store)
    expect(await log.get(T1)).toBeUndefined()
    expect(Object.fromEntries((await store.contacts()).map(c => [c.id, c.name]))).toMatchObject({ u7: 'Sev', u2: 'Bobby' })
    expect((await store.conversations()).find(c => c.conversation.id === 'c7')?.conversation.title).toBe('Sev')
    store.close()
  })

  it('still undoes names an earlier version logged (no digests) whatever the store holds', async () => {
    const { store, journal, log } = await phoneInUse()
    const before = await snapshot(store)
    const rec = await log.open(T1, 'src', {}, store)
    // What an earlier version logged for a manifest that renamed u1 and added c9 and u9.
    const entry = { contacts: [{ id: 'u1', name: 'Ann' }], conversations: [], newContacts: ['u9'], newConversations: ['c9'] }
    await journal.write([{ key: `u/${bytesToHex(T1)}/000000000000`, value: new Uint8Array([0x63, ...new TextEncoder().encode(JSON.stringify(entry))]) }])
    store.putMetadata([{ id: 'u1', name: 'Ann (renamed)' }, { id: 'u9', name: 'Nine' }], [{ id: 'c9', kind: 'group', title: 'Nine', members: ['u9', 'me'] }], [])
    await log.undo(rec, store)
    expect(await snapshot(store)).toEqual(before)
    store.close()
  })

  it('still undoes an entry an earlier version logged (format 2, no digests) as it always did', async () => {
    const store = openStore()
    const journal = journalOf(store)
    const log = new TransferLog(journal, stillAsWritten)
    store.putMetadata([], [{ id: 'c1', kind: 'direct', title: 'c1', members: ['me'] }, { id: 'g-😀', kind: 'group', title: 'g', members: ['me'] }], [])
    const before = msg('c1', 'm3', 5, 'before')
    store.putMessages([before])
    const held = msg('c1', 'm2', 1_700_000_000_000, 'held')
    store.putMessages([held])
    const rec = await log.open(T1, 'src', {}, store)
    // What format 2 logged for: m1 new, m2 held, m3 replaced (prior 'before'), 𝒜 new; then the batch written.
    const v2 = Buffer.from('0236010280a0abfef9620204000202904e021c0a02633112026d331a02753120052a047465787432066265666f72650104a7eeabfef9620263316d316d326d33672df09f9880f09d929c', 'hex')
    await journal.write([{ key: `u/${bytesToHex(T1)}/000000000000`, value: new Uint8Array([0x6d, ...v2]) }])
    store.putMessages([msg('c1', 'm1', 1_700_000_000_000, 'new'), { ...before, text: 'after' }, msg('g-😀', '𝒜', -12, 'new')])
    await log.undo(rec, store)
    expect([...store.listMessages()]).toEqual([before, held])
    store.close()
  })

  it('is replayed by opening another transfer: one left unverified is undone first, and forgotten', async () => {
    const { store, log, own } = await phoneInUse()
    const before = await snapshot(store)
    const first = await log.open(T1, 'src', {}, store)
    await receiveMetadata(log, first, store, [], [{ id: 'c7', kind: 'direct', title: 'From the first', members: ['me'] }])
    await receive(log, first, store, [{ ...own[0], text: 'first transfer' }, msg('c7', 'x', 1, 'first transfer')])
    // Resuming the same transfer keeps what it wrote.
    await log.open(T1, 'src', {}, store)
    expect(store.stats().messages).toBe(before.messages.length + 1)
    // Another transfer (another code, another old phone) does not build on it.
    const second = await log.open(T2, 'other', {}, store)
    expect(await snapshot(store)).toEqual(before)
    expect(await log.get(T1)).toBeUndefined()
    expect((await log.unfinished()).map(r => r.transferId)).toEqual([second.transferId])
    store.close()
  })

  it('tells the current session what it wrote, in order, and nothing of earlier sessions', async () => {
    const store = openStore()
    const log = new TransferLog(journalOf(store), stillAsWritten)
    const items = async (rec: TransferRecord): Promise<string[]> => {
      const out: string[] = []
      for await (const batch of log.sessionItems(rec)) for (const it of batch) out.push(`${it.flag} ${it.conversation}/${it.id}`)
      return out
    }
    const rec = await log.open(T1, 'src', {}, store)
    await receiveMetadata(log, rec, store, [], [{ id: 'c1', kind: 'direct', title: 'A', members: [] }])
    await receive(log, rec, store, [msg('c1', 'a', 1, 'a'), msg('c1', 'b', 2, 'b')])
    await receive(log, rec, store, [msg('c2', 'c', 0, 'c')])
    expect(await items(rec)).toEqual(['new c1/a', 'new c1/b', 'new c2/c'])
    const next = await log.open(T1, 'src', {}, store)
    expect(await items(next)).toEqual([])
    await receive(log, next, store, [msg('c1', 'b', 2, 'b'), msg('c1', 'd', 3, 'd'), msg('c2', 'c', 0, 'changed')])
    expect(await items(next)).toEqual(['held c1/b', 'new c1/d', 'prior c2/c'])
    await log.verified(next, OUTCOME)
    expect(await items(next)).toEqual([])
    store.close()
  })
})

// An undo killed part-way: a real process (tsx) runs it over the same store and journal and is killed
// with SIGKILL right after its sink committed the inverse of an entry, before it dropped that entry, or
// inside the commit that takes back the media records, once they went and before their files did. The
// next open finishes it; replaying what it had already applied changes nothing.
const SRC = (path: string): string => JSON.stringify(fileURLToPath(new URL(`../../src/${path}`, import.meta.url)))

/** After that many commits, or (`files`) as the first media file is about to go. */
type KillPoint = number | 'files'

function undoUntilKilled (dir: string, transferId: Uint8Array, kill: KillPoint): { status: number | null, signal: string | null, stderr: string } {
  const script = join(tempDir(), 'undo.mts')
  writeFileSync(script, `
    import { SqliteChatStore } from ${SRC('store/sqlite-store.ts')}
    import { NodeJournal } from ${SRC('journal/node-journal.ts')}
    import { TransferLog } from ${SRC('journal/transfer-log.ts')}
    import { stillAsWritten } from ${SRC('protocol/written-digest.ts')}
    const store = SqliteChatStore.open(${JSON.stringify(dir)})
    const log = new TransferLog(NodeJournal.open(${JSON.stringify(dir)}), stillAsWritten)
    const rec = await log.get(new Uint8Array(${JSON.stringify([...transferId])}))
    const kill = ${JSON.stringify(kill)}
    // The store removes a file after the transaction that dropped its record has committed.
    if (kill === 'files') store.removeMediaFile = () => { process.kill(process.pid, 'SIGKILL') }
    let commits = 0
    const sink = new Proxy(store, {
      get (target, key) {
        if (key !== 'commit') { const v = Reflect.get(target, key, target); return typeof v === 'function' ? v.bind(target) : v }
        return async (change) => {
          await target.commit(change)
          if (++commits === kill) process.kill(process.pid, 'SIGKILL')
        }
      }
    })
    await log.undo(rec, sink)
    console.log('undo finished without being killed')
  `)
  const r = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 60_000 })
  return { status: r.status, signal: r.signal, stderr: r.stderr }
}

describe('an undo cut short by a crash', () => {
  /** The refused transfer wrote metadata, three batches and media records (five commits to undo, media last). */
  async function refusedHalfWay (kill: KillPoint): Promise<{ store: SqliteChatStore, before: Awaited<ReturnType<typeof snapshot>> }> {
    const { store, log, own, verified, media } = await phoneInUse()
    const before = await snapshot(store)
    const rec = await log.open(T1, 'src', {}, store)
    await receiveMetadata(log, rec, store, [{ id: 'u9', name: 'New' }], [{ id: 'c9', kind: 'direct', title: 'New', members: ['u9'] }])
    await storeMediaRecords(store, log, rec, manifestOf([{ ...media[0], mime: 'image/png' }, recordOf('a new photo'), recordOf('another')]))
    for (const seed of ['a new photo', 'another']) await putFile(store, seed)
    await receive(log, rec, store, [{ ...own[0], text: 'forged' }, msg('c9', 'a', 1, 'new', { kind: 'image', media: recordOf('a new photo').sha256 })])
    await receive(log, rec, store, [{ ...verified[0], ts: 5, text: 'forged' }, msg('c1', 'b', 2, 'new')])
    await receive(log, rec, store, [{ ...own[0], text: 'forged again' }, msg('c1', 'c', 3, 'new', { kind: 'image', media: recordOf('another').sha256 })])
    store.close()
    for (const j of journals.splice(0)) await j.close()
    const killed = undoUntilKilled(store.dir, T1, kill)
    expect(killed.stderr).toBe('')
    expect(killed.signal).toBe('SIGKILL')
    const reopened = openStore(store.dir)
    // Cut short: entries are left to undo (after all five commits, only the media one, already applied).
    const journal = NodeJournal.open(store.dir)
    expect(await entries(journal, T1)).toBe(kill === 2 ? 4 : 1)
    await journal.close()
    if (kill === 'files') expect(mediaFiles(reopened)).not.toEqual(before.files)
    return { store: reopened, before }
  }

  for (const kill of [2, 5, 'files'] as KillPoint[]) {
    const when = kill === 'files' ? 'as the media records had gone, before their files' : `after ${kill} of its 5 commits`
    it(`is finished when the same transfer opens again, before it resumes (killed ${when})`, async () => {
      const { store, before } = await refusedHalfWay(kill)
      const log = new TransferLog(journalOf(store), stillAsWritten)
      expect(await log.get(T1)).toMatchObject({ state: 'refused' })
      expect((await log.unfinished()).map(r => r.state)).toEqual(['refused'])
      const rec = await log.open(T1, 'src', {}, store)
      expect(rec).toMatchObject({ state: 'receiving', written: 0 })
      expect(await snapshot(store)).toEqual(before)
      expect(store.stats().mediaMissing).toBe(1) // the video the first old phone lacked, as before
      store.close()
    })

    it(`is finished when another transfer opens (killed ${when})`, async () => {
      const { store, before } = await refusedHalfWay(kill)
      const log = new TransferLog(journalOf(store), stillAsWritten)
      await log.open(T2, 'other', {}, store)
      expect(await snapshot(store)).toEqual(before)
      expect(await log.get(T1)).toBeUndefined()
      store.close()
    })
  }
})
