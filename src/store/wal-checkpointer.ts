import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'

// SQLite's WAL grows with every commit until a checkpoint copies it back into the database file and
// syncs that. By default the committing connection does this itself, inside a commit. SQLite's advice
// for a writer that must not stall is to checkpoint from another thread: this is that thread, with its
// own connection to the same file. A PASSIVE checkpoint never waits for (nor blocks) the writer; the
// TRUNCATE after it takes the writer's lock only when it is free, and only for the little left to copy.

// CommonJS, evaluated in the worker: it needs only better-sqlite3, so it needs no bundling of its own.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads')
const Database = require(workerData.module)
const db = new Database(workerData.path, { fileMustExist: true, timeout: 0 })
db.pragma('synchronous = NORMAL')
db.pragma('cache_size = -256') // a checkpoint copies frames; it reads no tables
const state = new Int32Array(workerData.state)
const CLOSED = 0
const STOPPING = 1
const TRUNCATE_TRIES_MS = 5000
const TRUNCATE_AGAIN_MS = 10
parentPort.on('message', m => {
  if (m === 'close') {
    db.close()
    Atomics.store(state, CLOSED, 1)
    Atomics.notify(state, CLOSED)
    parentPort.close()
    return
  }
  let error = null
  try {
    db.pragma('wal_checkpoint(PASSIVE)')
    // Then cut the file to nothing: otherwise the last close deletes it, and freeing a WAL the size of a
    // transfer's messages is slow work on the path the person waits on. That needs no reader in the WAL
    // (a read-back may still be in one), so it is tried again until then; busy_timeout 0 means a try
    // never waits for the writer either, so it stalls the writer no longer than the cut itself.
    const until = Date.now() + TRUNCATE_TRIES_MS
    while (Atomics.load(state, STOPPING) === 0 && db.pragma('wal_checkpoint(TRUNCATE)')[0].busy !== 0 && Date.now() < until) {
      Atomics.wait(state, STOPPING, 0, TRUNCATE_AGAIN_MS)
    }
  } catch (err) {
    error = String(err && err.message || err)
  }
  parentPort.postMessage(error)
})
`

/** Indexes into the state shared with the thread (the same in WORKER). */
const CLOSED = 0
const STOPPING = 1

export class WalCheckpointer {
  private worker?: Worker
  /** [closed, stopping]: the thread says it closed; the caller says a checkpoint should give up waiting. */
  private readonly state = new Int32Array(new SharedArrayBuffer(8))
  private readonly waiters: Array<() => void> = []

  /**
   * Starts the thread for the database at `path`. `onStop` is told if it fails or ends early (the caller
   * then goes back to checkpointing itself).
   */
  constructor (path: string, private readonly onStop: (why: string) => void) {
    const module = createRequire(import.meta.url).resolve('better-sqlite3')
    // A small heap: it holds a connection and nothing else (the receiver's peak RSS is a target).
    const worker = new Worker(WORKER, {
      eval: true,
      workerData: { module, path, state: this.state.buffer },
      resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 1 }
    })
    worker.unref()
    worker.on('message', (error: string | null) => {
      if (error !== null) return this.stop(`checkpoint failed: ${error}`)
      for (const w of this.waiters.splice(0)) w()
    })
    worker.on('error', err => this.stop(err.message))
    worker.on('exit', () => this.stop('the checkpoint thread ended'))
    this.worker = worker
  }

  /** Checkpoints now; resolves when it is done, or when the thread is gone (onStop says so). */
  async checkpoint (): Promise<void> {
    const worker = this.worker
    if (worker === undefined) return
    await new Promise<void>(resolve => {
      this.waiters.push(resolve)
      worker.postMessage('checkpoint')
    })
  }

  /**
   * Closes the thread's connection before returning, so the caller's close, the last one, can then
   * checkpoint and remove the WAL as SQLite does on a clean close. Waits for a running checkpoint's
   * copy; one still waiting for a reader to leave the WAL, to cut it, gives that up.
   */
  close (): void {
    const worker = this.worker
    if (worker === undefined) return
    this.worker = undefined
    worker.removeAllListeners('exit')
    Atomics.store(this.state, STOPPING, 1)
    Atomics.notify(this.state, STOPPING)
    worker.postMessage('close')
    Atomics.wait(this.state, CLOSED, 0, 10_000)
  }

  private stop (why: string): void {
    if (this.worker === undefined) return
    const worker = this.worker
    this.worker = undefined
    void worker.terminate()
    for (const w of this.waiters.splice(0)) w()
    this.onStop(why)
  }
}
