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

/**
 * The sha256 of bytes[0, end) for each of `ends` (ascending): one hash carried along and copied at each
 * end, so all the prefixes cost one pass over the bytes.
 */
export function prefixDigests (bytes: Uint8Array, ends: number[]): Uint8Array[] {
  const h = createHash('sha256')
  const out: Uint8Array[] = []
  let at = 0
  for (const end of ends) {
    h.update(bytes.subarray(at, end))
    at = end
    out.push(h.copy().digest())
  }
  return out
}
