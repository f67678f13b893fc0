import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { writeFileSync } from 'node:fs'
import * as vitest from 'vitest'
import { afterEach, describe, expect } from 'vitest'
import type { History, HistorySource, MessagePosition, ReceivedMedia, StoredMedia } from '../../src/store/history.js'
import { encodedMessage } from '../../src/protocol/leaves.js'
import { ferry } from '../../src/wire/codec.js'
import { messageFromWire } from '../../src/wire/message-wire.js'
import { comparePositions, compareStrings, type Contact, type Conversation, type MediaRecord, type Message } from '../../src/store/model.js'
import { fc } from './property.js'

// What any implementation of the History port (src/store/history.ts) must do, checked through the port
// alone: a store an app wrote for its own database, the simulator's SQLite store, the browser's. Each
// check starts from an empty history. Call describeHistoryConformance from a test file:
//
//   describeHistoryConformance('my store', async () => ({ history: await MyStore.open(tmp()), close: ... }))

export interface OpenedHistory {
  history: History
  close: () => void | Promise<void>
  /**
   * A folder on the history's own file system (Node stores): received files are then also handed over
   * by `path`, as Ferry's Node journal does. Without it, files come as bytes and as a stream only.
   */
  fileDir?: string
}

const CONTACTS: Contact[] = [
  { id: 'u1', name: 'Ann', phone: '+44 20 7946 0000' },
  { id: 'u😀', name: '' },
  { id: 'me', name: '李雷' }
]
const CONVERSATIONS: Conversation[] = [
  { id: 'c1', kind: 'direct', title: 'Ann', members: ['u1', 'me'] },
  // Members keep their order, and may name people who are not contacts.
  { id: 'g😀', kind: 'group', title: '', members: ['zed', 'u1', 'me', 'u😀'] }
]

/** Ids that sort differently by code point and by UTF-16 unit: U+1F600 is above U+FFFD, its surrogates below. */
const AWKWARD_IDS = ['b', 'a', 'B', '10', '9', 'é', '\uFFFD', '\uFFFF', '😀', '𝄞', 'a😀', 'a\uFFFD', 'ab']
const T = 1_700_000_000_000

const msg = (conversation: string, id: string, ts: number, extra: Partial<Message> = {}): Message =>
  ({ conversation, id, sender: 'u1', ts, kind: 'text', text: `${id} at ${ts}`, ...extra })

const byPosition = (a: Message, b: Message): number => comparePositions(a, b)
const byId = <X extends { id: string }>(a: X, b: X): number => compareStrings(a.id, b.id)

/** What the old phone reads of a history: the history itself, or a snapshot of it. */
type Reads = Pick<HistorySource, 'conversations' | 'contacts' | 'media' | 'messages'>

/** A conversation's messages, read a page of `limit` at a time. */
async function readAll (h: Reads, conversation: string, limit = 1000): Promise<Message[]> {
  const out: Message[] = []
  for (let after: { ts: number, id: string } | undefined; ;) {
    const page = await h.messages(conversation, after, limit)
    expect(page.length).toBeLessThanOrEqual(limit)
    // A page that does not move on would loop here for ever, without yielding to a timeout.
    if (after !== undefined && page.length > 0) expect(comparePositions(page[0], after), 'a page starts after its position').toBeGreaterThan(0)
    out.push(...page)
    if (page.length < limit) return out
    after = page[page.length - 1]
  }
}

async function readMediaRecords (h: Reads, limit = 1000): Promise<Array<MediaRecord & { stored: boolean }>> {
  const out: Array<MediaRecord & { stored: boolean }> = []
  for (let after: string | undefined; ;) {
    const page = await h.media(after, limit)
    if (after !== undefined && page.length > 0) expect(page[0].sha256 > after, 'a page starts after its sha256').toBe(true)
    out.push(...page)
    if (page.length < limit) return out
    after = page[page.length - 1].sha256
  }
}

