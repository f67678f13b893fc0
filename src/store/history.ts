import type { Contact, Conversation, MediaRecord, Message } from './model.js'

// The port an app implements to embed Ferry: its own database, seen through a few async, page-grained
// methods. The old phone reads through HistorySource; the new phone writes through HistorySink (and
// reads back what it wrote). Nothing about transfers lives here: checkpoints, partial media, undo
// bookkeeping and pairing records are Ferry's own, kept in its journal (src/journal), never in the
// app's tables. A phone that both sends and receives implements both: eight methods in all. One
// optional index (LeafIndex) lives with the history, because it must change in the same transaction as
// the messages it summarises.
//
// References: every message of a source is in a conversation its conversations() lists, and the media
// a message names is a record its media() lists (the file itself may be missing). Ferry reads messages
// conversation by conversation, so a message of an unlisted conversation is never sent while the
// transfer still verifies: an app writes a message's conversation and media record with it or before
// it. A message naming an unlisted record is refused by the old phone as its store's fault (STORE) when
// a transfer would send it. Ferry's own commits keep both.
//
// Order: a conversation's messages are ordered by (ts, id), ids compared by Unicode code point (the byte
// order of their UTF-8; SQLite's default BINARY collation). Ids are unique within their conversation and
// never empty.

/** A message's place inside its conversation: reads continue strictly after it. */
export interface MessagePosition {
  ts: number
  id: string
}

/**
 * A stored message as its canonical encoding (src/wire/message-wire.ts, encoded by src/wire/codec.ts:
 * what a transfer digests) and its key.
 */
export interface EncodedMessage extends MessagePosition {
  encoded: Uint8Array
}

/** A conversation and how many messages it holds. */
export interface ConversationInfo {
  conversation: Conversation
  messages: number
}

/** A media record, and whether the file itself is here. */
export interface StoredMedia extends MediaRecord {
  stored: boolean
}

/**
 * A run of a conversation's consecutive messages and a digest of them, as a transfer cut it (see
 * src/protocol/leaves.ts). Opaque to a store except for its last key.
 */
export interface LeafRecord {
  first: MessagePosition
  last: MessagePosition
  count: number
  digest: Uint8Array
}

/** The leaves a LeafIndex keeps for a conversation, and a token that says which writes they have seen. */
export interface KeptLeaves {
  leaves: LeafRecord[]
  token: number
}

/**
 * Optional, on either phone: the leaves the last transfer cut each conversation into, kept beside the
 * history, so that the next transfer reads only the messages written since (a second transfer of an
 * unchanged history then reads no message at all). A store without one works the same, reading every
 * message of each conversation it holds at every transfer.
 *
 * The store's one duty: writing, replacing or deleting the message at key k (its old key too, when a
 * write moves it) drops, in the same transaction, the conversation's kept leaves whose last key is at or
 * after k. Leaves are kept only while a conversation is written in order, so what stays is always a
 * prefix of the conversation, cut as Ferry would cut it now.
 */
export interface LeafIndex {
  /** The conversation's kept leaves in order, if they were cut under `format` (otherwise none). */
  keptLeaves(conversation: string, format: string): Promise<KeptLeaves>
  /**
   * Appends those of `leaves` (in order, contiguous) that begin after the last kept one, unless a message
   * of the conversation was written since `token` was read (then nothing). Leaves of another format are
   * dropped first.
   */
  keepLeaves(conversation: string, format: string, token: number, leaves: LeafRecord[]): Promise<void>
}

/**
 * Optional, on the new phone: which generation of the store's contents Ferry's bases describe. Ferry
 * keeps, in its journal, what the last verified transfer from an old phone carried here (the bases that
 * keep what this phone's owner deleted deleted). When history.db is put back to an older copy of itself
 * (the app's own restore of its files, a copy made before the last transfer) while the journal is not,
 * those bases describe messages the store no longer holds, which would then stay out as if deleted
 * here. With this port Ferry writes a fresh token here as each transfer from a source is verified, and
 * records it with the bases; a store that holds another token (or none) at the next transfer does not
 * get them trusted, and what they would have kept out comes again, as at a first transfer.
 *
 * A store without it keeps its bases whatever happens to its files: an app that may put its database
 * back to an older copy should implement it. The tokens belong in the same database as the messages, so
 * that a copy of it carries the token of what it holds: a copy that holds a token must hold every change
 * committed before it was kept (a store whose commits are written behind writes them first).
 */
