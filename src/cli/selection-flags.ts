import { ErrorCode, FerryError } from '../errors.js'
import type { Selection } from '../store/model.js'
import type { ParsedArgs } from './command.js'

export const SELECTION_OPTIONS = {
  chats: { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' }
} as const

export const SELECTION_HELP = `  --chats ID,...      only these conversations (ids as 'ferry inspect' lists them)
  --since DATE        only messages from this date/time on (ISO 8601, e.g. 2024-01-31 or 2024-01-31T18:00Z)
  --until DATE        only messages before this date/time`

function parseDate (flag: string, v: string): number {
  const t = Date.parse(v)
  if (!/^\d{4}-\d{2}-\d{2}/.test(v) || Number.isNaN(t)) {
    throw new FerryError(ErrorCode.BAD_INPUT, `--${flag} wants a date like 2024-01-31 or 2024-01-31T18:00:00Z, got '${v}'`)
  }
  return t
}

export function selectionFromArgs (args: ParsedArgs): Selection {
  const sel: Selection = {}
  const chats = args.values.chats
  if (typeof chats === 'string') {
    const ids = chats.split(',').map(s => s.trim()).filter(s => s !== '')
    if (ids.length === 0) throw new FerryError(ErrorCode.BAD_INPUT, '--chats wants a comma-separated list of conversation ids')
    sel.conversations = ids
  }
  if (typeof args.values.since === 'string') sel.since = parseDate('since', args.values.since)
  if (typeof args.values.until === 'string') sel.until = parseDate('until', args.values.until)
  if (sel.since !== undefined && sel.until !== undefined && sel.since >= sel.until) {
    throw new FerryError(ErrorCode.BAD_INPUT, '--since must be before --until')
  }
  return sel
}
