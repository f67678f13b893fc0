// The browser's sha256 (src/protocol/sha256-browser.ts) in a real Chromium: WebAssembly hashers lent
// out for one digest each, @noble/hashes when none is ready. Both must give sha256, whatever the pieces.
import { build } from 'esbuild'
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ROOT } from '../e2e/helpers/ferry-cli.js'
import { chromiumUnavailable, launchChromium, type Browser } from './chromium.js'
import { cannotRun } from '../helpers/cannot-run.js'

const skip = cannotRun('browser sha256 tests', await chromiumUnavailable())

const ENTRY = `
import { createSha256, prefixDigests, sha256Ready } from './src/protocol/sha256-browser.ts'
window.sha = {
  ready: sha256Ready,
  prefixes: (bytes, ends) => prefixDigests(new Uint8Array(bytes), ends).map(d => Array.from(d, b => b.toString(16).padStart(2, '0')).join('')),
  /** Each input hashed in its pieces, several hashers open at once (interleaved), as the protocol does. */
  digests (inputs) {
    const hs = inputs.map(() => createSha256())
    const kinds = hs.map(h => h.constructor.name)
    const most = Math.max(...inputs.map(p => p.length))
    for (let i = 0; i < most; i++) inputs.forEach((pieces, k) => { if (i < pieces.length) hs[k].update(new Uint8Array(pieces[i])) })
    const hex = hs.map(h => Array.from(h.digest(), b => b.toString(16).padStart(2, '0')).join(''))
    let reused = 'no error'
    try { hs[0].update(new Uint8Array(1)) } catch (err) { reused = err.message }
    return { hex, kinds, reused }
  }
}
`

describe.skipIf(skip)('the browser\'s sha256', () => {
  let browser: Browser

  beforeAll(async () => { browser = await launchChromium() }, 120_000)
  afterAll(async () => { await browser?.close() })

  it('hashes in WebAssembly once ready, and agrees with sha256 on any pieces, with hashers interleaved', async () => {
    const out = await build({ stdin: { contents: ENTRY, resolveDir: ROOT, loader: 'js' }, bundle: true, format: 'iife', platform: 'browser', write: false, logLevel: 'silent', absWorkingDir: ROOT })
    const page = await browser.context.newPage()
    await page.setContent('<!doctype html><title>sha</title>')
    await page.addScriptTag({ content: out.outputFiles[0].text })
    expect(await page.evaluate(async () => await (window as unknown as { sha: { ready: () => Promise<boolean> } }).sha.ready())).toBe(true)

    const seed = Date.now() >>> 0
    console.log(`sha256-browser seed ${seed}`)
    let x = seed || 1
    const rand = (n: number): number => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return (x >>> 0) % n }
    // Sizes around the block (64) and the hasher's internal buffer edges, and empty pieces.
    const inputs = Array.from({ length: 6 }, () => Array.from({ length: 1 + rand(16) }, () => Array.from({ length: [0, 1, 55, 56, 63, 64, 65, 4096, 16384 + 7, 40_000][rand(10)] }, () => rand(256))))
    const got = await page.evaluate((inputs) => (window as unknown as { sha: { digests: (i: number[][][]) => { hex: string[], kinds: string[], reused: string } } }).sha.digests(inputs), inputs)
    const want = inputs.map(pieces => { const h = sha256.create(); for (const p of pieces) h.update(new Uint8Array(p)); return bytesToHex(h.digest()) })
    expect(got.hex).toEqual(want)
    // More hashers open at once than are kept ready: the first ones are WebAssembly's, the rest noble's.
    expect(got.kinds[0]).toBe('WasmSha256')
    expect(got.kinds.filter(k => k !== 'WasmSha256').length).toBeGreaterThan(0)
    // A lent hasher is someone else's once it gave its digest.
    expect(got.reused).toMatch(/already/)
    await page.close()
  }, 120_000)

  it('digests every prefix of a buffer in one pass as sha256 of each prefix (a leaf\'s kept runs)', async () => {
    const out = await build({ stdin: { contents: ENTRY, resolveDir: ROOT, loader: 'js' }, bundle: true, format: 'iife', platform: 'browser', write: false, logLevel: 'silent', absWorkingDir: ROOT })
    const page = await browser.context.newPage()
    await page.setContent('<!doctype html><title>sha</title>')
    await page.addScriptTag({ content: out.outputFiles[0].text })
    const bytes = Array.from({ length: 5000 }, (_, i) => (i * 131 + 7) & 0xff)
    // Ends around the block size, a repeated end (an empty step) and the whole buffer.
    const ends = [0, 1, 55, 64, 64, 65, 1000, 4096, 5000]
    const got = await page.evaluate(([bytes, ends]) => (window as unknown as { sha: { prefixes: (b: number[], e: number[]) => string[] } }).sha.prefixes(bytes, ends), [bytes, ends])
    expect(got).toEqual(ends.map(e => bytesToHex(sha256(new Uint8Array(bytes.slice(0, e))))))
    await page.close()
  }, 120_000)
})
