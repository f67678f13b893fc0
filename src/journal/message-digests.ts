// A set of message digests (writtenDigest: 8 bytes of a message's encoding), the per-message half of the
// three-way rule (docs/design-notes.md, "What the new phone deleted stays deleted"). Held sorted in one
// typed array and looked up by binary search: a conversation of a few hundred thousand messages weighs
// 8 bytes a message, where a Set of their hex strings would weigh ten times more. Kept in the journal
// big-endian, so that a journal moved between machines reads the same.

/** Bytes of one digest (WRITTEN_DIGEST_BYTES; not imported, so that this module stands alone). */
const DIGEST = 8

/** Where a 64-bit value's high half sits among its two 32-bit words in this machine's byte order. */
const HI = new Uint8Array(new BigUint64Array([1n]).buffer)[0] === 1 ? 1 : 0

function valueOf (d: Uint8Array, at = 0): bigint {
  const hi = ((d[at] << 24) | (d[at + 1] << 16) | (d[at + 2] << 8) | d[at + 3]) >>> 0
  const lo = ((d[at + 4] << 24) | (d[at + 5] << 16) | (d[at + 6] << 8) | d[at + 7]) >>> 0
  return (BigInt(hi) << 32n) | BigInt(lo)
}

/** Sorts `values` in place and returns its distinct values. */
function distinct (values: BigUint64Array): BigUint64Array {
  values.sort()
  let n = 0
  for (let i = 0; i < values.length; i++) if (n === 0 || values[i] !== values[n - 1]) values[n++] = values[i]
  return values.subarray(0, n)
}

export class MessageDigests {
  private constructor (private readonly sorted: BigUint64Array) {}

  static readonly EMPTY = new MessageDigests(new BigUint64Array(0))

  /** The set a journal value holds; undefined when the value is damaged (not whole digests). */
  static fromPacked (packed: Uint8Array): MessageDigests | undefined {
    if (packed.byteLength % DIGEST !== 0) return undefined
    const values = new BigUint64Array(packed.byteLength / DIGEST)
    for (let i = 0; i < values.length; i++) values[i] = valueOf(packed, i * DIGEST)
    return new MessageDigests(distinct(values))
  }

  get size (): number {
    return this.sorted.length
  }

  has (digest: Uint8Array): boolean {
    const v = valueOf(digest)
    let lo = 0
    let hi = this.sorted.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.sorted[mid] < v) lo = mid + 1
      else hi = mid
    }
    return lo < this.sorted.length && this.sorted[lo] === v
  }

  /** The digests of both. */
  union (other: MessageDigests): MessageDigests {
    if (other.size === 0) return this
    if (this.size === 0) return other
    const all = new BigUint64Array(this.size + other.size)
    all.set(this.sorted)
    all.set(other.sorted, this.size)
    return new MessageDigests(distinct(all))
  }

  /** As the journal keeps it. */
  packed (): Uint8Array {
    const out = new Uint8Array(this.sorted.length * DIGEST)
    const view = new DataView(out.buffer)
    for (let i = 0; i < this.sorted.length; i++) view.setBigUint64(i * DIGEST, this.sorted[i], false)
    return out
  }

  /**
   * Collects digests one at a time, into a set once all are in. A read-back adds one for every message
   * it reads, so each goes in as its two 32-bit halves, written over the values' memory in the machine's
   * byte order: no bigint made for each.
   */
  static collector (): { add: (digest: Uint8Array) => void, done: () => MessageDigests } {
    let values = new BigUint64Array(64)
    let words = new Uint32Array(values.buffer)
    let n = 0
    return {
      add: d => {
        if (n === values.length) {
          const grown = new BigUint64Array(values.length * 2)
          grown.set(values)
          values = grown
          words = new Uint32Array(values.buffer)
        }
        const hi = (d[0] << 24) | (d[1] << 16) | (d[2] << 8) | d[3]
        const lo = (d[4] << 24) | (d[5] << 16) | (d[6] << 8) | d[7]
        words[2 * n + HI] = hi
        words[2 * n + 1 - HI] = lo
        n++
      },
      done: () => new MessageDigests(distinct(values.subarray(0, n)))
    }
  }
}
