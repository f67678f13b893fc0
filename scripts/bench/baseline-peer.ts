// What both baseline peers share: their arguments and deadline, and the reader's byte count.
import { parseArgs } from 'node:util'

export interface PeerArgs {
  values: Record<string, string | undefined>
  total: number
  chunk: number
}

/** Parses argv: the shared options plus the string options `extra`; bad usage exits 2, and the peer exits 3 past its deadline. */
export function peerArgs (name: string, usage: string, extra: string[], required: string[] = []): PeerArgs {
  const parsed = parseArgs({
    options: {
      role: { type: 'string' },
      bytes: { type: 'string' },
      chunk: { type: 'string', default: String(256 * 1024) },
      /** Address to listen on / connect to: 127.0.0.1 unless the benchmark runs in a namespace testbed. */
      host: { type: 'string', default: '127.0.0.1' },
      'timeout-ms': { type: 'string', default: '600000' },
      ...Object.fromEntries(extra.map(k => [k, { type: 'string' as const }]))
    }
  })
  const values = parsed.values as Record<string, string | undefined>
  const total = Number(values.bytes)
  const chunk = Number(values.chunk)
  if (!Number.isSafeInteger(total) || total <= 0 || !Number.isSafeInteger(chunk) || chunk <= 0 || required.some(k => values[k] === undefined)) {
    process.stderr.write(`usage: ${name}.ts ${usage}\n`)
    process.exit(2)
  }
  // Our own deadline, besides the parent's: a wedged peer must never outlive the benchmark.
  setTimeout(() => { process.stderr.write(`${name} ${values.role ?? ''}: deadline passed\n`); process.exit(3) }, Number(values['timeout-ms'])).unref()
  return { values, total, chunk }
}

/** The reader's count: when the first byte came, when the last did, and never more than `total`. */
export class ByteCount {
  got = 0
  firstByte = 0
  done = 0
  constructor (private readonly total: number, private readonly now: () => number = () => performance.now()) {}

  /** Counts a chunk; true once exactly `total` bytes are in. */
  add (n: number): boolean {
    if (this.firstByte === 0) this.firstByte = this.now()
    this.got += n
    if (this.got > this.total) throw new Error(`received ${this.got} bytes, more than the ${this.total} expected`)
    if (this.got === this.total) this.done = this.now()
    return this.got === this.total
  }

  /** Throws unless the whole count arrived (`what` ended early). */
  expectDone (what: string): void {
    if (this.done === 0) throw new Error(`${what} ended after ${this.got} of ${this.total} bytes`)
  }

  mbPerSec (since: number): number {
    return this.got / 1e6 / ((this.done - since) / 1000)
  }
}
