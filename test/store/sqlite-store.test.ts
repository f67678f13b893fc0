import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { SqliteChatStore } from '../../src/store/sqlite-store.js'
import type { MessagePosition, ReceivedMedia, StoredMedia } from '../../src/store/history.js'
import { compareKeys, keyOf, type Contact, type Conversation, type MediaRecord, type Message } from '../../src/store/model.js'
import { cleanupTempDirs, exportText, openStore, putWithPlaces, tempDir } from '../helpers/stores.js'

afterEach(() => cleanupTempDirs())

const SHA_A = 'a'.repeat(64)
const SHA_B = 'b'.repeat(64)
const SHA_C = 'c'.repeat(64)

const contacts: Contact[] = [
  { id: 'u1', name: 'Alice' },
  { id: 'u2', name: '李雷', phone: '+86 10 1234' },
  { id: 'u3', name: 'مريم', phone: '' },
  { id: 'u4', name: 'Only a sender' },
  { id: 'u5', name: 'Nobody' }
]
const conversations: Conversation[] = [
  { id: 'c1', kind: 'direct', title: 'Alice', members: ['u1', 'me'] },
  { id: 'g1', kind: 'group', title: '', members: ['u3', 'me', 'u2'] }
]
const media: MediaRecord[] = [
  { sha256: SHA_A, size: 10, mime: 'image/jpeg' },
  { sha256: SHA_B, size: 20, mime: 'video/mp4' },
  { sha256: SHA_C, size: 30, mime: 'audio/ogg' }
]
const messages: Message[] = [
  { conversation: 'c1', id: 'm1', sender: 'u1', ts: 1000, kind: 'text', text: '' },
  { conversation: 'c1', id: 'm2', sender: 'me', ts: 2000, kind: 'image', media: SHA_A, status: 'read' },
  { conversation: 'c1', id: 'm3', sender: 'u1', ts: 3000, kind: 'location', location: { lat: 1.5, lon: -2.25 } },
  { conversation: 'g1', id: 'g1', sender: 'u4', ts: 1500, kind: 'voice', media: SHA_B, durationMs: 0 },
  { conversation: 'g1', id: 'g2', sender: 'u2', ts: 2500, kind: 'location', location: { lat: 0, lon: 0, label: '' }, replyTo: 'g1' },
  { conversation: 'g1', id: 'g3', sender: 'me', ts: 3500, kind: 'text', status: 'recalled' }
]

function filled (): SqliteChatStore {
  const s = openStore()
  s.putMetadata(contacts, conversations, media)
  s.putMessages(messages)
  return s
}

