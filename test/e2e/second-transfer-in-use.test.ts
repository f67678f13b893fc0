import { describe, expect, it } from 'vitest'
import { stoppedAfterEach } from '../helpers/stopped.js'
import { createFerry, type Ferry } from '../../src/create-ferry.js'
import type { FerryEvent, ReceiveResult } from '../../src/net/ferry-service.js'
import { generateCode } from '../../src/pairing/index.js'
import { endsLeaf } from '../../src/protocol/leaves.js'
import type { SqliteChatStore } from '../../src/store/sqlite-store.js'
import type { Conversation, Message, Selection } from '../../src/store/model.js'
import { fillStore, keystream, tempDir } from '../helpers/stores.js'

// Two phones in real use between transfers, over real libp2p on loopback into real SQLite stores: the
// old phone goes on being used, and so does the new one. Each later transfer must bring everything new
// on the old phone, lose nothing written on the new one, keep deleted what its owner deleted there (as
// docs/design-notes.md, "What the new phone deleted stays deleted", promises), and verify.

const LOOPBACK = ['/ip4/127.0.0.1/tcp/0']
const { phones } = stoppedAfterEach()

async function phone (name: string): Promise<Ferry> {
  const p = await createFerry(tempDir(`in-use-${name}-`), { listen: LOOPBACK })
  phones.push(p)
  return p
}

/** One transfer with a fresh code, from offer to verified. */
async function move (old: Ferry, fresh: Ferry, opts: { offer?: Selection, request?: Selection, onEvent?: (e: FerryEvent) => void, restoreDeleted?: boolean } = {}): Promise<ReceiveResult> {
  const code = generateCode()
  const offered = old.send({ code, selection: opts.offer })
  const result = await fresh.receive({ addrs: old.addresses(), code, request: opts.request, onEvent: opts.onEvent, restoreDeleted: opts.restoreDeleted, retryForMs: 30_000 })
  await offered
  return result
}

const messagesOf = (store: SqliteChatStore, conversation: string): Message[] => [...store.listMessages({ conversations: [conversation] })]
const keyOf = (m: Message): string => `${m.conversation}\u0000${m.id}`
const byKey = (ms: Iterable<Message>): Map<string, Message> => new Map([...ms].map(m => [keyOf(m), m]))
const chat = (store: SqliteChatStore, id: string): Conversation | undefined => store.listConversations().find(c => c.id === id)

/** Which leaf of the old phone's conversation a message falls in (its leaves are the sender's). */
function leafOf (store: SqliteChatStore, conversation: string, id: string): number {
  let leaf = 0
  for (const m of messagesOf(store, conversation)) {
    if (m.id === id) return leaf
    if (endsLeaf(m.ts, m.id)) leaf++
  }
  throw new Error(`${conversation}/${id} is not on the old phone`)
}

/** Every message refers to a media record whose file is here: what the app shows opens. */
function mediaConsistent (store: SqliteChatStore): void {
  for (const m of store.listMessages()) {
    if (m.media === undefined) continue
    expect(store.hasMediaRecord(m.media), `the record of ${m.conversation}/${m.id}'s media`).toBe(true)
    expect(store.hasMediaFile(m.media), `the file of ${m.conversation}/${m.id}'s media`).toBe(true)
  }
}

let written = 0
/** A message written now on a phone, after all the others of its chat. */
function write (store: SqliteChatStore, conversation: string, text: string, sender = 'me'): Message {
  const m: Message = { conversation, id: `w${++written}-${text.replace(/\W+/g, '-')}`, sender, ts: 1_900_000_000_000 + written * 1000, kind: 'text', text }
  store.putMessages([m])
  return m
}

async function deleteMessages (store: SqliteChatStore, conversation: string, ids: string[], wholeChat = false): Promise<void> {
  await store.commit({ remove: { messages: ids.map(id => ({ conversation, id })), ...(wholeChat ? { conversations: [conversation] } : {}) } })
}