/** Everything the history holds, in a fixed order, to compare before and after. */
async function snapshot (h: Reads): Promise<unknown> {
  const conversations = (await h.conversations()).sort((a, b) => byId(a.conversation, b.conversation))
  const messages: Record<string, Message[]> = {}
  for (const c of conversations) messages[c.conversation.id] = await readAll(h, c.conversation.id)
  return { contacts: (await h.contacts()).sort(byId), conversations, media: await readMediaRecords(h), messages }
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

/** Deterministic bytes that differ at every offset that matters. */
function bytesOf (size: number, seed: number): Uint8Array {
  const b = new Uint8Array(size)
  let x = seed * 2654435761 >>> 0
  for (let i = 0; i < size; i++) { x = (x * 1103515245 + 12345) >>> 0; b[i] = x >>> 24 }
  return b
}

type Handover = 'bytes' | 'stream' | 'path'

function received (bytes: Uint8Array, mime: string, how: Handover, fileDir?: string): ReceivedMedia {
  const sha = sha256(bytes)
  let path: string | undefined
  if (how === 'path') {
    path = join(fileDir as string, `${sha}.received`)
    writeFileSync(path, bytes)
  }
  return {
    sha256: sha,
    size: bytes.byteLength,
    mime,
    bytes: how === 'bytes' ? bytes : undefined,
    path,
    async * stream () {
      for (let o = 0; o < bytes.byteLength; o += 10_000) yield bytes.slice(o, o + 10_000)
    }
  }
}

/** A message whose `field` throws when a store reads it: a commit that fails half-way through. */
function failingOnRead (m: Message, field: keyof Message): Message {
  const out = { ...m }
  Object.defineProperty(out, field, { enumerable: true, get () { throw new Error('the disk went away') } })
  return out
}

export interface ConformanceOptions {
  /**
   * The store keeps each message as its encoding and offers them (HistorySource.encodedMessages): checks
   * that they decode to its messages and come in the same pages.
   */
  keepsEncodings?: boolean
  /**
   * Checks this store is known to fail, by the start of their name, with the reason: they run as
   * expected failures (it.fails), so the day the store is fixed the suite says so.
   */
  knownDeviations?: Record<string, string>
}

export function describeHistoryConformance (name: string, open: () => OpenedHistory | Promise<OpenedHistory>, options: ConformanceOptions = {}): void {
  describe(`${name} keeps the History port's contract`, () => {
    const known = Object.entries(options.knownDeviations ?? {})
    const it = (title: string, fn: () => Promise<void>): void => {
      const deviation = known.find(([start]) => title.startsWith(start))
      if (deviation === undefined) vitest.it(title, fn)
      else vitest.it.fails(`${title} [known deviation: ${deviation[1]}]`, fn)
    }
    const opened: OpenedHistory[] = []
    afterEach(async () => {
      for (const o of opened.splice(0)) await o.close()
    })
    const fresh = async (): Promise<OpenedHistory> => {
      const o = await open()
      opened.push(o)
      return o
    }
    /** A history holding the contacts and conversations above. */
    const withChats = async (): Promise<History> => {
      const { history } = await fresh()
      await history.commit({ contacts: CONTACTS, conversations: CONVERSATIONS })
      return history
    }

    it('starts empty, with a history id that lasts', async () => {
      const { history: h } = await fresh()
      expect(typeof h.historyId).toBe('string')
      expect(h.historyId.length).toBeGreaterThan(0)
      expect(await h.conversations()).toEqual([])
      expect(await h.contacts()).toEqual([])
      expect(await h.media(undefined, 10)).toEqual([])
      expect(await h.messages('c1', undefined, 10)).toEqual([])
      expect(await h.findMessages('c1', ['m1'])).toEqual([])
      const id = h.historyId
      await h.commit({ contacts: CONTACTS })
      expect(h.historyId).toBe(id)
      const other = (await fresh()).history
      expect(other.historyId).not.toBe(id)
    })

    it('keeps contacts and conversations as given, members in order, and replaces them whole', async () => {
      const h = await withChats()
      expect((await h.contacts()).sort(byId)).toEqual([...CONTACTS].sort(byId))
      expect((await h.conversations()).sort((a, b) => byId(a.conversation, b.conversation)))
        .toEqual([...CONVERSATIONS].sort(byId).map(conversation => ({ conversation, messages: 0 })))

      // An upsert replaces the record: a field the new version lacks is gone.
      await h.commit({
        contacts: [{ id: 'u1', name: 'Ann B.' }],
        conversations: [{ id: 'g😀', kind: 'direct', title: 'Renamed', members: ['me'] }]
      })
      expect((await h.contacts()).find(c => c.id === 'u1')).toStrictEqual({ id: 'u1', name: 'Ann B.' })
      expect((await h.conversations()).find(c => c.conversation.id === 'g😀')?.conversation)
        .toEqual({ id: 'g😀', kind: 'direct', title: 'Renamed', members: ['me'] })
      expect(await h.contacts()).toHaveLength(CONTACTS.length)
    })

    it('reads a conversation in (ts, id) order, ids compared by code point', async () => {
      const h = await withChats()
      const messages = AWKWARD_IDS.flatMap((id, i) => [msg('c1', id, T), msg('c1', `${id}-${i}`, i % 3 === 0 ? -5 : T + i)])
      // Committed in pieces and out of order: the order is the store's to keep.
      await h.commit({ messages: messages.filter((_, i) => i % 2 === 1) })
      await h.commit({ messages: messages.filter((_, i) => i % 2 === 0).reverse() })
      await h.commit({ messages: [msg('g😀', 'a', T - 1)] })
      const expected = [...messages].sort(byPosition)
      expect((await readAll(h, 'c1')).map(m => m.id)).toEqual(expected.map(m => m.id))
      expect(await readAll(h, 'c1')).toEqual(expected)
      expect(await readAll(h, 'g😀')).toEqual([msg('g😀', 'a', T - 1)])
      const counts = Object.fromEntries((await h.conversations()).map(c => [c.conversation.id, c.messages]))
      expect(counts).toEqual({ c1: messages.length, 'g😀': 1 })
    })

    it('pages strictly after a position, whether or not a message is there', async () => {
      const h = await withChats()
      const messages = AWKWARD_IDS.flatMap((id, i) => [msg('c1', id, T), msg('c1', id, T + 1 + (i % 4))].map((m, j) => ({ ...m, id: `${m.id}${j === 0 ? '' : '~'}` })))
      await h.commit({ messages })
      const all = [...messages].sort(byPosition)
      for (const limit of [1, 2, 3, 7]) expect(await readAll(h, 'c1', limit)).toEqual(all)
      const probes = [
        ...all.map(m => ({ ts: m.ts, id: m.id })),
        { ts: T, id: '\uFFFE' }, // between U+FFFD and the astral ids: a UTF-16 comparison puts it after them
        { ts: T, id: 'a\u0001' },
        { ts: T - 1, id: 'zzz' },
        { ts: T + 100, id: '' },
        { ts: Number.MIN_SAFE_INTEGER, id: 'x' }
      ]
      for (const after of probes) {
        const want = all.filter(m => comparePositions(m, after) > 0)
        expect((await h.messages('c1', after, 1000)).map(m => m.id), `after (${after.ts}, ${JSON.stringify(after.id)})`).toEqual(want.map(m => m.id))
        expect(await h.messages('c1', after, 2)).toEqual(want.slice(0, 2))
      }
    })

    it('carries every field of a message exactly, and leaves absent ones absent', async () => {
      const h = await withChats()
      const photo = { sha256: sha256(bytesOf(10, 1)), size: 10, mime: 'image/jpeg' }
      await h.commit({ media: [photo] })
      const full: Message = {
        conversation: 'c1',
        id: 'full',
        sender: 'u😀',
        ts: T,
        kind: 'image',
        text: 'caption ✓ שלום',
        media: photo.sha256,
        durationMs: 4321,
        location: { lat: -33.8688, lon: 151.2093, label: '' },
        replyTo: 'bare',
        status: 'read',
        forwardedFrom: '',
        viaBot: 'gifbot',
        editedAt: T + 5,
        pinned: 'bare',
        fileName: 'IMG 0001.jpg',
        links: [{ url: 'https://example.org/a?b=c' }, { text: 'here', url: 'https://example.org/' }]
      }
      const bare: Message = { conversation: 'c1', id: 'bare', sender: 'me', ts: T - 1, kind: 'system' }
      const empty: Message = { conversation: 'c1', id: 'empty', sender: 'me', ts: T + 1, kind: 'text', text: '', location: { lat: 0, lon: 0 } }
      // One rare field alone, values at the edges of what a number or a string holds, floats that print long.
      const rare: Message = { conversation: 'c1', id: 'rare', sender: 'me', ts: T + 2, kind: 'voice', durationMs: 0, editedAt: Number.MAX_SAFE_INTEGER, fileName: 'a"b\\c\n\u0000[null]', location: { lat: 0.1 + 0.2, lon: -5e-324, label: '\u{10ffff}' } }
      await h.commit({ messages: [full, bare, empty, rare] })
      const back = await readAll(h, 'c1')
      expect(back).toEqual([bare, full, empty, rare])
      for (const m of back) {
        expect(Object.entries(m).filter(([, v]) => v === undefined || v === null), `${m.id} has no null or undefined fields`).toEqual([])
      }
      expect(Object.keys(back[0]).sort()).toEqual(Object.keys(bare).sort())
      expect((await h.findMessages('c1', ['full']))[0]).toEqual(full)
      expect((await h.findMessages('c1', ['rare']))[0]).toEqual(rare)
    })

    it('upserts by (conversation, id): the incoming version replaces the stored one, whatever its ts', async () => {
      const h = await withChats()
      await h.commit({ messages: [msg('c1', 'x', T), msg('c1', 'y', T + 10), msg('g😀', 'x', T)] })
      await h.commit({ messages: [msg('c1', 'x', T + 20, { text: 'edited', editedAt: T + 30 })] })
      await h.commit({ messages: [msg('c1', 'y', T - 10, { kind: 'system', text: undefined })] })
      expect(await readAll(h, 'c1')).toStrictEqual([
        { conversation: 'c1', id: 'y', sender: 'u1', ts: T - 10, kind: 'system' },
        msg('c1', 'x', T + 20, { text: 'edited', editedAt: T + 30 })
      ])
      // The same id in another conversation is another message.
      expect(await readAll(h, 'g😀')).toEqual([msg('g😀', 'x', T)])
      // Twice in one change: the later one is what stays.
      await h.commit({ messages: [msg('c1', 'z', T), msg('c1', 'z', T + 1, { text: 'second' })] })
      expect(await h.findMessages('c1', ['z'])).toEqual([msg('c1', 'z', T + 1, { text: 'second' })])
      expect((await h.conversations()).find(c => c.conversation.id === 'c1')?.messages).toBe(3)
    })

    it('replaces the importers\' fields with the version\'s own: cleared when it has none, in the change\'s order', async () => {
      const h = await withChats()
      await h.commit({ messages: [msg('c1', 'x', T, { editedAt: T + 30, pinned: 'x', fileName: 'x.jpg' }), msg('c1', 'y', T + 1)] })
      expect((await h.findMessages('c1', ['x']))[0].editedAt).toBe(T + 30)
      // One change holding versions with and without them, of the same message too.
      const link = [{ url: 'https://example.org/' }]
      await h.commit({
        messages: [
          msg('c1', 'x', T + 20, { text: 'plain again' }),
          msg('c1', 'w', T, { pinned: 'x', forwardedFrom: 'someone' }), msg('c1', 'w', T + 2, { text: 'plain' }),
          msg('c1', 'v', T, { text: 'plain' }), msg('c1', 'v', T + 3, { fileName: 'f.txt', links: link, viaBot: 'bot' })
        ]
      })
      expect(await h.findMessages('c1', ['x'])).toStrictEqual([msg('c1', 'x', T + 20, { text: 'plain again' })])
      expect(await h.findMessages('c1', ['w'])).toStrictEqual([msg('c1', 'w', T + 2, { text: 'plain' })])
      expect(await h.findMessages('c1', ['v'])).toStrictEqual([msg('c1', 'v', T + 3, { fileName: 'f.txt', links: link, viaBot: 'bot' })])
      expect(await h.findMessages('c1', ['y'])).toStrictEqual([msg('c1', 'y', T + 1)])
      expect((await h.conversations()).find(c => c.conversation.id === 'c1')?.messages).toBe(4)
    })

    if (options.keepsEncodings === true) {
      it('offers each message as bytes that decode to it, paged as its messages are (encodedMessages)', async () => {
        const h = await withChats()
        expect(h.encodedMessages, 'the store offers encodedMessages').toBeTypeOf('function')
        const read = (h.encodedMessages as NonNullable<History['encodedMessages']>).bind(h)
        const messages = AWKWARD_IDS.map((id, i) => msg(i % 2 === 0 ? 'c1' : 'g😀', id, T + (i % 3), i % 4 === 0 ? { replyTo: 'a', status: 'read' } : {}))
        // As Ferry commits what it received (with the bytes each message came in), then as an app or an
        // undo does (without them): an edit that moves a message, and a removal.
        await h.commit({ messages, encoded: messages.map(encodedMessage) })
        expect(await readAll(h, 'c1')).toEqual(messages.filter(m => m.conversation === 'c1').sort(byPosition))
        await h.commit({ messages: [msg('c1', AWKWARD_IDS[0], T + 7, { text: 'edited' })] })
        await h.commit({ remove: { messages: [{ conversation: 'g😀', id: AWKWARD_IDS[1] }] } })
        for (const c of ['c1', 'g😀']) {
          for (const limit of [1, 3, 1000]) {
            let pages = 0
            for (let after: MessagePosition | undefined; ;) {
              const [ms, es] = await Promise.all([h.messages(c, after, limit), read(c, after, limit)])
              pages++
              expect(es.map(e => [e.ts, e.id]), `${c}, pages of ${limit}`).toEqual(ms.map(m => [m.ts, m.id]))
              es.forEach((e, i) => { expect(messageFromWire(ferry.Message.decode(e.encoded))).toEqual(ms[i]) })
              if (ms.length < limit) break
              after = ms[ms.length - 1]
            }
            expect(pages, `${c} read in pages of ${limit}`).toBeGreaterThan(limit === 1 ? 5 : 0)
          }
        }
        expect((await readAll(h, 'c1')).find(m => m.id === AWKWARD_IDS[0])?.text).toBe('edited')
      })
    }

    it('keeps a generation token per source, when it offers StoreGenerations, whatever the history changes', async () => {
      const h = await withChats()
      // Optional (src/store/history.ts): a store without it keeps Ferry's bases whatever happens to its files.
      if (h.generations === undefined) return
      const g = h.generations
      expect(await g.generation('old-phone')).toBeUndefined()
      await g.keepGeneration('old-phone', 'a1')
      await g.keepGeneration('other-phone', 'b1')
      await h.commit({ messages: [msg('c1', 'a', T)] })
      await h.commit({ remove: { messages: [{ conversation: 'c1', id: 'a' }], contacts: ['u😀'] } })
      expect(await g.generation('old-phone')).toBe('a1')
      await g.keepGeneration('old-phone', 'a2')
      expect(await g.generation('old-phone')).toBe('a2')
      expect(await g.generation('other-phone')).toBe('b1')
      expect(await g.generation('a1')).toBeUndefined()
    })

    it('finds stored messages by id, and nothing for ids it does not hold', async () => {
      const h = await withChats()
      const stored = AWKWARD_IDS.map((id, i) => msg('c1', id, T + i))
      await h.commit({ messages: [...stored, msg('g😀', 'only-in-g', T)] })
      const found = await h.findMessages('c1', ['😀', 'absent', 'a', 'only-in-g', '😀x', '\uFFFD'])
      expect(found.sort(byId)).toEqual(stored.filter(m => ['😀', 'a', '\uFFFD'].includes(m.id)).sort(byId))
      expect(await h.findMessages('c1', [])).toEqual([])
      expect(await h.findMessages('no-such-chat', ['a'])).toEqual([])
      expect(await h.findMessages('c1', ['absent', 'also absent'])).toEqual([])
      expect((await h.findMessages('c1', AWKWARD_IDS)).sort(byId)).toEqual([...stored].sort(byId))
    })

    it('removes messages, conversations and contacts, and ignores what it does not hold', async () => {
      const h = await withChats()
      await h.commit({ messages: [msg('c1', 'a', T), msg('c1', 'b', T + 1), msg('g😀', 'a', T)] })
      await h.commit({ remove: { messages: [{ conversation: 'c1', id: 'a' }, { conversation: 'c1', id: 'absent' }, { conversation: 'gone', id: 'a' }] } })
      expect(await readAll(h, 'c1')).toEqual([msg('c1', 'b', T + 1)])
      expect(await readAll(h, 'g😀')).toEqual([msg('g😀', 'a', T)])
      // As an undone transfer does: its messages first, then the conversation and contact it added.
      await h.commit({ remove: { messages: [{ conversation: 'g😀', id: 'a' }], conversations: ['g😀', 'never'], contacts: ['u😀', 'nobody'] } })
      expect((await h.conversations()).map(c => c.conversation.id)).toEqual(['c1'])
      expect((await h.contacts()).map(c => c.id).sort(compareStrings)).toEqual(['me', 'u1'])
      expect(await readAll(h, 'g😀')).toEqual([])
    })

    it('lists media records in sha256 order, a page after a sha256, each saying whether its file is here', async () => {
      const { history: h } = await fresh()
      const records = Array.from({ length: 9 }, (_, i) => ({ sha256: sha256(bytesOf(20 + i, i)), size: 20 + i, mime: i % 2 === 0 ? 'image/jpeg' : 'audio/ogg' }))
      await h.commit({ media: records.slice(0, 4) })
      await h.commit({ media: records.slice(4) })
      const sorted = [...records].sort((a, b) => compareStrings(a.sha256, b.sha256)).map(r => ({ ...r, stored: false }))
      expect(await readMediaRecords(h)).toEqual(sorted)
      for (const limit of [1, 2, 4]) expect(await readMediaRecords(h, limit)).toEqual(sorted)
      expect(await h.media(sorted[3].sha256, 3)).toEqual(sorted.slice(4, 7))
      // A prefix of a stored sha256 is no record's, and sorts just before it.
      expect(await h.media(sorted[5].sha256.slice(0, 40), 100)).toEqual(sorted.slice(5))
      // A record again (a second transfer's manifest) replaces size and mime.
      await h.commit({ media: [{ ...records[0], mime: 'image/png' }] })
      expect((await readMediaRecords(h)).find(r => r.sha256 === records[0].sha256)?.mime).toBe('image/png')
    })

    it('takes received files durably and reads back any byte range', async () => {
      const o = await fresh()
      const h = o.history
      const ways: Handover[] = o.fileDir !== undefined ? ['bytes', 'stream', 'path'] : ['bytes', 'stream']
      const files = ways.map((how, i) => ({ how, bytes: bytesOf(70_001 + i * 3, 100 + i), mime: 'video/mp4' }))
      const absent = { sha256: sha256(bytesOf(5, 9)), size: 5, mime: 'image/gif' }
      await h.commit({ media: [...files.map(f => ({ sha256: sha256(f.bytes), size: f.bytes.byteLength, mime: f.mime })), absent] })
      await Promise.all(files.map(async f => await h.putMedia(received(f.bytes, f.mime, f.how, o.fileDir))))
      const listed = await readMediaRecords(h)
      for (const f of files) {
        const sha = sha256(f.bytes)
        expect(listed.find(r => r.sha256 === sha), `a file handed over by ${f.how} is stored`).toEqual({ sha256: sha, size: f.bytes.byteLength, mime: f.mime, stored: true })
        expect(Buffer.from(await h.readMedia(sha, 0, f.bytes.byteLength)).equals(f.bytes)).toBe(true)
        expect(Buffer.from(await h.readMedia(sha, 12_345, 1000)).equals(f.bytes.subarray(12_345, 13_345))).toBe(true)
        // Fewer bytes only at the end of the file.
        expect(Buffer.from(await h.readMedia(sha, f.bytes.byteLength - 10, 64)).equals(f.bytes.subarray(f.bytes.byteLength - 10))).toBe(true)
        const into = new Uint8Array(4096).fill(7)
        expect(Buffer.from(await h.readMedia(sha, 500, 2048, into)).equals(f.bytes.subarray(500, 2548))).toBe(true)
      }
      expect(listed.find(r => r.sha256 === absent.sha256)?.stored).toBe(false)
      // The record again (a later manifest) leaves the file where it is.
      await h.commit({ media: [{ sha256: sha256(files[0].bytes), size: files[0].bytes.byteLength, mime: files[0].mime }] })
      expect((await readMediaRecords(h)).find(r => r.sha256 === sha256(files[0].bytes))?.stored).toBe(true)
    })

    it('removes media records with their files, keeping those a message refers to or the change puts', async () => {
      const o = await fresh()
      const h = o.history
      await h.commit({ contacts: CONTACTS, conversations: CONVERSATIONS })
      const file = (seed: number): { bytes: Uint8Array, record: MediaRecord } => {
        const bytes = bytesOf(3000 + seed, 200 + seed)
        return { bytes, record: { sha256: sha256(bytes), size: bytes.byteLength, mime: 'image/jpeg' } }
      }
      // What an undone transfer had added: a record with its file, one without, one a message the app
      // wrote meanwhile refers to, one a message of this same change comes to refer to, and one the change
      // puts again. And a record it never added, which stays.
      const [taken, bare, inUse, usedNow, putAgain, other] = [1, 2, 3, 4, 5, 6].map(file)
      await h.commit({ media: [taken, bare, inUse, usedNow, putAgain, other].map(f => f.record) })
      for (const f of [taken, inUse, usedNow, putAgain, other]) await h.putMedia(received(f.bytes, f.record.mime, 'bytes'))
      await h.commit({ messages: [msg('c1', 'photo', T, { kind: 'image', media: inUse.record.sha256 })] })
      const gone = [taken, bare, inUse, usedNow, putAgain].map(f => f.record.sha256)
      await h.commit({
        media: [{ ...putAgain.record, mime: 'image/png' }],
        messages: [msg('g😀', 'forward', T, { kind: 'image', media: usedNow.record.sha256 })],
        remove: { media: [...gone, sha256(bytesOf(1, 99)), taken.record.sha256] }
      })
      const stored = (f: { record: MediaRecord }): StoredMedia => ({ ...f.record, stored: true })
      const bySha = (a: MediaRecord, b: MediaRecord): number => compareStrings(a.sha256, b.sha256)
      expect(await readMediaRecords(h)).toEqual([stored(inUse), stored(usedNow), { ...stored(putAgain), mime: 'image/png' }, stored(other)].sort(bySha))
      expect(Buffer.from(await h.readMedia(inUse.record.sha256, 0, 10_000)).equals(inUse.bytes)).toBe(true)
      // The file went with its record: the record again (a later transfer) finds no file.
      await h.commit({ media: [taken.record] })
      expect((await h.media(taken.record.sha256.slice(0, 63), 1))[0]).toEqual({ ...taken.record, stored: false })

      // Once no message refers to it, it can go.
      await h.commit({ remove: { messages: [{ conversation: 'c1', id: 'photo' }], media: [inUse.record.sha256, taken.record.sha256] } })
      expect((await readMediaRecords(h)).map(r => r.sha256).sort()).toEqual([usedNow, putAgain, other].map(f => f.record.sha256).sort())
      // A file handed over before its record is the record's once it comes (a resumed transfer's order);
      // one handed over and then removed is gone, whether or not a record named it (an undo a crash cut
      // short, run again, finds the record gone and the file still there).
      const early = file(7)
      const undone = file(8)
      for (const f of [early, undone]) await h.putMedia(received(f.bytes, f.record.mime, 'bytes'))
      await h.commit({ remove: { media: [undone.record.sha256] } })
      await h.commit({ media: [early.record, undone.record] })
      expect(await readMediaRecords(h)).toContainEqual(stored(early))
      expect(await readMediaRecords(h)).toContainEqual({ ...undone.record, stored: false })
    })

    it('applies a change all or nothing: one that fails half-way leaves everything as it was', async () => {
      const h = await withChats()
      const photo = { sha256: sha256(bytesOf(33, 3)), size: 33, mime: 'image/jpeg' }
      await h.commit({ media: [photo], messages: [msg('c1', 'a', T), msg('c1', 'b', T + 1), msg('g😀', 'a', T)] })
      const before = await snapshot(h)
      const change = {
        contacts: [{ id: 'new', name: 'New' }, { id: 'u1', name: 'Renamed' }],
        conversations: [{ id: 'c-new', kind: 'direct' as const, title: 'New', members: ['new'] }, { ...CONVERSATIONS[0], title: 'Renamed' }],
        media: [{ sha256: sha256(bytesOf(44, 4)), size: 44, mime: 'image/png' }, { ...photo, mime: 'image/webp' }],
        messages: [msg('c1', 'a', T, { text: 'replaced' }), msg('c1', 'c', T + 2), msg('c-new', 'n', T), failingOnRead(msg('c1', 'd', T + 3), 'text')],
        remove: { messages: [{ conversation: 'c1', id: 'b' }], conversations: ['g😀'], contacts: ['u😀'] }
      }
      await expect(h.commit(change)).rejects.toThrow()
      expect(await snapshot(h)).toEqual(before)
      // And the store still works.
      await h.commit({ messages: [msg('c1', 'c', T + 2)] })
      expect((await readAll(h, 'c1')).map(m => m.id)).toEqual(['a', 'b', 'c'])
    })

    it('offers, if at all, a snapshot that reads the history as it was taken while it is written', async () => {
      const h = await withChats()
      if (h.snapshot === undefined) return // read live: nothing to hold
      const photo = { sha256: sha256(bytesOf(33, 3)), size: 33, mime: 'image/jpeg' }
      await h.commit({ media: [photo], messages: [msg('c1', 'a', T), msg('c1', 'b', T + 1), msg('g😀', 'a', T)] })
      const before = await snapshot(h)
      const taken = await h.snapshot()
      expect(taken.historyId).toBe(h.historyId)
      // A message arriving, one dated back, one edited, one deleted, a chat, a contact and a record added.
      await h.commit({
        contacts: [{ id: 'new', name: 'New' }],
        conversations: [{ id: 'c-new', kind: 'direct', title: 'New', members: ['new'] }],
        media: [{ sha256: sha256(bytesOf(44, 4)), size: 44, mime: 'image/png' }],
        messages: [msg('c1', 'z', T + 9), msg('c1', 'early', T - 9), msg('c1', 'b', T + 1, { text: 'edited' }), msg('c-new', 'n', T)],
        remove: { messages: [{ conversation: 'g😀', id: 'a' }] }
      })
      const after = await snapshot(h)
      expect(after).not.toEqual(before)
      expect(await snapshot(taken)).toEqual(before)
      await taken.release()
      expect(await snapshot(h)).toEqual(after)
      // Taken again, it holds the history as it is now.
      const again = await h.snapshot()
      expect(await snapshot(again)).toEqual(after)
      await again.release()
    })

    it('keeps any ids and timestamps in order, page by page (property)', async () => {
      const h = await withChats()
      let run = 0
      const id = fc.string({ unit: 'binary', minLength: 1, maxLength: 4 })
      const ts = fc.oneof(fc.integer({ min: -2, max: 2 }), fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }))
      await fc.assert(fc.asyncProperty(
        fc.uniqueArray(fc.record({ id, ts }), { minLength: 1, maxLength: 40, selector: m => m.id }),
        fc.integer({ min: 1, max: 9 }),
        async (keys, limit) => {
          const conversation = `p${run++}`
          await h.commit({ conversations: [{ id: conversation, kind: 'group', title: '', members: [] }] })
          const messages = keys.map(k => msg(conversation, k.id, k.ts))
          await h.commit({ messages })
          const want = [...messages].sort(byPosition)
          expect(await readAll(h, conversation, limit)).toEqual(want)
          const some = keys.filter((_, i) => i % 2 === 0).map(k => k.id)
          expect((await h.findMessages(conversation, some)).sort(byId)).toEqual(want.filter(m => some.includes(m.id)).sort(byId))
        }
      ), { numRuns: 40 })
    })
  })
}