describe('opening a store', () => {
  it('creates history.db and media/ with a random storeId that survives reopening', () => {
    const dir = join(tempDir(), 'phone')
    const s = SqliteChatStore.open(dir, { create: true })
    const id = s.storeId
    expect(id).toMatch(/^[0-9a-f-]{36}$/)
    s.close()
    expect(existsSync(join(dir, 'history.db'))).toBe(true)
    expect(existsSync(join(dir, 'media'))).toBe(true)
    const again = SqliteChatStore.open(dir)
    expect(again.storeId).toBe(id)
    again.close()
    const other = openStore()
    expect(other.storeId).not.toBe(id)
    other.close()
  })

  it('creates new stores with 16 KiB pages, in WAL mode, and leaves an existing store its page size', () => {
    const dir = join(tempDir(), 'phone')
    SqliteChatStore.open(dir, { create: true }).close()
    const pragmas = (path: string): unknown[] => {
      const db = new Database(path)
      try { return [db.pragma('page_size', { simple: true }), db.pragma('journal_mode', { simple: true })] } finally { db.close() }
    }
    expect(pragmas(join(dir, 'history.db'))).toEqual([16384, 'wal'])
    // A store made before (SQLite's default 4 KiB pages) opens and works as it is.
    const old = join(tempDir(), 'old-phone')
    SqliteChatStore.open(old, { create: true }).close()
    const raw = new Database(join(old, 'history.db'))
    raw.pragma('journal_mode = DELETE')
    raw.pragma('page_size = 4096')
    raw.exec('VACUUM')
    raw.close()
    const s = SqliteChatStore.open(old)
    putWithPlaces(s, messages)
    expect([...s.listMessages()].length).toBe(messages.length)
    s.close()
    expect(pragmas(join(old, 'history.db'))).toEqual([4096, 'wal'])
  })

  it('refuses a missing store unless asked to create it, and says how to ask', () => {
    const dir = join(tempDir(), 'nope')
    expect(() => SqliteChatStore.open(dir)).toThrow(expect.objectContaining({
      code: 'BAD_INPUT',
      message: `no Ferry store at ${dir} (it has no history.db); to create one there, open it with { create: true }`
    }))
    // Asked as the message says, it makes the store.
    SqliteChatStore.open(dir, { create: true }).close()
    SqliteChatStore.open(dir).close()
  })

  it('tells a reader of a missing store nothing about creating one, which a reader cannot', () => {
    const dir = join(tempDir(), 'nope')
    expect(() => SqliteChatStore.open(dir, { readOnly: true })).toThrow(expect.objectContaining({
      code: 'BAD_INPUT', message: `no Ferry store at ${dir} (it has no history.db)`
    }))
  })
})

describe('merging', () => {
  it('keeps "" and absent apart, and gives back exactly what went in', () => {
    const s = filled()
    expect([...s.listMessages()]).toEqual(messages)
    expect(s.listContacts()).toEqual(contacts)
    // Absent fields are absent keys, never null or undefined-valued properties.
    const [m1] = s.listMessages()
    expect(Object.keys(m1)).toEqual(['conversation', 'id', 'sender', 'ts', 'kind', 'text'])
    expect(m1.text).toBe('')
    expect(Object.keys(s.listContacts()[0])).toEqual(['id', 'name'])
    s.close()
  })

  it('never duplicates: the same batch twice is one batch, and incoming content replaces', () => {
    const s = filled()
    const before = s.stats()
    s.putMessages(messages)
    s.putMetadata(contacts, conversations, media)
    expect(s.stats()).toEqual(before)
    s.putMessages([{ ...messages[0], text: 'edited' }])
    expect([...s.listMessages({ conversations: ['c1'] })][0].text).toBe('edited')
    expect(s.stats().messages).toBe(messages.length)
    // Replacing content also clears fields the new version no longer has.
    s.putMessages([{ conversation: 'c1', id: 'm2', sender: 'me', ts: 2000, kind: 'image' }])
    expect([...s.listMessages({ conversations: ['c1'] })][1]).toEqual({ conversation: 'c1', id: 'm2', sender: 'me', ts: 2000, kind: 'image' })
    s.close()
  })

  it('keeps chats it already held when another history merges in', async () => {
    const s = openStore()
    s.putMetadata([{ id: 'z', name: 'Zed' }], [{ id: 'zz', kind: 'direct', title: 'Mine', members: ['z', 'me'] }], [])
    s.putMessages([{ conversation: 'zz', id: 'x', sender: 'z', ts: 1, kind: 'text', text: 'kept' }])
    s.putMetadata(contacts, conversations, media)
    s.putMessages(messages)
    const text = await exportText(s)
    expect(text).toContain('"text":"kept"')
    expect(s.stats().messages).toBe(messages.length + 1)
    s.putMessages(messages)
    expect(await exportText(s)).toBe(text)
    s.close()
  })
})

