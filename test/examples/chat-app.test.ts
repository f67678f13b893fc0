import { createHash } from 'node:crypto'
import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
// The package by its name, as the example imports it (dist/, built by test/global-setup.ts).
import { createFerry, generateCode, type Ferry, type FerryEvent, type HistorySource } from 'chat-ferry/node'
import { ChatDb } from '../../examples/chat-app/chat-db.js'
import { ChatHistory } from '../../examples/chat-app/chat-history.js'
import { startFerry } from '../../examples/chat-app/ferry-phone.js'
import { exportNdjson } from '../../src/sim/export.js'
import type { ferry } from '../../src/wire/codec.js'
import { cleanupTempDirs, fillStore, tempDir } from '../helpers/stores.js'
import { closeJournals, journalOf, runTransfer, verifiedTransfer, type RunOptions } from '../helpers/transfer.js'

// The example chat app (examples/chat-app), a database Ferry did not design, moving histories through
// the port: between two such apps and to and from the simulator's store, over real libp2p on loopback,
// each verified; what arrives is checked in the app's own tables, through the app's own queries.

const LOOPBACK = ['/ip4/127.0.0.1/tcp/0']
const T = 1_700_000_000_000

type AppPhone = Awaited<ReturnType<typeof startFerry>>
const toClose: Array<() => unknown> = []

afterEach(async () => {
  for (const close of toClose.splice(0).reverse()) await close()
  await closeJournals()
  cleanupTempDirs()
})

function openApp (): ChatDb {
  const app = ChatDb.open(tempDir('chat-app-'))
  toClose.push(() => app.close())
  return app
}

async function appPhone (app: ChatDb): Promise<AppPhone> {
  const phone = await startFerry(app, { listen: LOOPBACK })
  toClose.push(async () => await phone.stop())
  return phone
}

async function simPhone (): Promise<Ferry> {
  const phone = await createFerry(tempDir('sim-phone-'), { listen: LOOPBACK })
  toClose.push(async () => await phone.stop())
  return phone
}

/** Deterministic bytes. */
function bytes (size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size)
  let x = (seed * 2654435761) >>> 0
  for (let i = 0; i < size; i++) { x = (x * 1103515245 + 12345) >>> 0; out[i] = x >>> 24 }
  return out
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

/**
 * A history written through the app's own screens: two chats, posts at equal moments (so their order is
 * the uids' order, where 'x.10' comes before 'x.9'), two attachments, an edited post.
 */
async function useApp (app: ChatDb): Promise<void> {
  app.addPerson('ana', 'Ana', '+34 600 000 000')
  app.addPerson('bo', 'Bo 😀')
  const team = app.startChat({ title: 'Team ✓', members: ['me', 'ana', 'bo'], group: true })
  const ana = app.startChat({ title: 'Ana', members: ['me', 'ana'] })
  const photo = await app.attach(bytes(300_000, 1), 'image/jpeg')
  const video = await app.attach(bytes(1_500_000, 2), 'video/mp4')
  for (let i = 0; i < 150; i++) app.post(team, { author: ['me', 'ana', 'bo'][i % 3], body: i % 10 === 0 ? '' : `team ${i} 你好 👋`, sentAt: T + Math.floor(i / 4) * 1000 })
  for (let i = 0; i < 60; i++) app.post(ana, { author: i % 2 === 0 ? 'me' : 'ana', body: `to Ana ${i}`, sentAt: T + i * 60_000 })
  app.post(team, { author: 'bo', kind: 'image', attachmentId: photo, sentAt: T + 5_000 })
  app.post(ana, { author: 'ana', kind: 'video', attachmentId: video, body: 'the video', sentAt: T + 30_000 })
  app.edit(app.timeline(ana)[3].post_id, 'to Ana 3, edited', T + 999_999)
}

