import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { SqliteChatStore } from '../../src/store/sqlite-store.js'
import { keyOf, type Message } from '../../src/store/model.js'
import { cleanupTempDirs, openStore } from '../helpers/stores.js'

// A transfer into an empty history loads its messages without the (conversation, id) index and builds
// it once they are all in. Whatever happens in between (a local write, another transfer, a process that
// stops, a sender that repeats a message), the store ends with the index and without duplicates.

afterEach(() => cleanupTempDirs())

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

function commit (store: SqliteChatStore, transfer: number, batch: Message[]): void {
  store.commitBatch(transfer, batch, keyOf(batch[batch.length - 1]))
}

describe('a transfer into an empty history', () => {
  it('loads without the key and builds it once the messages are in', () => {
    const s = openStore()
    const all = history(300)
    const cp = s.openTransfer(tid, 'src', {})
    commit(s, cp.transfer, all.slice(0, 150))
    expect(hasKey(s)).toBe(false)
    commit(s, cp.transfer, all.slice(150))
    s.messagesDone()
    expect(hasKey(s)).toBe(true)
    expect([...s.messages()]).toEqual(all)
    expect(s.openTransfer(tid, 'src', {})).toMatchObject({ messages: 300, cursor: keyOf(all[299]) })
    // The key is the identity again: a later copy at another time merges into the row.
    s.putMessages([{ ...all[10], ts: 5, text: 'edited' }])
    expect(s.stats().messages).toBe(300)
    expect([...s.messages()][0]).toMatchObject({ id: all[10].id, text: 'edited' })
    s.close()
  })

  it('keeps the key when the history already holds messages', () => {
    const s = openStore()
    s.putMessages(history(1, 'local'))
    const cp = s.openTransfer(tid, 'src', {})
    commit(s, cp.transfer, history(50))
    expect(hasKey(s)).toBe(true)
    s.close()
  })

  it('refuses a load that holds a message twice, and leaves the store as before it', () => {
    const s = openStore()
    const all = history(40)
    const cp = s.openTransfer(tid, 'src', {})
    // The same id again at a later time is in canonical order, so only the key can tell.
    commit(s, cp.transfer, [...all.slice(0, 20), { ...all[3], ts: all[19].ts + 1, text: 'again' }])
    expect(() => s.messagesDone()).toThrow(expect.objectContaining({ code: 'ORDER', message: expect.stringContaining(`c1/${all[3].id}`) }))
    s.resetTransfer(cp.transfer)
    expect(hasKey(s)).toBe(true)
    expect(s.stats().messages).toBe(0)
    expect(s.openTransfer(tid, 'src', {})).toMatchObject({ messages: 0 })
    expect(s.openTransfer(tid, 'src', {}).cursor).toBeUndefined()
    // An honest session afterwards loads with the key in place.
    commit(s, cp.transfer, all)
    s.messagesDone()
    expect([...s.messages()]).toEqual(all)
    s.close()
  })

  it('builds the key before a local write or another transfer writes messages, which then merge', () => {
    const s = openStore()
    const all = history(30)
    const cp = s.openTransfer(tid, 'src', {})
    commit(s, cp.transfer, all.slice(0, 20))
    s.putMessages([{ ...all[0], ts: 1, text: 'edited here' }])
    expect(hasKey(s)).toBe(true)
    expect(s.stats().messages).toBe(20)
    const other = s.openTransfer(otherTid, 'other', {})
    commit(s, other.transfer, [{ ...all[5], ts: 2 }])
    expect(s.stats().messages).toBe(20)
    s.close()

    const t = openStore()
    const first = t.openTransfer(tid, 'src', {})
    commit(t, first.transfer, all.slice(0, 10))
    const second = t.openTransfer(otherTid, 'other', {})
    commit(t, second.transfer, [{ ...all[5], ts: 2 }])
    expect(hasKey(t)).toBe(true)
    expect(t.stats().messages).toBe(10)
    t.close()
  })
})

describe('a load stopped half-way (the process gone, the store reopened)', () => {
  it('has its key back at open, and the transfer resumes after its cursor', () => {
    const s = openStore()
    const all = history(200)
    const cp = s.openTransfer(tid, 'src', {})
    commit(s, cp.transfer, all.slice(0, 120))
    s.close() // what a kill leaves on disk: the drop and the batches committed, the key not built
    expect(hasKey(s)).toBe(false)

    const again = SqliteChatStore.open(s.dir)
    expect(hasKey(again)).toBe(true)
    const resumed = again.openTransfer(tid, 'src', {})
    expect(resumed).toMatchObject({ messages: 120, cursor: keyOf(all[119]) })
    commit(again, resumed.transfer, all.slice(120))
    again.messagesDone()
    expect([...again.messages()]).toEqual(all)
    expect(again.openTransfer(tid, 'src', {}).messages).toBe(200)
    again.close()
  })

  it('starts the transfer over when its load held a message twice', () => {
    const s = openStore()
    const all = history(30)
    const cp = s.openTransfer(tid, 'src', {})
    commit(s, cp.transfer, [...all.slice(0, 10), { ...all[2], ts: all[9].ts + 1 }])
    s.close()

    const again = SqliteChatStore.open(s.dir)
    expect(hasKey(again)).toBe(true)
    expect(again.stats().messages).toBe(0)
    expect(again.openTransfer(tid, 'src', {})).toMatchObject({ messages: 0 })
    expect(again.openTransfer(tid, 'src', {}).cursor).toBeUndefined()
    again.close()
  })
})