describe('canonical order', () => {
  it('orders strings by code point (SQLite BINARY), not by UTF-16 units', async () => {
    const s = openStore()
    // U+FF5A sorts before U+1D49C by code point, after it by UTF-16 code unit (surrogates are 0xD8xx).
    const ids = ['𝒜', 'ｚ', 'b', 'B', 'a10', 'a9', 'é', 'e']
    s.putMetadata(ids.map(id => ({ id, name: id })), ids.map(id => ({ id, kind: 'direct' as const, title: id, members: [] })), [])
    s.putMessages(ids.map(id => ({ conversation: 'b', id, sender: 'me', ts: 5, kind: 'text' as const })))
    const expected = ['B', 'a10', 'a9', 'b', 'e', 'é', 'ｚ', '𝒜']
    expect(s.listContacts().map(c => c.id)).toEqual(expected)
    expect(s.listConversations().map(c => c.id)).toEqual(expected)
    expect([...s.listMessages()].map(m => m.id)).toEqual(expected)
    // The port reads in the same order.
    expect((await s.contacts()).map(c => c.id)).toEqual(expected)
    expect((await s.conversations()).map(c => c.conversation.id)).toEqual(expected)
    expect((await s.messages('b', undefined, 100)).map(m => m.id)).toEqual(expected)
    expect([...ids].sort()).not.toEqual(expected) // JS's default sort disagrees: the test would catch a JS-side sort
    s.close()
  })

  it('orders messages by conversation, then ts numerically, then id', () => {
    const s = openStore()
    const ms: Message[] = [
      { conversation: 'c', id: 'b', sender: 'me', ts: 1000, kind: 'text' },
      { conversation: 'c', id: 'a', sender: 'me', ts: 1000, kind: 'text' },
      { conversation: 'c', id: 'z', sender: 'me', ts: 999, kind: 'text' },
      { conversation: 'c', id: 'n', sender: 'me', ts: -5, kind: 'text' },
      { conversation: 'b', id: 'q', sender: 'me', ts: 5000, kind: 'text' }
    ]
    putWithPlaces(s, ms)
    expect([...s.listMessages()].map(m => `${m.conversation}/${m.id}`)).toEqual(['b/q', 'c/n', 'c/z', 'c/a', 'c/b'])
    s.close()
  })
})

describe('selection', () => {
  it('limits conversations, messages, counts, contacts and media', () => {
    const s = filled()
    const sel = { conversations: ['g1'] }
    expect(s.listConversations(sel).map(c => c.id)).toEqual(['g1'])
    expect([...s.listMessages(sel)].map(m => m.id)).toEqual(['g1', 'g2', 'g3'])
    expect(s.messageCounts(sel)).toEqual(new Map([['g1', 3]]))
    // Members of g1 (u3, u2) and senders of its messages (u4); never u1 or u5.
    expect(s.listContacts(sel).map(c => c.id)).toEqual(['u2', 'u3', 'u4'])
    expect([...s.listMedia(sel)].map(m => m.sha256)).toEqual([SHA_B])
    s.close()
  })

  it('applies since (inclusive) and until (exclusive) to messages and what they reference', () => {
    const s = filled()
    const sel = { since: 2000, until: 3000 }
    expect([...s.listMessages(sel)].map(m => m.id)).toEqual(['m2', 'g2'])
    expect(s.messageCounts(sel)).toEqual(new Map([['c1', 1], ['g1', 1]]))
    expect([...s.listMedia(sel)].map(m => m.sha256)).toEqual([SHA_A])
    // Date bounds alone keep every conversation, so their members stay resolvable.
    expect(s.listConversations(sel).map(c => c.id)).toEqual(['c1', 'g1'])
    expect(s.listContacts(sel).map(c => c.id)).toEqual(['u1', 'u2', 'u3'])
    s.close()
  })

  it('returns everything without a selection or with an empty one, and nothing for an empty conversation list', () => {
    const s = filled()
    for (const sel of [undefined, {}]) {
      expect(s.listContacts(sel)).toHaveLength(contacts.length)
      expect([...s.listMedia(sel)]).toHaveLength(media.length)
      expect([...s.listMessages(sel)]).toHaveLength(messages.length)
    }
    const none = { conversations: [] }
    expect(s.listConversations(none)).toEqual([])
    expect([...s.listMessages(none)]).toEqual([])
    expect(s.listContacts(none)).toEqual([])
    expect([...s.listMedia(none)]).toEqual([])
    expect(s.messageCounts(none).size).toBe(0)
    s.close()
  })

  it('tolerates an unsorted, repeated or unknown conversation list', () => {
    const s = filled()
    expect([...s.listMessages({ conversations: ['g1', 'nope', 'c1', 'g1'] })].map(m => m.id)).toEqual(['m1', 'm2', 'm3', 'g1', 'g2', 'g3'])
    s.close()
  })
})