describe('a second and a third transfer while both phones are in use', () => {
  it('bring everything new on the old phone, keep what the new phone wrote, and keep deleted what it deleted', async () => {
    const old = await phone('old')
    await fillStore(old.store, { conversations: 4, messagesPerConversation: 300, mediaSizes: [10_000, 20_000] })
    const fresh = await phone('new')
    await move(old, fresh)

    // The old phone in use: new messages in old chats, a new chat, an edited message, a deleted
    // message, and a photo replaced by another (the message now shows the new file).
    const oldNews = [write(old.store, 'c0', 'later on the old phone', 'u1'), write(old.store, 'c-😀', 'news in the group', 'u3')]
    old.store.putMetadata([{ id: 'u9', name: 'Nina' }], [{ id: 'c9', kind: 'direct', title: 'Nina', members: ['u9', 'me'] }], [])
    const newChat = [write(old.store, 'c9', 'hello Nina'), write(old.store, 'c9', 'hi!', 'u9')]
    const edited = { ...messagesOf(old.store, 'c2').find(m => m.id === 'm5') as Message, text: 'edited on the old phone', editedAt: 1_900_000_000_000 }
    old.store.putMessages([edited])
    await deleteMessages(old.store, 'c2', ['m10'])
    const photo = messagesOf(old.store, 'c2').find(m => m.id === 'm2') as Message
    const replaced = await old.store.writeMedia(keystream('a new photo', 30_000))
    old.store.putMetadata([], [], [{ sha256: replaced.sha256, size: 30_000, mime: 'image/jpeg' }])
    old.store.putMessages([{ ...photo, media: replaced.sha256, editedAt: 1_900_000_000_001 }])

    // The new phone in use: messages of its own, a chat and a message deleted (in leaves the old phone
    // did not change since).
    const ownNews = [write(fresh.store, 'c0', 'written on the new phone'), write(fresh.store, 'c2', 'also on the new phone')]
    expect(leafOf(old.store, 'c0', 'm150')).not.toBe(leafOf(old.store, 'c0', oldNews[0].id))
    await deleteMessages(fresh.store, 'c0', ['m150'])
    await deleteMessages(fresh.store, 'c3', messagesOf(fresh.store, 'c3').map(m => m.id), true)
    // Renamed on the old phone, with nothing written in it: a name is no reason to bring it back.
    old.store.putMetadata([], [{ ...chat(old.store, 'c3') as Conversation, title: 'Renamed there' }], [])

    const second = await move(old, fresh)
    expect(second.stats.messagesLeftDeleted).toBe(301)
    expect(second.stats.chatsLeftDeleted).toBe(1)
    expect(second.stats.messagesSent).toBe(oldNews.length + newChat.length + 2)
    expect(byKey(fresh.store.listMessages()).get(keyOf(edited))?.text).toBe('edited on the old phone')
    holdsBoth(['c0/m150'])

    // A third transfer after more use on both phones decides the same and moves only what is new; what
    // the second brought and the new phone deleted since stays deleted too.
    const later = write(old.store, 'c9', 'and later still', 'u9')
    await deleteMessages(fresh.store, 'c2', ['m5'])
    ownNews.push(write(fresh.store, 'c9', 'answered on the new phone'))
    const third = await move(old, fresh)
    expect(third.stats.messagesSent).toBe(1)
    expect(messagesOf(fresh.store, 'c2').map(m => m.id)).not.toContain('m5')
    expect(byKey(fresh.store.listMessages()).get(keyOf(later))).toEqual(later)
    holdsBoth(['c0/m150', 'c2/m5'])
    // The summary lists the old phone's chats this phone holds, not the one that stays deleted.
    expect(third.summary.map(c => c.id)).toEqual(['c-😀', 'c0', 'c2', 'c9'])
    expect(third.summary.find(c => c.id === 'c0')?.messages).toBe((old.store.messageCounts().get('c0') as number) - 1)

    /** `deleted`: what this phone's owner deleted of the old phone's messages, as conversation/id. */
    function holdsBoth (deleted: string[]): void {
      const here = byKey(fresh.store.listMessages())
      for (const m of ownNews) expect(here.get(keyOf(m)), `${m.id}, written on the new phone`).toEqual(m)
      expect(fresh.store.hasConversation('c3')).toBe(false)
      // Everything of the old phone's is here as it is there, but for what the new phone deleted.
      for (const m of old.store.listMessages()) {
        if (m.conversation === 'c3') continue
        expect(here.get(keyOf(m)), `${m.conversation}/${m.id}`).toEqual(deleted.includes(`${m.conversation}/${m.id}`) ? undefined : m)
      }
      for (const m of [...oldNews, ...newChat]) expect(here.has(keyOf(m))).toBe(true)
      expect(chat(fresh.store, 'c9')).toEqual(chat(old.store, 'c9'))
      // Moving never deletes: the message the old phone deleted stays here.
      expect(here.has(keyOf({ ...edited, id: 'm10' }))).toBe(true)
      expect(here.get(keyOf(photo))?.media).toBe(replaced.sha256)
      expect(Buffer.from(fresh.store.readMediaSync(replaced.sha256, 0, 30_000))).toEqual(Buffer.from(old.store.readMediaSync(replaced.sha256, 0, 30_000)))
      mediaConsistent(fresh.store)
    }
  }, 120_000)
})

