import { validDate } from './wall-clock.js'

// Which field of a numeric date is the day: WhatsApp writes dates in the phone's locale (31/12/23,
// 12/31/23, 31.12.23, 2023-12-31) and says nothing of the order. It is decided once for a whole file,
// from the strongest evidence most of its dates hold:
//   1. a 4-digit first field: year first;
//   2. a first field above 12 (day first) or a second above 12 (month first);
//   3. dots between the fields: day first (no locale writes month.day.year);
//   4. dates inside attachment names (IMG-20231231-WA0001.jpg, 00000012-PHOTO-2023-12-31-...) that
//      match the message's date read one way and not the other;
//   5. chronology: an export lists messages in order, so the reading whose dates step back less often;
//   6. the language the export is written in, when every region of it puts the day first (Arabic,
//      German...: whatsapp-language.ts);
// and when none decides, a guess (12-hour clocks with slashes are month first, as in the US; the rest of
// the world is day first) reported as a warning. When every date reads the same both ways, nothing is
// ambiguous.

export type DateOrder = 'dmy' | 'mdy' | 'ymd'
export const DATE_ORDERS: readonly DateOrder[] = ['dmy', 'mdy', 'ymd']

/**
 * The era a file counts its years in: the Gregorian, or the Buddhist Era that phones in Thailand write
 * (2567, or 67, is 2024). Dates are checked in the Gregorian year they name: 29 February 2567 is a day.
 */
export type Era = 'gregorian' | 'buddhist'
const BUDDHIST_ERA_AHEAD = 543

/** One date as written: its three numbers in the order written. */
export interface WrittenDate {
  a: number
  b: number
  c: number
  /** Digits in the first field (4 means a year). */
  aDigits: number
  separator: string
  /** Did the time carry am/pm? */
  twelveHour: boolean
  /** A date found in the name of the message's attachment (year, month, day), when there is one. */
  fileDate?: { year: number, month: number, day: number }
  /** Is the year marked as one of the Buddhist Era ("2567 BE")? */
  buddhist?: boolean
}

/** What the language an export is written in says of the order of day and month. */
export interface LanguageHint {
  /** Does every region of the language put the day first? False: some put the month first. */
  dayFirst: boolean
  /** What was told, for the report ("the export is in Arabic (its am/pm), which puts the day first in every region"). */
  said: string
}

export interface DateOrderDecision {
  order: DateOrder
  /** How it was decided, for the report ("a day above 12", "forced"...). */
  reason: string
  /** True when the file could be read either way and the order is a guess. */
  ambiguous: boolean
}

/** The Gregorian year a written year names in an era; two digits are of the era's current century. */
export function gregorianYear (written: number, era: Era = 'gregorian'): number {
  if (era === 'buddhist') return (written < 100 ? 2500 + written : written) - BUDDHIST_ERA_AHEAD
  return written < 100 ? 2000 + written : written
}

/** The year of a written date in an order, as written. */
export const writtenYear = (d: WrittenDate, order: DateOrder): number => order === 'ymd' ? d.a : d.c

/** (year, month, day) of a written date in an order and era, or undefined when that reading is no date. */
export function readDate (d: WrittenDate, order: DateOrder, era: Era = 'gregorian'): { year: number, month: number, day: number } | undefined {
  const [month, day] = order === 'ymd' ? [d.b, d.c] : order === 'dmy' ? [d.b, d.a] : [d.a, d.b]
  const y = gregorianYear(writtenYear(d, order), era)
  return validDate(y, month, day) ? { year: y, month, day } : undefined
}

/** Times the dates step back (by a day or more) when read in this order; unreadable dates count too. */
function stepsBack (dates: readonly WrittenDate[], order: DateOrder): number {
  let back = 0
  let prev = -Infinity
  for (const d of dates) {
    const r = readDate(d, order)
    if (r === undefined) { back++; continue }
    const day = Date.UTC(r.year, r.month - 1, r.day)
    if (day < prev) back++
    prev = day
  }
  return back
}