describe('cursor-based reads', () => {
  function many (): SqliteChatStore {
    const s = openStore()
    const ms: Message[] = []
    // More than one page (1024 rows) per conversation, with runs of equal timestamps.
    for (const c of ['a', 'b', 'c']) for (let i = 0; i < 2500; i++) ms.push({ conversation: c, id: `m${i}`, sender: 'me', ts: Math.floor(i / 3), kind: 'text', text: `${c}${i}` })
    putWithPlaces(s, ms)
    return s
  }

  it('streams across pages in order and resumes strictly after any cursor', () => {
    const s = many()
    for (const sel of [undefined, { conversations: ['c', 'a'] }, { since: 100, until: 700 }, { conversations: ['b'], since: 5 }]) {
      const all = [...s.listMessages(sel)]
      for (let i = 1; i < all.length; i++) expect(compareKeys(all[i - 1], all[i])).toBeLessThan(0)
      for (const cut of [0, 1, 1023, 1024, 1025, 2499, 2500, all.length - 1]) {
        if (cut >= all.length) continue
        const rest = [...s.listMessages(sel, keyOf(all[cut]))]
        expect(rest.length).toBe(all.length - cut - 1)
        expect(rest[0]).toEqual(all[cut + 1])
      }
    }
    expect([...s.listMessages()]).toHaveLength(7500)
    expect([...s.listMessages({ since: 100, until: 700 })]).toHaveLength(3 * 600 * 3)
    s.close()
  })

  it('resumes after a cursor that is not itself a stored message', () => {
    const s = many()
    const rest = [...s.listMessages({ conversations: ['a', 'b'] }, { conversation: 'a', ts: 832, id: 'zzz' })]
    expect(rest[0]).toMatchObject({ conversation: 'a', ts: 833 })
    const tail = [...s.listMessages(undefined, { conversation: 'bb', ts: 0, id: '' })]
    expect(tail[0]).toMatchObject({ conversation: 'c', id: 'm0' })
    expect(tail).toHaveLength(2500)
    s.close()
  })

  it('leaves the connection usable when a reader stops midway', () => {
    const s = many()
    const it = s.listMessages()[Symbol.iterator]()
    it.next()
    // Another statement, even a write, while the iterator is suspended (a sender waiting on the network).
    putWithPlaces(s, [{ conversation: 'd', id: 'x', sender: 'me', ts: 0, kind: 'text' }])
    expect(s.messageCounts().get('d')).toBe(1)
    expect(it.next().value).toMatchObject({ conversation: 'a' })
    s.close()
  })
})

