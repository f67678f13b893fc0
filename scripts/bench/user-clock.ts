// What a person feels: every lane timed from its first process's start to its last process's exit
// (starting the command to getting the prompt back), with the phases it reports, the CPU seconds and
// the peak RSS of each side, and the medians and ratios over the rounds of one run.
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { r2 } from './proc.js'

/** One lane's one round. Times are ms after the lane's first process started. */
export interface LaneRun {
  userMs: number
  /** The lane's own milestones (Ferry: code printed, paired, manifest, verified, exits), ms after start. */
  phases: Record<string, number>
  cpuSec: { sender: number, receiver: number }
  /** Peak RSS of the largest process on each side (a side may be several processes: rsync and ssh). */
  peakRssMiB: { sender: number, receiver: number }
  /** Anything else the lane measures (the browser's JS heap, messages/s). */
  extra?: Record<string, number>
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const r1 = (x: number): number => Math.round(x * 10) / 10

export interface LaneSummary {
  runs: number
  userMs: number
  /** The store's bytes (history.db + media) over the user's clock. */
  MBPerSec: number
  phasesMs: Record<string, number>
  cpuSec: { sender: number, receiver: number }
  peakRssMiB: { sender: number, receiver: number }
  extra?: Record<string, number>
  perRound: { userMs: number[], MBPerSec: number[] }
}

/** Each key's median over the runs, rounded once by `round` (rounding twice can pass a phase its lane's total). */
function medianOfKeys (rs: Array<Record<string, number> | undefined>, round: (x: number) => number = r2): Record<string, number> {
  const keys = [...new Set(rs.flatMap(r => Object.keys(r ?? {})))]
  return Object.fromEntries(keys.map(k => {
    const xs = rs.map(r => r?.[k]).filter((x): x is number => typeof x === 'number' && Number.isFinite(x))
    return [k, round(median(xs))]
  }).filter(([, v]) => Number.isFinite(v)))
}

export function summariseLane (runs: LaneRun[], storeBytes: number): LaneSummary {
  const mbps = runs.map(r => storeBytes / 1e6 / (r.userMs / 1000))
  const extra = medianOfKeys(runs.map(r => r.extra))
  return {
    runs: runs.length,
    userMs: Math.round(median(runs.map(r => r.userMs))),
    MBPerSec: r1(median(mbps)),
    phasesMs: medianOfKeys(runs.map(r => r.phases), Math.round),
    cpuSec: { sender: r2(median(runs.map(r => r.cpuSec.sender))), receiver: r2(median(runs.map(r => r.cpuSec.receiver))) },
    peakRssMiB: { sender: median(runs.map(r => r.peakRssMiB.sender)), receiver: median(runs.map(r => r.peakRssMiB.receiver)) },
    ...(Object.keys(extra).length > 0 ? { extra } : {}),
    perRound: { userMs: runs.map(r => Math.round(r.userMs)), MBPerSec: mbps.map(r1) }
  }
}

/**
 * Ferry's speed over another lane's on the user's clock (> 1: Ferry is faster): the ratio of the
 * medians, and the ratio within each round (the two lanes ran minutes apart at most).
 */
export function speedRatio (ferry: LaneRun[], other: LaneRun[]): { median: number, perRound: number[] } {
  const n = Math.min(ferry.length, other.length)
  const perRound = Array.from({ length: n }, (_, i) => r2(other[i].userMs / ferry[i].userMs))
  return { median: r2(median(other.map(r => r.userMs)) / median(ferry.map(r => r.userMs))), perRound }
}

/** The files of a store that a copy moves: history.db (with its -wal, if any) and media/. */
export function storeFiles (dir: string): string[] {
  return readdirSync(dir).filter(f => f === 'media' || /^history\.db(-wal)?$/.test(f)).sort()
}

/** Bytes of regular files under `paths` (recursively), and how many files. */
export function bytesUnder (paths: string[]): { bytes: number, files: number } {
  let bytes = 0
  let files = 0
  const walk = (p: string): void => {
    const st = statSync(p)
    if (st.isDirectory()) {
      for (const e of readdirSync(p)) walk(join(p, e))
    } else if (st.isFile()) {
      bytes += st.size
      files++
    }
  }
  for (const p of paths) walk(p)
  return { bytes, files }
}

/** Throws unless `to` holds as many files and bytes of `files` as `from` does: the copy moved everything. */
export function checkCopy (lane: string, from: string, to: string, files: string[]): void {
  const a = bytesUnder(files.map(f => join(from, f)))
  const b = bytesUnder(files.map(f => join(to, f)))
  if (a.bytes !== b.bytes || a.files !== b.files) {
    throw new Error(`${lane} copied ${b.files} files / ${b.bytes} bytes of the source's ${a.files} / ${a.bytes}`)
  }
}
