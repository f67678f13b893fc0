import type { Uint8ArrayList } from 'uint8arraylist'

/**
 * A reliable ordered byte pipe, the only thing the protocol drivers need from a transport.
 * Adapters exist for libp2p streams (net/), in-memory pipes (tests) and files (backups).
 */
export interface ByteDuplex {
  /** Bytes from the peer; ends when the peer half-closes, throws when the pipe breaks. */
  source: AsyncIterable<Uint8Array | Uint8ArrayList>
  /** Queues bytes; resolves once the transport can take more (backpressure). */
  write(chunks: Uint8Array[]): Promise<void>
  /** Half-closes our side after everything written has been flushed. */
  close(): Promise<void>
  /** Tears the pipe down at once (both directions). */
  abort(err: Error): void
}