describe('the History port: reads', () => {
  it('names the history with the store id, the same after reopening', () => {
    const dir = tempDir()
    const s = openStore(dir)
    const id = s.historyId
    expect(id).toBe(s.storeId)
    s.close()
    const again = SqliteChatStore.open(dir)
    expect(again.historyId).toBe(id)
    again.close()
  })

  it('lists every conversation with its message count, one without messages too, and every contact', async () => {
    const s = filled()
    const quiet: Conversation = { id: 'd-quiet', kind: 'direct', title: 'Nothing yet', members: ['u5', 'me'] }
    s.putMetadata([], [quiet], [])
    expect(await s.conversations()).toEqual([
      { conversation: conversations[0], messages: 3 },
      { conversation: quiet, messages: 0 },
      { conversation: conversations[1], messages: 3 }
    ])
    expect(await s.contacts()).toEqual(contacts)
    s.close()
  })

  it('pages a conversation\'s messages in (ts, id) order, strictly after a position, and only that conversation\'s', async () => {
    const s = openStore()
    const ids = ['𝒜', 'ｚ', 'b', 'B', 'a10', 'a9', 'é', 'e']
    const mine: Message[] = []
    for (let i = 0; i < 40; i++) mine.push({ conversation: 'c', id: `${ids[i % ids.length]}${i}`, sender: 'me', ts: Math.floor(i / 5) - 3, kind: 'text', text: `${i}` })
    // Neighbours on both sides of 'c' in the canonical order, and one whose name starts with it.
    const others = ['b', 'cc', 'd'].map(conversation => ({ conversation, id: 'x', sender: 'me', ts: 0, kind: 'text' as const }))
    putWithPlaces(s, [...others, ...mine])
    const expected = [...s.listMessages({ conversations: ['c'] })]
    expect(expected).toHaveLength(40)
    for (const limit of [1, 7, 40, 100]) {
      const got: Message[] = []
      let after: MessagePosition | undefined
      for (;;) {
        const page = await s.messages('c', after, limit)
        expect(page.length).toBeLessThanOrEqual(limit)
        got.push(...page)
        if (page.length < limit) break
        after = page[page.length - 1]
      }
      expect(got).toEqual(expected)
    }
    // After a position that is not itself a message: the next one in order.
    expect((await s.messages('c', { ts: 0, id: '\u{10FFFF}' }, 1))[0]).toMatchObject({ ts: 1 })
    expect((await s.messages('c', { ts: -3, id: '' }, 1))[0]).toEqual(expected[0])
    expect(await s.messages('c', expected[39], 10)).toEqual([])
    expect(await s.messages('nowhere', undefined, 10)).toEqual([])
    s.close()
  })

  it('finds the stored versions of the ids it is asked about, in their conversation only', async () => {
    const s = filled()
    const found = await s.findMessages('c1', ['m3', 'nope', 'm1', 'g1'])
    expect(found.sort(compareKeys)).toEqual([messages[0], messages[2]])
    expect(await s.findMessages('g1', ['m1'])).toEqual([])
    expect(await s.findMessages('c1', [])).toEqual([])
    // A whole batch at once (more ids than SQLite takes as parameters).
    const many = Array.from({ length: 40_000 }, (_, i) => ({ conversation: 'big', id: `n${i}`, sender: 'me', ts: i, kind: 'text' as const }))
    putWithPlaces(s, many)
    const asked = many.filter((_, i) => i % 3 === 0).map(m => m.id)
    expect((await s.findMessages('big', [...asked, 'absent'])).map(m => m.id).sort()).toEqual([...asked].sort())
    s.close()
  })

  it('pages media records in sha256 order, saying which files are here', async () => {
    const s = filled()
    const held = await s.writeMedia((async function * () { yield new Uint8Array([1, 2, 3]) })())
    s.putMetadata([], [], [{ ...held, mime: 'image/png' }])
    const all = [...media, { ...held, mime: 'image/png' }].sort((a, b) => a.sha256 < b.sha256 ? -1 : 1)
    const got: StoredMedia[] = []
    let after: string | undefined
    for (;;) {
      const page = await s.media(after, 2)
      got.push(...page)
      if (page.length < 2) break
      after = page[page.length - 1].sha256
    }
    expect(got).toEqual(all.map(m => ({ ...m, stored: m.sha256 === held.sha256 })))
    expect(await s.media(all[all.length - 1].sha256, 10)).toEqual([])
    s.close()
  })

  it('reads byte ranges of a media file, short only at its end, into a given buffer too', async () => {
    const s = openStore()
    const data = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 31) & 0xff))
    const { sha256 } = await s.writeMedia((async function * () { yield data })())
    expect(Buffer.from(await s.readMedia(sha256, 1000, 5000)).equals(data.subarray(1000, 6000))).toBe(true)
    expect(Buffer.from(await s.readMedia(sha256, 299_990, 100)).equals(data.subarray(299_990))).toBe(true)
    const into = new Uint8Array(70_000)
    const view = await s.readMedia(sha256, 200_000, 65_536, into)
    expect(Buffer.from(view).equals(data.subarray(200_000, 265_536))).toBe(true)
    // Reads of another file in between (the sender interleaves none, but a reader may).
    const other = await s.writeMedia((async function * () { yield new Uint8Array([9, 9]) })())
    expect([...await s.readMedia(other.sha256, 0, 10)]).toEqual([9, 9])
    expect(Buffer.from(await s.readMedia(sha256, 0, 10)).equals(data.subarray(0, 10))).toBe(true)
    // A file gone (deleted while a send or a backup reads) reads as one cut short before its first byte:
    // the sender pads it and the receiving phone leaves it out, counted, rather than failing the transfer.
    expect(await s.readMedia('f'.repeat(64), 0, 10)).toHaveLength(0)
    s.close()
  })
})

