import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { SqliteChatStore } from '../../src/store/sqlite-store.js'
import type { Message } from '../../src/store/model.js'
import { NodeJournal } from '../../src/journal/node-journal.js'
import { TransferLog } from '../../src/journal/transfer-log.js'
import { cleanupTempDirs, openStore, putWithPlaces } from '../helpers/stores.js'
import { conversationLeaves, LEAF_FORMAT } from '../../src/protocol/conversation-leaves.js'

// Messages committed into an empty history (a new phone's) go in without the (conversation, id) key,
// which is built once they are all in, or as soon as something needs it. Whatever happens in between (a
// local write, a read, a process that stops, a sender that repeats a message), the store ends with the
// key and without duplicates.

const journals: NodeJournal[] = []

afterEach(async () => {
  for (const j of journals.splice(0)) await j.close()
  cleanupTempDirs()
})

const tid = Uint8Array.from({ length: 16 }, (_, i) => i + 1)
const otherTid = Uint8Array.from({ length: 16 }, (_, i) => 100 + i)

/** Messages of one conversation in canonical order, ids not in ts order (as an app's random ids are). */
function history (n: number, conversation = 'c1'): Message[] {
  return Array.from({ length: n }, (_, i) => ({
    conversation, id: `m${((i * 7919) % n).toString().padStart(5, '0')}`, sender: 'u1', ts: 1000 + i, kind: 'text', text: `hello ${i}`
  }))
}

/** Whether history.db holds the key, as another connection sees it. */
function hasKey (store: SqliteChatStore): boolean {
  const db = new Database(join(store.dir, 'history.db'), { readonly: true })
  try {
    return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'messages_key'").get() !== undefined
  } finally {
    db.close()
  }
}

function transferLog (store: SqliteChatStore): TransferLog {
  const j = NodeJournal.open(store.dir)
  journals.push(j)
  return new TransferLog(j)
}

/** Writes a batch as the receiver does into a history that held nothing of it: logged as new, then committed. */
async function receive (log: TransferLog, rec: Awaited<ReturnType<TransferLog['open']>>, store: SqliteChatStore, batch: Message[]): Promise<void> {
  await log.logItems(rec, batch.map(m => ({ flag: 'new' as const, conversation: m.conversation, ts: m.ts, id: m.id })))
  await store.commit({ messages: batch })
}

describe('a load into an empty history', () => {
  it('goes in without the key, which messagesDone() builds', async () => {
    const s = openStore()
    // A new phone takes the manifest's contacts and conversations first: it holds no messages yet.
    await s.commit({ contacts: [{ id: 'u1', name: 'Ann' }], conversations: [{ id: 'c1', kind: 'direct', title: 'Ann', members: ['u1'] }] })
    const all = history(300)
    await s.commit({ messages: all.slice(0, 150) })
    expect(hasKey(s)).toBe(false)
    await s.commit({ messages: all.slice(150) })
    s.messagesDone()
    expect(hasKey(s)).toBe(true)
    expect([...s.listMessages()]).toEqual(all)
    // The key is the identity again: a later copy at another time merges into the row.
    await s.commit({ messages: [{ ...all[10], ts: 5, text: 'edited' }] })
    expect(s.stats().messages).toBe(300)
    expect([...s.listMessages()][0]).toMatchObject({ id: all[10].id, text: 'edited' })
    s.close()
  })

  it('has the key built by the first read that needs it', async () => {
    const all = history(100)
    for (const read of [
      async (s: SqliteChatStore) => await s.findMessages('c1', [all[7].id]),
      async (s: SqliteChatStore) => await s.messages('c1', undefined, 10)
    ]) {
      const s = openStore()
      await s.commit({ messages: all.slice(0, 60) })
      expect(hasKey(s)).toBe(false)
      expect((await read(s)).length).toBeGreaterThan(0)
      expect(hasKey(s)).toBe(true)
      // The rest of the load, re-sending a few it holds at other times, merges by the key.
      await s.commit({ messages: [...all.slice(50, 60).map(m => ({ ...m, ts: m.ts + 1000 })), ...all.slice(60)] })
      expect(s.stats().messages).toBe(100)
      s.close()
    }
  })

  it('keeps the key when the history already holds messages', async () => {
    const s = openStore()
    putWithPlaces(s, history(1, 'local'))
    await s.commit({ messages: history(50) })
    expect(hasKey(s)).toBe(true)
    s.close()
  })

  it('builds the key before a local write, and a later batch at other times merges', async () => {
    const s = openStore()
    const all = history(30)
    await s.commit({ messages: all.slice(0, 20) })
    putWithPlaces(s, [{ ...all[0], ts: 1, text: 'edited here' }])
    expect(hasKey(s)).toBe(true)
    expect(s.stats().messages).toBe(20)
    await s.commit({ messages: [{ ...all[5], ts: 2 }] })
    expect(s.stats().messages).toBe(20)
    s.close()
  })

  it('fails to build the key (ORDER) when it holds a message twice, and the undo takes all of it back', async () => {
    const s = openStore()
    const log = transferLog(s)
    const all = history(40)
    const rec = await log.open(tid, 'src', {}, s)
    // The same id again at a later time is in canonical order, so only the key can tell.
    const again = { ...all[3], ts: all[19].ts + 1, text: 'again' }
    await receive(log, rec, s, all.slice(0, 20))
    await receive(log, rec, s, [again])
    expect(() => s.messagesDone()).toThrow(expect.objectContaining({ code: 'ORDER', message: expect.stringContaining(`c1/${all[3].id}`) }))
    // Nothing reads the repeated rows as a history meanwhile.
    await expect(s.messages('c1', undefined, 100)).rejects.toMatchObject({ code: 'ORDER' })
    await expect(s.findMessages('c1', [all[3].id])).rejects.toMatchObject({ code: 'ORDER' })
    expect(() => s.putMessages([{ ...all[0], text: 'local' }])).toThrow(expect.objectContaining({ code: 'ORDER' }))

    // The refusal's undo removes every row the load wrote, both copies of the repeated one included.
    await log.undo(rec, s)
    expect(s.stats().messages).toBe(0)
    // An honest session afterwards loads, and ends with the key.
    const next = await log.open(tid, 'src', {}, s)
    await receive(log, next, s, all)
    s.messagesDone()
    expect(hasKey(s)).toBe(true)
    expect([...s.listMessages()]).toEqual(all)
    s.close()
  })
})

