import { createHash } from 'node:crypto'

/** An incremental sha256, as the protocol's digests use it. */
export interface Sha256 {
  update (data: Uint8Array): unknown
  digest (): Uint8Array
}

/**
 * node:crypto's sha256 (OpenSSL, with the CPU's SHA instructions where it has them: several times the pure
 * JavaScript one's speed; docs/performance.md). Browser bundles get sha256-browser.ts instead: the page's build swaps it
 * (scripts/build/page.ts), and the package's "browser" field tells an app's bundler to.
 */
export function createSha256 (): Sha256 {
  return createHash('sha256')
}
