import { describe, expect, it } from 'vitest'
import { mergeMessage, type MergeMode, type MessageMerge } from '../../src/protocol/message-merge.js'
import { encodedMessage } from '../../src/protocol/leaves.js'
import type { UnchangedSince } from '../../src/protocol/message-base.js'
import { writtenDigest } from '../../src/protocol/written-digest.js'
import type { Message } from '../../src/store/model.js'

// What a second transfer, or a restore, does to one message a phone in use may hold its own version of,
// checked against what docs/promises.md ("Moving again moves only what changed") and docs/design-notes.md promise a
// person: what the new phone deleted stays deleted and what only it changed stays, unless the old phone
// changed the message since; a message taken back never returns; a restore only adds.

/** The message as the last transfer from the old phone carried it: what a base holds. */
const base: Message = { conversation: 'c', id: 'm1', sender: 'ann', ts: 1_700_000_000_000, kind: 'text', text: 'see you at 8', status: 'delivered' }
const T = base.ts

/** What this phone's person did to it since. */
const HERE = {
  deleted: undefined,
  nothing: base,
  readMark: { ...base, status: 'read' },
  edited: { ...base, text: 'see you at 9', editedAt: T + 3000 },
  recalled: { ...base, text: undefined, status: 'recalled' }
} satisfies Record<string, Message | undefined>
type Here = keyof typeof HERE

/** What the old phone did to it since (or, with a base that holds its version, what it went back to). */
const THERE = {
  nothing: base,
  edited: { ...base, text: 'see you at 7', editedAt: T + 2000 },
  editedLater: { ...base, text: 'see you at 10', editedAt: T + 4000 },
  recalled: { ...base, text: undefined, status: 'recalled' },
  moved: { ...base, ts: T + 1 }
} satisfies Record<string, Message>
type There = keyof typeof THERE

const MODES: Record<string, MergeMode> = {
  'ferry receive': { restoring: false, restoreDeleted: false },
  'ferry receive --restore-deleted': { restoring: false, restoreDeleted: true },
  'ferry restore': { restoring: true, restoreDeleted: true },
  // Not a mode the product runs (a restore always restores what was deleted); the two are independent here.
  'restoring, deleted kept out': { restoring: true, restoreDeleted: false }
}
const SINCE: UnchangedSince[] = [undefined, 'verified', 'transfer']

function merge (mine: Message | undefined, theirs: Message, since: UnchangedSince, mode: MergeMode): MessageMerge {
  const encoded = encodedMessage(theirs)
  return mergeMessage(mine, theirs, encoded, writtenDigest(encoded), since, mode)
}

/** Does the edit made here come later than the old phone's? (Only `editedAt` dates one side's change.) */
function editedHereLater (here: Here, there: There): boolean {
  const mine = HERE[here]?.editedAt
  const theirs = THERE[there].editedAt
  return mine !== undefined && (theirs === undefined || mine > theirs)
}

/**
 * What docs/promises.md says becomes of the message, written from its sentences rather than from the code:
 * `since` is whether a base holds the old phone's version as it comes (it did not change it since).
 */
function readmeSays (here: Here, there: There, since: UnchangedSince, mode: MergeMode): MessageMerge['outcome'] {
  const unchangedThere = since !== undefined
  if (here === 'deleted') {
    // "A chat or messages deleted on the new phone since then stay deleted unless the old phone changed
    // them since ... --restore-deleted brings them all back. `ferry restore` always does."
    return unchangedThere && !mode.restoreDeleted ? 'leftDeleted' : 'new'
  }
  if (encodedMessage(HERE[here]).join() === encodedMessage(THERE[there]).join()) return 'same'
  // A message the old phone moved in its conversation is verified at the old phone's place.
  if (there === 'moved') return 'replaced'
  // "... and so does one it changed otherwise (a read mark) that the old phone did not change since."
  if (unchangedThere) return 'ownVersion'
  if (mode.restoring) {
    // "A message keeps its version unless the backup's is recalled or edited later" (a recall here stays).
    if (here === 'recalled') return 'ownVersion'
    if (there === 'recalled') return 'replaced'
    const mine = HERE[here]?.editedAt
    const theirs = THERE[there].editedAt
    const backupEditedLater = theirs !== undefined && (mine === undefined || theirs > mine)
    return backupEditedLater ? 'replaced' : 'ownVersion'
  }
  // "The old phone's recall or later edit wins over the new phone's edit."
  if (there === 'recalled') return 'replaced'
  // "A message the new phone recalled, or edited after the old phone's copy was, stays as the new phone has it."
  if (here === 'recalled' || editedHereLater(here, there)) return 'ownVersion'
  // Both changed it, with nothing to date this phone's change: the old phone's is taken.
  return 'replaced'
}

const cases = Object.keys(HERE).flatMap(here => Object.keys(THERE).flatMap(there => SINCE.flatMap(since => Object.entries(MODES).map(([mode, m]) => ({
  here: here as Here, there: there as There, since, mode, m
})))))

