import cliProgress from 'cli-progress'
import { formatBytes } from '../format-bytes.js'

/** A transfer's progress as the CLI shows it; both machines' counters map onto this. */
export interface ProgressSnapshot {
  messages: number
  totalMessages: number
  mediaBytes: number
  totalMediaBytes: number
  /** Data bytes this session moved over the link (Progress.sessionBytes), when the source says. */
  sessionBytes?: number
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

/** Progress comes per frame, thousands a second: a sample per SAMPLE_MS is plenty for a rate. */
const SAMPLE_MS = 50
/**
 * A session's first second is no window's start. It is a burst: --max-rate's token bucket is a second
 * deep and full when a session starts, and the flow-control window opens as fast as the link takes it.
 * A window starting there would show the burst as the link's pace for a whole window.
 */
const SETTLE_MS = 1000

/**
 * A rate over the last window of samples (a lifetime average lies after a stall). It says nothing until
 * it has a whole window, after the session's first second.
 */
export class RateMeter {
  private readonly samples: Array<{ t: number, work: number }> = []
  private start?: number
  private last = 0
  constructor (private readonly windowMs = 5000, private readonly now: () => number = () => performance.now()) {}

  /** Records cumulative work done; returns units per second over the last window, undefined until there is one. */
  add (work: number): number | undefined {
    const t = this.now()
    const s = this.samples
    // A counter that went back is a new session's: what came before says nothing of this one.
    if (this.start === undefined || work < this.last) {
      s.length = 0
      this.start = t
    }
    this.last = work
    if (t - this.start < SETTLE_MS) return undefined
    if (s.length === 0 || t - s[s.length - 1].t >= SAMPLE_MS) s.push({ t, work })
    // The window starts at the newest sample at least windowMs old.
    while (s.length > 1 && t - s[1].t >= this.windowMs) s.shift()
    const base = s[0]
    if (t - base.t < this.windowMs) return undefined
    return (work - base.work) / ((t - base.t) / 1000)
  }
}

// What a message weighs against a media byte in the time left, so that one estimate covers both phases.
// Not a rate: compressed batches carry messages in far fewer bytes.
const MESSAGE_WEIGHT = 200

function work (p: ProgressSnapshot): { done: number, total: number } {
  return { done: p.messages * MESSAGE_WEIGHT + p.mediaBytes, total: p.totalMessages * MESSAGE_WEIGHT + p.totalMediaBytes }
}

/**
 * The pace a transfer shows: its rate, bytes a second on the link (sessionBytes) over the last window,
 * which is what --max-rate caps; and its time left, from how fast the history itself has been moving
 * (messages weighted as bytes, so that one estimate covers both phases). Without sessionBytes (a source
 * that does not count them) the rate is the history's too.
 */
export class Pace {
  private readonly wire: RateMeter
  private readonly work: RateMeter
  constructor (now: () => number = () => performance.now(), windowMs = 5000) {
    this.wire = new RateMeter(windowMs, now)
    this.work = new RateMeter(windowMs, now)
  }

  /** The rate in bytes a second and the seconds left: each undefined until a window has passed. */
  update (p: ProgressSnapshot): { rate?: number, etaSec?: number } {
    const w = work(p)
    const workRate = this.work.add(w.done)
    const rate = p.sessionBytes === undefined ? workRate : this.wire.add(p.sessionBytes)
    return { rate, etaSec: workRate !== undefined && workRate > 0 ? (w.total - w.done) / workRate : undefined }
  }
}

/** The bar's fields for a snapshot: what it moved, and its pace ('--' until a window has passed). */
export function barFields (p: ProgressSnapshot, pace: { rate?: number, etaSec?: number }): Record<string, string> {
  return {
    msgs: `${p.messages}/${p.totalMessages}`,
    bytes: `${formatBytes(p.mediaBytes)}/${formatBytes(p.totalMediaBytes)}`,
    rate: pace.rate === undefined ? '--' : formatBytes(pace.rate),
    eta_h: pace.etaSec === undefined ? '--' : formatDuration(pace.etaSec)
  }
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
  const pace = new Pace()
  let started = false
  return {
    update (p) {
      const w = work(p)
      const payload = barFields(p, pace.update(p))
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
  const pace = new Pace(now)
  return {
    update (p) {
      const { rate, etaSec } = pace.update(p)
      const t = now()
      if (t - last < intervalMs) return
      last = t
      jsonEvent('progress', { ...p, rateBytesPerSec: rate === undefined ? null : Math.round(rate), etaSec: etaSec === undefined ? null : Math.round(etaSec) })
    },
    stop () {}
  }
}