const JAN = Date.UTC(2026, 0, 1)
const FEB = Date.UTC(2026, 1, 1)
const MAR = Date.UTC(2026, 2, 1)

/** Four chats, each written in January and in February, with photos shared between them. */
async function twoMonths (store: SqliteChatStore): Promise<void> {
  const photos = []
  for (let i = 0; i < 3; i++) {
    const { sha256 } = await store.writeMedia(keystream(`photo-${i}`, 5_000 + i))
    photos.push({ sha256, size: 5_000 + i, mime: 'image/jpeg' })
  }
  const chats: Conversation[] = ['a1', 'a2', 'b1', 'b2'].map((id, i) => ({ id, kind: i % 2 === 0 ? 'direct' : 'group', title: id, members: i % 2 === 0 ? [`u${i}`, 'me'] : ['u0', 'u2', 'me'] }))
  const messages: Message[] = []
  for (const c of chats) {
    for (let i = 0; i < 200; i++) {
      // Half in each month, the last of January a second before February: a window's bound cuts between.
      const ts = i < 100 ? JAN + i * 3_600_000 : FEB + (i - 100) * 3_600_000
      const m: Message = { conversation: c.id, id: `${c.id}-${i}`, sender: i % 2 === 0 ? 'me' : c.members[0], ts: i === 99 ? FEB - 1000 : ts, kind: 'text', text: `${c.id} ${i}` }
      if (i % 25 === 0) Object.assign(m, { kind: 'image', media: photos[i % 3].sha256 })
      messages.push(m)
    }
  }
  store.putMetadata([{ id: 'u0', name: 'Ana' }, { id: 'u2', name: 'Ben' }], chats, photos)
  store.putMessages(messages)
}

/** The new phone holds exactly the old phone's history, each message once, with every photo. */
function sameHistory (old: SqliteChatStore, fresh: SqliteChatStore): void {
  expect(fresh.listConversations()).toEqual(old.listConversations())
  expect(fresh.listContacts()).toEqual(old.listContacts())
  expect([...fresh.listMessages()]).toEqual([...old.listMessages()])
  expect(fresh.messageCounts()).toEqual(old.messageCounts())
  mediaConsistent(fresh)
}

