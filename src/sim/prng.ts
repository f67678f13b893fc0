import { createHash } from 'node:crypto'

// The simulator's randomness. Everything it makes must be bit-identical on every machine and run, so:
// - streams are seeded from (seed, label) through sha256, never from a clock or Math.random;
// - only integer ops and IEEE-exact arithmetic (+ - * / sqrt, floor) shape values: Math.log, exp and pow
//   are left to each engine's libm and could differ in the last bit, which would change a size or a ts;
// - each part of a history draws from its own labelled stream, so adding a draw in one place does not
//   shift every value after it elsewhere.

/** Version of the simulated content: bump it when a change is meant to alter generated histories. */
export const SIM_VERSION = 'ferry-sim/v1'

/** 32 bytes derived from the seed and a label: keys for media keystreams, seeds for PRNG streams. */
export function deriveKey (seed: number, label: string): Buffer {
  return createHash('sha256').update(`${SIM_VERSION}/${seed}/${label}`).digest()
}

/** sfc32: small, fast, passes PractRand, and needs nothing but 32-bit integer arithmetic. */
export class Rng {
  private a: number
  private b: number
  private c: number
  private d: number

  constructor (seed: number, label: string) {
    const k = deriveKey(seed, label)
    this.a = k.readUInt32LE(0)
    this.b = k.readUInt32LE(4)
    this.c = k.readUInt32LE(8)
    this.d = k.readUInt32LE(12) | 1
    for (let i = 0; i < 12; i++) this.u32()
  }

  u32 (): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0
    this.d = (this.d + 1) | 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) | 0
    this.c = (this.c << 21) | (this.c >>> 11)
    this.c = (this.c + t) | 0
    return t >>> 0
  }

  /** Uniform in [0, 1). */
  float (): number {
    return this.u32() / 4294967296
  }

  /** Uniform integer in [0, n). */
  int (n: number): number {
    return Math.floor(this.float() * n)
  }

  /** Uniform integer in [lo, hi]. */
  range (lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1)
  }

  chance (p: number): boolean {
    return this.float() < p
  }

  pick<T> (items: readonly T[]): T {
    return items[this.int(items.length)]
  }

  /** Index into `weights` with probability proportional to its weight. */
  weighted (weights: readonly number[]): number {
    let total = 0
    for (const w of weights) total += w
    let x = this.float() * total
    for (let i = 0; i < weights.length; i++) {
      x -= weights[i]
      if (x < 0) return i
    }
    return weights.length - 1
  }

  /**
   * A heavy-tailed factor in [0.05, 26] with mean 1 and median 0.3 (most values small, a few huge):
   * chattiness, conversation sizes, silences. A Pareto-like tail made by a division instead of pow().
   */
  heavy (): number {
    return 0.262 / (this.float() + 0.01) - 0.209
  }

  shuffle<T> (items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1)
      const t = items[i]
      items[i] = items[j]
      items[j] = t
    }
    return items
  }
}

/**
 * A keyed bijection on 32-bit integers (murmur3's finaliser after a keyed add): distinct inputs give
 * distinct outputs, so ids made from a counter are unique without remembering the ones already used.
 */
export function permute32 (x: number, key: number): number {
  x = (x + key) >>> 0
  x ^= x >>> 16
  x = Math.imul(x, 0x85ebca6b)
  x ^= x >>> 13
  x = Math.imul(x, 0xc2b2ae35)
  x ^= x >>> 16
  return x >>> 0
}

export function hex8 (x: number): string {
  return (x >>> 0).toString(16).toUpperCase().padStart(8, '0')
}