function fileVotes (dates: readonly WrittenDate[]): { dmy: number, mdy: number } {
  const votes = { dmy: 0, mdy: 0 }
  for (const d of dates) {
    const f = d.fileDate
    // WhatsApp names its files in the Gregorian calendar, whatever era the headers count in.
    if (f === undefined || d.a === d.b || (gregorianYear(d.c) !== f.year && gregorianYear(d.c, 'buddhist') !== f.year)) continue
    if (d.a === f.day && d.b === f.month) votes.dmy++
    else if (d.a === f.month && d.b === f.day) votes.mdy++
  }
  return votes
}

/** Do more than half of the dates say so? */
const most = (dates: readonly WrittenDate[], test: (d: WrittenDate) => boolean): boolean => dates.filter(test).length * 2 > dates.length

/**
 * Decides the order of a file's dates (see the top of this file); `forced` wins. `languageOf` tells the
 * export's language; it is asked only when the dates decide nothing, as reading it takes a pass over
 * every line.
 */
export function decideDateOrder (dates: readonly WrittenDate[], forced?: DateOrder, languageOf?: () => LanguageHint | undefined): DateOrderDecision {
  if (forced !== undefined) return { order: forced, reason: 'given with --date-order', ambiguous: false }
  // Evidence is weighed over the whole file: a line a person pasted into a message (a log line, a date
  // from another phone) that happens to read as a header must not decide for every other line.
  if (most(dates, d => d.aDigits === 4)) return { order: 'ymd', reason: 'a 4-digit year first', ambiguous: false }
  const dayFirst = dates.filter(d => d.a > 12 && d.b <= 12).length
  const monthFirst = dates.filter(d => d.b > 12 && d.a <= 12).length
  if (dayFirst > 0 && monthFirst === 0) return { order: 'dmy', reason: 'a first field above 12', ambiguous: false }
  if (monthFirst > 0 && dayFirst === 0) return { order: 'mdy', reason: 'a second field above 12', ambiguous: false }
  if (dayFirst > 0 && monthFirst > 0) {
    // Both fields exceed 12 somewhere: no single order reads every date. Far more on one side is the
    // export's order, the few others text; a closer split is a guess.
    if (dayFirst >= 3 * monthFirst) return { order: 'dmy', reason: 'most first fields above 12', ambiguous: false }
    if (monthFirst >= 3 * dayFirst) return { order: 'mdy', reason: 'most second fields above 12', ambiguous: false }
    const order = dayFirst !== monthFirst ? (dayFirst > monthFirst ? 'dmy' : 'mdy') : stepsBack(dates, 'dmy') <= stepsBack(dates, 'mdy') ? 'dmy' : 'mdy'
    return { order, reason: 'dates that no single order reads', ambiguous: true }
  }
  if (dates.every(d => d.a === d.b)) return { order: 'dmy', reason: 'every date reads the same either way', ambiguous: false }
  if (most(dates, d => d.separator === '.')) return { order: 'dmy', reason: 'dots between day, month and year', ambiguous: false }
  const votes = fileVotes(dates)
  if (votes.dmy !== votes.mdy) {
    return { order: votes.dmy > votes.mdy ? 'dmy' : 'mdy', reason: 'dates in attachment file names', ambiguous: false }
  }
  const back = { dmy: stepsBack(dates, 'dmy'), mdy: stepsBack(dates, 'mdy') }
  if (back.dmy !== back.mdy) return { order: back.dmy < back.mdy ? 'dmy' : 'mdy', reason: 'the order of the messages', ambiguous: false }
  const language = languageOf?.()
  if (language?.dayFirst === true) {
    return { order: 'dmy', reason: `no date tells day from month; ${language.said}`, ambiguous: false }
  }
  const us = most(dates, d => d.twelveHour) && most(dates, d => d.separator === '/')
  const why = language === undefined
    ? 'no date, and no word of the phone\'s language, tells day from month'
    : `no date tells day from month, and ${language.said}`
  return { order: us ? 'mdy' : 'dmy', reason: `${us ? 'a guess from the 12-hour clock' : 'a guess'}: ${why}`, ambiguous: true }
}
