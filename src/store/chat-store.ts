import type { Contact, Conversation, MediaRecord, Message, MessageKey, Selection } from './model.js'

/**
 * A phone's chat store, as Ferry needs it. The embedded default is SqliteChatStore (history.db + a
 * content-addressed media folder); an app embeds Ferry by implementing this over its own database.
 *
 * Reads are synchronous iterables (the sender streams from them); writes that the receiver makes are
 * each atomic: a batch of messages and the checkpoint that covers it commit together or not at all.
 */
export interface ChatStore extends ChatStoreReader, ChatStoreWriter {
  close(): void
}

export interface ChatStoreReader {
  /** A random id made when the store was created; names the source of a transfer. */
  readonly storeId: string

  /** Contacts ordered by id. With a selection: the members of its conversations and the senders of its messages. */
  contacts(selection?: Selection): Iterable<Contact>
  /** Conversations ordered by id, limited to the selection's conversations when it names some. */
  conversations(selection?: Selection): Iterable<Conversation>
  /** Media records ordered by sha256. With a selection: only media that its messages reference. */
  media(selection?: Selection): Iterable<MediaRecord>
  /** Messages in canonical order (conversation, ts, id), strictly after `after` when given. */
  messages(selection?: Selection, after?: MessageKey): Iterable<Message>
  /** Number of messages per conversation inside the selection. */
  messageCounts(selection?: Selection): Map<string, number>

  /** True when the media file is present and complete. */
  hasMediaFile(sha256: string): boolean
  /**
   * Optional: a hasMediaFile for many lookups in sha256 order (a manifest's), where the store can answer
   * them more cheaply together (the SQLite store lists each fan-out directory once).
   */
  mediaPresence?(): (sha256: string) => boolean
  /**
   * Reads up to `length` bytes of a complete media file at `offset` (fewer only at its end). With `into`
   * (at least `length` bytes), a store may read into it and return a view of it, sparing an allocation.
   */
  readMedia(sha256: string, offset: number, length: number, into?: Uint8Array): Uint8Array
  /** Absolute path of a complete media file (for export and apps). */
  mediaPath(sha256: string): string
  /**
   * Optional: the history is about to be read (a sender waits for its receiver). A store may start
   * loading it in the background (the SQLite store reads history.db into the page cache).
   */
  prefetch?(): void
  /**
   * Optional: the messages are all read or written, only media is left. A store may drop the caches
   * that served them (the SQLite store's page cache: up to 8 MiB on each phone for the rest of the
   * transfer otherwise), and finish what makes the received chats usable (the SQLite store builds the
   * index a load into an empty history deferred, and throws ORDER if a message came twice).
   */
  messagesDone?(): void
}

/** The receiver's checkpoint for one transfer, as persisted. */
export interface TransferCheckpoint {
  /** Local row id of the transfer; tags every message it writes (for read-back verification). */
  transfer: number
  /** Last committed message key, or undefined before the first batch. */
  cursor?: MessageKey
  /** Messages committed so far (all sessions). */
  messages: number
  /** State: 'receiving' until verified, then 'verified'. */
  state: 'receiving' | 'verified'
}

export interface ChatStoreWriter {
  /**
   * Finds or creates the checkpoint for a transfer id (the manifest's), recording its source and selection.
   * A transfer that was verified and is received again starts from the beginning under a new local id.
   */
  openTransfer(transferId: Uint8Array, sourceId: string, selection: Selection): TransferCheckpoint
  /** Unfinished incoming transfers (for `inspect`). */
  transfers(): Array<TransferCheckpoint & { transferId: Uint8Array, sourceId: string, selection: Selection }>

  /**
   * Upserts contacts, conversations and media records (metadata only) in one transaction. A receiver
   * calls it for each manifest part's media records as the part arrives, and for the contacts and
   * conversations once the manifest is whole and checked: a manifest refused at its end can leave media
   * records, which say only that such a file exists somewhere (a store lists records it lacks the file of).
   */
  putMetadata(contacts: Contact[], conversations: Conversation[], media: Iterable<MediaRecord>): void
  /**
   * Upserts messages keyed by (conversation, id), tags them with the transfer, and advances the
   * transfer's cursor, all in one transaction. Re-applying the same batch changes nothing.
   */
  commitBatch(transfer: number, messages: Message[], cursor: MessageKey): void
  /** Messages written by a transfer, in canonical order: what the receiver verifies against Done. */
  transferMessages(transfer: number, conversation: string): Iterable<Message>
  /**
   * Undoes a transfer that was refused (verification failed, a lying or broken sender): clears its cursor
   * and count, deletes the messages it wrote and puts back the ones it overwrote, in one transaction, so
   * nothing a refused sender sent stays in the history and the next attempt starts from the beginning.
   * Only what the transfer wrote since it was last verified: rows a verified run wrote are the phone's
   * history and stay (openTransfer gives a verified transfer received again a new local id), and a
   * reset of a transfer that is verified changes nothing.
   */
  resetTransfer(transfer: number): void
  /** Marks the transfer verified. */
  finishTransfer(transfer: number): void

  /** Committed length of a partial media file (0 when none); drops any uncommitted tail. */
  partLength(sha256: string): number
  /**
   * Optional: every media that may have a partial file (a part file or a recorded length), so a resume
   * asks partLength only about those rather than about each of 100k+ wanted files.
   */
  partials?(): Set<string>
  /**
   * Appends bytes at `offset` (= the committed length) to the .part file, fsyncs, then records the new
   * length. `data` (here and in putWholeMedia) is valid only during the call: the receiver reuses the
   * buffer for the next chunk, so a store copies what it keeps.
   */
  appendPart(sha256: string, offset: number, data: Uint8Array): void
  /** sha256 (lowercase hex) of the .part file's committed bytes. */
  partDigest(sha256: string): string
  /** Moves a verified .part file into the media folder (possibly in the background; see flushMedia). */
  promotePart(sha256: string): void
  /** Resolves once every promoted file is durably in the media folder. */
  flushMedia(): Promise<void>
  /** Deletes a .part file and its record (after a hash or size mismatch). */
  discardPart(sha256: string): void
  /**
   * Optional fast path for a file that arrives whole in one chunk (most photos and voice notes): checks
   * its sha256 in memory, then files it as promotePart would, without recording a part. Throws
   * HASH_MISMATCH, having stored nothing, when the bytes are not `sha256`'s.
   */
  putWholeMedia?(sha256: string, data: Uint8Array): void
}