/** What the app shows, through its own queries: each chat and its posts, attachments by their bytes. */
function view (app: ChatDb): unknown {
  return app.chats().map(c => ({
    title: c.title,
    group: c.is_group,
    posts: c.posts,
    timeline: app.timeline(c.chat_id).map(p => ({
      uid: p.uid,
      author: p.author,
      at: p.sent_at,
      kind: p.kind,
      body: p.body,
      edited: p.edited_at,
      attachment: p.attachment_id === null ? null : sha256(readFileSync(app.attachmentPath(p.attachment_id)))
    }))
  }))
}

const count = (app: ChatDb, sql: string): number => app.db.prepare(sql).pluck().get() as number

/** The files in the app's attachments folder. */
const attachmentFiles = (app: ChatDb): string[] => readdirSync(join(app.dir, 'attachments')).sort()

/** Every row of the app's own tables (attachments apart), to compare before and after. */
function rows (app: ChatDb): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {}
  for (const table of ['people', 'chats', 'chat_members', 'posts']) out[table] = app.db.prepare(`SELECT * FROM ${table} ORDER BY rowid`).all()
  return out
}

async function exportOf (source: HistorySource): Promise<string> {
  const chunks: Buffer[] = []
  await exportNdjson(source, new Writable({ write (c: Buffer, _e, cb) { chunks.push(Buffer.from(c)); cb() } }))
  return Buffer.concat(chunks).toString('utf8')
}

type Service = AppPhone['ferry']

/** Moves `from`'s history to `to` over libp2p with a fresh code; returns the receiver's verified event. */
async function move (from: { service: Service, addrs: () => ReturnType<AppPhone['node']['getMultiaddrs']> }, to: { service: Service }): Promise<Extract<FerryEvent, { type: 'verified' }>> {
  const code = generateCode()
  const events: FerryEvent[] = []
  const offered = from.service.offer({ code })
  const received = await to.service.receive({ addrs: from.addrs(), code, onEvent: e => events.push(e) })
  await offered
  expect(received.summary.length).toBeGreaterThan(0)
  const verified = events.filter(e => e.type === 'verified')
  expect(verified).toHaveLength(1)
  return verified[0] as Extract<FerryEvent, { type: 'verified' }>
}

const ofApp = (p: AppPhone): { service: Service, addrs: () => ReturnType<AppPhone['node']['getMultiaddrs']> } => ({ service: p.ferry, addrs: () => p.node.getMultiaddrs() })
const ofSim = (p: Ferry): { service: Service, addrs: () => ReturnType<AppPhone['node']['getMultiaddrs']> } => ({ service: p.node.services.ferry, addrs: () => p.addresses() })

