import { copyFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'
import { SqliteChatStore } from '../../src/store/sqlite-store.js'
import type { Message } from '../../src/store/model.js'

// A transfer's messages commit without WAL checkpoints (each stalled the receiver's bottleneck thread),
// and a thread of its own catches up once they are in. Seen through the files: a checkpoint is what
// moves pages from history.db-wal into history.db.

afterAll(() => cleanupTempDirs())

const PAGES = 32 // 512 KiB of WAL between checkpoints; the backstop is eight times that
const batch = (conversation: string, from: number, n: number): Message[] => Array.from({ length: n }, (_, i) => ({
  conversation, id: `m${String(from + i).padStart(6, '0')}`, sender: 'u1', ts: 1_700_000_000_000 + from + i, kind: 'text', text: `message ${from + i} `.repeat(20)
}))

describe('WAL checkpoints during a transfer', () => {
  it('are deferred through its messages, caught up on a thread after them, and then run as usual', async () => {
    const dir = tempDir()
    const db = join(dir, 'history.db')
    const store = SqliteChatStore.open(dir, { create: true, walPages: PAGES })
    store.putMetadata([], [{ id: 'local', kind: 'direct', title: 'L', members: ['u1'] }, { id: 'c', kind: 'direct', title: 'C', members: ['u1'] }], [])

    // Written locally, ~1 MB reaches the file as it goes: checkpoints run every 32 pages.
    let size = statSync(db).size
    for (let b = 0; b < 10; b++) store.putMessages(batch('local', b * 300, 300))
    expect(statSync(db).size).toBeGreaterThan(size + 300_000)

    // A transfer's ~2 MB of batches (several checkpoint intervals, under the backstop): none reaches it.
    size = statSync(db).size
    let sent = 0
    for (let b = 0; b < 6; b++) {
      await store.commit({ messages: batch('c', sent, 1000) })
      sent += 1000
    }
    expect(statSync(db).size).toBe(size)
    expect(statSync(`${db}-wal`).size).toBeGreaterThan(2 * PAGES * 16384)

    // Once the messages are done, the thread copies them in: that file alone then holds every one.
    store.messagesDone()
    await store.checkpointsSettled()
    const alone = join(tempDir(), 'alone.db')
    copyFileSync(db, alone)
    const copy = new Database(alone)
    expect(copy.prepare('SELECT count(*) FROM messages WHERE conversation = ?').pluck().get('c')).toBe(sent)
    copy.close()
    // And the WAL's space is given back before the store closes (a close would otherwise delete it).
    expect(statSync(`${db}-wal`).size).toBe(0)

    // And this connection checkpoints every 32 pages again.
    size = statSync(db).size
    for (let b = 10; b < 20; b++) store.putMessages(batch('local', b * 300, 300))
    expect(statSync(db).size).toBeGreaterThan(size + 300_000)
    expect(store.stats().messages).toBe(6000 + sent)
    store.close()
  })

  it('catch up during a read-back when no media is to come, and cut the WAL once no reader is in it', async () => {
    const dir = tempDir()
    const db = join(dir, 'history.db')
    const store = SqliteChatStore.open(dir, { create: true, walPages: PAGES })
    store.putMetadata([], [{ id: 'c', kind: 'direct', title: 'C', members: ['u1'] }], [])
    let sent = 0
    for (let b = 0; b < 6; b++) {
      await store.commit({ messages: batch('c', sent, 1000) })
      sent += 1000
    }
    const size = statSync(db).size
    // A read-back still in the WAL: it must read on undisturbed, and the WAL stays until it is done.
    const reader = new Database(db, { readonly: true })
    reader.prepare('BEGIN').run()
    expect(reader.prepare('SELECT count(*) FROM messages').pluck().get()).toBe(sent)

    store.onlyVerifyingLeft()
    // The thread copies the messages into the file while the reader is still in the WAL...
    while (statSync(db).size === size) await new Promise(resolve => setImmediate(resolve))
    expect(statSync(`${db}-wal`).size).toBeGreaterThan(0)
    expect(reader.prepare('SELECT count(*) FROM messages').pluck().get()).toBe(sent)
    // ...and cuts the WAL once it has left (messagesDone, as chats-ready comes, adds no second thread).
    reader.prepare('COMMIT').run()
    reader.close()
    store.messagesDone()
    await store.checkpointsSettled()
    expect(statSync(`${db}-wal`).size).toBe(0)
    const alone = join(tempDir(), 'alone.db')
    copyFileSync(db, alone)
    const copy = new Database(alone)
    expect(copy.prepare('SELECT count(*) FROM messages WHERE conversation = ?').pluck().get('c')).toBe(sent)
    copy.close()
    store.close()
  })
})
