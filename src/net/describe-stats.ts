import type { TransferStats } from './transfer-events.js'

// What a verified transfer moved, in words for the person holding the new phone: the CLI prints it and
// the browser phone shows it under its summary, so both say the same things the same way (what is new,
// what this phone kept as it changed it, what was already here). No runtime of its own: each caller
// brings its way of writing sizes.

/** "1,024 messages", "1 media file". */
export function count (x: number, one: string, many: string): string {
  return `${x.toLocaleString('en-US')} ${x === 1 ? one : many}`
}

/**
 * "3 new messages, 1 new media file (2.1 MB), 2 media files the old phone no longer has (...), 1 message
 * kept as this phone changed it (...), 12,418 messages and 40 media files already here"; what stays
 * deleted here (messages, whole chats, media files, contacts) is said once, with the hint. `restoreHint`:
 * how this caller brings back what stays deleted (the CLI's flag), said after it. Counts that cover the
 * last session only (TransferStats.lastSessionOnly) say so at the end. `on`: the phone that says it; the
 * old phone says the same counts of the new one, what was "already here" being "already on the new phone".
 */
export function describeStats (s: TransferStats, formatBytes: (bytes: number) => string, restoreHint?: string, on: 'receiver' | 'sender' = 'receiver'): string {
  const kept = s.messagesKept ?? 0
  const parts = [count(s.messagesSent - kept, 'new message', 'new messages'), `${count(s.mediaFilesSent, 'new media file', 'new media files')} (${formatBytes(s.mediaBytesSent)})`]
  const missing = s.mediaFilesMissing ?? 0
  if (missing > 0) parts.push(`${count(missing, 'media file', 'media files')} the old phone no longer has (${missing === 1 ? 'its messages came without it' : 'their messages came without them'})`)
  if (kept > 0) parts.push(`${count(kept, 'message', 'messages')} kept as this phone changed ${kept === 1 ? 'it' : 'them'} (recalled, or edited after the old phone's copy)`)
  const names = s.namesKept ?? 0
  if (names > 0) parts.push(`${count(names, 'chat or contact name', 'chat or contact names')} kept as this phone changed ${names === 1 ? 'it' : 'them'} and the old phone did not`)
  const deleted = s.messagesLeftDeleted ?? 0
  const chats = s.chatsLeftDeleted ?? 0
  const media = s.mediaLeftDeleted ?? 0
  const contacts = s.contactsLeftDeleted ?? 0
  const hint = restoreHint === undefined ? '' : ` (${restoreHint})`
  // Media files and contacts go with the messages when there are some: "with 2 media files and 1 contact".
  const along = [...(media > 0 ? [count(media, 'media file', 'media files')] : []), ...(contacts > 0 ? [count(contacts, 'contact', 'contacts')] : [])].join(' and ')
  if (deleted > 0) {
    parts.push(`${count(deleted, 'message', 'messages')} deleted on this phone ${deleted === 1 ? 'stays' : 'stay'} deleted` +
      (chats > 0 ? `, ${count(chats, 'whole chat', 'whole chats')} among them` : '') +
      (along !== '' ? `, with ${along}` : '') + hint)
  } else if (along !== '') {
    parts.push(`${along} deleted on this phone ${media + contacts === 1 ? 'stays' : 'stay'} deleted${hint}`)
  }
  const here = on === 'receiver' ? 'here' : 'on the new phone'
  if (s.messagesHeld + s.mediaFilesHeld > 0) parts.push(`${count(s.messagesHeld, 'message', 'messages')} and ${count(s.mediaFilesHeld, 'media file', 'media files')} already ${here}`)
  const said = parts.join(', ')
  if (s.lastSessionOnly !== true) return said
  const why = on === 'receiver' ? 'it began under an earlier version of Ferry' : 'the new phone counts no further back'
  return `${said} (counting since the transfer was last interrupted: ${why}, so what came before counts as already ${here})`
}