describe('the example chat app embedding Ferry', () => {
  it('moves its history to another such app, verified, into that app\'s own tables', async () => {
    const oldApp = openApp()
    await useApp(oldApp)
    const newApp = openApp()
    const verified = await move(ofApp(await appPhone(oldApp)), ofApp(await appPhone(newApp)))

    expect(verified.stats).toMatchObject({ messagesSent: 212, messagesHeld: 0, mediaFilesSent: 2, mediaFilesHeld: 0 })
    expect(view(newApp)).toEqual(view(oldApp))
    expect(count(newApp, 'SELECT count(*) FROM posts')).toBe(212)
    // The old phone's posts keep their names here, as posts from another phone.
    expect(count(newApp, 'SELECT count(*) FROM posts WHERE origin_uid IS NULL')).toBe(0)
    expect(newApp.db.prepare('SELECT display_name, phone_number FROM people ORDER BY handle').all())
      .toEqual([{ display_name: 'Ana', phone_number: '+34 600 000 000' }, { display_name: 'Bo 😀', phone_number: null }])
    expect(newApp.db.prepare('SELECT byte_size, mime_type, on_device FROM attachments ORDER BY byte_size').all())
      .toEqual([{ byte_size: 300_000, mime_type: 'image/jpeg', on_device: 1 }, { byte_size: 1_500_000, mime_type: 'video/mp4', on_device: 1 }])
    expect(await exportOf(new ChatHistory(newApp))).toBe(await exportOf(new ChatHistory(oldApp)))
  })

  it('never reads another photo\'s bytes for one deleted while a send holds its snapshot', async () => {
    const app = openApp()
    const chat = app.startChat({ title: 'Ana', members: ['me', 'ana'] })
    const deleted = bytes(50_000, 7)
    app.post(chat, { author: 'ana', kind: 'image', attachmentId: await app.attach(deleted, 'image/jpeg'), sentAt: T })
    const history = new ChatHistory(app)
    const snapshot = await history.snapshot()
    try {
      // The person deletes the photo as the app does (its post, then its attachment), and takes another.
      const conversation = (await history.conversations())[0].conversation.id
      await history.commit({ remove: { messages: [{ conversation, id: app.timeline(chat)[0].uid }], media: [sha256(deleted)] } })
      const taken = bytes(50_000, 8)
      app.post(chat, { author: 'me', kind: 'image', attachmentId: await app.attach(taken, 'image/jpeg'), sentAt: T + 1 })
      // The send still sees the deleted photo; its bytes are gone, and nothing else stands in for them.
      const read = await snapshot.readMedia(sha256(deleted), 0, deleted.byteLength).then(b => sha256(b), () => 'gone')
      expect(read).toBe('gone')
    } finally {
      await snapshot.release?.()
    }
  })

  it('moves only what changed the second time, and the receiving app duplicates nothing', async () => {
    const oldApp = openApp()
    await useApp(oldApp)
    const newApp = openApp()
    const oldPhone = await appPhone(oldApp)
    const newPhone = await appPhone(newApp)
    await move(ofApp(oldPhone), ofApp(newPhone))

    // The old phone is used on: three posts written, two edited, one with a new photo.
    const team = oldApp.chatByTitle('Team ✓') as number
    const ana = oldApp.chatByTitle('Ana') as number
    const photo = await oldApp.attach(bytes(120_000, 3), 'image/png')
    oldApp.post(team, { author: 'ana', body: 'written after the first transfer', sentAt: T + 10_500 })
    oldApp.post(ana, { author: 'me', body: 'and another', sentAt: T + 100 * 60_000 })
    oldApp.post(team, { author: 'me', kind: 'image', attachmentId: photo, sentAt: T + 20_000 })
    oldApp.edit(oldApp.timeline(team)[40].post_id, 'edited later')
    oldApp.edit(oldApp.timeline(ana)[3].post_id, 'edited twice')

    const verified = await move(ofApp(oldPhone), ofApp(newPhone))
    expect(verified.stats).toMatchObject({ messagesSent: 5, messagesHeld: 210, mediaFilesSent: 1, mediaFilesHeld: 2 })
    expect(view(newApp)).toEqual(view(oldApp))
    expect(count(newApp, 'SELECT count(*) FROM posts')).toBe(215)
    expect(count(newApp, 'SELECT count(*) FROM attachments')).toBe(3)
    expect(newApp.timeline(newApp.chatByTitle('Ana') as number).map(p => p.body)).toContain('edited twice')

    // Unchanged, a third time: nothing moves.
    const again = await move(ofApp(oldPhone), ofApp(newPhone))
    expect(again.stats).toMatchObject({ messagesSent: 0, messagesHeld: 215, mediaFilesSent: 0 })
    expect(count(newApp, 'SELECT count(*) FROM posts')).toBe(215)
  })

  it('moves its history to the simulator\'s store, and back to itself without duplicates', async () => {
    const app = openApp()
    await useApp(app)
    const phone = await appPhone(app)
    const sim = await simPhone()
    const verified = await move(ofApp(phone), ofSim(sim))
    expect(verified.stats).toMatchObject({ messagesSent: 212, mediaFilesSent: 2 })
    expect(await exportOf(sim.store)).toBe(await exportOf(new ChatHistory(app)))

    // The simulated phone writes in one of the app's chats; its history comes back: only that is new.
    const chat = (await new ChatHistory(app).conversations()).find(c => c.conversation.title === 'Ana')?.conversation.id as string
    sim.store.putMessages([{ conversation: chat, id: 'from-the-simulator', sender: 'ana', ts: T + 61 * 60_000, kind: 'text', text: 'hello back' }])
    const back = await move(ofSim(sim), ofApp(phone))
    expect(back.stats).toMatchObject({ messagesSent: 1, messagesHeld: 212, mediaFilesSent: 0, mediaFilesHeld: 2 })
    expect(count(app, 'SELECT count(*) FROM posts')).toBe(213)
    // Its own posts merged with themselves (their uids are this phone's), the new one is another phone's.
    expect(app.db.prepare('SELECT origin_uid, body FROM posts WHERE origin_uid IS NOT NULL').all()).toEqual([{ origin_uid: 'from-the-simulator', body: 'hello back' }])
    expect(await exportOf(new ChatHistory(app))).toBe(await exportOf(sim.store))
  })

  it('receives the simulator\'s history, every field of it, into its own tables', async () => {
    const sim = await simPhone()
    await fillStore(sim.store, { conversations: 3, messagesPerConversation: 90, mediaSizes: [200_000, 40_000], hugeMessageBytes: 1_500_000 })
    sim.store.putMessages([{
      conversation: 'c0', id: 'every-field', sender: 'u2', ts: T + 1, kind: 'file', text: 'see ✓', media: [...sim.store.listMedia()][0].sha256,
      replyTo: 'm1', status: 'delivered', forwardedFrom: '', viaBot: 'bot', editedAt: T + 2, pinned: 'm2', fileName: 'a b.pdf',
      links: [{ url: 'https://example.org/' }, { text: 'here', url: 'https://example.org/x' }], location: { lat: 1.5, lon: -2.25 }
    }])
    const app = openApp()
    const verified = await move(ofSim(sim), ofApp(await appPhone(app)))
    expect(verified.stats).toMatchObject({ messagesSent: 272, mediaFilesSent: 2 })
    expect(await exportOf(new ChatHistory(app))).toBe(await exportOf(sim.store))

    // In the app's own terms: three chats, one of them a group, posts named by the simulator's ids.
    expect(app.chats().map(c => [c.title, c.is_group, c.posts])).toEqual([['Chat 0', 0, 92], ['Chat 1', 1, 90], ['Chat 2', 0, 90]])
    // A chat's timeline, by the app's own query, is the simulator's conversation: the authors by the
    // names the contacts gave them, the same order.
    const names = new Map(sim.store.listContacts().map(c => [c.id, c.name]))
    const shown = (conversation: string): unknown[] => [...sim.store.listMessages({ conversations: [conversation] })]
      .map(m => [m.id, names.get(m.sender) ?? m.sender, m.ts, m.text ?? null])
    expect(app.timeline(app.chatByTitle('Chat 1') as number).map(p => [p.uid, p.author, p.sent_at, p.body])).toEqual(shown('c-😀'))
    expect(app.timeline(app.chatByTitle('Chat 0') as number).map(p => [p.uid, p.author, p.sent_at, p.body])).toEqual(shown('c0'))
    const huge = app.db.prepare("SELECT length(body) FROM posts WHERE origin_uid = 'huge'").pluck().get()
    expect(huge).toBe(1_500_000)
    const extras = JSON.parse(app.db.prepare("SELECT extras FROM posts WHERE origin_uid = 'every-field'").pluck().get() as string) as unknown
    expect(extras).toEqual({ forwardedFrom: '', viaBot: 'bot', pinned: 'm2', fileName: 'a b.pdf', links: [{ url: 'https://example.org/' }, { text: 'here', url: 'https://example.org/x' }], location: { lat: 1.5, lon: -2.25 } })
    for (const a of app.db.prepare('SELECT attachment_id, sha256 FROM attachments').all() as Array<{ attachment_id: number, sha256: string }>) {
      expect(sha256(readFileSync(app.attachmentPath(a.attachment_id)))).toBe(a.sha256)
    }
  })
})

