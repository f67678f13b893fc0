import { compareStrings, type Message, type Selection } from '../store/model.js'
import { ErrorCode, FerryError } from '../errors.js'
import type { ferry } from '../wire/codec.js'

/** Sorted, de-duplicated, with an empty conversation list meaning "all". */
export function normalizeSelection (sel: Selection = {}): Selection {
  const out: Selection = {}
  // An app's selection is typed but not checked by the compiler at run time: a string here would read as its letters.
  if (sel.conversations !== undefined && (!Array.isArray(sel.conversations) || !sel.conversations.every(c => typeof c === 'string'))) {
    throw new FerryError(ErrorCode.BAD_INPUT, 'the selection\'s conversations must be a list of conversation ids')
  }
  if (sel.conversations !== undefined && sel.conversations.length > 0) {
    out.conversations = [...new Set(sel.conversations)].sort(compareStrings)
  }
  if (sel.since !== undefined) out.since = checkTime(sel.since, 'since')
  if (sel.until !== undefined) out.until = checkTime(sel.until, 'until')
  if (out.since !== undefined && out.until !== undefined && out.since >= out.until) {
    throw new FerryError(ErrorCode.BAD_INPUT, 'the selection\'s start must be before its end')
  }
  return out
}

function checkTime (t: number, name: string): number {
  if (!Number.isSafeInteger(t)) throw new FerryError(ErrorCode.BAD_INPUT, `selection ${name} must be an integer time in ms`)
  return t
}

/**
 * What actually moves: the sender's offer narrowed by the receiver's request. A receiver can only ever
 * narrow; asking for more than is offered silently yields just the offer.
 */
export function intersectSelections (offer: Selection, request: Selection): Selection {
  const a = normalizeSelection(offer)
  const b = normalizeSelection(request)
  const out: Selection = {}
  if (a.conversations !== undefined && b.conversations !== undefined) {
    const allowed = new Set(a.conversations)
    out.conversations = b.conversations.filter(c => allowed.has(c))
  } else {
    out.conversations = a.conversations ?? b.conversations
  }
  // An empty intersection is a real answer ("nothing"), not "all": keep it as a list with no entries.
  if (out.conversations === undefined) delete out.conversations
  const since = maxDefined(a.since, b.since)
  const until = minDefined(a.until, b.until)
  if (since !== undefined) out.since = since
  if (until !== undefined) out.until = until
  return out
}

function maxDefined (x?: number, y?: number): number | undefined {
  return x === undefined ? y : y === undefined ? x : Math.max(x, y)
}

function minDefined (x?: number, y?: number): number | undefined {
  return x === undefined ? y : y === undefined ? x : Math.min(x, y)
}

/** True when the message falls inside the selection (`conversations`, when given, replaces a scan of its list). */
export function inSelection (sel: Selection, m: Pick<Message, 'conversation' | 'ts'>, conversations?: { has: (id: string) => boolean }): boolean {
  if (sel.since !== undefined && m.ts < sel.since) return false
  if (sel.until !== undefined && m.ts >= sel.until) return false
  if (conversations !== undefined) return conversations.has(m.conversation)
  return sel.conversations === undefined || sel.conversations.includes(m.conversation)
}

/** True when the selection takes its conversations whole: no time window cuts them. */
export function wholeConversations (sel: Selection): boolean {
  return sel.since === undefined && sel.until === undefined
}

/** Canonical text of a selection: equal selections give equal text (part of the transfer id). */
export function selectionKey (sel: Selection): string {
  const n = sel
  return JSON.stringify([n.conversations ?? null, n.since ?? null, n.until ?? null])
}

export function selectionToWire (sel: Selection): ferry.Selection.$Properties {
  const out: ferry.Selection.$Properties = { conversations: sel.conversations ?? [] }
  if (sel.since !== undefined) out.sinceMs = sel.since
  if (sel.until !== undefined) out.untilMs = sel.until
  return out
}

export function selectionFromWire (w: ferry.Selection.$Properties | null | undefined): Selection {
  if (w == null) return {}
  const sel: Selection = {}
  if (w.conversations != null && w.conversations.length > 0) sel.conversations = [...w.conversations]
  if (w.sinceMs != null) sel.since = Number(w.sinceMs)
  if (w.untilMs != null) sel.until = Number(w.untilMs)
  try {
    return normalizeSelection(sel)
  } catch (err) {
    throw new FerryError(ErrorCode.PROTOCOL, `invalid selection: ${(err as Error).message}`)
  }
}

/** A selection in words, for messages: "chats a, b from 2024-01-01T00:00:00.000Z". */
export function describeSelection (sel: Selection): string {
  const parts: string[] = []
  parts.push(sel.conversations === undefined ? 'every chat' : sel.conversations.length === 0 ? 'no chat' : `chats ${sel.conversations.join(', ')}`)
  if (sel.since !== undefined) parts.push(`from ${new Date(sel.since).toISOString()}`)
  if (sel.until !== undefined) parts.push(`until ${new Date(sel.until).toISOString()}`)
  return parts.join(' ')
}
