// The pace of a transfer as a person watching it is shown it: its rate and its time left. Pure: fed
// cumulative counters, and the time by a clock the caller may give. Shared by the CLI's bar and the
// browser phone's, so a terminal and a phone watching the same transfer say the same rate.

/** A transfer's progress as a view shows it; both machines' counters map onto this. */
export interface ProgressSnapshot {
  messages: number
  totalMessages: number
  mediaBytes: number
  totalMediaBytes: number
  /** Data bytes this session moved over the link (Progress.sessionBytes), when the source says. */
  sessionBytes?: number
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

/** The history's work, done and in all: messages weighted as bytes, and the media's bytes. */
export function historyWork (p: ProgressSnapshot): { done: number, total: number } {
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
    const w = historyWork(p)
    const workRate = this.work.add(w.done)
    const rate = p.sessionBytes === undefined ? workRate : this.wire.add(p.sessionBytes)
    return { rate, etaSec: workRate !== undefined && workRate > 0 ? (w.total - w.done) / workRate : undefined }
  }
}
