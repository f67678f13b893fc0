import { constants, createReadStream, openSync } from 'node:fs'
import { stat } from 'node:fs/promises'
import { Socket } from 'node:net'

/**
 * A file's bytes, streamed. A named pipe (a FIFO, or `<(command)` in a shell) is read as the event loop
 * reads a socket, not by fs reads: an fs read waits on the thread pool for the writer's next byte, and
 * a process cannot exit while one waits there, so a Ctrl-C would end nothing until the writer wrote or
 * went away. Opened without waiting for a writer (O_NONBLOCK); the first bytes come once one writes.
 */
export async function readStream (path: string, highWaterMark = 1024 * 1024): Promise<AsyncIterable<Uint8Array>> {
  // A path that cannot be looked at is left to the ordinary read, whose error callers already word.
  const st = await stat(path).catch(() => undefined)
  if (st?.isFIFO() !== true) return createReadStream(path, { highWaterMark })
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK)
  return new Socket({ fd, readable: true, writable: false })
}
