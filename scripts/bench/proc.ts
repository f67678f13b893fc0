// Child processes and temp dirs for the benchmark: every child has a deadline, every child and temp
// dir is tracked, and both are cleaned up when the benchmark ends, fails or is interrupted.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const live = new Set<ChildProcess>()
const dirs = new Set<string>()
const finalisers = new Set<() => void>()

/**
 * Every child leads a process group of its own (spawned detached), and the whole group is killed: a
 * shell pipeline's tar and socat, rsync's ssh, or sshd's per-connection processes must not outlive it.
 */
function killGroup (c: ChildProcess): void {
  if (c.exitCode !== null || c.signalCode !== null || c.pid === undefined) return
  try { process.kill(-c.pid, 'SIGKILL') } catch {
    try { c.kill('SIGKILL') } catch {}
  }
}

function killAll (): void {
  for (const c of live) killGroup(c)
  live.clear()
}

function removeDirs (): void {
  for (const f of finalisers) { try { f() } catch {} }
  finalisers.clear()
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
  dirs.clear()
}

/**
 * Runs `fn` (synchronous) when the benchmark ends, fails or is interrupted, unless `cancel` ran first:
 * for what is neither a child nor a temp dir (a directory made outside the temp dirs).
 */
export function atCleanup (fn: () => void): { cancel: () => void } {
  finalisers.add(fn)
  return { cancel: () => { finalisers.delete(fn) } }
}

let installed = false
/** Kills children and removes temp dirs on exit, Ctrl-C and SIGTERM. Call once, early. */
export function installCleanup (): void {
  if (installed) return
  installed = true
  process.on('exit', () => { killAll(); removeDirs() })
  // A lane that fails (a child that exited, a tool that refused) says so in one message, which carries
  // the child's own stderr; where in the benchmark it failed is for whoever debugs it.
  process.on('uncaughtException', err => {
    process.stderr.write(process.env.BENCH_STACK === '1'
      ? `${err.stack ?? String(err)}\n`
      : `\nthe benchmark failed: ${err instanceof Error ? err.message : String(err)}\n(BENCH_STACK=1 shows where)\n`)
    process.exit(1)
  })
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      process.stderr.write(`\n${sig}: stopping children, removing temp dirs\n`)
      killAll(); removeDirs()
      process.exit(130)
    })
  }
}

/** A fresh temp dir under `parent` (default the OS temp dir), removed by removeTempDir or at exit. */
export function tempDir (prefix: string, parent = tmpdir()): string {
  const d = mkdtempSync(join(parent, `ferry-bench-${prefix}-`))
  dirs.add(d)
  return d
}

export function removeTempDir (d: string): void {
  rmSync(d, { recursive: true, force: true })
  dirs.delete(d)
}

/** Peak RSS of a process, read from /proc while it runs (VmHWM is the kernel's high-water mark). */
export function watchRss (pid: number): () => number {
  let peak = 0
  const read = (): void => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
      if (m !== null) peak = Math.max(peak, Number(m[1]) / 1024)
    } catch {}
  }
  read()
  const t = setInterval(read, 50)
  return () => { read(); clearInterval(t); return Math.round(peak) }
}

/**
 * CPU seconds (user + system) a process has used, read from /proc/<pid>/stat while it runs: on a shared
 * machine, wall-clock MB/s moves with everyone else's load, CPU per byte much less. `system` is the
 * kernel's part alone: where this VM's cost of growing the page cache shows (docs/performance.md).
 */
export function watchCpu (pid: number): CpuWatch {
  let user = 0
  let system = 0
  const read = (): void => {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
      user = Number(f[11]) / 100 // utime, stime in clock ticks (USER_HZ = 100)
      system = Number(f[12]) / 100
    } catch {}
  }
  read()
  const t = setInterval(read, 50)
  t.unref()
  const stop = (): void => { read(); clearInterval(t) }
  const cpu = (): number => { stop(); return r2(user + system) }
  return Object.assign(cpu, { system: (): number => { stop(); return r2(system) } })
}

/** CPU seconds so far (stops sampling once called after exit; the last 50 ms may be missed). */
export type CpuWatch = (() => number) & { system: () => number }

/** Rounded to hundredths, as the benchmark prints figures. */
export const r2 = (x: number): number => Math.round(x * 100) / 100

