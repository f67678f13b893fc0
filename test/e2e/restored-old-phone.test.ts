// An old phone reset and restored from its own backup (`ferry restore` into an empty store, which gets a
// new store id) sends again to the new phone it sent to before. What the new phone's person deleted or
// renamed since must stay so, as for the phone it was restored from; and the original phone, if it is
// still in use, stays a phone of its own. Real `ferry` processes (seed, send, receive, backup, restore)
// on loopback, real SQLite stores; the people's edits are made through the store as an app makes them.
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { SqliteChatStore } from '../../src/store/sqlite-store.js'
import type { Message } from '../../src/store/model.js'
import {
  cleanupTempDirs, copyStore, ferryOk, inspect, killAll, newStorePath, seedStore, senderReady, startReceiver, startSender,
  tempDir, type FerryJsonEvent, type FerryProcess
} from './helpers/ferry-cli.js'

let seeded: string

beforeAll(async () => { seeded = await seedStore('tiny', 7) }, 120_000)
afterEach(async () => { await killAll() })
afterAll(() => cleanupTempDirs())

let codes = 0
const nextCode = (): string => `271-${String(1000 + ++codes).padStart(4, '0')}-${String(4000 + codes).padStart(4, '0')}`

interface Stats { messagesSent: number, messagesHeld: number, messagesLeftDeleted: number, chatsLeftDeleted: number, namesKept: number }

/** `ferry send` from `from` and `ferry receive` into `to`, to the receiver's verified event. */
async function move (from: string, to: string): Promise<{ stats: Stats, summary: Array<{ id: string, title: string, messages: number }> }> {
  const code = nextCode()
  const sender = startSender(from, { code })
  const ready = await senderReady(sender)
  const receiver = startReceiver(to, { code, peer: ready.addr, extra: ['--no-sweep'] })
  const [r, s] = await Promise.all([receiver.waitExit(60_000), sender.waitExit(60_000)])
  expect(r.code, receiver.describe()).toBe(0)
  expect(s.code, sender.describe()).toBe(0)
  const verified = await receiver.waitEvent('verified') as FerryJsonEvent & { stats: Stats, summary: Array<{ id: string, title: string, messages: number }> }
  return verified
}

/** Opens a store as its app does between transfers, runs `edit`, closes it. */
function withStore<T> (dir: string, edit: (s: SqliteChatStore) => T): T {
  const s = SqliteChatStore.open(dir)
  try {
    return edit(s)
  } finally {
    s.close()
  }
}

/** withStore for an edit that awaits the store's commits. */
async function withStoreAsync<T> (dir: string, edit: (s: SqliteChatStore) => Promise<T>): Promise<T> {
  const s = SqliteChatStore.open(dir)
  try {
    return await edit(s)
  } finally {
    s.close()
  }
}

const messagesOf = (s: SqliteChatStore, c: string): Message[] => [...s.listMessages({ conversations: [c] })]
const titleOf = (s: SqliteChatStore, c: string): string | undefined => s.listConversations().find(x => x.id === c)?.title

/** A message written on a phone now, after the others of its chat. */
function write (s: SqliteChatStore, conversation: string, id: string, text: string): Message {
  const last = messagesOf(s, conversation).at(-1) as Message
  const m: Message = { conversation, id, sender: last.sender, ts: last.ts + 60_000, kind: 'text', text }
  s.putMessages([m])
  return m
}

/**
 * The reviewer's history: the old phone sent everything; on the new phone the person then deleted chat
 * c3 whole, one message of c1, and renamed c2. The old phone's backup was written after the transfer.
 */
async function sentThenChangedHere (): Promise<{ old: string, fresh: string, backup: string, c3: number, deletedInC1: string }> {
  const old = copyStore(seeded)
  const fresh = newStorePath()
  const first = await move(old, fresh)
  expect(first.stats.messagesSent).toBe(300)
  const backup = join(tempDir('restored-backup-'), 'old.ferrybak')
  await ferryOk(['backup', '--store', old, '--out', backup, '--no-password'])
  const { c3, deletedInC1 } = await withStoreAsync(fresh, async s => {
    const c3 = messagesOf(s, 'c3').map(m => m.id)
    await s.commit({ remove: { messages: c3.map(id => ({ conversation: 'c3', id })), conversations: ['c3'] } })
    const deletedInC1 = messagesOf(s, 'c1')[5].id
    await s.commit({ remove: { messages: [{ conversation: 'c1', id: deletedInC1 }] } })
    const c2 = s.listConversations().find(x => x.id === 'c2')
    s.putMetadata([], [{ ...c2!, title: 'renamed here' }], [])
    return { c3: c3.length, deletedInC1 }
  })
  return { old, fresh, backup, c3, deletedInC1 }
}

/** What the person did on the new phone is still so. */
function stillAsThePersonLeftIt (fresh: string, deletedInC1: string): void {
  withStore(fresh, s => {
    expect(s.listConversations().map(c => c.id)).not.toContain('c3')
    expect(messagesOf(s, 'c3')).toEqual([])
    expect(messagesOf(s, 'c1').map(m => m.id)).not.toContain(deletedInC1)
    expect(titleOf(s, 'c2')).toBe('renamed here')
  })
}

