import { ErrorCode, FerryError } from '../errors.js'
import type { Selection } from '../store/model.js'
import type { ParsedArgs } from './command.js'

export const SELECTION_OPTIONS = {
  chats: { type: 'string', multiple: true },
  since: { type: 'string' },
  until: { type: 'string' }
} as const

/** How --help says the ids --chats takes are written, in every command that takes it (wrapped as printed). */
export const CHAT_IDS_HELP = 'ids as \'ferry inspect\' lists them; given more than once, all of them. In an id, \\, is a comma, ' +
  '\\\\ a backslash, and \'\\ \' a space kept at its start or end (else trimmed), as inspect shows them'

/** What --help says of --chats where it selects what moves. */
export const CHATS_HELP = `only these conversations, ${CHAT_IDS_HELP}: --chats 'family\\, close,work'`

export const SELECTION_HELP = `  --chats ID,...      ${CHATS_HELP}
  --since DATE        only messages from this date/time on: 2024-01-31 (its midnight) or
                      2024-01-31T18:00, in this machine's time zone, or with a zone of its
                      own: 2024-01-31T18:00Z, 2024-01-31T18:00+01:00
  --until DATE        only messages before this date/time (the same forms)`

const DATE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/i

/**
 * A date flag as the person means it: a date or time without a zone is on this machine's clock (their
 * midnight, not UTC's, which Date.parse takes for a date alone), and an impossible one (February 30th,
 * 25:00), which Date.parse rolls over into another day, is refused.
 */
function parseDate (flag: string, v: string): number {
  const bad = (): FerryError => new FerryError(ErrorCode.BAD_INPUT, `--${flag} wants a date like 2024-01-31, 2024-01-31T18:00 or 2024-01-31T18:00Z, got '${v}'`)
  const m = DATE.exec(v.trim())
  if (m === null) throw bad()
  const [y, mo, d, h = 0, mi = 0, sec = 0] = m.slice(1, 7).map(x => x === undefined ? undefined : Number(x)) as number[]
  const ms = m[7] === undefined ? 0 : Number(m[7].padEnd(3, '0'))
  if (mo < 1 || mo > 12) throw new FerryError(ErrorCode.BAD_INPUT, `--${flag}: ${v} is not a date (there is no month ${mo})`)
  // Day 0 of the next month is this month's last; the calendar repeats every 400 years, and Date.UTC
  // reads years 0-99 as 1900-1999, so the year is taken into 2000-2399 first.
  const daysInMonth = new Date(Date.UTC(2000 + (y % 400), mo, 0)).getUTCDate()
  if (d < 1 || d > daysInMonth) throw new FerryError(ErrorCode.BAD_INPUT, `--${flag}: ${v} is not a date (${MONTHS[mo - 1]} ${y} has ${daysInMonth} days)`)
  if (h > 23 || mi > 59 || sec > 59) throw new FerryError(ErrorCode.BAD_INPUT, `--${flag}: ${v} is not a time of day`)
  const zone = m[8]
  if (zone === undefined) {
    const local = new Date(2000, 0, 1)
    local.setFullYear(y, mo - 1, d) // not new Date(y, ...), which reads years 0-99 as 1900-1999
    local.setHours(h, mi, sec, ms)
    return local.getTime()
  }
  const offset = zone.toUpperCase() === 'Z' ? 0 : (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(-2)))
  const utc = new Date(0)
  utc.setUTCFullYear(y, mo - 1, d)
  utc.setUTCHours(h, mi, sec, ms)
  return utc.getTime() - offset * 60_000
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December']

/**
 * The conversation ids --chats names, undefined without it. Each value is a comma-separated list, and
 * the flag may be given more than once. Ids are the store's own (an import keeps an export's), so one
 * may hold a comma or begin or end with a space: `\,` is a comma inside an id, `\ ` a space that is
 * kept (the spaces around each id are trimmed, as `a, b` is typed), and `\\` a backslash; any other
 * backslash is itself.
 */
export function chatsFromArgs (args: ParsedArgs): string[] | undefined {
  const given = args.values.chats
  if (given === undefined) return undefined
  const ids: string[] = []
  for (const value of typeof given === 'string' ? [given] : given as string[]) {
    // Each character of an id with whether it was escaped: only unescaped spaces are trimmed.
    let id: Array<{ c: string, kept: boolean }> = []
    const end = (): void => {
      let from = 0
      let to = id.length
      while (from < to && !id[from].kept && /\s/.test(id[from].c)) from++
      while (to > from && !id[to - 1].kept && /\s/.test(id[to - 1].c)) to--
      ids.push(id.slice(from, to).map(x => x.c).join(''))
      id = []
    }
    for (let i = 0; i < value.length; i++) {
      const c = value[i]
      if (c === '\\' && ESCAPED.has(value[i + 1])) id.push({ c: value[++i], kept: true })
      else if (c === ',') end()
      else id.push({ c, kept: false })
    }
    end()
  }
  const named = ids.filter(s => s !== '')
  if (named.length === 0) throw new FerryError(ErrorCode.BAD_INPUT, '--chats wants a comma-separated list of conversation ids')
  return named
}

/** What a backslash escapes in --chats: the list's comma, a space trimming would take, itself. */
const ESCAPED = new Set([',', ' ', '\\'])

/**
 * An id as --chats takes it back: its commas escaped, its spaces at either end (which --chats trims from
 * what is typed), and a backslash that would read as an escape.
 */
export function chatsWord (id: string): string {
  return id.replace(/\\(?=[\\, ]|$)|,/g, m => `\\${m}`).replace(/^ +| +$/g, m => '\\ '.repeat(m.length))
}

export function selectionFromArgs (args: ParsedArgs): Selection {
  const sel: Selection = {}
  const chats = chatsFromArgs(args)
  if (chats !== undefined) sel.conversations = chats
  if (typeof args.values.since === 'string') sel.since = parseDate('since', args.values.since)
  if (typeof args.values.until === 'string') sel.until = parseDate('until', args.values.until)
  if (sel.since !== undefined && sel.until !== undefined && sel.since >= sel.until) {
    throw new FerryError(ErrorCode.BAD_INPUT, '--since must be before --until')
  }
  return sel
}
