import type { Stream, StreamCloseEvent, StreamMessageEvent } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'
import { ErrorCode, FerryError } from '../errors.js'
import type { ByteDuplex } from '../wire/duplex.js'

export interface StreamDuplexOptions {
  /** Small buffers are copied together into sends of about this size. Default 64 KiB. */
  coalesceBytes?: number
  /** Buffers at least this large are sent as they are, without a copy. Default coalesceBytes / 4. */
  zeroCopyBytes?: number
  /** Bytes gathered (copied or referenced) into one send(), i.e. one yamux frame. Default 1 MiB. */
  sendBytes?: number
  /**
   * Received bytes not yet consumed by the reader above which the stream is paused (yamux stops
   * granting window, so the sender's `send()` backs up). Default 1 MiB.
   */
  readHighWaterMark?: number
  /** The stream is resumed once the unconsumed bytes fall to this. Default readHighWaterMark / 4. */
  readLowWaterMark?: number
}

/** What a duplex has buffered, for tests and progress displays. */
export interface StreamDuplexStats {
  /** Bytes received and not yet consumed by the reader (ours plus the stream's paused buffer). */
  readonly readQueued: number
  /** Bytes handed to write() that the stream has not yet passed to the muxer. */
  readonly writeQueued: number
  readonly bytesRead: number
  readonly bytesWritten: number
  readonly paused: boolean
}

export interface StreamDuplex extends ByteDuplex {
  readonly stream: Stream
  readonly stats: StreamDuplexStats
}

const DEFAULT_COALESCE = 64 * 1024
const DEFAULT_READ_HWM = 1024 * 1024
const DEFAULT_SEND = 1024 * 1024

/**
 * Adapts a libp2p 3 stream to Ferry's ByteDuplex, adding what the raw stream lacks:
 *
 * - Read-side backpressure. The stream's own async iterator buffers without limit behind a slow
 *   reader; here the stream is paused once `readHighWaterMark` bytes wait, which stops yamux window
 *   updates, so the sender blocks instead of our memory growing. The node caps the window
 *   (DEFAULT_STREAM_WINDOW) so a paused stream never overflows its 4 MiB read buffer.
 * - Coalesced writes. `send()` of many tiny pieces goes quadratic in the stream's write buffer;
 *   small pieces are copied into contiguous sends, large ones go through untouched.
 * - Errors that say what happened: a reset or a local abort ends `source` with an error, never a
 *   clean end (a clean end must mean the peer half-closed).
 *
 * Buffers passed to write() are referenced, not copied, until the muxer has encrypted them:
 * do not modify them afterwards (the same rule as `socket.write`).
 */
export function streamToDuplex (stream: Stream, opts: StreamDuplexOptions = {}): StreamDuplex {
  return new Libp2pStreamDuplex(stream, opts)
}

class Libp2pStreamDuplex implements StreamDuplex {
  readonly source: AsyncIterable<Uint8Array | Uint8ArrayList>
  private readonly coalesceBytes: number
  private readonly zeroCopyBytes: number
  private readonly sendBytes: number
  private readonly hwm: number
  private readonly lwm: number

  private readonly queue: Array<Uint8Array | Uint8ArrayList> = []
  private queued = 0
  private ended = false
  private failure?: Error
  private wake?: () => void
  private writing: Promise<void> = Promise.resolve()
  private pendingWrite = 0
  private read = 0
  private written = 0
  private sourceTaken = false
  private salvaging = false

  constructor (readonly stream: Stream, opts: StreamDuplexOptions) {
    this.coalesceBytes = opts.coalesceBytes ?? DEFAULT_COALESCE
    this.zeroCopyBytes = opts.zeroCopyBytes ?? Math.max(1, Math.floor(this.coalesceBytes / 4))
    this.sendBytes = opts.sendBytes ?? DEFAULT_SEND
    this.hwm = opts.readHighWaterMark ?? DEFAULT_READ_HWM
    this.lwm = opts.readLowWaterMark ?? Math.floor(this.hwm / 4)

    // Listen now, not when the reader starts: without a 'message' listener the stream buffers on
    // its own and resets past 4 MiB, and bytes the peer sent early (its first frames) must be kept.
    stream.addEventListener('message', this.onMessage)
    stream.addEventListener('end', this.onEnd)
    stream.addEventListener('close', this.onClose)
    if (stream.readableEnded) this.onEnd()
    this.source = { [Symbol.asyncIterator]: () => this.iterate() }
  }

