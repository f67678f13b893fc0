import { sha256 } from '@noble/hashes/sha2.js'
import { createSHA256, type IHasher } from 'hash-wasm'
import type { Sha256 } from './sha256.js'

// The browser's stand-in for sha256.ts (a page has no node:crypto). A page hashes every media byte it
// receives and every message it reads back, on its one thread: WebAssembly (hash-wasm) does that at
// about twice the speed of JavaScript. WebCrypto cannot: its digest is one-shot and asynchronous, and a
// plain-http LAN origin has none. Making a WebAssembly hasher is asynchronous while the protocol's
// hashers are made synchronously, so a few are made ahead and lent out; when none is ready (the first
// moments of the page, or a page whose policy forbids WebAssembly) @noble/hashes does the work.

/** Hashers kept ready; more are made as they are lent out (one left unfinished is simply dropped). */
const SPARE = 4

const spare: IHasher[] = []
let making = 0
let unavailable = false
let first: Promise<void> | undefined

function refill (): void {
  while (!unavailable && spare.length + making < SPARE) {
    making++
    const made = createSHA256().then(h => { spare.push(h) }, () => { unavailable = true }).finally(() => { making-- })
    first ??= made
  }
}

refill()

/** Resolves once the first WebAssembly hasher is made (or cannot be): true when hashing is fast. */
export async function sha256Ready (): Promise<boolean> {
  await first
  return !unavailable
}

/** Lends a WebAssembly hasher for one digest: it goes back to the spares once it gave its digest. */
class WasmSha256 implements Sha256 {
  private h?: IHasher

  constructor (h: IHasher) {
    this.h = h.init()
  }

  update (data: Uint8Array): this {
    this.hasher().update(data)
    return this
  }

  digest (): Uint8Array {
    const h = this.hasher()
    const out = h.digest('binary')
    // Never touched again through this object: it may already be someone else's.
    this.h = undefined
    spare.push(h)
    return out
  }

  private hasher (): IHasher {
    if (this.h === undefined) throw new Error('sha256: digest() was already called')
    return this.h
  }
}

export function createSha256 (): Sha256 {
  const h = spare.pop()
  refill()
  return h === undefined ? sha256.create() : new WasmSha256(h)
}

/**
 * sha256.ts's prefixDigests: @noble/hashes, whose state can be cloned at each end (a lent WebAssembly
 * hasher's cannot, synchronously); one pass over the bytes still beats digesting every prefix anew.
 */
export function prefixDigests (bytes: Uint8Array, ends: number[]): Uint8Array[] {
  const h = sha256.create()
  const out: Uint8Array[] = []
  let at = 0
  for (const end of ends) {
    h.update(bytes.subarray(at, end))
    at = end
    out.push(h.clone().digest())
  }
  return out
}
