import cliProgress from 'cli-progress'
import { formatBytes } from '../format-bytes.js'

/** A transfer's progress as the CLI shows it; both machines' counters map onto this. */
export interface ProgressSnapshot {
  messages: number
  totalMessages: number
  mediaBytes: number
  totalMediaBytes: number
}

export interface ProgressView {
  update(p: ProgressSnapshot): void
  stop(): void
}


export function formatDuration (s: number): string {
  if (!Number.isFinite(s) || s < 0) return '--'
  if (s < 60) return `${Math.ceil(s)}s`
  const m = Math.floor(s / 60)
  return m < 60 ? `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`
}

/**
 * Rate and ETA over a sliding window of samples: a lifetime average lies after a stall, and messages and
 * media move at very different speeds, so work is counted as bytes with messages weighted by their
 * observed share.
 */
export class RateMeter {
  private readonly samples: Array<{ t: number, work: number }> = []
  constructor (private readonly windowMs = 5000, private readonly now: () => number = () => performance.now()) {}

  /** Records cumulative work done; returns units per second over the window. */
  add (work: number): number {
    const t = this.now()
    // Progress comes per frame, thousands a second; a sample per 50 ms is plenty for a rate.
    const last = this.samples[this.samples.length - 1]
    if (last !== undefined && t - last.t < 50) return this.lastRate
    this.samples.push({ t, work })
    while (this.samples.length > 2 && t - this.samples[0].t > this.windowMs) this.samples.shift()
    const first = this.samples[0]
    const dt = (t - first.t) / 1000
    this.lastRate = dt > 0 ? (work - first.work) / dt : 0
    return this.lastRate
  }

  private lastRate = 0
}

const MESSAGE_WEIGHT = 200 // bytes a message costs on the wire, roughly: lets one ETA cover both phases

function work (p: ProgressSnapshot): { done: number, total: number } {
  return { done: p.messages * MESSAGE_WEIGHT + p.mediaBytes, total: p.totalMessages * MESSAGE_WEIGHT + p.totalMediaBytes }
}

/** A progress bar on a terminal; nothing otherwise (the final summary still prints). */
export function terminalProgress (label: string, stream: NodeJS.WriteStream = process.stderr): ProgressView {
  if (stream.isTTY !== true) return { update () {}, stop () {} }
  const bar = new cliProgress.SingleBar({
    stream,
    format: `${label} {bar} {percentage}% | {msgs} msgs | {bytes} | {rate}/s | ETA {eta_h}`,
    hideCursor: true,
    barsize: 24,
    etaBuffer: 50
  }, cliProgress.Presets.shades_classic)
  const meter = new RateMeter()
  let started = false
  return {
    update (p) {
      const w = work(p)
      const rate = meter.add(p.mediaBytes + p.messages * MESSAGE_WEIGHT)
      const payload = {
        msgs: `${p.messages}/${p.totalMessages}`,
        bytes: `${formatBytes(p.mediaBytes)}/${formatBytes(p.totalMediaBytes)}`,
        rate: formatBytes(rate),
        eta_h: rate > 0 ? formatDuration((w.total - w.done) / rate) : '--'
      }
      if (!started) { bar.start(Math.max(1, w.total), w.done, payload); started = true } else bar.update(w.done, payload)
    },
    stop () { if (started) bar.stop() }
  }
}

/** One JSON object per line on stdout, for apps and scripts. */
/** One JSON event per line: `event`, then `at` (its time, ms since the epoch: the service's own, when it has one). */
export function jsonEvent (event: string, data: Record<string, unknown> = {}): void {
  process.stdout.write(JSON.stringify({ event, at: Date.now(), ...data }) + '\n')
}

/** Ctrl-C: the bar cleared, then a `stopped` event (--json) or, for a person, how to carry on. */
/**
 * The line a person reads when media came damaged from `source` (a phone, a backup's): left out, shown
 * as missing. Undefined when none did.
 */
export function damagedMediaNote (files: number, source: string, after: string): string | undefined {
  if (files === 0) return undefined
  const [what, were] = files === 1 ? ['1 media file', 'was'] : [`${files} media files`, 'were']
  return `warning: ${what} ${were} damaged on ${source} (its copy was not the file its record names) and ${were} not ${after}: the chats show them as missing.`
}

export function sayStopped (bar: { stop: () => void }, json: boolean, carryOn: string): void {
  bar.stop()
  if (json) jsonEvent('stopped', { signal: 'SIGINT' })
  else process.stderr.write(`\nStopped. ${carryOn}\n`)
}

/** Machine-readable progress, at most every `intervalMs`. */
export function jsonProgress (intervalMs = 500, now: () => number = () => performance.now()): ProgressView {
  let last = -Infinity
  const meter = new RateMeter()
  return {
    update (p) {
      const rate = meter.add(p.mediaBytes + p.messages * MESSAGE_WEIGHT)
      const t = now()
      if (t - last < intervalMs) return
      last = t
      const w = work(p)
      jsonEvent('progress', { ...p, rateBytesPerSec: Math.round(rate), etaSec: rate > 0 ? Math.round((w.total - w.done) / rate) : null })
    },
    stop () {}
  }
}