describe('transfers of selections that do not overlap, then of everything', () => {
  it('chats A, then chats B: the union is the old phone\'s history, and the last moves nothing', async () => {
    const old = await phone('old')
    await twoMonths(old.store)
    const fresh = await phone('new')
    const a = await move(old, fresh, { request: { conversations: ['a1', 'a2'] } })
    expect(a.summary.map(c => c.id)).toEqual(['a1', 'a2'])
    expect(fresh.store.listConversations().map(c => c.id)).toEqual(['a1', 'a2'])
    await move(old, fresh, { request: { conversations: ['b1', 'b2'] } })
    const all = await move(old, fresh)
    sameHistory(old.store, fresh.store)
    expect(all.stats.messagesSent).toBe(0)
    expect(all.stats.mediaFilesSent).toBe(0)
    expect(all.summary.map(c => [c.id, c.messages])).toEqual([['a1', 200], ['a2', 200], ['b1', 200], ['b2', 200]])

    // What the new phone deleted of chats A after their transfer stays deleted through the transfer of
    // chats B, which does not carry A, and the next one of everything.
    const other = await phone('other')
    await move(old, other, { request: { conversations: ['a1', 'a2'] } })
    await deleteMessages(other.store, 'a1', ['a1-50'])
    await deleteMessages(other.store, 'a2', messagesOf(other.store, 'a2').map(m => m.id), true)
    await move(old, other, { request: { conversations: ['b1', 'b2'] } })
    const again = await move(old, other)
    expect(again.stats.messagesSent).toBe(0)
    expect(other.store.hasConversation('a2')).toBe(false)
    expect(messagesOf(other.store, 'a1').map(m => m.id)).toEqual(messagesOf(old.store, 'a1').map(m => m.id).filter(id => id !== 'a1-50'))
  }, 120_000)

  it('January, then February: the union is the old phone\'s history, and the last moves nothing', async () => {
    const old = await phone('old')
    await twoMonths(old.store)
    const fresh = await phone('new')
    const jan = await move(old, fresh, { offer: { since: JAN, until: FEB } })
    expect(jan.stats.messagesSent).toBe(400)
    expect([...fresh.store.listMessages()].every(m => m.ts < FEB)).toBe(true)
    const feb = await move(old, fresh, { request: { since: FEB, until: MAR } })
    expect(feb.stats.messagesSent).toBe(400)
    const all = await move(old, fresh)
    sameHistory(old.store, fresh.store)
    expect(all.stats.messagesSent).toBe(0)
    expect(all.stats.mediaFilesSent).toBe(0)
  }, 120_000)

  it('January, a message deleted in the run February\'s bound cut, then everything: it stays deleted', async () => {
    const old = await phone('old')
    await twoMonths(old.store)
    const fresh = await phone('new')
    await move(old, fresh, { offer: { since: JAN, until: FEB } })
    // A chat whose last January message does not end its leaf: the bound cut that leaf in two.
    const c = ['a1', 'a2', 'b1', 'b2'].find(id => !endsLeaf(FEB - 1000, `${id}-99`)) as string
    expect(c).toBeDefined()
    const gone = `${c}-99`
    await deleteMessages(fresh.store, c, [gone])
    for (let i = 0; i < 2; i++) {
      const all = await move(old, fresh)
      expect(messagesOf(fresh.store, c).map(m => m.id)).toEqual(messagesOf(old.store, c).map(m => m.id).filter(id => id !== gone))
      expect(all.stats.messagesLeftDeleted).toBe(1)
      if (i === 0) expect(all.stats.messagesSent).toBe(400)
      else expect(all.stats.messagesSent).toBe(0)
    }
    mediaConsistent(fresh.store)
  }, 120_000)
})

describe('a group whose members change between transfers', () => {
  it('loses the members removed on either phone and gains those added on the old one', async () => {
    const old = await phone('old')
    await fillStore(old.store, { conversations: 2, messagesPerConversation: 50, mediaSizes: [] })
    const fresh = await phone('new')
    await move(old, fresh)
    const group = chat(old.store, 'c-😀') as Conversation
    expect(group.members).toEqual(['u3', 'me', 'u2'])

    // On the old phone u2 left the group and u4 joined; on the new phone its owner removed u3.
    old.store.putMetadata([{ id: 'u4', name: 'Dana' }], [{ ...group, members: ['u3', 'me', 'u4'] }], [])
    fresh.store.putMetadata([], [{ ...group, members: ['me', 'u2'] }], [])
    await move(old, fresh)
    expect(chat(fresh.store, 'c-😀')?.members).toEqual(['me', 'u4'])

    // A member added on the new phone stays; the next transfer keeps every decision.
    fresh.store.putMetadata([{ id: 'u5', name: 'Eve' }], [{ ...group, members: ['me', 'u4', 'u5'] }], [])
    write(old.store, 'c-😀', 'still here', 'u4')
    await move(old, fresh)
    expect(chat(fresh.store, 'c-😀')?.members).toEqual(['me', 'u4', 'u5'])
  }, 120_000)
})