/** Peak number of open file descriptors of a process (`self` for this one), sampled every 200 ms. */
export function watchFds (pid: number | 'self'): () => number {
  let peak = 0
  const read = (): void => {
    try { peak = Math.max(peak, readdirSync(`/proc/${pid}/fd`).length) } catch {}
  }
  read()
  const t = setInterval(read, 200)
  t.unref()
  return () => { read(); clearInterval(t); return peak }
}

export type Event = Record<string, unknown> & { event?: string, t: number }

export interface Child {
  pid: number
  /** performance.now() when it was spawned, and when it exited (its output all read); NaN until then. */
  startedAt: number
  exitedAt: () => number
  /** JSON lines of stdout so far, each stamped with this process's performance.now() when it was read. */
  events: Event[]
  /** Resolves with the first event matching `pred`; rejects if the child exits first. */
  waitFor: (pred: (e: Event) => boolean) => Promise<Event>
  /** Resolves on exit code 0; rejects on any other exit, a signal or the deadline. */
  done: Promise<void>
  /** Peak RSS in MiB so far (stops polling once called after exit). */
  rss: () => number
  /** Peak open file descriptors so far. */
  fds: () => number
  /** CPU seconds used so far, and `cpu.system()` the kernel's part of them. */
  cpu: CpuWatch
  kill: () => void
}

export interface ChildOptions {
  label: string
  timeoutMs: number
  env?: NodeJS.ProcessEnv
  cwd?: string
  /**
   * A command that execs node in place (e.g. `ip netns exec NS`): the pid stays node's, so RSS and
   * descriptors are still read from the right process.
   */
  wrap?: string[]
}

/** Spawns `node <args>` with a deadline after which it is killed (SIGKILL) and `done` rejects. */
export function spawnNode (args: string[], o: ChildOptions): Child {
  return spawnProcess([...(o.wrap ?? []), process.execPath, ...args], o)
}

/**
 * Spawns `argv` (any program) as spawnNode does: tracked, with a deadline, its stdout read as JSON
 * lines (other lines are ignored), its stderr kept for the error message.
 */
export function spawnProcess (argv: string[], o: ChildOptions): Child {
  const [cmd, ...args] = argv
  const startedAt = performance.now()
  const child = spawn(cmd, args, { cwd: o.cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...o.env }, detached: true })
  live.add(child)
  let exitedAt = NaN
  const pid = child.pid as number
  const rss = watchRss(pid)
  const fds = watchFds(pid)
  const cpu = watchCpu(pid)
  const events: Event[] = []
  let waiters: Array<() => void> = []
  const wake = (): void => { const w = waiters; waiters = []; for (const f of w) f() }
  let err = ''
  child.stderr?.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-8000) })
  let buf = ''
  // Read stdout as it comes, always: a pipe nobody drains would block (or EPIPE) the child.
  child.stdout?.on('data', (d: Buffer) => {
    const t = performance.now()
    buf += d.toString()
    let i
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i)
      buf = buf.slice(i + 1)
      try { events.push({ ...JSON.parse(line), t }) } catch {}
    }
    wake()
  })
  let timedOut = false
  let exited = false
  const timer = setTimeout(() => { timedOut = true; killGroup(child) }, o.timeoutMs)
  const done = new Promise<void>((resolve, reject) => {
    const finish = (e?: Error): void => {
      exitedAt = performance.now()
      clearTimeout(timer)
      live.delete(child)
      exited = true
      rss(); fds(); cpu()
      wake()
      if (e === undefined) resolve(); else reject(e)
    }
    child.on('error', e => { finish(e) })
    // 'close', not 'exit': stdout is fully read by then, so no event is lost.
    child.on('close', (code, signal) => {
      finish(code === 0 ? undefined : new Error(`${o.label} ${timedOut ? `timed out after ${o.timeoutMs} ms` : `exited ${code ?? signal}`}: ${err.trim()}`))
    })
  })
  done.catch(() => {}) // observed by the caller; never an unhandled rejection if it bails out early
  const waitFor = async (pred: (e: Event) => boolean): Promise<Event> => {
    for (;;) {
      const hit = events.find(pred)
      if (hit !== undefined) return hit
      if (exited) {
        await done
        throw new Error(`${o.label} exited without the awaited event: ${err.trim()}`)
      }
      await new Promise<void>(resolve => { waiters.push(resolve) })
    }
  }
  return {
    pid,
    startedAt,
    exitedAt: () => exitedAt,
    events,
    waitFor,
    done,
    rss,
    fds,
    cpu,
    kill: () => { killGroup(child) }
  }
}
