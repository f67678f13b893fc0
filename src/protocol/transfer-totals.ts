import type { TransferCounts } from '../journal/transfer-counts.js'

// What a verified transfer brought, and what this phone held before it, over all its sessions: the
// last session's counts (ReceiverProgress) with what the journal kept of the earlier ones. A session
// finds what the earlier ones brought in the store, held like anything this phone had before.

/** The last session's counts (ReceiverProgress's). */
export interface SessionCounts {
  messagesReceived: number
  messagesHeld: number
  messagesKept: number
  mediaFilesReceived: number
  mediaBytesReceived: number
  mediaFilesHeld: number
}

/** What the session's intake found as it began (MediaIntake): the held files' bytes, and the parts it carried on from. */
export interface SessionMedia {
  heldBytes: number
  resumedBytes: number
}

/** The whole transfer's counts, named as the session's are (TransferStats says what each is). */
export interface TransferTotals {
  messagesReceived: number
  messagesHeld: number
  mediaFilesReceived: number
  mediaBytesReceived: number
  mediaFilesHeld: number
  /** Absent counts (a transfer begun before they were kept): these are the last session's. */
  lastSessionOnly?: true
}

/**
 * The whole transfer's counts. A message counts as brought once, where it was written (a message sent
 * again after a resume finds itself here, as written); what the session held and received that no
 * session wrote was here before. A file held now that was not as the first session began came with an
 * earlier session, and so did the parts this session carried on from.
 */
export function transferTotals (s: SessionCounts, media: SessionMedia, counts: TransferCounts | undefined): TransferTotals {
  if (counts === undefined) {
    return {
      messagesReceived: s.messagesReceived,
      messagesHeld: s.messagesHeld,
      mediaFilesReceived: s.mediaFilesReceived,
      mediaBytesReceived: s.mediaBytesReceived,
      mediaFilesHeld: s.mediaFilesHeld,
      lastSessionOnly: true
    }
  }
  const messagesReceived = counts.messagesWritten + s.messagesKept
  const filesBefore = Math.min(counts.mediaFilesBefore, s.mediaFilesHeld)
  return {
    messagesReceived,
    messagesHeld: Math.max(0, s.messagesHeld + s.messagesReceived - messagesReceived),
    mediaFilesReceived: s.mediaFilesReceived + s.mediaFilesHeld - filesBefore,
    mediaBytesReceived: s.mediaBytesReceived + media.resumedBytes + Math.max(0, media.heldBytes - counts.mediaBytesBefore),
    mediaFilesHeld: filesBefore
  }
}
