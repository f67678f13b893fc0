// CPU seconds and peak RSS of whole process trees, read from /proc while they run: the lanes that are
// not one Node process each (rsync and its ssh, sshd's per-connection processes and the remote rsync,
// a tar | socat pipeline, Chromium's browser, renderer and helper processes).
import { readdirSync, readFileSync } from 'node:fs'
import { r2 } from './proc.js'

export interface TreeWatch {
  /** CPU seconds (user + system) the trees used since the watch began (stops sampling once called). */
  cpuSec: () => number
  /** The largest peak RSS (VmHWM) of any one process in the trees, MiB (0: over before a sample saw it). */
  peakRssMiB: () => number
  /** How many processes were seen. */
  processes: () => number
  stop: () => void
}

/** The pid's direct children (every thread's), or none once it is gone. */
export function childrenOf (pid: number): number[] {
  const out: number[] = []
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        for (const c of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ')) if (c.trim() !== '') out.push(Number(c))
      } catch {}
    }
  } catch {}
  return out
}

/** utime + stime of one process in clock ticks (USER_HZ = 100), or undefined once it is gone. */
function ticksOf (pid: number): number | undefined {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
    return Number(f[11]) + Number(f[12])
  } catch {
    return undefined
  }
}

function hwmKiB (pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m === null ? 0 : Number(m[1])
  } catch {
    return 0
  }
}

/**
 * Samples the trees under `roots` every `everyMs`: each process's own CPU time (the last value seen
 * counts, so a process's last sampling interval before it exits is missed) and its VmHWM. A process
 * already there when the watch starts (a long-lived sshd, a Chromium launched before its page) is
 * counted from then on, so it adds only what it did meanwhile; processes that appear later are counted
 * whole.
 */
export function watchTree (roots: number[], everyMs = 20): TreeWatch {
  const base = new Map<number, number>()
  const ticks = new Map<number, number>()
  let peak = 0
  for (const r of roots) for (const [pid, t] of treeTicks(r)) base.set(pid, t)
  const sample = (): void => {
    const seen = new Set<number>()
    const walk = (pid: number): void => {
      if (seen.has(pid)) return
      seen.add(pid)
      const t = ticksOf(pid)
      if (t === undefined) return
      ticks.set(pid, Math.max(ticks.get(pid) ?? 0, t))
      peak = Math.max(peak, hwmKiB(pid))
      for (const c of childrenOf(pid)) walk(c)
    }
    for (const r of roots) walk(r)
  }
  sample()
  const timer = setInterval(sample, everyMs)
  timer.unref()
  let stopped = false
  const stop = (): void => {
    if (stopped) return
    sample()
    clearInterval(timer)
    stopped = true
  }
  return {
    cpuSec: () => {
      stop()
      let sum = 0
      for (const [pid, t] of ticks) sum += t - (base.get(pid) ?? 0)
      return r2(sum / 100)
    },
    peakRssMiB: () => { stop(); return Math.round(peak / 1024) },
    processes: () => { stop(); return ticks.size },
    stop
  }
}

/**
 * Each thread of one process now, with its CPU ticks (user + system, USER_HZ = 100); none once it is
 * gone. A process's first thread is named `main`; the others by their comm (libdatachannel's
 * `RTC worker`, libjuice's `juice poll`, libuv's pool, V8's helpers, Chromium's named threads...).
 */
export function threadsOf (pid: number): Array<{ tid: string, name: string, ticks: number }> {
  let tids: string[] = []
  try { tids = readdirSync(`/proc/${pid}/task`) } catch { return [] }
  const out: Array<{ tid: string, name: string, ticks: number }> = []
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
      const name = tid === String(pid) ? 'main' : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
      const f = stat.slice(stat.lastIndexOf(') ') + 2).split(' ')
      out.push({ tid, name, ticks: Number(f[11]) + Number(f[12]) })
    } catch {}
  }
  return out
}

export interface ThreadCpu { name: string, cpuSec: number }

/**
 * CPU seconds of each thread of one process, sampled every `everyMs` while it runs (a thread's last
 * sample counts), busiest first: which threads a lane keeps busy, and whether any one is the bound.
 */
export function watchThreads (pid: number, everyMs = 200): () => ThreadCpu[] {
  const last = new Map<string, { name: string, ticks: number }>()
  const sample = (): void => { for (const t of threadsOf(pid)) last.set(t.tid, t) }
  sample()
  const timer = setInterval(sample, everyMs)
  timer.unref()
  return () => {
    sample()
    clearInterval(timer)
    return [...last.values()].map(t => ({ name: t.name, cpuSec: r2(t.ticks / 100) })).sort((a, b) => b.cpuSec - a.cpuSec)
  }
}

/** `root` and every process under it now. */
export function treePids (root: number): number[] {
  const pids = [root]
  for (let i = 0; i < pids.length; i++) pids.push(...childrenOf(pids[i]))
  return pids
}

/** CPU ticks (user + system) of `root` and every process under it now, by pid. */
function treeTicks (root: number): Map<number, number> {
  const out = new Map<number, number>()
  for (const pid of treePids(root)) {
    const t = ticksOf(pid)
    if (t !== undefined) out.set(pid, t)
  }
  return out
}

/** The child of this process whose command line mentions `needle` (a browser's profile directory). */
export function childMentioning (needle: string): number | undefined {
  return childrenOf(process.pid).find(pid => {
    try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle) } catch { return false }
  })
}
