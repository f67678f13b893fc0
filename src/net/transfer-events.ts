import { ErrorCode, FerryError, isFerryError } from '../errors.js'

// What a transfer tells the app that runs it (its events, its progress and stats), what the runtime's
// collector hears of it, and how a cancel reads: shared by the service's offer and receive.

/**
 * What a runtime's collector hears of a transfer: the service calls begin() as an offer or a receive
 * starts, then passes every event of it (after the app's own handler), then calls end() once, however it
 * ended.
 */
export interface TransferMemory {
  begin: (role: 'sender' | 'receiver') => TransferTurns
}

export interface TransferTurns {
  onEvent: (e: FerryEvent) => void
  /** A receiver begins reading back every message it holds of the transfer (its peak of memory), before `chats-ready`. */
  readingBack?: () => void
  end: () => void
}

export interface Progress {
  messages: number
  totalMessages: number
  mediaBytes: number
  totalMediaBytes: number
  /**
   * In `progress` events: the data bytes this session has put on the link (the old phone) or taken off
   * it (the new one), messages as compressed for the wire. A rate is measured by these: messages and
   * media bytes say how far the history is, not what the link carries. Counts from 0 again in each
   * session (after an interruption).
   */
  sessionBytes?: number
}

/**
 * What a transfer moved, and what the receiving phone already held (a second transfer moves little): the
 * whole transfer's, over every session a dropped link or a restart began, on both phones (the sender
 * has it from the receiver's Verified): what an earlier session brought counts as sent, once, and not
 * as held. From a receiver that does not count across sessions, the sender's are its last session's
 * (lastSessionOnly).
 */
export interface TransferStats {
  /** Messages the transfer brought (new here, or another version of one here), and those counted in messagesKept. */
  messagesSent: number
  /** Messages of the old phone's this phone held, the same, before the transfer began. */
  messagesHeld: number
  mediaFilesSent: number
  mediaBytesSent: number
  /** Media files of the old phone's this phone held before the transfer began. */
  mediaFilesHeld: number
  /**
   * The counts above cover the transfer's last session only: what its earlier sessions brought counts
   * as held. On the receiver, the transfer began under an earlier version of Ferry, which kept no counts
   * across sessions; on the sender, the receiver did not say the whole transfer's. Absent otherwise.
   */
  lastSessionOnly?: true
  /**
   * The receiver: files the old phone sent whole that are not what their sha256 names (its copy is
   * damaged). They are not on this phone; a later transfer asks for them again.
   */
  mediaFilesDamaged?: number
  /**
   * The receiver: files the old phone no longer has (it keeps their messages and records, not their
   * bytes; or it deleted them, with their messages, after an earlier session of the transfer brought a
   * message showing one) and this phone does not hold either. The messages naming them came without them.
   */
  mediaFilesMissing?: number
  /**
   * The receiver: messages this phone recalled, or edited later than the old phone's copy, or changed
   * otherwise (a read mark) since the last transfer from the old phone, which did not change them. They
   * stay as they are here (counted in messagesSent too).
   */
  messagesKept?: number
  /**
   * The receiver: contacts and chats this phone renamed (or gave another number) since the last transfer
   * from the old phone, which did not. They keep this phone's name.
   */
  namesKept?: number
  /**
   * The receiver: messages of the old phone's this phone's owner deleted since the last transfer from it,
   * which the old phone did not change since. They stay deleted (ReceiveOptions.restoreDeleted brings
   * them back).
   */
  messagesLeftDeleted?: number
  /** The receiver: of those, whole chats deleted here: not made again. */
  chatsLeftDeleted?: number
  /**
   * The receiver: contacts the last transfer from the old phone brought that this phone's owner deleted
   * since: not made again, even if the old phone renamed them (ReceiveOptions.restoreDeleted brings them
   * back).
   */
  contactsLeftDeleted?: number
  /**
   * The receiver: media files the last transfer from the old phone brought that this phone's owner
   * removed (with the messages that named them); no message here refers to them, so they stay out.
   */
  mediaLeftDeleted?: number
}

export interface ConversationSummary { id: string, title: string, messages: number }