describe('the History port: commit', () => {
  it('applies contacts, conversations, media records and messages, and the same change again changes nothing', async () => {
    const s = openStore()
    const change = { contacts, conversations, media, messages }
    await s.commit(change)
    expect([...s.listMessages()]).toEqual(messages)
    expect(s.listContacts()).toEqual(contacts)
    expect(s.listConversations()).toEqual(conversations)
    expect([...s.listMedia()]).toEqual(media)
    const before = await exportText(s)
    await s.commit(change)
    expect(await exportText(s)).toBe(before)
    s.close()
  })

  it('replaces a stored message by (conversation, id) whatever its ts, clearing fields the new version lacks', async () => {
    const s = filled()
    const moved: Message = { conversation: 'c1', id: 'm2', sender: 'me', ts: 5000, kind: 'image' }
    await s.commit({ messages: [moved] })
    expect([...s.listMessages({ conversations: ['c1'] })]).toEqual([messages[0], messages[2], moved])
    expect(s.stats().messages).toBe(messages.length)
    s.close()
  })

  it('merges a change that mixes new messages with stored ones, wherever they fall in it', async () => {
    // The first stored row switches the rest of the change from plain inserts to upserts.
    for (const held of [[0], [2], [5], [1, 4], [0, 1, 2, 3, 4, 5]]) {
      const s = openStore()
      putWithPlaces(s, held.map(i => ({ ...messages[i], text: 'as it was on this phone', ts: messages[i].ts - 1 })))
      await s.commit({ messages })
      expect([...s.listMessages()]).toEqual(messages)
      s.close()
    }
  })

  it('merges across multi-row statements: stored rows in a full statement, a later one or the short tail', async () => {
    // 150 messages are written as 64 + 64 + 22 rows per statement: a stored row fails its whole statement.
    const many: Message[] = Array.from({ length: 150 }, (_, i) => ({ conversation: 'c1', id: `n${i}`, sender: 'u1', ts: 10 * i, kind: 'text', text: `new ${i}` }))
    for (const held of [[0], [63, 64], [100], [149], [5, 70, 140]]) {
      const s = openStore()
      // Another ts, so each stored row sits elsewhere in the canonical order than its incoming copy.
      putWithPlaces(s, held.map(i => ({ ...many[i], text: 'as it was on this phone', ts: many[i].ts + 5 })))
      await s.commit({ messages: many })
      expect([...s.listMessages()]).toEqual(many)
      s.close()
    }
  })

  it('removes messages, conversations and contacts, and writes in the same change', async () => {
    const s = filled()
    const added: Message = { conversation: 'c1', id: 'm9', sender: 'u1', ts: 9000, kind: 'text', text: 'new' }
    await s.commit({
      messages: [added],
      remove: { messages: [{ conversation: 'g1', id: 'g1' }, { conversation: 'g1', id: 'g2' }, { conversation: 'c1', id: 'absent' }], conversations: ['g1'], contacts: ['u5'] }
    })
    expect([...s.listMessages()]).toEqual([...messages.slice(0, 3), added, messages[5]])
    expect(s.listConversations()).toEqual([conversations[0]])
    expect(s.listContacts().map(c => c.id)).toEqual(['u1', 'u2', 'u3', 'u4'])
    s.close()
  })

  it('removes media records in the change and their files after it; a file a crash left between the two breaks nothing', async () => {
    const s = filled()
    const bytes = Buffer.from('a photo that an undone transfer brought')
    const { sha256 } = await s.writeMedia((async function * () { yield bytes })())
    const record = { sha256, size: bytes.byteLength, mime: 'image/jpeg' }
    s.putMetadata([], [], [record])
    const before = await exportText(s)
    // A name that is not a sha256 never reaches the media folder, and nothing of the change is applied.
    await expect(s.commit({ remove: { media: [sha256, '../history.db'] } })).rejects.toMatchObject({ code: 'BAD_INPUT' })
    expect(await exportText(s)).toBe(before)
    expect(s.hasMediaFile(sha256)).toBe(true)
    // SHA_A: a message refers to it, so it stays.
    await s.commit({ remove: { media: [SHA_A] } })
    expect(s.hasMediaRecord(SHA_A)).toBe(true)

    // Killed after the commit, before the file went: the record is gone, the file is left.
    s.close()
    const db = new Database(join(s.dir, 'history.db'))
    db.prepare('DELETE FROM media WHERE sha256 = ?').run(sha256)
    db.close()
    const again = SqliteChatStore.open(s.dir)
    expect(again.stats()).toMatchObject({ media: media.length, mediaMissing: media.length })
    expect((await again.media(undefined, 100)).map(m => m.sha256)).toEqual(media.map(m => m.sha256))
    // The file comes again over the one left, with its record; the same removal then takes both.
    await again.putMedia({ sha256, size: bytes.byteLength, mime: 'image/jpeg', bytes, stream: async function * () { yield bytes } })
    await again.commit({ media: [record] })
    expect((await again.media(sha256.slice(0, 63), 1))[0]).toEqual({ ...record, stored: true })
    await again.commit({ remove: { media: [sha256] } })
    expect([again.hasMediaRecord(sha256), again.hasMediaFile(sha256)]).toEqual([false, false])
    again.close()
  })

  it('applies all of a change or none of it, into an empty history and into one in use', async () => {
    const broken = { ...messages[4], sender: null } as unknown as Message
    for (const make of [openStore, filled]) {
      const s = make()
      const before = await exportText(s)
      const change = {
        contacts: [{ id: 'u9', name: 'New' }],
        conversations: [{ id: 'n1', kind: 'direct' as const, title: 'New', members: ['u9'] }],
        messages: [{ ...messages[0], text: 'changed' }, { conversation: 'n1', id: 'x', sender: 'u9', ts: 1, kind: 'text' as const }, broken],
        remove: { messages: [{ conversation: 'c1', id: 'm3' }] }
      }
      await expect(s.commit(change)).rejects.toMatchObject({ code: 'STORE', message: expect.stringContaining('writing the store') })
      expect(await exportText(s)).toBe(before)
      // The store goes on working: the same change without the broken message goes in.
      await s.commit({ ...change, messages: change.messages.slice(0, 2) })
      expect(s.stats().messages).toBe(make === openStore ? 2 : messages.length) // one added, one removed
      s.close()
    }
  })
})

