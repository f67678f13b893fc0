import { ErrorCode, FerryError } from '../errors.js'
import type { ByteDuplex } from './duplex.js'

/**
 * One direction of an in-memory byte pipe with backpressure, and a fault to inject: `cutAt` bytes
 * after which the whole pipe breaks, as a dropped link or a killed peer would.
 */
class Channel {
  private readonly queue: Uint8Array[] = []
  private queued = 0
  private ended = false
  private error?: Error
  private readerWake?: () => void
  private writerWake?: () => void
  delivered = 0

  constructor (private readonly highWaterMark: number, private readonly onCut: (delivered: number) => number | undefined) {}

  async write (chunks: Uint8Array[]): Promise<void> {
    if (this.error !== undefined) throw this.error
    if (this.ended) throw new Error('write after close')
    for (const c of chunks) {
      if (c.byteLength === 0) continue
      const limit = this.onCut(this.delivered)
      if (limit !== undefined && this.delivered + c.byteLength >= limit) {
        const head = c.subarray(0, limit - this.delivered)
        if (head.byteLength > 0) this.push(head)
        this.cut()
        return
      }
      // Copy: the writer may reuse its buffers once write resolves, as a socket would allow.
      this.push(c.slice())
    }
    while (this.queued >= this.highWaterMark && this.error === undefined) {
      await new Promise<void>(resolve => { this.writerWake = resolve })
    }
    if (this.error !== undefined) throw this.error
  }

  private push (c: Uint8Array): void {
    this.queue.push(c)
    this.queued += c.byteLength
    this.delivered += c.byteLength
    this.wakeReader()
  }

  /** The cut callback fires this through the owning pipe. */
  cutHook?: () => void

  private cut (): void {
    this.cutHook?.()
  }

  end (): void {
    this.ended = true
    this.wakeReader()
  }

  fail (err: Error): void {
    if (this.error !== undefined) return
    this.error = err
    this.wakeReader()
    const w = this.writerWake; this.writerWake = undefined; w?.()
  }

  private wakeReader (): void {
    const w = this.readerWake; this.readerWake = undefined; w?.()
  }

  async * read (): AsyncGenerator<Uint8Array> {
    for (;;) {
      // Bytes already queued before a break were "in the socket buffer" and are lost with it.
      if (this.error !== undefined) throw this.error
      const c = this.queue.shift()
      if (c !== undefined) {
        this.queued -= c.byteLength
        if (this.queued < this.highWaterMark) { const w = this.writerWake; this.writerWake = undefined; w?.() }
        yield c
        continue
      }
      if (this.ended) return
      await new Promise<void>(resolve => { this.readerWake = resolve })
    }
  }
}

export interface PipeOptions {
  highWaterMark?: number
  /** Break the pipe once this many bytes went from side a to side b. */
  cutAtAtoB?: number
  /** Break the pipe once this many bytes went from side b to side a. */
  cutAtBtoA?: number
}

export interface MemoryPipe {
  a: ByteDuplex
  b: ByteDuplex
  /** Breaks both directions now. */
  break(reason?: string): void
  readonly bytesAtoB: number
  readonly bytesBtoA: number
}

export function memoryPipe (opts: PipeOptions = {}): MemoryPipe {
  const hwm = opts.highWaterMark ?? 256 * 1024
  const ab = new Channel(hwm, () => opts.cutAtAtoB)
  const ba = new Channel(hwm, () => opts.cutAtBtoA)
  const breakAll = (reason = 'link cut'): void => {
    const err = new FerryError(ErrorCode.TRUNCATED, reason)
    ab.fail(err)
    ba.fail(err)
  }
  ab.cutHook = () => breakAll()
  ba.cutHook = () => breakAll()
  const side = (out: Channel, inc: Channel): ByteDuplex => ({
    source: inc.read(),
    write: async chunks => { await out.write(chunks) },
    close: async () => { out.end() },
    // The peer of an aborted pipe sees a reset, not our reason (that travels in an Error frame if at all).
    abort: () => breakAll('connection reset by peer')
  })
  return {
    a: side(ab, ba),
    b: side(ba, ab),
    break: breakAll,
    get bytesAtoB () { return ab.delivered },
    get bytesBtoA () { return ba.delivered }
  }
}
