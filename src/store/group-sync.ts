import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { open } from 'node:fs/promises'

// Group commit for file data. Every received photo must be on disk before it gets its content-addressed
// name, and one fsync per photo costs a disk cache flush each, so a
// history of tens of thousands of photos spent longer flushing than transferring. Here files waiting for durability
// are flushed together: they queue until GROUP files wait or GATHER_MS passed (or someone needs them now),
// and the whole queue goes at once, with a single syncfs(2) of the filesystem (`sync --file-system`,
// coreutils; Node has no binding, and a spawn costs a few ms, so it must carry many files). A small group,
// or a system where syncfs is unavailable, gets one fsync per file (in parallel on the thread pool).
// A rename is durable only once its directory is synced too (XFS, btrfs, f2fs may otherwise bring a
// renamed file back under its old name after a power cut): directories wait here as well, and ride
// along with the next group's flush rather than costing one of their own.

/**
 * syncfs(2) through one long-lived `sh` that runs `sync --file-system` per request line: spawning from
 * this (large) process costs milliseconds each time, forking from a small shell does not.
 */
class Syncer {
  private child?: ChildProcessWithoutNullStreams
  private readonly pending: Array<{ resolve: () => void, reject: (err: Error) => void }> = []
  private out = ''

  async syncfs (dir: string): Promise<void> {
    const child = this.start()
    await new Promise<void>((resolve, reject) => {
      this.pending.push({ resolve, reject })
      if (this.pending.length === 1) this.hold(child, true)
      child.stdin.write(`${dir}\n`)
    })
  }

  /**
   * The helper must not keep an idle process alive, but while a flush waits for its answer it must:
   * else a process with nothing else to do (a script driving the engine over an in-memory pipe) ends
   * with the flush unsettled.
   */
  private hold (child: ChildProcessWithoutNullStreams, on: boolean): void {
    const out = child.stdout as unknown as { ref?: () => void, unref?: () => void }
    if (on) { child.ref(); out.ref?.() } else { child.unref(); out.unref?.() }
  }

  private start (): ChildProcessWithoutNullStreams {
    if (this.child !== undefined) return this.child
    const child = spawn('sh', ['-c', 'while IFS= read -r d; do if sync --file-system "$d"; then echo ok; else echo fail; fi; done'], { stdio: 'pipe' })
    child.unref()
    for (const s of [child.stdin, child.stdout, child.stderr]) (s as unknown as { unref?: () => void }).unref?.()
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (d: string) => {
      this.out += d
      let i
      while ((i = this.out.indexOf('\n')) >= 0) {
        const line = this.out.slice(0, i)
        this.out = this.out.slice(i + 1)
        const w = this.pending.shift()
        if (this.pending.length === 0) this.hold(child, false)
        if (line === 'ok') w?.resolve(); else w?.reject(new Error('sync --file-system failed'))
      }
    })
    const gone = (err: Error): void => {
      this.child = undefined
      for (const w of this.pending.splice(0)) w.reject(err)
    }
    child.on('error', gone)
    child.on('exit', () => { gone(new Error('the sync helper exited')) })
    child.stdin.on('error', () => {})
    this.child = child
    return child
  }

  close (): void {
    this.child?.stdin.end()
    this.child = undefined
  }
}

async function fsyncPath (path: string): Promise<void> {
  const h = await open(path, 'r')
  try { await h.sync() } finally { await h.close() }
}

/**
 * Files that make a syncfs worth its process spawn; fewer are fsynced one by one. Each fsync of its own
 * is a disk cache flush and three trips through libuv's thread pool, where the receiver's direct media
 * writes wait behind them: a media-heavy transfer gathers a few dozen files per GATHER_MS, too many to
 * flush one by one.
 */
const GROUP = 8
const GATHER_MS = 100

/** `names`: a directory whose entries are to be made durable (best effort: see fsyncDir). */
interface Waiter { path: string, done: (err?: unknown) => void, names?: true }

export class GroupSync {
  private queue: Waiter[] = []
  /** Of the queue, the files' waiters: only they make a group (a directory waits for the next one). */
  private files = 0
  private running = false
  private timer?: NodeJS.Timeout
  /** Set by now(): flush without gathering until the queue is empty. */
  private urgent = false
  /** undefined until tried; false once syncfs failed here (then every file is fsynced alone). */
  private syncfsWorks?: boolean

  private readonly syncer = new Syncer()

  /** `dir` names the filesystem to flush: any directory on it. */
  constructor (private readonly dir: string) {}

  /** Stops the sync helper (files still queued are flushed first by whoever awaits them). */
  close (): void {
    this.syncer.close()
  }

  /**
   * Calls `done` once the data written to `path` so far is on disk, or with the error that stopped it
   * (the file must stay at `path` until then). A callback, not a promise: a photo-heavy transfer queues
   * 100k+ files, and a group's callbacks run one after another as soon as its flush returns. `done`
   * must not throw.
   */
  whenDurable (path: string, done: (err?: unknown) => void): void {
    this.queue.push({ path, done })
    this.files++
    if (this.files >= GROUP || this.urgent) this.kick()
    else this.gather()
  }

  /**
   * Calls `done` once the entries made in directory `dir` so far (renames into it, directories made in
   * it) are on disk. Never with an error: some filesystems refuse to sync a directory, and durability is
   * then best effort (see fsyncDir). It does not make a group by itself: the files renamed after one
   * group's flush wait for the next group's, or for the gathering time when no more files come.
   */
  whenNamed (dir: string, done: () => void): void {
    this.queue.push({ path: dir, done, names: true })
    if (this.urgent) this.kick()
    else this.gather()
  }

  private gather (): void {
    if (this.timer === undefined) this.timer = setTimeout(() => { this.timer = undefined; this.kick() }, GATHER_MS)
  }

  /** Flushes what is queued without waiting to gather more (someone is waiting for these files). */
  now (): void {
    if (this.queue.length === 0 && !this.running) return
    this.urgent = true
    this.kick()
  }

  private kick (): void {
    if (this.running) return
    if (this.queue.length === 0) { this.urgent = false; return }
    clearTimeout(this.timer)
    this.timer = undefined
    this.running = true
    const batch = this.queue
    this.queue = []
    this.files = 0
    void this.flush(batch).finally(() => {
      this.running = false
      // Files that queued meanwhile: at once if someone waits or a group is ready, else after gathering.
      if (this.urgent || this.files >= GROUP) this.kick()
      else if (this.queue.length > 0) this.gather()
      else this.urgent = false
    })
  }

  private async flush (batch: Waiter[]): Promise<void> {
    // A directory is synced once however many of its files were renamed (a photo-heavy transfer's group
    // names a few dozen files in as many of the 256 fan-out directories, or in fewer).
    const paths = new Map<string, Waiter[]>()
    for (const w of batch) {
      const same = paths.get(w.path)
      if (same === undefined) paths.set(w.path, [w]); else same.push(w)
    }
    if (paths.size >= GROUP && this.syncfsWorks !== false) {
      try {
        await this.syncer.syncfs(this.dir)
        this.syncfsWorks = true
      } catch {
        this.syncfsWorks = false
      }
      if (this.syncfsWorks) {
        for (const w of batch) w.done()
        return
      }
    }
    await Promise.all([...paths].map(async ([path, waiters]) => {
      let failed: unknown
      try { await fsyncPath(path) } catch (err) { failed = err ?? new Error(`fsync of ${path} failed`) }
      for (const w of waiters) w.done(w.names === true ? undefined : failed)
    }))
  }
}
