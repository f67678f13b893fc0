import { createCipheriv, createHash } from 'node:crypto'

/** Deterministic pseudo-random bytes (AES-CTR keystream): fast, and neither compressible nor periodic. */
export function keystream (seed: number): (n: number) => Uint8Array {
  const key = createHash('sha256').update(`ferry-test-${seed}`).digest().subarray(0, 16)
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16))
  return n => cipher.update(Buffer.alloc(n))
}
