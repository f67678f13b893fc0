// The page's bundle: built by esbuild for the browser at build time (npm run build), rebuilt for the
// tests when its sources changed.
import { readFileSync, utimesSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { buildPage } from '../../scripts/build/page.js'
import { isStale } from '../../scripts/build/paths.js'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'

afterAll(cleanupTempDirs)

describe('the browser bundle', () => {
  it('bundles the page without Node built-ins and knows when it is stale', async () => {
    const out = tempDir('ferry-web-')
    const app = join(out, 'app.js')
    expect(isStale(app)).toBe(true)
    const r = await buildPage(out)
    expect(r.bytes).toBeGreaterThan(100_000)
    // A Node import left in the bundle would fail in the browser at load time.
    expect(readFileSync(app, 'utf8')).not.toMatch(/from\s*["']node:/)
    expect(readFileSync(join(out, 'index.html'), 'utf8')).toContain('src="app.js"')
    expect(isStale(app)).toBe(false)
    // A bundle older than its sources (here: made older than them) is stale.
    utimesSync(app, new Date(0), new Date(0))
    expect(isStale(app)).toBe(true)
  })
})