describe('a second transfer cut in the middle and resumed', () => {
  it('brings everything new once, keeps what the new phone wrote and deleted, and verifies', async () => {
    const old = await phone('old')
    await fillStore(old.store, { conversations: 3, messagesPerConversation: 300, mediaSizes: [10_000] })
    const fresh = await phone('new')
    await move(old, fresh)

    // Enough new on the old phone for several batches and many media chunks.
    const news: Message[] = []
    for (let i = 0; i < 4000; i++) news.push({ conversation: i % 2 === 0 ? 'c0' : 'c2', id: `new-${i}`, sender: 'u1', ts: 1_900_000_000_000 + i, kind: 'text', text: `new ${i} `.repeat(20) })
    const big = await old.store.writeMedia(keystream('a video', 3_000_000))
    old.store.putMetadata([], [], [{ sha256: big.sha256, size: 3_000_000, mime: 'video/mp4' }])
    news.push({ conversation: 'c0', id: 'video', sender: 'u1', ts: 1_900_000_100_000, kind: 'video', media: big.sha256 })
    old.store.putMessages(news)
    const own = write(fresh.store, 'c2', 'the new phone\'s own')
    await deleteMessages(fresh.store, 'c0', ['m100'])

    let cut = 0
    const events: FerryEvent[] = []
    const resumed = await move(old, fresh, {
      onEvent: e => {
        events.push(e)
        // The link goes once some of the new messages are in, and again once part of the video is.
        const p = e.type === 'progress' ? e.progress : undefined
        if (p === undefined) return
        if ((cut === 0 && p.messages > 0 && p.messages < p.totalMessages) || (cut === 1 && p.mediaBytes > 0 && p.mediaBytes < p.totalMediaBytes)) {
          cut++
          for (const c of fresh.node.getConnections()) c.abort(new Error('the link went'))
        }
      }
    })
    expect(cut).toBe(2)
    expect(events.filter(e => e.type === 'interrupted').length).toBeGreaterThanOrEqual(2)
    expect(resumed.stats.messagesLeftDeleted).toBe(1)
    const here = [...fresh.store.listMessages()]
    expect(here.length).toBe(new Set(here.map(keyOf)).size)
    expect(byKey(here).get(keyOf(own))).toEqual(own)
    expect(here.map(keyOf)).not.toContain(keyOf({ ...own, conversation: 'c0', id: 'm100' }))
    expect(here).toEqual([...old.store.listMessages()].filter(m => !(m.conversation === 'c0' && m.id === 'm100')).concat(own).sort((x, y) => x.conversation < y.conversation ? -1 : x.conversation > y.conversation ? 1 : x.ts - y.ts || (x.id < y.id ? -1 : 1)))
    expect(fresh.store.hasMediaFile(big.sha256)).toBe(true)
    mediaConsistent(fresh.store)
  }, 120_000)
})

describe('a contact deleted on the new phone', () => {
  it('stays deleted through later transfers, comes back when asked, and one added on the old phone arrives', async () => {
    const old = await phone('old')
    await fillStore(old.store, { conversations: 2, messagesPerConversation: 50, mediaSizes: [] })
    const fresh = await phone('new')
    await move(old, fresh)
    expect(fresh.store.listContacts()).toEqual(old.store.listContacts())

    // The new phone's owner deletes u2; on the old phone u2 goes on writing and is renamed, and Nina is added.
    await fresh.store.commit({ remove: { contacts: ['u2'] } })
    const fromU2 = write(old.store, 'c-😀', 'u2 still writes', 'u2')
    old.store.putMetadata([{ id: 'u2', name: 'Li Lei' }, { id: 'u9', name: 'Nina' }], [], [])
    const second = await move(old, fresh)
    expect(second.stats.contactsLeftDeleted).toBe(1)
    expect(fresh.store.listContacts().map(c => c.id)).toEqual(['u1', 'u3', 'u9'])
    expect(byKey(fresh.store.listMessages()).get(keyOf(fromU2))).toEqual(fromU2)

    write(old.store, 'c0', 'later', 'u1')
    const third = await move(old, fresh)
    expect(third.stats.contactsLeftDeleted).toBe(1)
    expect(fresh.store.listContacts().map(c => c.id)).toEqual(['u1', 'u3', 'u9'])

    const restored = await move(old, fresh, { restoreDeleted: true })
    expect(restored.stats.contactsLeftDeleted).toBe(0)
    expect(fresh.store.listContacts()).toEqual(old.store.listContacts())
  }, 120_000)
})