describe('the History port: putMedia', () => {
  const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
  const received = (bytes: Uint8Array, form: { bytes?: boolean, path?: string }): ReceivedMedia => ({
    sha256: sha(bytes),
    size: bytes.byteLength,
    mime: 'image/jpeg',
    bytes: form.bytes === true ? bytes : undefined,
    path: form.path,
    stream: async function * () { yield bytes }
  })

  it('takes a file by its bytes, by its path (moved, not copied) or as a stream, there and whole once it resolves', async () => {
    const s = openStore()
    const a = Buffer.from('a photo that came in one chunk')
    const b = Buffer.alloc(200_000, 7)
    const c = Buffer.from('a voice note read from wherever the receiver kept it')
    const path = join(s.dir, 'incoming-b')
    writeFileSync(path, b)
    await Promise.all([s.putMedia(received(a, { bytes: true })), s.putMedia(received(b, { path })), s.putMedia(received(c, {}))])
    for (const f of [a, b, c]) {
      expect(s.hasMediaFile(sha(f))).toBe(true)
      expect(readFileSync(s.mediaPath(sha(f))).equals(f)).toBe(true)
    }
    expect(existsSync(path)).toBe(false)
    s.close()
  })

  it('takes many files in flight at once', async () => {
    const s = openStore()
    const files = Array.from({ length: 300 }, (_, i) => Buffer.from(`photo number ${i}`))
    await Promise.all(files.map(async (f, i) => {
      if (i % 2 === 0) return await s.putMedia(received(f, { bytes: true }))
      const path = join(s.dir, `incoming-${i}`)
      writeFileSync(path, f)
      return await s.putMedia(received(f, { path }))
    }))
    for (const f of files) expect(readFileSync(s.mediaPath(sha(f))).equals(f)).toBe(true)
    s.close()
  })

  it('refuses a streamed file whose bytes are not its sha256, keeping nothing of it', async () => {
    const s = openStore()
    const f = Buffer.from('the real photo')
    const lie: ReceivedMedia = { ...received(f, {}), stream: async function * () { yield Buffer.from('something else') } }
    await expect(s.putMedia(lie)).rejects.toMatchObject({ code: expect.stringMatching(/^(HASH|SIZE)_MISMATCH$/) })
    expect(s.hasMediaFile(sha(f))).toBe(false)
    expect(readdirSync(join(s.dir, 'media', '.tmp'))).toEqual([])
    s.close()
  })
})