describe('mergeMessage: every change here against every change on the old phone, base and mode', () => {
  it.each(cases)('$here here, $there there, base $since, $mode', ({ here, there, since, m }) => {
    const mine = HERE[here]
    const theirs = THERE[there]
    const got = merge(mine, theirs, since, m)
    expect(got.outcome).toBe(readmeSays(here, there, since, m))

    // The undo log's item names the old phone's message, and digests what the store holds once the
    // batch is written: an undo takes back only a message still stored so (a change made here since
    // outlives it), so a kept version is digested as this phone holds it.
    expect(got.item).toMatchObject({ conversation: theirs.conversation, ts: theirs.ts, id: theirs.id })
    const theirsDigest = writtenDigest(encodedMessage(theirs))
    switch (got.outcome) {
      case 'new':
        expect(got.item).toEqual({ flag: 'new', conversation: 'c', ts: theirs.ts, id: 'm1', written: theirsDigest })
        break
      case 'replaced':
        // The version it replaces is logged, so that an undo puts it back.
        expect(got.item).toEqual({ flag: 'prior', conversation: 'c', ts: theirs.ts, id: 'm1', prior: mine, written: theirsDigest })
        break
      case 'same':
      case 'leftDeleted':
        // Nothing written, nothing to undo; read back as the old phone's.
        expect(got.item).toEqual({ flag: 'held', conversation: 'c', ts: theirs.ts, id: 'm1', written: theirsDigest })
        break
      case 'ownVersion':
        expect(got.item).toEqual({ flag: 'held', conversation: 'c', ts: theirs.ts, id: 'm1', written: writtenDigest(encodedMessage(mine as Message)) })
        // Counted once: one this transfer brought (its read-back took it) was counted where it was brought.
        expect(got.counted).toBe(since !== 'transfer')
        break
    }
  })

  it('covers every outcome', () => {
    const seen = new Set(cases.map(c => merge(HERE[c.here], THERE[c.there], c.since, c.m).outcome))
    expect([...seen].sort()).toEqual(['leftDeleted', 'new', 'ownVersion', 'replaced', 'same'])
  })
})

describe('mergeMessage: what a person expects', () => {
  const live = MODES['ferry receive']
  const restore = MODES['ferry restore']

  it('a read mark made here stays when the old phone did not change the message since', () => {
    expect(merge(HERE.readMark, THERE.nothing, 'verified', live)).toMatchObject({ outcome: 'ownVersion', counted: true })
  })

  it('a read mark made here gives way when the old phone edited the message since', () => {
    expect(merge(HERE.readMark, THERE.edited, undefined, live).outcome).toBe('replaced')
  })

  it('a recall here never gives way to a copy that was not recalled, whatever the base and the mode', () => {
    for (const there of ['nothing', 'edited', 'editedLater'] as const) {
      for (const since of SINCE) {
        for (const mode of Object.values(MODES)) expect(merge(HERE.recalled, THERE[there], since, mode).outcome).toBe('ownVersion')
      }
    }
  })

  it('the old phone\'s recall reaches a message edited here, as a later edit there does', () => {
    expect(merge(HERE.edited, THERE.recalled, undefined, live).outcome).toBe('replaced')
    expect(merge(HERE.edited, THERE.editedLater, undefined, live).outcome).toBe('replaced')
    expect(merge(HERE.edited, THERE.edited, undefined, live).outcome).toBe('ownVersion')
  })

  it('a message deleted here stays deleted, and comes back only if the old phone changed it or the person asks', () => {
    expect(merge(undefined, THERE.nothing, 'verified', live).outcome).toBe('leftDeleted')
    expect(merge(undefined, THERE.nothing, 'transfer', live).outcome).toBe('leftDeleted')
    expect(merge(undefined, THERE.edited, undefined, live).outcome).toBe('new')
    expect(merge(undefined, THERE.nothing, 'verified', MODES['ferry receive --restore-deleted']).outcome).toBe('new')
    expect(merge(undefined, THERE.nothing, 'verified', restore).outcome).toBe('new')
  })

  it('a restore keeps this phone\'s version unless the backup\'s is recalled or edited later', () => {
    expect(merge(HERE.readMark, THERE.nothing, undefined, restore).outcome).toBe('ownVersion')
    expect(merge(HERE.edited, THERE.edited, undefined, restore).outcome).toBe('ownVersion')
    expect(merge(HERE.nothing, THERE.edited, undefined, restore).outcome).toBe('replaced')
    expect(merge(HERE.edited, THERE.editedLater, undefined, restore).outcome).toBe('replaced')
    expect(merge(HERE.readMark, THERE.recalled, undefined, restore).outcome).toBe('replaced')
    // Where a live transfer takes the old phone's version, a restore keeps this phone's.
    expect(merge(HERE.readMark, THERE.nothing, undefined, live).outcome).toBe('replaced')
  })

  it('edits of the same editedAt date neither side later: a transfer takes the old phone\'s, a restore keeps this one\'s', () => {
    const mine = { ...base, text: 'here', editedAt: T + 2000 }
    const theirs = { ...base, text: 'there', editedAt: T + 2000 }
    expect(merge(mine, theirs, undefined, live).outcome).toBe('replaced')
    expect(merge(mine, theirs, undefined, restore).outcome).toBe('ownVersion')
  })
})
