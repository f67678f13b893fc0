// Bundles the browser phone (src/web/main.ts and index.html) with esbuild into dist/browser-phone/, the
// static directory `ferry web` serves. A build step, not part of the page.
import { build, type Plugin } from 'esbuild'
import { copyFileSync, mkdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { DIST, ROOT, SRC } from './paths.js'

export const WEB_SRC = join(SRC, 'web')
/** Where `ferry web` (src/cli/web.ts) looks for the page. */
export const PAGE_DIR = join(DIST, 'browser-phone')

export interface PageBuild { outDir: string, bytes: number, ms: number }

/**
 * The page has no node:crypto: the protocol's sha256 module is swapped for its @noble/hashes twin (the
 * package's "browser" field does the same for apps bundling the built library).
 */
export const browserSha256: Plugin = {
  name: 'browser-sha256',
  setup (b) {
    b.onResolve({ filter: /^\.\/sha256\.js$/ }, args => ({ path: join(args.resolveDir, 'sha256-browser.ts') }))
  }
}

/** Bundles the page into `outDir`. */
export async function buildPage (outDir = PAGE_DIR): Promise<PageBuild> {
  const t0 = performance.now()
  mkdirSync(outDir, { recursive: true })
  await build({
    entryPoints: [join(WEB_SRC, 'main.ts')],
    outfile: join(outDir, 'app.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    plugins: [browserSha256],
    target: ['chrome110', 'firefox115', 'safari16'],
    minify: true,
    sourcemap: 'linked',
    logLevel: 'silent',
    absWorkingDir: ROOT
  })
  copyFileSync(join(WEB_SRC, 'index.html'), join(outDir, 'index.html'))
  return { outDir, bytes: statSync(join(outDir, 'app.js')).size, ms: performance.now() - t0 }
}
