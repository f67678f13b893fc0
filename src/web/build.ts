// Node side of the browser phone: bundles src/web/main.ts with esbuild into a static directory
// (index.html + app.js) that `ferry web` serves. Not part of the page.
import { build, type Metafile, type Plugin } from 'esbuild'
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const WEB_SRC = join(ROOT, 'src', 'web')
/** Gitignored; rebuilt when missing or older than any of its inputs. */
export const DEFAULT_OUT_DIR = join(ROOT, 'web-dist')
const META = 'meta.json'

export interface BuildResult { outDir: string, bytes: number, ms: number, built: boolean }

/** The page has no node:crypto: the protocol's sha256 module is swapped for its @noble/hashes twin. */
export const browserSha256: Plugin = {
  name: 'browser-sha256',
  setup (b) {
    b.onResolve({ filter: /^\.\/sha256\.js$/ }, args => ({ path: join(args.resolveDir, 'sha256-browser.ts') }))
  }
}

/** Bundles the page into `outDir`. */
export async function buildWeb (outDir = DEFAULT_OUT_DIR): Promise<BuildResult> {
  const t0 = performance.now()
  mkdirSync(outDir, { recursive: true })
  const result = await build({
    entryPoints: [join(WEB_SRC, 'main.ts')],
    outfile: join(outDir, 'app.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    plugins: [browserSha256],
    target: ['chrome110', 'firefox115', 'safari16'],
    minify: true,
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'silent',
    absWorkingDir: ROOT
  })
  copyFileSync(join(WEB_SRC, 'index.html'), join(outDir, 'index.html'))
  writeFileSync(join(outDir, META), JSON.stringify(result.metafile))
  return { outDir, bytes: statSync(join(outDir, 'app.js')).size, ms: performance.now() - t0, built: true }
}

/** Whether `outDir` holds a bundle at least as new as every file it was built from (and index.html). */
export function isFresh (outDir = DEFAULT_OUT_DIR): boolean {
  const app = join(outDir, 'app.js')
  const metaPath = join(outDir, META)
  if (!existsSync(app) || !existsSync(metaPath) || !existsSync(join(outDir, 'index.html'))) return false
  const builtAt = statSync(app).mtimeMs
  let meta: Metafile
  try {
    meta = JSON.parse(readFileSync(metaPath, 'utf8')) as Metafile
  } catch {
    return false
  }
  const inputs = [...Object.keys(meta.inputs).map(p => join(ROOT, p)), join(WEB_SRC, 'index.html')]
  return inputs.every(p => existsSync(p) && statSync(p).mtimeMs <= builtAt)
}

/** Builds only when the bundle is missing or stale. */
export async function ensureWebBuilt (outDir = DEFAULT_OUT_DIR): Promise<BuildResult> {
  if (isFresh(outDir)) return { outDir, bytes: statSync(join(outDir, 'app.js')).size, ms: 0, built: false }
  return await buildWeb(outDir)
}