describe('an old phone reset and restored from its own backup', () => {
  it('brings back nothing the new phone deleted or renamed, and the original phone stays a phone of its own', async () => {
    const { old, fresh, backup, c3, deletedInC1 } = await sentThenChangedHere()
    expect(c3).toBeGreaterThan(0)
    const restored = newStorePath('restored-phone')
    await ferryOk(['restore', '--store', restored, '--in', backup])
    const [oldId, restoredId] = [withStore(old, s => s.storeId), withStore(restored, s => s.storeId)]
    expect(restoredId).not.toBe(oldId)
    expect(withStore(restored, s => s.formerIds)).toEqual([oldId])
    // What the person sees of it: the history the restored phone carries on.
    expect((await inspect(restored)).formerIds).toEqual([oldId])
    expect((await inspect(old)).formerIds).toBeUndefined()
    expect(await ferryOk(['inspect', '--store', restored])).toContain(`restored from a backup of ${oldId}`)

    // The restored phone changed nothing: nothing comes, and the counts say what stayed as it was here.
    const second = await move(restored, fresh)
    expect(second.stats).toMatchObject({ messagesSent: 0, messagesHeld: 300 - c3 - 1, messagesLeftDeleted: c3 + 1, chatsLeftDeleted: 1, namesKept: 1 })
    stillAsThePersonLeftIt(fresh, deletedInC1)

    // The original phone goes on being used and sends: its new message and rename come, against its own
    // bases, and what was deleted or renamed here still stays.
    const onOriginal = withStore(old, s => {
      const c4 = s.listConversations().find(x => x.id === 'c4')
      s.putMetadata([], [{ ...c4!, title: 'renamed on the original' }], [])
      return write(s, 'c1', 'on-the-original', 'written on the original after the backup')
    })
    const third = await move(old, fresh)
    expect(third.stats).toMatchObject({ messagesSent: 1, messagesLeftDeleted: c3 + 1, chatsLeftDeleted: 1, namesKept: 1 })
    withStore(fresh, s => {
      expect(messagesOf(s, 'c1').find(m => m.id === onOriginal.id)).toEqual(onOriginal)
      expect(titleOf(s, 'c4')).toBe('renamed on the original')
    })
    stillAsThePersonLeftIt(fresh, deletedInC1)

    // The restored phone, used in its turn, sends against the bases it now has of its own: its new
    // message comes, the original's rename (which it never had) stays, and nothing deleted comes back.
    const onRestored = withStore(restored, s => write(s, 'c4', 'on-the-restored', 'written on the restored phone'))
    const fourth = await move(restored, fresh)
    expect(fourth.stats).toMatchObject({ messagesSent: 1, messagesLeftDeleted: c3 + 1, chatsLeftDeleted: 1 })
    withStore(fresh, s => {
      expect(messagesOf(s, 'c4').find(m => m.id === onRestored.id)).toEqual(onRestored)
      expect(titleOf(s, 'c4')).toBe('renamed on the original')
      expect(messagesOf(s, 'c1').map(m => m.id)).toContain(onOriginal.id)
    })
    stillAsThePersonLeftIt(fresh, deletedInC1)
  }, 300_000)

  it('never resumes a transfer of the original phone that the new phone holds unverified', async () => {
    const { old, fresh, backup, deletedInC1 } = await sentThenChangedHere()
    const restored = newStorePath('restored-phone')
    await ferryOk(['restore', '--store', restored, '--in', backup])

    // The original sends a message written since; the new phone is killed once it has arrived, before
    // the read-back: it holds the original's transfer unverified, with its checkpoint.
    const since = withStore(old, s => write(s, 'c1', 'unverified', 'sent by the original, never verified'))
    const code = nextCode()
    const sender: FerryProcess = startSender(old, { code })
    const ready = await senderReady(sender)
    const held = startReceiver(fresh, { code, peer: ready.addr, extra: ['--no-sweep'], env: { FERRY_TEST_HOLD_VERIFYING: '1' } })
    await held.waitEvent('verifying', 30_000)
    await held.kill9()
    await sender.kill9()
    const oldId = withStore(old, s => s.storeId)
    const pending = (await inspect(fresh)).transfers
    expect(pending.map(t => t.sourceId)).toEqual([oldId])
    withStore(fresh, s => expect(messagesOf(s, 'c1').map(m => m.id)).toContain(since.id))

    // The restored phone's transfer is its own: it does not carry on the original's (whose message it
    // never had), which is taken back as any other phone's unverified transfer is, and it verifies alone.
    const next = await move(restored, fresh)
    expect(next.stats).toMatchObject({ messagesSent: 0, chatsLeftDeleted: 1, namesKept: 1 })
    expect((await inspect(fresh)).transfers).toEqual([])
    withStore(fresh, s => expect(messagesOf(s, 'c1').map(m => m.id)).not.toContain(since.id))
    stillAsThePersonLeftIt(fresh, deletedInC1)
  }, 300_000)
})
