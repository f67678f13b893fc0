import { sha256 } from '@noble/hashes/sha2.js'
import type { Sha256 } from './sha256.js'

/** The browser's stand-in for sha256.ts: @noble/hashes, since a page has no node:crypto. */
export function createSha256 (): Sha256 {
  return sha256.create()
}