describe('stats', () => {
  it('counts records and media bytes present and missing', async () => {
    const s = filled()
    const { sha256, size } = await s.writeMedia((async function * () { yield new Uint8Array(7) })())
    s.putMetadata([], [], [{ sha256, size, mime: 'application/octet-stream' }])
    expect(s.stats()).toEqual({
      contacts: 5, conversations: 2, messages: 6, media: 4, mediaPresent: 1, mediaMissing: 3, mediaBytesPresent: 7, mediaBytesMissing: 60
    })
    s.close()
  })
})

describe('the fields imports add', () => {
  it('keeps forward, bot, edit, pin, file name and links through the port, exactly', async () => {
    const rich: Message = {
      conversation: 'c1', id: 'r1', sender: 'u1', ts: 4000, kind: 'file', media: SHA_C, forwardedFrom: '', viaBot: 'gif', editedAt: 4500,
      pinned: 'm1', fileName: 'LICENSE.md', links: [{ url: 'https://example.org' }, { text: 'here', url: 'tg://user?id=7' }]
    }
    const s = filled()
    await s.commit({ messages: [rich] })
    expect((await s.messages('c1', undefined, 100)).find(m => m.id === 'r1')).toEqual(rich)
    expect(await s.findMessages('c1', ['r1'])).toEqual([rich])
    // Replaced by a version without them, they are gone: absent is absent, not left over.
    const plain: Message = { conversation: 'c1', id: 'r1', sender: 'u1', ts: 4000, kind: 'text', text: 'plain' }
    await s.commit({ messages: [plain] })
    expect(await s.findMessages('c1', ['r1'])).toEqual([plain])
    s.close()
  })
})