export interface StoreGenerations {
  /** The token last kept for `source` (an old phone's history id); undefined when none is. */
  generation(source: string): Promise<string | undefined>
  /** Keeps `token` for `source`, replacing the one before (others' stay). */
  keepGeneration(source: string, token: string): Promise<void>
}

/**
 * A HistorySource held as it stood when it was taken (see HistorySource.snapshot): every read of it
 * answers as of that moment, whatever the app writes meanwhile. Its historyId is its source's.
 */
export interface SourceSnapshot extends Omit<HistorySource, 'snapshot'> {
  /**
   * Ends it. Ferry calls it once, when the session that took it ends (verified, failed or cut off), and
   * reads nothing of it after.
   */
  release(): Promise<void>
}

/** The old phone's history, as Ferry reads it to send it. */
export interface HistorySource {
  /** See LeafIndex. */
  readonly leafIndex?: LeafIndex
  /** A random id made once for this history; names the source of a transfer. */
  readonly historyId: string
  /**
   * Optional: the histories this one continues, newest first: a phone reset and restored from its own
   * backup is, to a new phone that received from it before, the phone it was, whose bases (what that
   * new phone's person deleted or renamed since) it takes over at its first transfer there. Its own
   * historyId stays its own, so the original phone, if it is still in use, stays another phone.
   */
  readonly formerIds?: readonly string[]
  /**
   * Every conversation with its message count; each as committed, its fields as given (Ferry reads back
   * what a transfer wrote to verify it: a store that trims or rewrites a title fails every transfer).
   */
  conversations(): Promise<ConversationInfo[]>
  /** Every contact, as committed, its fields as given (see conversations()). */
  contacts(): Promise<Contact[]>
  /** Media records in sha256 order, strictly after `after`, at most `limit` of them. */
  media(after: string | undefined, limit: number): Promise<StoredMedia[]>
  /** A conversation's messages in (ts, id) order, strictly after `after`, at most `limit` of them. */
  messages(conversation: string, after: MessagePosition | undefined, limit: number): Promise<Message[]>
  /**
   * The `limit` that suits this store when Ferry reads a whole conversation (sending it, reading it
   * back): a store that answers each call from another thread (IndexedDB) wastes less time waiting on
   * fewer, larger reads. Ferry holds two such pages at a time. Default 1,024; at most 16,384 is used.
   */
  readonly messagesPerRead?: number
  /**
   * Optional, for a store that keeps each message as its encoding: the same messages as `messages`, as
   * those encodings. Ferry then reads back what it wrote by hashing the stored bytes, where it would
   * decode each message and encode it again; the store's `messages` must be what these bytes decode to.
   */
  encodedMessages?(conversation: string, after: MessagePosition | undefined, limit: number): Promise<EncodedMessage[]>
  /**
   * Bytes `offset` to `offset + length` of a stored media file (fewer only at its end). With `into` (at
   * least `length` bytes), the source may read into it and return a view of it.
   */
  readMedia(sha256: string, offset: number, length: number, into?: Uint8Array): Promise<Uint8Array>
  /**
   * Optional, for a phone in use while it sends: the history as it is now, held for one session. Ferry
   * takes one as the receiver's Hello arrives, makes the manifest from it and reads nothing else until the
   * session ends: the new phone gets the history as it was then, verified, and what the app writes
   * meanwhile (a message arriving, one deleted or edited) comes with the next transfer. Over SQLite in
   * WAL mode it is a second, read-only connection holding one read transaction: writers go on, and the
   * WAL is not started over while it is held.
   *
   * A source without it is read live. The new phone checks each conversation against the counts and
   * digests the manifest declared, and cannot tell a history that changed from a sender that lies: a
   * message written, deleted or edited meanwhile in a chat not yet sent fails the transfer for good
   * (COUNT_MISMATCH or DIGEST_MISMATCH), and what it wrote is taken back. A transfer started again
   * succeeds only once the phone stays quiet for all of it.
   * Media files are read from the live store either way: they are content-addressed, so a file is the
   * same while it is there. IndexedDB cannot offer one: its transactions end once their callbacks
   * return, so none stays open across a session's awaits.
   */
  snapshot?(): Promise<SourceSnapshot>
}

