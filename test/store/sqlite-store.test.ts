import { existsSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { SqliteChatStore } from '../../src/store/sqlite-store.js'
import { compareKeys, keyOf, type Contact, type Conversation, type MediaRecord, type Message } from '../../src/store/model.js'
import { cleanupTempDirs, exportText, openStore, tempDir } from '../helpers/stores.js'

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
    s.putMessages(messages)
    expect([...s.messages()].length).toBe(messages.length)
    s.close()
    expect(pragmas(join(old, 'history.db'))).toEqual([4096, 'wal'])
  })

  it('refuses a missing store unless asked to create it', () => {
    expect(() => SqliteChatStore.open(join(tempDir(), 'nope'))).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }))
  })
})

describe('merging', () => {
  it('keeps "" and absent apart, and gives back exactly what went in', () => {
    const s = filled()
    expect([...s.messages()]).toEqual(messages)
    expect(s.contacts()).toEqual(contacts)
    // Absent fields are absent keys, never null or undefined-valued properties.
    const [m1] = s.messages()
    expect(Object.keys(m1)).toEqual(['conversation', 'id', 'sender', 'ts', 'kind', 'text'])
    expect(m1.text).toBe('')
    expect(Object.keys(s.contacts()[0])).toEqual(['id', 'name'])
    s.close()
  })

  it('never duplicates: the same batch twice is one batch, and incoming content replaces', () => {
    const s = filled()
    const before = s.stats()
    s.putMessages(messages)
    s.putMetadata(contacts, conversations, media)
    expect(s.stats()).toEqual(before)
    s.putMessages([{ ...messages[0], text: 'edited' }])
    expect([...s.messages({ conversations: ['c1'] })][0].text).toBe('edited')
    expect(s.stats().messages).toBe(messages.length)
    // Replacing content also clears fields the new version no longer has.
    s.putMessages([{ conversation: 'c1', id: 'm2', sender: 'me', ts: 2000, kind: 'image' }])
    expect([...s.messages({ conversations: ['c1'] })][1]).toEqual({ conversation: 'c1', id: 'm2', sender: 'me', ts: 2000, kind: 'image' })
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
  it('orders strings by code point (SQLite BINARY), not by UTF-16 units', () => {
    const s = openStore()
    // U+FF5A sorts before U+1D49C by code point, after it by UTF-16 code unit (surrogates are 0xD8xx).
    const ids = ['𝒜', 'ｚ', 'b', 'B', 'a10', 'a9', 'é', 'e']
    s.putMetadata(ids.map(id => ({ id, name: id })), ids.map(id => ({ id, kind: 'direct' as const, title: id, members: [] })), [])
    s.putMessages(ids.map(id => ({ conversation: 'c', id, sender: 'me', ts: 5, kind: 'text' as const })))
    const expected = ['B', 'a10', 'a9', 'b', 'e', 'é', 'ｚ', '𝒜']
    expect(s.contacts().map(c => c.id)).toEqual(expected)
    expect(s.conversations().map(c => c.id)).toEqual(expected)
    expect([...s.messages()].map(m => m.id)).toEqual(expected)
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
    s.putMessages(ms)
    expect([...s.messages()].map(m => `${m.conversation}/${m.id}`)).toEqual(['b/q', 'c/n', 'c/z', 'c/a', 'c/b'])
    s.close()
  })
})

describe('selection', () => {
  it('limits conversations, messages, counts, contacts and media', () => {
    const s = filled()
    const sel = { conversations: ['g1'] }
    expect(s.conversations(sel).map(c => c.id)).toEqual(['g1'])
    expect([...s.messages(sel)].map(m => m.id)).toEqual(['g1', 'g2', 'g3'])
    expect(s.messageCounts(sel)).toEqual(new Map([['g1', 3]]))
    // Members of g1 (u3, u2) and senders of its messages (u4); never u1 or u5.
    expect(s.contacts(sel).map(c => c.id)).toEqual(['u2', 'u3', 'u4'])
    expect([...s.media(sel)].map(m => m.sha256)).toEqual([SHA_B])
    s.close()
  })

  it('applies since (inclusive) and until (exclusive) to messages and what they reference', () => {
    const s = filled()
    const sel = { since: 2000, until: 3000 }
    expect([...s.messages(sel)].map(m => m.id)).toEqual(['m2', 'g2'])
    expect(s.messageCounts(sel)).toEqual(new Map([['c1', 1], ['g1', 1]]))
    expect([...s.media(sel)].map(m => m.sha256)).toEqual([SHA_A])
    // Date bounds alone keep every conversation, so their members stay resolvable.
    expect(s.conversations(sel).map(c => c.id)).toEqual(['c1', 'g1'])
    expect(s.contacts(sel).map(c => c.id)).toEqual(['u1', 'u2', 'u3'])
    s.close()
  })

  it('returns everything without a selection or with an empty one, and nothing for an empty conversation list', () => {
    const s = filled()
    for (const sel of [undefined, {}]) {
      expect(s.contacts(sel)).toHaveLength(contacts.length)
      expect([...s.media(sel)]).toHaveLength(media.length)
      expect([...s.messages(sel)]).toHaveLength(messages.length)
    }
    const none = { conversations: [] }
    expect(s.conversations(none)).toEqual([])
    expect([...s.messages(none)]).toEqual([])
    expect(s.contacts(none)).toEqual([])
    expect([...s.media(none)]).toEqual([])
    expect(s.messageCounts(none).size).toBe(0)
    s.close()
  })

  it('tolerates an unsorted, repeated or unknown conversation list', () => {
    const s = filled()
    expect([...s.messages({ conversations: ['g1', 'nope', 'c1', 'g1'] })].map(m => m.id)).toEqual(['m1', 'm2', 'm3', 'g1', 'g2', 'g3'])
    s.close()
  })
})

describe('cursor-based reads', () => {
  function many (): SqliteChatStore {
    const s = openStore()
    const ms: Message[] = []
    // More than one page (1024 rows) per conversation, with runs of equal timestamps.
    for (const c of ['a', 'b', 'c']) for (let i = 0; i < 2500; i++) ms.push({ conversation: c, id: `m${i}`, sender: 'me', ts: Math.floor(i / 3), kind: 'text', text: `${c}${i}` })
    s.putMessages(ms)
    return s
  }

  it('streams across pages in order and resumes strictly after any cursor', () => {
    const s = many()
    for (const sel of [undefined, { conversations: ['c', 'a'] }, { since: 100, until: 700 }, { conversations: ['b'], since: 5 }]) {
      const all = [...s.messages(sel)]
      for (let i = 1; i < all.length; i++) expect(compareKeys(all[i - 1], all[i])).toBeLessThan(0)
      for (const cut of [0, 1, 1023, 1024, 1025, 2499, 2500, all.length - 1]) {
        if (cut >= all.length) continue
        const rest = [...s.messages(sel, keyOf(all[cut]))]
        expect(rest.length).toBe(all.length - cut - 1)
        expect(rest[0]).toEqual(all[cut + 1])
      }
    }
    expect([...s.messages()]).toHaveLength(7500)
    expect([...s.messages({ since: 100, until: 700 })]).toHaveLength(3 * 600 * 3)
    s.close()
  })

  it('resumes after a cursor that is not itself a stored message', () => {
    const s = many()
    const rest = [...s.messages({ conversations: ['a', 'b'] }, { conversation: 'a', ts: 832, id: 'zzz' })]
    expect(rest[0]).toMatchObject({ conversation: 'a', ts: 833 })
    const tail = [...s.messages(undefined, { conversation: 'bb', ts: 0, id: '' })]
    expect(tail[0]).toMatchObject({ conversation: 'c', id: 'm0' })
    expect(tail).toHaveLength(2500)
    s.close()
  })

  it('leaves the connection usable when a reader stops midway', () => {
    const s = many()
    const it = s.messages()[Symbol.iterator]()
    it.next()
    // Another statement, even a write, while the iterator is suspended (a sender waiting on the network).
    s.putMessages([{ conversation: 'd', id: 'x', sender: 'me', ts: 0, kind: 'text' }])
    expect(s.messageCounts().get('d')).toBe(1)
    expect(it.next().value).toMatchObject({ conversation: 'a' })
    s.close()
  })
})

describe('transfers', () => {
  const tid = new Uint8Array(16).fill(7)

  it('finds or creates a checkpoint and advances it with each committed batch', () => {
    const s = openStore()
    const cp = s.openTransfer(tid, 'source-1', { conversations: ['c1'] })
    expect(cp).toMatchObject({ messages: 0, state: 'receiving' })
    expect(cp.cursor).toBeUndefined()
    s.putMetadata([], conversations, media)
    s.commitBatch(cp.transfer, messages.slice(0, 2), keyOf(messages[1]))
    expect(s.openTransfer(tid, 'source-1', { conversations: ['c1'] })).toMatchObject({ transfer: cp.transfer, messages: 2, cursor: keyOf(messages[1]) })
    const [t] = s.transfers()
    expect(t).toMatchObject({ transfer: cp.transfer, sourceId: 'source-1', selection: { conversations: ['c1'] }, messages: 2 })
    expect(Buffer.from(t.transferId).equals(Buffer.from(tid))).toBe(true)
    s.close()
  })

  it('changes nothing when a batch is applied again', () => {
    const s = openStore()
    const cp = s.openTransfer(tid, 'src', {})
    const batch = messages.slice(0, 3)
    s.commitBatch(cp.transfer, batch, keyOf(batch[2]))
    s.commitBatch(cp.transfer, batch, keyOf(batch[2]))
    // A batch overlapping the committed one counts only its new messages.
    s.commitBatch(cp.transfer, messages.slice(2, 4), keyOf(messages[3]))
    expect(s.openTransfer(tid, 'src', {})).toMatchObject({ messages: 4, cursor: keyOf(messages[3]) })
    expect(s.stats().messages).toBe(4)
    s.close()
  })

  it('tags the rows a transfer wrote, and only those', () => {
    const s = openStore()
    s.putMessages([{ conversation: 'c1', id: 'local', sender: 'me', ts: 1, kind: 'text' }])
    const cp = s.openTransfer(tid, 'src', {})
    s.commitBatch(cp.transfer, messages.slice(0, 3), keyOf(messages[2]))
    expect([...s.transferMessages(cp.transfer, 'c1')]).toEqual(messages.slice(0, 3))
    expect([...s.transferMessages(cp.transfer, 'g1')]).toEqual([])
    // Rewritten locally, a row is no longer the transfer's.
    s.putMessages([messages[0]])
    expect([...s.transferMessages(cp.transfer, 'c1')].map(m => m.id)).toEqual(['m2', 'm3'])
    s.close()
  })

  it('merges a batch that mixes new rows with rows the store holds, wherever they fall in it', () => {
    // The first rows the store holds switch the rest of the batch from plain inserts to upserts.
    for (const held of [[0], [2], [5], [1, 4], [0, 1, 2, 3, 4, 5]]) {
      const s = openStore()
      const before = held.map(i => ({ ...messages[i], text: 'as it was on this phone', ts: messages[i].ts - 1 }))
      s.putMessages(before)
      const cp = s.openTransfer(tid, 'src', {})
      s.commitBatch(cp.transfer, messages, keyOf(messages[messages.length - 1]))
      expect([...s.messages()].sort(compareKeys)).toEqual([...messages].sort(compareKeys))
      expect(s.openTransfer(tid, 'src', {}).messages).toBe(messages.length)
      s.resetTransfer(cp.transfer) // the rows it overwrote come back
      expect([...s.messages()].sort(compareKeys)).toEqual([...before].sort(compareKeys))
      s.close()
    }
  })

  it('merges across multi-row statements: held rows in a full statement, a later one or the short tail', () => {
    // 150 messages are written as 64 + 64 + 22 rows per statement: a held row fails its whole statement.
    const many: Message[] = Array.from({ length: 150 }, (_, i) => ({ conversation: 'c1', id: `n${i}`, sender: 'u1', ts: 10 * i, kind: 'text', text: `new ${i}` }))
    for (const held of [[0], [63, 64], [100], [149], [5, 70, 140]]) {
      const s = openStore()
      // Another ts, so each held row sits elsewhere in the canonical order than its incoming copy.
      const before = held.map(i => ({ ...many[i], text: 'as it was on this phone', ts: many[i].ts + 5 }))
      s.putMessages(before)
      const cp = s.openTransfer(tid, 'src', {})
      s.commitBatch(cp.transfer, many, keyOf(many[many.length - 1]))
      expect([...s.messages()]).toEqual(many)
      expect(s.openTransfer(tid, 'src', {}).messages).toBe(many.length)
      s.resetTransfer(cp.transfer)
      expect([...s.messages()]).toEqual([...before].sort(compareKeys))
      s.close()
    }
  })

  it('starts a transfer over after a reset, undoing what it wrote', () => {
    const s = openStore()
    const cp = s.openTransfer(tid, 'src', {})
    s.commitBatch(cp.transfer, messages.slice(0, 3), keyOf(messages[2]))
    s.resetTransfer(cp.transfer)
    const again = s.openTransfer(tid, 'src', {})
    expect(again).toMatchObject({ transfer: cp.transfer, messages: 0, state: 'receiving' })
    expect(again.cursor).toBeUndefined()
    expect([...s.transferMessages(cp.transfer, 'c1')]).toEqual([])
    expect(s.stats().messages).toBe(0) // what a refused transfer wrote is gone, not left behind untagged
    s.commitBatch(cp.transfer, messages.slice(0, 3), keyOf(messages[2]))
    expect(s.openTransfer(tid, 'src', {}).messages).toBe(3)
    s.close()
  })

  it('puts back the rows a refused transfer overwrote, and forgets them once a transfer is verified', () => {
    const s = openStore()
    const mine = { ...messages[0], text: 'as it was on this phone' }
    s.putMessages([mine])
    const earlier = s.openTransfer(new Uint8Array(16).fill(9), 'elsewhere', {})
    const theirs = { ...messages[1], text: 'from an earlier, verified transfer' }
    s.commitBatch(earlier.transfer, [theirs], keyOf(theirs))
    s.finishTransfer(earlier.transfer)

    const cp = s.openTransfer(tid, 'src', {})
    const forged = messages.slice(0, 3).map(m => ({ ...m, text: 'forged' }))
    s.commitBatch(cp.transfer, forged.slice(0, 2), keyOf(forged[1]))
    s.commitBatch(cp.transfer, forged, keyOf(forged[2])) // a resumed re-send must not save its own rows
    s.resetTransfer(cp.transfer)
    expect([...s.messages()]).toEqual([mine, theirs])
    expect([...s.transferMessages(earlier.transfer, theirs.conversation)]).toEqual([theirs])

    // Verified, the overwrite stands: it is the phone's history now, and no reset takes it back.
    s.commitBatch(cp.transfer, forged, keyOf(forged[2]))
    s.finishTransfer(cp.transfer)
    s.resetTransfer(cp.transfer)
    expect([...s.messages()]).toEqual(forged)
    s.close()
  })

  it('never takes back what a verified transfer wrote: a refused later run of it undoes only its own rows', () => {
    const s = openStore()
    const mine = { conversation: 'c0', id: 'own', sender: 'me', ts: 5, kind: 'text' as const, text: 'written on this phone' }
    s.putMessages([mine])
    const first = s.openTransfer(tid, 'src', {})
    s.commitBatch(first.transfer, messages, keyOf(messages[messages.length - 1]))
    s.finishTransfer(first.transfer)
    const verified = [...s.messages()]

    // The same source and selection again (a second transfer): it starts over, under a new local id.
    const again = s.openTransfer(tid, 'src', {})
    expect(again.transfer).not.toBe(first.transfer)
    expect(again).toMatchObject({ messages: 0, state: 'receiving' })
    expect(again.cursor).toBeUndefined()
    const edited = { ...messages[1], text: 'edited on the old phone' }
    const added = { ...messages[1], id: 'm-new', ts: messages[1].ts + 1, text: 'new on the old phone' }
    s.commitBatch(again.transfer, [messages[0], edited, added], keyOf(added))
    expect([...s.transferMessages(again.transfer, edited.conversation)].map(m => m.id)).toEqual([messages[0].id, edited.id, added.id])
    s.resetTransfer(again.transfer) // refused
    expect([...s.messages()]).toEqual(verified)

    // Reopened after the refusal and verified in turn: its rows now stand too.
    const third = s.openTransfer(tid, 'src', {})
    expect(third.transfer).toBe(again.transfer)
    s.commitBatch(third.transfer, [messages[0], edited, added], keyOf(added))
    s.finishTransfer(third.transfer)
    s.resetTransfer(third.transfer)
    expect([...s.messages()].find(m => m.id === edited.id)?.text).toBe(edited.text)
    expect([...s.messages()].some(m => m.id === added.id)).toBe(true)
    expect([...s.messages()]).toContainEqual(mine)
    expect(s.stats().messages).toBe(verified.length + 1)
    s.close()
  })

  it('upgrades a schema-1 store (no undo table) when it opens it', () => {
    const dir = tempDir()
    openStore(dir).close()
    const raw = new Database(join(dir, 'history.db'))
    raw.exec("DROP TRIGGER keep_overwritten; DROP TABLE overwritten; UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    raw.close()
    const s = openStore(dir)
    s.putMessages([messages[0]])
    const cp = s.openTransfer(tid, 'src', {})
    s.commitBatch(cp.transfer, [{ ...messages[0], text: 'forged' }], keyOf(messages[0]))
    s.resetTransfer(cp.transfer)
    expect([...s.messages()]).toEqual([messages[0]])
    s.close()
  })

  it('upgrades a schema-2 store (rows keyed by id) to canonical order, keeping every row and its transfer tag', () => {
    const dir = tempDir()
    const before = openStore(dir)
    const cp = before.openTransfer(tid, 'src', {})
    before.commitBatch(cp.transfer, messages, keyOf(messages[messages.length - 1]))
    const rows = [...before.messages()]
    before.close()
    // Rebuild the messages table the way schema 2 laid it out.
    const raw = new Database(join(dir, 'history.db'))
    const cols = 'conversation, id, sender, ts, kind, text, media, duration_ms, lat, lon, label, reply_to, status, xfer'
    raw.exec(`DROP TRIGGER keep_overwritten; ALTER TABLE messages RENAME TO m3;
      CREATE TABLE messages (conversation TEXT NOT NULL, id TEXT NOT NULL, sender TEXT NOT NULL, ts INTEGER NOT NULL,
        kind TEXT NOT NULL, text TEXT, media TEXT, duration_ms INTEGER, lat REAL, lon REAL, label TEXT, reply_to TEXT,
        status TEXT, xfer INTEGER, PRIMARY KEY (conversation, id)) WITHOUT ROWID;
      CREATE INDEX messages_order ON messages (conversation, ts, id);
      INSERT INTO messages (${cols}) SELECT ${cols} FROM m3; DROP TABLE m3;
      UPDATE meta SET value = '2' WHERE key = 'schema_version'`)
    raw.close()

    const s = openStore(dir)
    expect([...s.messages()]).toEqual(rows)
    expect([...s.transferMessages(cp.transfer, messages[0].conversation)].length).toBeGreaterThan(0)
    const check = new Database(join(dir, 'history.db'), { readonly: true })
    expect(check.prepare("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get()).toBe('4')
    expect(check.prepare("SELECT name FROM sqlite_master WHERE tbl_name = 'messages' ORDER BY name").pluck().all())
      .toEqual(['keep_overwritten', 'messages', 'messages_key'])
    check.close()
    // Upserts still merge by (conversation, id), here with a new timestamp, and the undo still works.
    const moved = { ...messages[0], ts: messages[0].ts + 1, text: 'edited' }
    const cp2 = s.openTransfer(new Uint8Array(16).fill(9), 'other', {})
    s.commitBatch(cp2.transfer, [moved], keyOf(moved))
    expect([...s.messages()].filter(m => m.conversation === moved.conversation && m.id === moved.id)).toEqual([moved])
    s.resetTransfer(cp2.transfer)
    expect([...s.messages()]).toEqual(rows)
    s.close()
  })

  it('keeps the fields imports add (forward, bot, edit, pin, file name, links), and a refused transfer puts them back', () => {
    const rich: Message = {
      conversation: 'c1', id: 'r1', sender: 'u1', ts: 4000, kind: 'file', media: SHA_C, forwardedFrom: '', viaBot: 'gif', editedAt: 4500,
      pinned: 'm1', fileName: 'LICENSE.md', links: [{ url: 'https://example.org' }, { text: 'here', url: 'tg://user?id=7' }]
    }
    const s = filled()
    s.putMessages([rich])
    expect([...s.messages()].find(m => m.id === 'r1')).toEqual(rich)
    const cp = s.openTransfer(tid, 'src', {})
    s.commitBatch(cp.transfer, [{ ...rich, text: 'forged', links: undefined, fileName: 'x' }], keyOf(rich))
    s.resetTransfer(cp.transfer)
    expect([...s.messages()].find(m => m.id === 'r1')).toEqual(rich)
    s.close()
  })

  it('upgrades a schema-3 store by adding the new columns, keeping every row and the undo of a transfer', () => {
    const dir = tempDir()
    const s3 = openStore(dir)
    s3.putMetadata(contacts, conversations, media)
    s3.putMessages(messages)
    const rows = [...s3.messages()]
    s3.close()
    // Take the store back to schema 3's layout: no new columns, a trigger that copies only the old ones.
    const raw = new Database(join(dir, 'history.db'))
    const v3 = 'owner, conversation, id, sender, ts, kind, text, media, duration_ms, lat, lon, label, reply_to, status, xfer'
    raw.exec(`DROP TRIGGER keep_overwritten;
      ${['forwarded_from', 'via_bot', 'edited_at', 'pinned', 'file_name', 'links'].map(c => `ALTER TABLE messages DROP COLUMN ${c}; ALTER TABLE overwritten DROP COLUMN ${c};`).join('\n')}
      CREATE TRIGGER keep_overwritten BEFORE UPDATE ON messages WHEN new.xfer IS NOT NULL AND new.xfer IS NOT old.xfer
      BEGIN INSERT OR IGNORE INTO overwritten (${v3}) VALUES (new.xfer, ${v3.split(', ').slice(1).map(c => `old.${c}`).join(', ')}); END;
      UPDATE meta SET value = '3' WHERE key = 'schema_version'`)
    raw.close()

    const s = openStore(dir)
    expect([...s.messages()]).toEqual(rows)
    const edited = { ...messages[0], text: 'edited', editedAt: 5000, links: [{ url: 'https://example.org' }] }
    const cp = s.openTransfer(tid, 'src', {})
    s.commitBatch(cp.transfer, [edited], keyOf(edited))
    expect([...s.messages()].find(m => m.id === edited.id)).toEqual(edited)
    s.resetTransfer(cp.transfer)
    expect([...s.messages()]).toEqual(rows)
    const check = new Database(join(dir, 'history.db'), { readonly: true })
    expect(check.prepare("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get()).toBe('4')
    check.close()
    s.close()
  })

  it('lists only unfinished transfers', () => {
    const s = openStore()
    const cp = s.openTransfer(tid, 'src', {})
    s.finishTransfer(cp.transfer)
    expect(s.transfers()).toEqual([])
    expect(s.openTransfer(tid, 'src', {}).state).toBe('receiving')
    expect(s.transfers()).toHaveLength(1)
    s.close()
  })

  it('refuses a batch for a transfer it does not know, writing nothing', () => {
    const s = openStore()
    expect(() => s.commitBatch(42, messages.slice(0, 1), keyOf(messages[0]))).toThrow(expect.objectContaining({ code: 'STORE' }))
    expect(s.stats().messages).toBe(0)
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
