import cliProgress from 'cli-progress'
import { formatBytes } from '../format-bytes.js'
import { historyWork, Pace, type ProgressSnapshot } from '../pace.js'
import { eventsSoFar, jsonEvent } from './json-lines.js'

// The pace's figures are shared with the browser phone (src/pace.ts); what the terminal shows is here.
export { Pace, type ProgressSnapshot } from '../pace.js'

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

/** The bar's fields for a snapshot: what it moved, and its pace ('--' until a window has passed). */
export function barFields (p: ProgressSnapshot, pace: { rate?: number, etaSec?: number }): Record<string, string> {
  return {
    msgs: `${p.messages}/${p.totalMessages}`,
    bytes: `${formatBytes(p.mediaBytes)}/${formatBytes(p.totalMediaBytes)}`,
    rate: pace.rate === undefined ? '--' : formatBytes(pace.rate),
    eta_h: pace.etaSec === undefined ? '--' : formatDuration(pace.etaSec)
  }
}

/**
 * What a bar measures. The history (messages weighted as bytes, with the media's bytes) suits work
 * whose phases interleave. A transfer moves every message first, then the media: measured as one, its
 * bar would sit at 0% while thousands of messages arrive, as they weigh little beside a phone's videos.
 * In phases, it measures the messages until all are in, then the media's bytes, each with a bar of its
 * own, so that each bar only moves forward.
 */
export type BarPhase = 'history' | 'messages' | 'media'

/** The phase a bar is in, and what it counts (done of total), given the phase it was in before. */
export function barProgress (p: ProgressSnapshot, phases: boolean, before?: BarPhase): { phase: BarPhase, done: number, total: number } {
  if (!phases) return { phase: 'history', ...historyWork(p) }
  const media = before === 'media' || (p.messages >= p.totalMessages && p.totalMediaBytes > 0)
  return media
    ? { phase: 'media', done: p.mediaBytes, total: p.totalMediaBytes }
    : { phase: 'messages', done: p.messages, total: p.totalMessages }
}

/**
 * A progress bar on a terminal; nothing otherwise (the final summary still prints). `clear`: stop()
 * takes the bar off the screen rather than leave its last state above what is said next. `phases`: a
 * bar for the messages, then one for the media (see BarPhase), each named after the label.
 */
export function terminalProgress (label: string, stream: NodeJS.WriteStream = process.stderr, { clear = false, phases = false } = {}): ProgressView {
  if (stream.isTTY !== true) return { update () {}, stop () {} }
  const barFor = (phase: BarPhase): cliProgress.SingleBar => new cliProgress.SingleBar({
    stream,
    format: `${label}${phase === 'history' ? '' : ` ${phase.padEnd(8)}`} {bar} {percentage}% | {msgs} msgs | {bytes} | {rate}/s | ETA {eta_h}`,
    clearOnComplete: clear,
    hideCursor: true,
    barsize: 24,
    etaBuffer: 50
  }, cliProgress.Presets.shades_classic)
  const pace = new Pace()
  let bar: cliProgress.SingleBar | undefined
  let phase: BarPhase | undefined
  // The media's bytes when the messages' bar ended: the media's bar comes once they move. Until then a
  // receiver reads its messages back (seconds on a large history) and says they are in: a bar at 0%
  // drawn first would be left above that line.
  let mediaFrom: number | undefined
  return {
    update (p) {
      const w = barProgress(p, phases, phase)
      const payload = barFields(p, pace.update(p))
      if (w.phase === phase) {
        if (bar !== undefined) {
          // A caller may tell it before its totals are known: a bar started on those would stay at
          // 100% from its first step.
          bar.setTotal(Math.max(1, w.total))
          bar.update(w.done, payload)
          return
        }
        if (mediaFrom !== undefined && p.mediaBytes <= mediaFrom) return
      } else if (bar !== undefined && phase === 'messages') {
        // The messages' bar stays on the screen, full.
        bar.update(p.messages, payload)
        bar.stop()
        bar = undefined
        phase = w.phase
        mediaFrom = p.mediaBytes
        return
      }
      bar?.stop()
      bar = barFor(w.phase)
      phase = w.phase
      bar.start(Math.max(1, w.total), w.done, payload)
    },
    stop () { bar?.stop() }
  }
}

/**
 * The line a person reads when media came damaged from `source` (a phone, a backup's): left out, shown
 * as missing. Undefined when none did.
 */
export function damagedMediaNote (files: number, source: string, after: string): string | undefined {
  if (files === 0) return undefined
  const [what, were] = files === 1 ? ['1 media file', 'was'] : [`${files} media files`, 'were']
  return `warning: ${what} ${were} damaged on ${source} (its copy was not the file its record names) and ${were} not ${after}: the chats show them as missing.`
}

/** Machine-readable progress, at most every `intervalMs`; the last held back is said at stop, if nothing came after it. */
export function jsonProgress (intervalMs = 500, now: () => number = () => performance.now()): ProgressView {
  let last = -Infinity
  const pace = new Pace(now)
  // The newest progress the pace held back: said at stop, so an app's bar ends where the work did, unless
  // another event came since (the command's last, `verified` or the like, which carries the figures and
  // stays the last line).
  let held: { event: Record<string, unknown>, after: number } | undefined
  return {
    update (p) {
      const { rate, etaSec } = pace.update(p)
      const event = { ...p, rateBytesPerSec: rate === undefined ? null : Math.round(rate), etaSec: etaSec === undefined ? null : Math.round(etaSec) }
      const t = now()
      if (t - last < intervalMs) {
        held = { event, after: eventsSoFar() }
        return
      }
      last = t
      held = undefined
      jsonEvent('progress', event)
    },
    stop () {
      if (held !== undefined && held.after === eventsSoFar()) jsonEvent('progress', held.event)
      held = undefined
    }
  }
}
