import { createRequire } from 'node:module'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { afterEach, describe, expect, it } from 'vitest'
import { SqliteChatStore } from '../../src/store/sqlite-store.js'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'

// Another connection to history.db may hold its write lock for a while: the WAL checkpoint thread's
// TRUNCATE takes it, as would an app's own connection writing. A store's write then waits for it and
// goes in; it must not fail the transfer with "database is locked". The holder is a second real
// connection on a thread of its own (better-sqlite3 blocks its thread while SQLite waits).

/** Indexes into the state shared with the holder's thread (the same in HOLDER). */
const HELD = 0
const WRITING = 1
const RELEASED = 2
const NEVER = 3

/** How long the holder keeps the lock once the store is writing: well under the store's busy timeout. */
const HOLD_MS = 300

const HOLDER = `
const { parentPort, workerData } = require('node:worker_threads')
const Database = require(workerData.module)
const db = new Database(workerData.path, { fileMustExist: true, timeout: 0 })
const state = new Int32Array(workerData.state)
parentPort.on('message', () => {
  db.exec('BEGIN IMMEDIATE')
  Atomics.store(state, ${HELD}, 1)
  Atomics.notify(state, ${HELD})
  Atomics.wait(state, ${WRITING}, 0)
  Atomics.wait(state, ${NEVER}, 0, workerData.holdMs)
  db.exec('ROLLBACK')
  Atomics.store(state, ${RELEASED}, 1)
  db.close()
})
`

const workers: Worker[] = []
afterEach(async () => {
  for (const w of workers.splice(0)) await w.terminate()
  cleanupTempDirs()
})

/**
 * Runs `write` while another connection holds history.db's write lock, which it lets go HOLD_MS after
 * the write starts. Resolves with whether the holder had let go by the time the write was done.
 */
async function whileLockHeld (dir: string, write: () => Promise<void>): Promise<boolean> {
  const state = new Int32Array(new SharedArrayBuffer(16))
  const worker = new Worker(HOLDER, {
    eval: true,
    workerData: { module: createRequire(import.meta.url).resolve('better-sqlite3'), path: join(dir, 'history.db'), state: state.buffer, holdMs: HOLD_MS }
  })
  workers.push(worker)
  const failed = new Promise<never>((_resolve, reject) => worker.on('error', reject))
  worker.postMessage('hold')
  while (Atomics.load(state, HELD) === 0) await Promise.race([failed, Atomics.waitAsync(state, HELD, 0).value])
  Atomics.store(state, WRITING, 1)
  Atomics.notify(state, WRITING)
  await write()
  return Atomics.load(state, RELEASED) === 1
}

function storeWithARecord (): { dir: string, store: SqliteChatStore, sha: string } {
  const dir = tempDir()
  const store = SqliteChatStore.open(dir, { create: true })
  const sha = 'ab'.repeat(32)
  store.putMetadata([], [{ id: 'c', kind: 'direct', title: 'C', members: ['u1'] }], [{ sha256: sha, size: 10, mime: 'image/jpeg' }])
  return { dir, store, sha }
}

describe('a write while another connection holds the store\'s write lock', () => {
  it('a media record removed (read, then written, as a transfer removes one) waits for it and goes', async () => {
    const { dir, store, sha } = storeWithARecord()
    const waited = await whileLockHeld(dir, async () => { await store.commit({ remove: { media: [sha] } }) })
    expect(waited).toBe(true)
    expect(store.hasMediaRecord(sha)).toBe(false)
    store.close()
  })

  it('a caller\'s transaction that reads before it writes waits for it and commits', async () => {
    const { dir, store, sha } = storeWithARecord()
    const waited = await whileLockHeld(dir, async () => {
      store.transaction(() => {
        if (store.hasMediaRecord(sha)) store.putMessages([{ conversation: 'c', id: 'm1', sender: 'u1', ts: 1, kind: 'image', media: sha }])
      })
    })
    expect(waited).toBe(true)
    expect([...store.listMessages({ conversations: ['c'] })].map(m => m.id)).toEqual(['m1'])
    store.close()
  })
})
