import { ErrorCode, FerryError } from '../errors.js'
import type { HistorySource } from '../store/history.js'
import { compareStrings, type Selection } from '../store/model.js'
import { isFiltered, selectedPages } from './manifest.js'
import { describeSelection, normalizeSelection } from './selection.js'

// A selection checked against the history it selects from, before anything is offered or written: a
// transfer finds out only once a new phone has paired (and spent the code), then moves a part of what
// was asked, or nothing, and calls that verified.

/** How many of a history's chat ids a refusal lists. */
const LISTED = 20

/**
 * Refuses chats `source` does not hold, naming them and those it holds: a typo in --chats would
 * otherwise move the other chats asked for without a word, or nothing at all.
 */
export async function refuseUnknownChats (source: Pick<HistorySource, 'conversations'>, chats: readonly string[] | undefined, holder: string): Promise<void> {
  if (chats === undefined) return
  const held = (await source.conversations()).map(c => c.conversation.id).sort(compareStrings)
  const known = new Set(held)
  const unknown = chats.filter(c => !known.has(c))
  if (unknown.length === 0) return
  // Ids joined with commas read as other ids when one holds a comma: then each is quoted.
  const shown = held.some(id => id.includes(',')) ? held.map(id => `'${id}'`) : held
  const list = held.length === 0
    ? 'it holds none'
    : `it holds ${shown.slice(0, LISTED).join(', ')}${held.length > LISTED ? `, … (${held.length} in all; ferry inspect lists them)` : ''}`
  throw new FerryError(ErrorCode.BAD_INPUT, `${holder} holds no conversation ${unknown.map(c => `'${c}'`).join(', ')} (${list})`, { unknown })
}

/**
 * Refuses a narrowed selection (chats, dates) that holds no message: the other side would get empty
 * chats and a "verified". Reads at most the first message in range of each chat selected.
 */
export async function refuseEmptySelection (source: HistorySource, sel: Selection, holder: string, verb: string): Promise<void> {
  if (!isFiltered(sel)) return
  const wanted = sel.conversations === undefined ? undefined : new Set(sel.conversations)
  for (const { conversation } of await source.conversations()) {
    if (wanted !== undefined && !wanted.has(conversation.id)) continue
    for await (const page of selectedPages(source, conversation.id, sel, undefined, 1)) {
      if (page.length > 0) return
    }
  }
  throw new FerryError(ErrorCode.BAD_INPUT, `no message on ${holder} is in the selection (${describeSelection(sel)}): nothing to ${verb}`)
}

/**
 * Refuses a selection that an offer of `source` could not move as asked, in the words the app's user
 * reads: ill-formed (at once, before anything is read), naming chats `source` does not hold, or holding
 * no message. An offer (FerryService.offer) runs it before it shows that it is offering, and `ferry
 * send` before it opens the network or shows a code. A contact or chat too large to move is refused by
 * the manifest (manifest-entries.ts), once paired: checking it here would read every chat's message
 * count before every offer, for a history no phone comes near.
 */
export async function refuseOfferedSelection (source: HistorySource, sel: Selection | undefined): Promise<void> {
  const shaped = normalizeSelection(sel)
  await refuseUnknownChats(source, shaped.conversations, 'this phone')
  await refuseEmptySelection(source, shaped, 'this phone', 'send')
}
