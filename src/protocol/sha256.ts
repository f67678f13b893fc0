import { createHash } from 'node:crypto'

/** An incremental sha256, as the protocol's digests use it. */
export interface Sha256 {
  update (data: Uint8Array): unknown
  digest (): Uint8Array
}

/**
 * node:crypto's sha256 (SHA-NI here: a million messages digest in ~0.1 s, against ~1 s for the pure
 * JavaScript one). Browser bundles get sha256-browser.ts instead: the page's build swaps it
 * (scripts/build/page.ts), and the package's "browser" field tells an app's bundler to.
 */
export function createSha256 (): Sha256 {
  return createHash('sha256')
}
