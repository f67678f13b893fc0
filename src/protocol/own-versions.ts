import type { Message } from '../store/model.js'

// Which version of a message a phone in use keeps when the old phone sends another version of it. The
// old phone's wins, except where this phone changed the message later: a recall here stays recalled
// (a person who took a message back must never see it return), and an edit here stands until the old
// phone's copy carries a later edit. Nothing else says which side changed a message last, so without
// one of those marks the old phone's version is taken, as it always was.
//
// A restore is the other way round (keepsOwnVersionOnRestore): a backup is the old phone as it was when
// it was written, at a time nothing here relates to what this phone received since, so what this phone
// holds stays unless the backup's version is marked as later: recalled there, or edited there later.

/** True when `mine`, this phone's version of the message at `theirs`'s place, stays over `theirs`. */
export function keepsOwnVersion (mine: Message, theirs: Message): boolean {
  // Another place in the conversation: the message moved, and the sender's place is the one verified.
  if (mine.ts !== theirs.ts) return false
  if (theirs.status === 'recalled') return false
  if (mine.status === 'recalled') return true
  return mine.editedAt !== undefined && (theirs.editedAt === undefined || mine.editedAt > theirs.editedAt)
}

/** keepsOwnVersion for a restore: `theirs` is a backup's version of the message. */
export function keepsOwnVersionOnRestore (mine: Message, theirs: Message): boolean {
  if (mine.ts !== theirs.ts) return false
  // A recall here stays, whatever the backup holds: a message someone took back never returns.
  if (mine.status === 'recalled') return true
  if (theirs.status === 'recalled') return false
  return theirs.editedAt === undefined || (mine.editedAt !== undefined && mine.editedAt >= theirs.editedAt)
}