  get stats (): StreamDuplexStats {
    const self = this
    return {
      get readQueued () { return self.queued + self.stream.readBufferLength },
      get writeQueued () { return self.pendingWrite + self.stream.writeBufferLength },
      get bytesRead () { return self.read },
      get bytesWritten () { return self.written },
      get paused () { return self.stream.readStatus === 'paused' }
    }
  }

  private readonly onMessage = (evt: StreamMessageEvent): void => {
    if (this.failure !== undefined) return
    this.queue.push(evt.data)
    this.queued += evt.data.byteLength
    if (this.queued >= this.hwm && !this.salvaging && this.stream.readStatus === 'readable') this.stream.pause()
    this.notify()
  }

  private readonly onEnd = (): void => {
    // 'end' also fires inside abort() and on a remote reset, just before the 'close' event that
    // carries the error; the reader re-checks the status, so a reset never reads as a clean end.
    this.ended = true
    this.notify()
  }

  private readonly onClose = (evt: StreamCloseEvent): void => {
    // A graceful close is not the end of reading: a paused stream may still hold bytes, and 'end'
    // follows once they are delivered.
    if (evt.error === undefined) return
    if (evt.local !== true && this.stream.readStatus === 'paused' && this.stream.readBufferLength > 0) {
      // A peer that gives up writes an Error frame, closes and resets. If we were paused, that
      // frame sits in the stream's buffer, which nothing would deliver after the reset; pull it
      // out so the reader learns why, before the reset error.
      this.salvaging = true
      try { this.stream.resume() } catch {} finally { this.salvaging = false }
    }
    this.fail(closeError(this.stream, evt))
    this.ended = true
    this.notify()
  }

  private fail (err: Error): void {
    if (this.failure === undefined) this.failure = err
  }

  private notify (): void {
    const w = this.wake
    this.wake = undefined
    w?.()
  }

  private async * iterate (): AsyncGenerator<Uint8Array | Uint8ArrayList> {
    if (this.sourceTaken) throw new FerryError(ErrorCode.INTERNAL, 'a stream duplex source can be read only once')
    this.sourceTaken = true
    try {
      for (;;) {
        const chunk = this.queue.shift()
        if (chunk !== undefined) {
          // Bytes the peer sent before a reset are still delivered (see onClose).
          yield chunk
          // The reader has asked for more, so it is done with `chunk`: only now does it stop
          // counting against the high-water mark.
          this.queued -= chunk.byteLength
          this.read += chunk.byteLength
          this.maybeResume()
          continue
        }
        if (this.failure !== undefined) throw this.failure
        if (this.ended) {
          if (this.stream.status === 'reset' || this.stream.status === 'aborted') throw closeError(this.stream)
          return
        }
        await new Promise<void>(resolve => { this.wake = resolve })
      }
    } finally {
      this.stream.removeEventListener('message', this.onMessage)
    }
  }

  private maybeResume (): void {
    if (this.queued > this.lwm || this.stream.readStatus !== 'paused') return
    try {
      this.stream.resume()
    } catch {
      // The stream closed while paused; 'close'/'end' report it.
    }
  }

  async write (chunks: Uint8Array[]): Promise<void> {
    // Serialised: a second write must not interleave with one still waiting for drain.
    const run = this.writing.then(async () => { await this.writeNow(chunks) })
    this.writing = run.catch(() => {})
    await run
  }