type Tamper = NonNullable<RunOptions['tamper']>
const LIES: Array<{ name: string, code: string, tamper: Tamper }> = [
  {
    name: 'altered messages',
    code: 'DIGEST_MISMATCH',
    tamper: f => f.body === 'batch' ? [{ batch: { messages: (f.batch as ferry.MessageBatch).messages.map(m => ({ ...m, text: 'forged' })) } }] : [f]
  },
]

describe('a refused transfer into the example chat app', () => {
  for (const lie of LIES) {
    it(`leaves the app's tables as they were: ${lie.name}`, async () => {
      const oldApp = openApp()
      await useApp(oldApp)
      const newApp = openApp()
      newApp.addPerson('carla', 'Carla, met on the new phone')
      const own = newApp.startChat({ title: 'Written on the new phone', members: ['me', 'carla'] })
      newApp.post(own, { author: 'me', body: 'mine' })
      const source = new ChatHistory(oldApp)
      const target = new ChatHistory(newApp)
      // Over an in-memory pipe, where the test can make the sender lie; Ferry's journal beside the app.
      const run = async (tamper?: Tamper): Promise<Awaited<ReturnType<typeof runTransfer>>> =>
        await runTransfer(source, target, { options: { batchBytes: 4096, chunkBytes: 16 * 1024 }, journal: journalOf(newApp), tamper })
      expect((await run()).receiver.state).toBe('verified')

      // Used on: posts added and edited, a new photo; then a lying sender brings the change.
      const team = oldApp.chatByTitle('Team ✓') as number
      oldApp.post(team, { author: 'ana', body: 'added', sentAt: T + 7_500 })
      oldApp.edit(oldApp.timeline(team)[12].post_id, 'edited')
      oldApp.post(team, { author: 'me', kind: 'image', attachmentId: await oldApp.attach(bytes(50_000, 4), 'image/png'), sentAt: T + 90_000 })
      const before = rows(newApp)
      const attachmentsBefore = newApp.db.prepare('SELECT * FROM attachments ORDER BY attachment_id').all() as Array<{ attachment_id: number, sha256: string, on_device: number }>
      const filesBefore = attachmentFiles(newApp)
      const bad = await run(lie.tamper)
      expect(bad.receiverError?.code).toBe(lie.code)
      expect(rows(newApp)).toEqual(before)
      // The attachment the transfer added went, with its file; those the app held are as they were.
      expect(newApp.db.prepare('SELECT * FROM attachments ORDER BY attachment_id').all()).toEqual(attachmentsBefore)
      expect(attachmentFiles(newApp)).toEqual(filesBefore)
      for (const a of attachmentsBefore.filter(a => a.on_device === 1)) expect(sha256(readFileSync(newApp.attachmentPath(a.attachment_id)))).toBe(a.sha256)

      // The honest retry brings exactly the change.
      const good = await run()
      expect(good.receiver.state).toBe('verified')
      expect(good.receiver.progress.messagesReceived).toBe(3)
      // Two posts more (one was edited), and the one written here.
      expect(count(newApp, 'SELECT count(*) FROM posts')).toBe(212 + 2 + 1)
      expect((view(newApp) as Array<{ title: string }>).filter(c => c.title !== 'Written on the new phone')).toEqual(view(oldApp))
      expect(newApp.timeline(own).map(p => p.body)).toEqual(['mine'])
    })
  }
})