/**
 * Whether the leaves' rule holds for inserts: leaves kept for `conversation` over `messages`, then a
 * message written before their end, must leave no kept leaf behind.
 */
async function insertDropsLeaves (store: SqliteChatStore, conversation: string, before: Message): Promise<boolean> {
  const { token } = await store.leafIndex.keptLeaves(conversation, LEAF_FORMAT)
  await store.leafIndex.keepLeaves(conversation, LEAF_FORMAT, token, await conversationLeaves(store, conversation, {}))
  if ((await store.leafIndex.keptLeaves(conversation, LEAF_FORMAT)).leaves.length === 0) throw new Error('no leaf was kept')
  await store.commit({ messages: [before] })
  return (await store.leafIndex.keptLeaves(conversation, LEAF_FORMAT)).leaves.length === 0
}

describe('the leaves after a load into an empty history', () => {
  it('are dropped by a later insert before their end, as in any other store', async () => {
    const s = openStore()
    const all = history(300)
    await s.commit({ messages: all.slice(0, 150) })
    await s.commit({ messages: all.slice(150) })
    s.messagesDone()
    expect(await insertDropsLeaves(s, 'c1', { ...all[0], id: 'inserted', ts: all[0].ts + 1 })).toBe(true)
    s.close()
  })

  it('are dropped so after a load the process did not finish, once the store is reopened', async () => {
    const s = openStore()
    const all = history(200)
    await s.commit({ messages: all.slice(0, 120) })
    s.close()
    const again = SqliteChatStore.open(s.dir)
    await again.commit({ messages: all.slice(120) })
    expect(await insertDropsLeaves(again, 'c1', { ...all[0], id: 'inserted', ts: all[0].ts + 1 })).toBe(true)
    again.close()
  })
})

describe('a load stopped half-way (the process gone, the store reopened)', () => {
  it('has its key back at open, and the load goes on with it', async () => {
    const s = openStore()
    const all = history(200)
    await s.commit({ messages: all.slice(0, 120) })
    s.close() // what a kill leaves on disk: the drop and the batches committed, the key not built
    expect(hasKey(s)).toBe(false)

    const again = SqliteChatStore.open(s.dir)
    expect(hasKey(again)).toBe(true)
    // The next session re-sends what it is not sure of: it merges.
    await again.commit({ messages: all.slice(100) })
    again.messagesDone()
    expect([...again.listMessages()]).toEqual(all)
    again.close()
  })

  it('opens when that load held a message twice, and the next transfer\'s undo of it leaves the store empty', async () => {
    const s = openStore()
    const all = history(30)
    const log = transferLog(s)
    const rec = await log.open(tid, 'src', {}, s)
    await receive(log, rec, s, [...all.slice(0, 10), { ...all[2], ts: all[9].ts + 1 }])
    s.close()
    for (const j of journals.splice(0)) await j.close()

    const again = SqliteChatStore.open(s.dir)
    // The repeated rows cannot be read as a history until they are undone.
    await expect(again.messages('c1', undefined, 100)).rejects.toMatchObject({ code: 'ORDER' })
    // Something else committed meanwhile goes in beside them.
    const other: Message = { conversation: 'c2', id: 'x', sender: 'u2', ts: 5, kind: 'text', text: 'elsewhere' }
    await again.commit({ messages: [other] })
    // A new transfer (another code) first undoes the unverified one it finds in the journal.
    const next = transferLog(again)
    await next.open(otherTid, 'src', {}, again)
    expect(await again.messages('c1', undefined, 100)).toEqual([])
    expect([...again.listMessages()]).toEqual([other])
    expect(hasKey(again)).toBe(true)
    // And the key is the identity again.
    await again.commit({ messages: [{ ...other, ts: 6, text: 'edited' }] })
    expect([...again.listMessages()]).toEqual([{ ...other, ts: 6, text: 'edited' }])
    again.close()
  })
})