  /**
   * Hands `chunks` to the stream in as few send() calls as possible: each send() becomes at least one
   * yamux data frame, and each data frame costs the reader a window update (an encrypted packet back,
   * two socket writes). A media chunk used to go as two frames (its small header, then its payload);
   * now small pieces are copied together and large ones referenced in one Uint8ArrayList per send,
   * up to `sendBytes`.
   */
  private async writeNow (chunks: Uint8Array[]): Promise<void> {
    let list = new Uint8ArrayList()
    let parts: Uint8Array[] = []
    let partsBytes = 0
    const takeSmall = (): void => {
      if (partsBytes > 0) list.append(concat(parts, partsBytes))
      parts = []
      partsBytes = 0
    }
    for (const c of chunks) this.pendingWrite += c.byteLength
    try {
      for (const c of chunks) {
        const n = c.byteLength
        if (n === 0) continue
        if (n >= this.zeroCopyBytes) {
          takeSmall()
          list.append(c)
        } else {
          if (partsBytes + n > this.coalesceBytes) takeSmall()
          parts.push(c)
          partsBytes += n
        }
        if (list.byteLength + partsBytes >= this.sendBytes) {
          takeSmall()
          await this.send(list)
          list = new Uint8ArrayList()
        }
      }
      takeSmall()
      if (list.byteLength > 0) await this.send(list)
    } finally {
      this.pendingWrite = 0
    }
  }

  private async send (buf: Uint8Array | Uint8ArrayList): Promise<void> {
    if (this.failure !== undefined) throw this.failure
    try {
      this.pendingWrite -= buf.byteLength
      const more = this.stream.send(buf)
      this.written += buf.byteLength
      if (!more) await this.drained()
    } catch (err) {
      throw this.failure ?? writeError(this.stream, err)
    }
  }

  /**
   * Waits for the stream's next 'drain'. Not `stream.onDrain()`: in @libp2p/utils 7.4 it keeps the
   * promise of the first drain and returns it, already resolved, ever after, so a writer looping
   * on it never waits again and the stream's write buffer grows without bound.
   */
  private async drained (): Promise<void> {
    const s = this.stream
    if (!s.writableNeedsDrain) return
    await new Promise<void>((resolve, reject) => {
      const cleanup = (): void => {
        s.removeEventListener('drain', onDrain)
        s.removeEventListener('close', onClose)
      }
      const onDrain = (): void => { cleanup(); resolve() }
      const onClose = (evt: StreamCloseEvent): void => {
        cleanup()
        reject(evt.error ?? new Error(`the stream closed while waiting to write (status ${s.status})`))
      }
      s.addEventListener('drain', onDrain)
      s.addEventListener('close', onClose)
    })
  }

  async close (): Promise<void> {
    await this.writing
    if (this.failure !== undefined) throw this.failure
    try {
      await this.stream.close()
    } catch (err) {
      throw this.failure ?? writeError(this.stream, err)
    }
  }

  abort (err: Error): void {
    this.fail(err)
    this.queue.length = 0
    this.queued = 0
    this.stream.abort(err)
    this.ended = true
    this.notify()
  }
}

function concat (parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0]
  const out = new Uint8Array(total)
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.byteLength }
  return out
}

function closeError (stream: Stream, evt?: StreamCloseEvent): Error {
  const cause = evt?.error
  if (cause instanceof FerryError) return cause
  const remote = evt !== undefined ? evt.local !== true : stream.status === 'reset'
  const what = remote ? 'the peer reset the stream' : 'the stream was aborted (connection lost or node stopped)'
  return new FerryError(ErrorCode.TRUNCATED, `${what}${cause?.message !== undefined ? `: ${cause.message}` : ''}`,
    { protocol: stream.protocol, status: stream.status }, { cause })
}

function writeError (stream: Stream, err: unknown): FerryError {
  // stream.close() rejects with the bare 'close' Event when the stream closes under it.
  const cause = err instanceof Event ? (err as Partial<StreamCloseEvent>).error ?? new Error(`the stream closed (status ${stream.status})`) : err
  return new FerryError(ErrorCode.TRUNCATED, `cannot write to the stream: ${(cause as Error)?.message ?? String(cause)}`,
    { protocol: stream.protocol, status: stream.status, writeStatus: stream.writeStatus }, { cause })
}