describe('a refused first transfer into the example chat app', () => {
  it('takes back every chat and person it brought, but keeps a chat someone wrote in meanwhile, and its members', async () => {
    const oldApp = openApp()
    await useApp(oldApp)
    const newApp = openApp()
    const before = rows(newApp)
    const lie: Tamper = f => {
      if (f.body !== 'done') return [f]
      // Every message is in by the time the sender says it is done: the new phone's user writes in a chat
      // the transfer brought, then the sender lies about what it sent.
      newApp.post(newApp.chatByTitle('Team ✓') as number, { author: 'me', body: 'written while it arrived' })
      const d = f.done as ferry.Done
      return [{ done: { ...d, conversations: d.conversations.map(c => ({ ...c, digest: new Uint8Array(32) })) } }]
    }
    const bad = await runTransfer(new ChatHistory(oldApp), new ChatHistory(newApp), { journal: journalOf(newApp), tamper: lie })
    expect(bad.receiverError?.code).toBe('DIGEST_MISMATCH')
    expect(newApp.chats().map(c => [c.title, c.posts])).toEqual([['Team ✓', 1]])
    expect(newApp.timeline(newApp.chatByTitle('Team ✓') as number).map(p => p.body)).toEqual(['written while it arrived'])
    // The chat kept is still legible: its members are the people it names.
    expect(before.people).toEqual([])
    expect((rows(newApp).people as Array<{ handle: string, display_name: string }>).map(p => [p.handle, p.display_name])).toEqual([['ana', 'Ana'], ['bo', 'Bo 😀']])
    // No attachment of the transfer's is left, nor any of their files: no post here refers to one.
    expect(count(newApp, 'SELECT count(*) FROM attachments')).toBe(0)
    expect(attachmentFiles(newApp)).toEqual([])
  })
})