/** A change the new phone applies atomically: all of it or none of it. */
export interface HistoryChange {
  contacts?: Contact[]
  conversations?: Conversation[]
  /** Records only: files arrive through putMedia. */
  media?: MediaRecord[]
  /**
   * Upserted by (conversation, id): the incoming version replaces the stored one, whatever its ts. A
   * field that is `undefined` (or missing) is absent: read back, the message has no such key, and a
   * field the stored version had and this one lacks is gone.
   */
  messages?: Message[]
  /**
   * When Ferry has them: each of `messages`' encoding as it came (the bytes each was decoded from), in
   * the same order. A store that keeps messages as their encodings (encodedMessages) keeps these rather
   * than encoding each message again; any other store ignores them.
   */
  encoded?: Uint8Array[]
  /** Removed (an undone transfer takes back what it added). */
  remove?: {
    messages?: Array<{ conversation: string, id: string }>
    conversations?: string[]
    contacts?: string[]
    /**
     * Media records by sha256: an undone transfer takes back the records it added. The store drops each
     * record and its file, if it holds one (a file with no record too: an undo a crash cut short runs
     * again). A record that a message refers to once the rest of the change is applied stays, with its
     * file: media are content-addressed, and a message the app wrote meanwhile, or one an earlier
     * transfer brought, may name the same file. So does a record this change also puts. The check and
     * the record's removal are part of the change; the file may go after it commits, as a file no
     * record names is never listed (media() lists records).
     */
    media?: string[]
  }
}

/** A received media file whose sha256 Ferry has checked, handed to the new phone's store. */
export interface ReceivedMedia {
  readonly sha256: string
  readonly size: number
  readonly mime: string
  /** The bytes, when the file came in one piece (most photos and voice notes). */
  readonly bytes?: Uint8Array
  /**
   * Node: the file on disk in Ferry's journal folder. The store may rename it into its own place (the
   * journal lives beside the store, on the same file system), or copy it.
   */
  readonly path?: string
  /** The bytes in order, however they are kept. */
  stream(): AsyncIterable<Uint8Array>
}

/**
 * The new phone's history, as Ferry writes it. Reads are the source's (Ferry reads back what it wrote to
 * verify it, and reads what the phone already holds to move only the difference).
 */
export interface HistorySink extends Pick<HistorySource, 'historyId' | 'leafIndex' | 'conversations' | 'contacts' | 'media' | 'messages' | 'messagesPerRead' | 'encodedMessages'> {
  /** The stored versions of these messages (any that exist), in any order. */
  findMessages(conversation: string, ids: string[]): Promise<Message[]>
  /** Applies the change atomically. */
  commit(change: HistoryChange): Promise<void>
  /**
   * Takes a verified media file into the store. Resolves once it is there durably (a power cut must not
   * leave a record pointing at lost bytes); Ferry keeps several in flight.
   */
  putMedia(file: ReceivedMedia): Promise<void>
  /**
   * Optional: of these records, each listed by media() as stored, whether its file is whole: at least
   * its size the record's. media() may say "stored" from the files' names alone (a listing costs far
   * less than a look at each file), and a file cut short or grown here since it came (a crash while an
   * app wrote it, a full disk, a tool that wrote over it) would then count as held, and no transfer
   * would bring it again. Ferry asks this of the files it would otherwise not fetch, and fetches those
   * that are not whole, putMedia replacing what is there. A store without it has media() trusted.
   */
  wholeMedia?(media: readonly StoredMedia[]): Promise<boolean[]>
  /** See StoreGenerations. */
  readonly generations?: StoreGenerations
  /**
   * Optional: records that this store, empty, continues the histories `formerIds` names (a backup
   * restored into it), for its own sends to name (HistorySource.formerIds). A store without it restores
   * the same, and its sends name no former history.
   */
  continueFrom?(formerIds: readonly string[]): Promise<void>
  /**
   * Optional: every message of a transfer is here and no media is to come, so only the read-back and the
   * verification are left before the transfer is done. A store may start now what its close would
   * otherwise wait for (tidying after the message phase), while the read-back goes on.
   */
  onlyVerifyingLeft?(): void
  /**
   * Optional: makes every change committed so far durable, so that a power cut loses none of them.
   * Ferry calls it once, before it tells the old phone that its history is safe here. A store whose
   * commits are durable when they resolve needs none.
   */
  flush?(): Promise<void>
}

export type History = HistorySource & HistorySink
