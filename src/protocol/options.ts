/** Tunables of a transfer. Defaults are measured on a 2-core machine; see docs/performance.md. */
export interface TransferOptions {
  /** Target body size of a MessageBatch frame. Many messages per frame is what makes text fast. */
  batchBytes: number
  /** Media bytes per MediaChunk. After an interruption at most one chunk per media stream is re-sent. */
  chunkBytes: number
  /**
   * Unacknowledged data bytes the sender keeps in flight. Must stay well under the 4 MiB a libp2p stream
   * buffers before it aborts the stream, yet above a few frames so the link never idles waiting for acks.
   */
  windowBytes: number
  /** Largest single message the receiver accepts (it is reassembled in memory from fragments). */
  maxMessageBytes: number
  /** Largest manifest the receiver accepts, in entries (contacts + conversations + their members + media). */
  maxManifestEntries: number
  /**
   * ... of which contacts, conversations and members, which are held decoded until the last part: a
   * decoded member costs several times its encoded bytes, so the byte bound alone lets a lying sender
   * make the receiver hold gigabytes. Media entries are held compact and count only above.
   */
  maxManifestRecords: number
  /** ... and in encoded bytes (it is held in memory until its last part). */
  maxManifestBytes: number
  /**
   * The receiver: how long it waits on the sender, before the sender's first data, without a step
   * forward (a whole frame, or `stallBytes`); then the session ends as a dropped link (TRUNCATED). Long:
   * the sender builds its manifest and plans against what this phone holds, seconds on a large history.
   * Once data flows the receive's `stallMs` holds instead (5 s).
   */
  firstDataMs: number
  /** The receiver: bytes of a frame that count as a step forward before the frame is whole (a large frame on a slow link). */
  stallBytes: number
  /**
   * The sender: how long it waits on the receiver (its Hello, Resume, answers, acks, Verified) without a
   * frame from it, its own work not counted; then the session ends as a dropped link (TRUNCATED) and the
   * offer waits for the new phone to come back. A busy receiver keeps it fed (`keepAliveMs`).
   */
  replyMs: number
  /** The receiver: after this long without writing, it repeats its last Ack, to show a sender that waits that it is there. */
  keepAliveMs: number
}

export const DEFAULT_OPTIONS: TransferOptions = {
  // 256 KiB rather than 512: a decoded batch lives through its commit, and at 512 KiB the scavenges that
  // caught one alive promoted it, and the receiver paid for collecting it again.
  batchBytes: 256 * 1024,
  chunkBytes: 256 * 1024,
  windowBytes: 2 * 1024 * 1024,
  maxMessageBytes: 64 * 1024 * 1024,
  maxManifestEntries: 4_000_000,
  maxManifestRecords: 1_000_000,
  maxManifestBytes: 128 * 1024 * 1024,
  firstDataMs: 60_000,
  stallBytes: 64 * 1024,
  // Far above the receiver's keep-alive, and above what a receiver from before keep-alives spends
  // silent reading a history back to verify it.
  replyMs: 60_000,
  keepAliveMs: 2_000
}

export const PROTOCOL_VERSION = 2

export function transferOptions (o: Partial<TransferOptions> = {}): TransferOptions {
  return { ...DEFAULT_OPTIONS, ...o }
}
