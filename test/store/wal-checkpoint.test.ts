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

    // And this connection checkpoints every 32 pages again.
    size = statSync(db).size
    for (let b = 10; b < 20; b++) store.putMessages(batch('local', b * 300, 300))
    expect(statSync(db).size).toBeGreaterThan(size + 300_000)
    expect(store.stats().messages).toBe(6000 + sent)
    store.close()
  })
})
