import { Uint8ArrayList } from 'uint8arraylist'
import { ErrorCode, FerryError } from '../errors.js'
import { frameLength, varintLength, writeVarint, type EncodedFrame } from './codec.js'
import type { ByteDuplex } from './duplex.js'

/** Hard cap on one frame's body. Checked on the length prefix, before a byte of the body is buffered. */
export const MAX_FRAME_BYTES = 1024 * 1024 + 4096

// A varint of 5 bytes holds up to 2^35; anything longer is hostile, not a size.
const MAX_PREFIX_BYTES = 5

/**
 * Splits a byte stream into frame bodies (unsigned varint length prefix + body), push style, so the same
 * decoder serves sockets, files and fuzzers.
 */
export class FrameDecoder {
  private readonly buf = new Uint8ArrayList()
  private need = -1 // body length of the frame being read, -1 while reading its prefix
  private readonly spare: Uint8Array[] = []
  private readonly lent = new WeakSet<ArrayBufferLike>()

  /**
   * A frame whose body spans several received pieces is copied together. With `reuseBytes`, bodies of
   * more than half that size are copied into buffers of that size which the reader hands back with
   * recycle(): media chunks (256 KiB, arriving as 64 KiB Noise messages) then cost the receiver no
   * allocation. A fresh 256 KiB buffer per chunk was as many bytes allocated as received, garbage that
   * V8 frees only when it next collects, and the receiver's heap grew with the pile.
   */
  constructor (private readonly maxFrameBytes = MAX_FRAME_BYTES, private readonly reuseBytes = 0) {}

  /**
   * Takes back a body push() returned, for reuse by a later frame, once nothing refers to its bytes any
   * more (the frame is decoded and handled, and its handler kept no view of them). Bodies that were not
   * copied into a reusable buffer are ignored.
   */
  recycle (body: Uint8Array): void {
    if (!this.lent.has(body.buffer)) return
    this.lent.delete(body.buffer)
    if (this.spare.length < 4) this.spare.push(new Uint8Array(body.buffer, 0, this.reuseBytes))
  }

  /** Bytes buffered that do not yet make a frame. */
  get pending (): number { return this.buf.byteLength }

  push (chunk: Uint8Array | Uint8ArrayList): Uint8Array[] {
    this.buf.append(chunk)
    const out: Uint8Array[] = []
    for (;;) {
      if (this.need < 0 && !this.readPrefix()) break
      if (this.buf.byteLength < this.need) break
      out.push(this.body(this.need))
      this.buf.consume(this.need)
      this.need = -1
    }
    return out
  }

  /** Throws when the stream ended inside a frame. */
  end (): void {
    if (this.buf.byteLength > 0) {
      throw new FerryError(ErrorCode.TRUNCATED, `stream ended inside a frame (${this.buf.byteLength} bytes of it received)`)
    }
  }

  private body (n: number): Uint8Array {
    if (n > this.reuseBytes || n * 2 <= this.reuseBytes) return this.buf.subarray(0, n)
    let out: Uint8Array | undefined
    let at = 0
    for (const b of this.buf) { // the list's pieces, in order
      if (out === undefined) {
        if (b.byteLength >= n) return b.subarray(0, n) // all in one piece: no copy
        out = this.spare.pop() ?? new Uint8Array(this.reuseBytes)
        this.lent.add(out.buffer)
      }
      const take = Math.min(b.byteLength, n - at)
      out.set(take === b.byteLength ? b : b.subarray(0, take), at)
      at += take
      if (at === n) break
    }
    return (out as Uint8Array).subarray(0, n)
  }

  private readPrefix (): boolean {
    let value = 0
    let scale = 1
    const avail = Math.min(this.buf.byteLength, MAX_PREFIX_BYTES)
    for (let i = 0; i < avail; i++) {
      const b = this.buf.get(i)
      value += (b & 0x7f) * scale
      scale *= 128
      if ((b & 0x80) === 0) {
        if (value > this.maxFrameBytes) {
          throw new FerryError(ErrorCode.FRAME_TOO_LARGE, `frame of ${value} bytes exceeds the ${this.maxFrameBytes}-byte limit`)
        }
        this.buf.consume(i + 1)
        this.need = value
        return true
      }
    }
    if (this.buf.byteLength >= MAX_PREFIX_BYTES) {
      throw new FerryError(ErrorCode.FRAME_TOO_LARGE, 'frame length prefix is longer than 5 bytes')
    }
    return false
  }
}

/** Yields frame bodies from a byte source; a source that ends mid-frame throws TRUNCATED. */
export async function * readFrames (source: AsyncIterable<Uint8Array | Uint8ArrayList>, maxFrameBytes = MAX_FRAME_BYTES): AsyncGenerator<Uint8Array> {
  const decoder = new FrameDecoder(maxFrameBytes)
  for await (const chunk of source) {
    yield * decoder.push(chunk)
  }
  decoder.end()
}

/** Writes the length prefix of a frame. */
export function prefix (frame: EncodedFrame): Uint8Array {
  const n = frameLength(frame)
  const out = new Uint8Array(varintLength(n))
  writeVarint(out, 0, n)
  return out
}

/**
 * Queues frames and hands them to the transport in coalesced writes of about `coalesceBytes`:
 * one write per tiny frame stalls the event loop, one giant write defeats backpressure.
 */
export class FrameWriter {
  private parts: Uint8Array[] = []
  private queued = 0

  constructor (private readonly duplex: Pick<ByteDuplex, 'write'>, private readonly coalesceBytes = 64 * 1024) {}

  /** Queues a frame; resolves after a write when enough is queued (the transport's backpressure). */
  async push (frame: EncodedFrame): Promise<void> {
    const p = prefix(frame)
    this.parts.push(p, ...frame)
    this.queued += p.byteLength + frameLength(frame)
    if (this.queued >= this.coalesceBytes) await this.flush()
  }

  async flush (): Promise<void> {
    if (this.parts.length === 0) return
    const parts = this.parts
    this.parts = []
    this.queued = 0
    await this.duplex.write(parts)
  }
}
