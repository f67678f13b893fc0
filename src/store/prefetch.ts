import { open } from 'node:fs/promises'

/** Read size: large enough for the disk to stream, small enough to be nothing in the process's memory. */
const READ_BYTES = 1024 * 1024

/**
 * Reads a file front to back into one reused buffer, for the page cache: a sender waiting for its
 * receiver has seconds to spare, and its transfer then reads the history from memory rather than
 * stalling its event loop on the disk (over 1 M messages, a cold 300 MB history.db made the chats
 * ready 0.5-1 s later). Reads at most `limit` bytes, stops when `signal` aborts, and never fails: a
 * warm cache is only an optimisation.
 */
export async function prefetchFile (path: string, signal: AbortSignal, limit: number): Promise<void> {
  let file
  try {
    file = await open(path, 'r')
    const buf = Buffer.allocUnsafe(READ_BYTES)
    for (let pos = 0; pos < limit && !signal.aborted;) {
      const { bytesRead } = await file.read(buf, 0, Math.min(READ_BYTES, limit - pos), pos)
      if (bytesRead === 0) break
      pos += bytesRead
    }
  } catch {
    // Nothing to warm (no file yet) or nothing the transfer would not meet itself.
  } finally {
    await file?.close().catch(() => {})
  }
}
