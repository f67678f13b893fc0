import { describe, expect, it } from 'vitest'
import { ZoneClock, type WallClock } from '../../../src/sim/importers/wall-clock.js'

// Wall-clock times in a zone, read back to instants. Some zones change their clocks at a half hour
// of UTC (Adelaide, St John's, Tehran) or by half an hour (Lord Howe): a time after the change must
// read with the offset after it, in every zone, at any instant.

const wall = (zone: string, t: number): WallClock => {
  const parts: Record<string, number> = {}
  const f = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' })
  for (const p of f.formatToParts(new Date(t))) if (p.type !== 'literal') parts[p.type] = Number(p.value)
  return { year: parts.year, month: parts.month, day: parts.day, hour: parts.hour, minute: parts.minute, second: parts.second }
}

describe('ZoneClock', () => {
  it('reads times just after a change of offset at a half hour of UTC with the new offset', () => {
    const at = (zone: string, w: WallClock): string => new Date(new ZoneClock(zone).toInstant(w)).toISOString()
    expect(at('Australia/Adelaide', { year: 2023, month: 10, day: 1, hour: 3, minute: 15, second: 0 })).toBe('2023-09-30T16:45:00.000Z')
    expect(at('America/St_Johns', { year: 2023, month: 3, day: 12, hour: 3, minute: 15, second: 0 })).toBe('2023-03-12T05:45:00.000Z')
    expect(at('Asia/Tehran', { year: 2021, month: 3, day: 22, hour: 1, minute: 15, second: 0 })).toBe('2021-03-21T20:45:00.000Z')
    expect(at('Australia/Lord_Howe', { year: 2023, month: 10, day: 1, hour: 2, minute: 45, second: 0 })).toBe('2023-09-30T15:45:00.000Z')
    // Shown twice (fall back): the first time.
    expect(at('Australia/Adelaide', { year: 2023, month: 4, day: 2, hour: 2, minute: 15, second: 0 })).toBe('2023-04-01T15:45:00.000Z')
  })

  it('a time shown twice is the second when the first would come before the message before it', () => {
    const rome = new ZoneClock('Europe/Rome')
    const w = (hour: number, minute: number): WallClock => ({ year: 2023, month: 10, day: 29, hour, minute, second: 0 })
    const iso = (t: number): string => new Date(t).toISOString().slice(11, 16)
    expect(iso(rome.toInstant(w(2, 10), Date.UTC(2023, 9, 29, 0, 5)))).toBe('00:10')
    expect(iso(rome.toInstant(w(2, 10), Date.UTC(2023, 9, 29, 0, 50)))).toBe('01:10')
    // A time shown once is what it is, whatever came before.
    expect(iso(rome.toInstant(w(3, 5), Date.UTC(2023, 9, 29, 2, 30)))).toBe('02:05')
  })

  it('every time around a change reads back as itself, with one clock reused (as for a whole chat)', () => {
    const changes: Array<[string, number]> = [
      ['Australia/Adelaide', Date.UTC(2023, 8, 30, 16, 30)], ['Australia/Adelaide', Date.UTC(2023, 3, 1, 16, 30)],
      ['America/St_Johns', Date.UTC(2023, 2, 12, 5, 30)], ['America/St_Johns', Date.UTC(2023, 10, 5, 4, 30)],
      ['Asia/Tehran', Date.UTC(2021, 2, 21, 20, 30)], ['Asia/Tehran', Date.UTC(2021, 8, 21, 19, 30)],
      ['Australia/Lord_Howe', Date.UTC(2023, 8, 30, 15, 30)], ['Australia/Lord_Howe', Date.UTC(2023, 3, 1, 15, 0)],
      ['Europe/Rome', Date.UTC(2023, 2, 26, 1)], ['America/New_York', Date.UTC(2023, 10, 5, 6)], ['Asia/Kathmandu', Date.UTC(1986, 0, 1)]
    ]
    for (const [zone, change] of changes) {
      const clock = new ZoneClock(zone)
      for (let t = change - 3 * 3_600_000; t <= change + 3 * 3_600_000; t += 5 * 60_000) {
        const w = wall(zone, t)
        expect(wall(zone, clock.toInstant(w)), `${zone} ${new Date(t).toISOString()}`).toEqual(w)
      }
    }
  })
})
