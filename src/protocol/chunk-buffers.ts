/**
 * Where the sender reads media chunks into: slabs of `chunkBytes`, filled chunk after chunk (many small
 * photos share one) and reused once the receiver has acknowledged every frame in them.
 *
 * Reading each chunk into a fresh Buffer made the sender allocate as many bytes as it sent. V8 frees
 * such buffers only when it collects, and starts a full collection whenever enough of them pile up: on
 * the media set those collections were a large part of the sender's busy time, and the pile was RSS.
 *
 * A chunk handed to the link may wait below us (yamux without window, the stream's write buffer) until
 * it is encrypted, so a slab is reused only after the receiver acknowledged the bytes its last frame
 * ended at: the receiver cannot have seen bytes that were never encrypted, and the sender refuses acks
 * beyond what it sent. A receiver that acked bytes it had not received would at worst be sent other
 * bytes of the same transfer in their place, which its hash check refuses.
 */
export class ChunkBuffers {
  private current?: Slab
  private readonly free: Uint8Array[] = []
  /** Filled slabs not yet acknowledged, oldest first. */
  private readonly inFlight: Slab[] = []

  /**
   * `maxInFlight` bounds the slabs held for reuse. A sender that is never acked (writing a backup file)
   * passes 0 and allocates as before, rather than holding on to everything it sent.
   */
  constructor (private readonly slabBytes: number, private readonly maxInFlight: number) {}

  /**
   * Room for a chunk of `length` (at most the slab size) bytes. It is the caller's only after `sent()`;
   * a chunk that is not sent (a failed read) leaves its room to the next.
   */
  take (length: number): Uint8Array {
    if (length > this.slabBytes) throw new RangeError(`a chunk of ${length} bytes does not fit a ${this.slabBytes}-byte slab`)
    if (this.current === undefined || this.current.used + length > this.slabBytes) this.seal()
    const s = this.current as Slab
    return s.buf.subarray(s.used, s.used + length)
  }

  /** The chunk last taken went out in a frame that ends at stream position `end`. */
  sent (length: number, end: number): void {
    const s = this.current as Slab
    s.used += length
    s.end = end
  }

  /** The receiver acknowledged everything up to stream position `acked`. */
  acked (acked: number): void {
    while (this.inFlight.length > 0 && this.inFlight[0].end <= acked) {
      this.free.push((this.inFlight.shift() as Slab).buf)
    }
  }

  /** Slabs allocated so far (for tests and measurements). */
  allocated = 0

  /** Slabs acknowledged and waiting for reuse (for tests). */
  get reusable (): number {
    return this.free.length
  }

  private seal (): void {
    const s = this.current
    if (s !== undefined && s.used === 0) return // nothing was sent from it: it is still empty
    if (s !== undefined && this.maxInFlight > 0) {
      if (this.inFlight.length === this.maxInFlight) this.inFlight.shift()
      this.inFlight.push(s)
    }
    let buf = this.free.pop()
    if (buf === undefined) {
      buf = new Uint8Array(this.slabBytes)
      this.allocated++
    }
    this.current = { buf, used: 0, end: 0 }
  }
}

interface Slab {
  buf: Uint8Array
  used: number
  /** Stream position at which the last frame holding bytes of this slab ends. */
  end: number
}