describe('the example chat app\'s database put back to an older copy of itself', () => {
  it('gets again what a later transfer brought, where it would have stayed out as deleted here', async () => {
    const oldApp = openApp()
    await useApp(oldApp)
    const dir = tempDir('chat-app-')
    let newApp = ChatDb.open(dir)
    toClose.push(() => newApp.close())
    await verifiedTransfer(new ChatHistory(oldApp), new ChatHistory(newApp), { journal: journalOf(newApp) })
    // The app's own backup of its database, after the first transfer.
    newApp.db.pragma('wal_checkpoint(TRUNCATE)')
    const snap = tempDir('chat-app-copy-')
    copyFileSync(join(dir, 'chat.db'), join(snap, 'chat.db'))
    // The old phone is used on, and a second transfer brings that here.
    const ana = oldApp.chatByTitle('Ana') as number
    for (let i = 0; i < 20; i++) oldApp.post(ana, { author: 'ana', body: `later ${i}`, sentAt: T + (100 + i) * 60_000 })
    await verifiedTransfer(new ChatHistory(oldApp), new ChatHistory(newApp), { journal: journalOf(newApp) })
    expect(count(newApp, 'SELECT count(*) FROM posts')).toBe(232)
    // The app puts its database back to the copy (the WAL and its index are newer: they go); Ferry's journal stays.
    newApp.close()
    for (const f of ['chat.db', 'chat.db-wal', 'chat.db-shm']) if (existsSync(join(dir, f))) rmSync(join(dir, f))
    copyFileSync(join(snap, 'chat.db'), join(dir, 'chat.db'))
    newApp = ChatDb.open(dir)
    expect(count(newApp, 'SELECT count(*) FROM posts')).toBe(212)

    const again = await verifiedTransfer(new ChatHistory(oldApp), new ChatHistory(newApp), { journal: journalOf(newApp) })

    // Nobody deleted the twenty posts here: they come again, and the old phone may be wiped.
    expect(again.receiver.progress.messagesLeftDeleted).toBe(0)
    expect(view(newApp)).toEqual(view(oldApp))
    // From now on the journal describes this database: a post its owner deletes stays deleted.
    const gone = newApp.timeline(newApp.chatByTitle('Ana') as number).find(p => p.body === 'later 3')
    newApp.db.prepare('DELETE FROM posts WHERE post_id = ?').run(gone?.post_id)
    const next = await verifiedTransfer(new ChatHistory(oldApp), new ChatHistory(newApp), { journal: journalOf(newApp) })
    expect(next.receiver.progress.messagesLeftDeleted).toBe(1)
    expect(count(newApp, 'SELECT count(*) FROM posts')).toBe(231)
  })
})
