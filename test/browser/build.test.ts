// The page's bundle: built by esbuild for the browser, rebuilt by `ferry web` only when stale.
import { readFileSync, utimesSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { buildWeb, ensureWebBuilt, isFresh } from '../../src/web/build.js'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'

afterAll(cleanupTempDirs)

describe('the browser bundle', () => {
  it('bundles the page without Node built-ins and knows when it is stale', async () => {
    const out = tempDir('ferry-web-')
    expect(isFresh(out)).toBe(false)
    const r = await buildWeb(out)
    expect(r.bytes).toBeGreaterThan(100_000)
    const app = readFileSync(join(out, 'app.js'), 'utf8')
    // A Node import left in the bundle would fail in the browser at load time.
    expect(app).not.toMatch(/from\s*["']node:/)
    expect(readFileSync(join(out, 'index.html'), 'utf8')).toContain('src="app.js"')
    expect(isFresh(out)).toBe(true)
    expect((await ensureWebBuilt(out)).built).toBe(false)
    // A bundle older than its sources (here: made older than them) is rebuilt.
    utimesSync(join(out, 'app.js'), new Date(0), new Date(0))
    expect(isFresh(out)).toBe(false)
    expect((await ensureWebBuilt(out)).built).toBe(true)
    expect(isFresh(out)).toBe(true)
  })
})
