import { ErrorCode, FerryError } from '../../errors.js'

// Times written as a wall clock (WhatsApp's headers, old Telegram exports' "date") name no zone: they are
// the exporting phone's local time. They are read in one IANA zone: the machine's unless the user names
// another. The zone's rules (daylight saving, past changes of offset) come from Intl.

/** A local date and time, as written (month 1-12). */
export interface WallClock {
  year: number
  month: number
  day: number
  hour: number
  minute: number
  second: number
}

/** The machine's time zone (TZ, else the system's), as an IANA name. */
export function machineZone (): string {
  return new Intl.DateTimeFormat().resolvedOptions().timeZone ?? 'UTC'
}

/** Checks an IANA zone name (Europe/Rome, America/New_York, UTC) and returns its canonical spelling. */
export function checkZone (zone: string): string {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone
  } catch {
    throw new FerryError(ErrorCode.BAD_INPUT, `unknown time zone ${JSON.stringify(zone)}: use an IANA name such as Europe/Rome, America/New_York or UTC`)
  }
}

const HOUR = 3_600_000

/**
 * Converts wall-clock times in one zone to instants. A chat has many messages an hour, so offsets are
 * cached per UTC hour; zones change offset at any minute (Adelaide and St John's at half past a UTC
 * hour), so an hour is cached only when its offset is the same at its start and its end, and an hour
 * holding a change is asked anew each time.
 */
export class ZoneClock {
  private readonly format: Intl.DateTimeFormat
  /** The offset of each whole UTC hour read so far; NaN for an hour the offset changes in. */
  private readonly offsets = new Map<number, number>()

  constructor (readonly zone: string) {
    this.format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric'
    })
  }

  /** The offset at an instant, from Intl (whole seconds: the format shows no milliseconds). */
  private measure (t: number): number {
    const s = Math.floor(t / 1000) * 1000
    const parts: Record<string, number> = {}
    for (const p of this.format.formatToParts(new Date(s))) if (p.type !== 'literal') parts[p.type] = Number(p.value)
    // Zones whose offset is not whole minutes (historic local mean time) come out as whole seconds here.
    return Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second) - s
  }

  /** The zone's offset from UTC (ms) at an instant. */
  offsetAt (t: number): number {
    const hour = Math.floor(t / HOUR)
    let offset = this.offsets.get(hour)
    if (offset === undefined) {
      const start = this.measure(hour * HOUR)
      offset = start === this.measure(hour * HOUR + HOUR - 1000) ? start : NaN
      this.offsets.set(hour, offset)
    }
    return Number.isNaN(offset) ? this.measure(t) : offset
  }

  /**
   * The instant a wall-clock time names. A time the clocks skipped (spring forward) is read with the
   * offset before the change, so it lands just after it. A time they showed twice (fall back) is the
   * first, unless that is earlier than `notBefore` (the message before it in a file in time order):
   * then the second, as the clocks had gone back in between.
   */
  toInstant (w: WallClock, notBefore?: number): number {
    const local = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second)
    const before = this.offsetAt(local - 12 * HOUR)
    const after = this.offsetAt(local + 12 * HOUR)
    const first = local - before
    const second = local - after
    const secondReads = this.offsetAt(second) === after
    if (this.offsetAt(first) === before) return secondReads && second > first && notBefore !== undefined && first < notBefore ? second : first
    return secondReads ? second : first
  }
}

/** Is this a real calendar date (no 30 February)? */
export function validDate (year: number, month: number, day: number): boolean {
  if (month < 1 || month > 12 || day < 1 || day > 31) return false
  return new Date(Date.UTC(year, month - 1, day)).getUTCDate() === day
}