/** Every event carries `at`, its time in ms since the epoch. */
export type FerryEvent = { at: number } & (
  /**
   * The sender's offer is open and waits for a phone. `codeExpiresAt`: when its code stops pairing, ten
   * minutes after the code was first shown (an offer restarted with the same code keeps that time);
   * absent when only a phone paired before may come back.
   */
  | { type: 'offering', codeExpiresAt?: number }
  /** Each session begins so: paired by the code, or again by the pairing's token as the new phone comes back (`resume`). */
  | { type: 'paired', peer: string, mode: 'code' | 'resume' }
  | { type: 'pair-failed', peer: string, error: FerryError }
  /**
   * The sender: three wrong codes were tried, so typing this code pairs no one now; the QR code shown
   * with it (OfferOptions.qrKey) still pairs, until it is used or ten minutes old.
   */
  | { type: 'typed-code-spent' }
  /**
   * What the sender offers. On the receiver, `unsent` lists the chats it asked for (--chats) that the
   * sender does not send: it does not hold them, or does not offer them.
   */
  | { type: 'manifest', totalMessages: number, totalMediaBytes: number, conversations: number, unsent?: string[] }
  | { type: 'progress', progress: Progress }
  /** The receiver holds every message: its chats can be opened while the media goes on. Once a receive. */
  | { type: 'chats-ready', messages: number }
  /**
   * The receiver holds everything the sender announced and reads it back against the sender's digests,
   * which takes seconds on a large history, before `verified`. Reading back is the receiver's peak of
   * memory: an app that can ask its collector for a full collection does it best here.
   */
  | { type: 'verifying', messages: number, mediaFiles: number }
  /**
   * A session ended before the history was verified (a dropped link; on the old phone also the new one's
   * cancel or stop): the new phone reconnects, and the next session begins with `paired` (`resume`).
   */
  | { type: 'interrupted', error: FerryError }
  /**
   * `unheard`: the old phone was not told (ReceiveOptions.keepUnheard), and the pairing is kept to tell it.
   * `session`, on the old phone: what its last session sent and found held, beside `stats`, the whole
   * transfer's as the new phone counted it.
   */
  | { type: 'verified', summary: ConversationSummary[], progress: Progress, stats: TransferStats, session?: TransferStats, unheard?: true }
)

export type EventBody = FerryEvent extends infer E ? E extends { at: number } ? Omit<E, 'at'> : never : never

/** A transfer begun with the service's memory: end() reaches it once, and no event after it. */
export function beginTransfer (memory: TransferMemory | undefined, role: 'sender' | 'receiver'): TransferTurns | undefined {
  const turns = memory?.begin(role)
  if (turns === undefined) return undefined
  let ended = false
  return {
    onEvent: e => { if (!ended) turns.onEvent(e) },
    readingBack: () => { if (!ended) turns.readingBack?.() },
    end: () => {
      if (ended) return
      ended = true
      turns.end()
    }
  }
}

/** Stamps each event with its time and passes it to the app, then to the memory. */
export function emitter (onEvent?: (e: FerryEvent) => void, turns?: TransferTurns): (e: EventBody) => void {
  return e => {
    const event = { ...e, at: Date.now() } as FerryEvent
    onEvent?.(event)
    turns?.onEvent(event)
  }
}

/** What a transfer under way hears when its phone stops. */
export function stoppedError (): FerryError {
  return new FerryError(ErrorCode.CANCELLED, 'this phone stopped before the transfer was verified')
}

export function isAborted (signal?: AbortSignal): boolean {
  return signal?.aborted === true
}

/** An AbortSignal's reason as Ferry reports a cancel: the app's own FerryError, or CANCELLED. */
export function cancelled (signal: AbortSignal | undefined, what: 'offer' | 'receive'): FerryError {
  const reason: unknown = signal?.reason
  if (isFerryError(reason, ErrorCode.CANCELLED)) return reason
  // A reason the app gave says why; AbortController's own ("This operation was aborted") says nothing more.
  const given = typeof reason === 'string' ? reason : reason instanceof Error && reason.name !== 'AbortError' ? reason.message : ''
  const which = what === 'offer' ? 'offering this phone\'s history' : 'receiving the history'
  return new FerryError(ErrorCode.CANCELLED, `${which} was cancelled: the app aborted its signal${given !== '' ? ` (${given})` : ''}`, undefined, { cause: reason })
}
