// Finds (and, when missing or stale, builds) the CLI as one JavaScript file: dist/cli/ferry.mjs, bundled
// from src/cli/main.ts by esbuild. Plain JavaScript, because it runs before anything can load TypeScript.
//
// Why a bundle: running the sources through tsx costs every `ferry` process ~50 MiB of RSS (tsx's loader
// runs in a worker thread with its own V8 heap, holding the transpiled sources) and start-up time. An app
// embedding Ferry ships compiled JavaScript; the CLI, its tests and the benchmark now run the same kind.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
// Two levels below the root, as src/cli/main.ts is: modules that find files from import.meta.url
// (bin/ferry.js, web-dist/, scripts/lib/) resolve the same from the bundle as from the sources.
const OUT_DIR = join(ROOT, 'dist', 'cli')
export const BUNDLE = join(OUT_DIR, 'ferry.mjs')
const INPUTS = join(OUT_DIR, 'inputs.json')
// Native addons stay packages, and so do the modules loaded only on demand: WebRTC (a native module and
// ~280 packages; a bundle would hoist its static imports and load them in every process) and esbuild
// (`ferry web` builds the page with it).
const EXTERNAL = ['better-sqlite3', '@libp2p/webrtc', 'esbuild', 'tsx']

/** True when the bundle exists and no file it was built from (sources and packages alike) is newer. */
export function isFresh () {
  if (!existsSync(BUNDLE) || !existsSync(INPUTS)) return false
  try {
    const builtAt = statSync(BUNDLE).mtimeMs
    const inputs = JSON.parse(readFileSync(INPUTS, 'utf8'))
    return inputs.every(p => statSync(join(ROOT, p)).mtimeMs <= builtAt)
  } catch {
    return false // an input was deleted or renamed
  }
}

/**
 * The bundle's text with every UTF-16 unit above U+00FF written as a `\uXXXX` escape. V8 keeps a
 * module's source for as long as the process runs, and one character beyond Latin-1 makes the whole of
 * it a two-byte string: the 2.7 MB bundle held 5.4 MB of heap in every process, for a few mathematical
 * signs in @noble/curves' doc comments that esbuild keeps. Its code has none (esbuild escapes them by
 * default), and where one appeared the escape would mean the same in a string, a regular expression or
 * an identifier; in a comment it is just text.
 */
export function latin1Source (text) {
  return text.replace(/[^\u0000-\u00ff]/g, c => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** Bundles the CLI. Concurrent builders (parallel tests) each write a temporary file and rename it. */
export async function buildCli () {
  const { build } = await import('esbuild')
  const result = await build({
    entryPoints: [join(ROOT, 'src', 'cli', 'main.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: EXTERNAL,
    // Bundled CommonJS packages call require() for Node's built-ins.
    banner: { js: "import { createRequire as __ferryRequire } from 'node:module'; const require = __ferryRequire(import.meta.url);" },
    metafile: true,
    write: false,
    logLevel: 'silent',
    absWorkingDir: ROOT,
    outfile: BUNDLE
  })
  mkdirSync(OUT_DIR, { recursive: true })
  const tmp = `${BUNDLE}.${process.pid}.tmp`
  writeFileSync(tmp, latin1Source(result.outputFiles[0].text))
  // The input list first: a reader that sees the new bundle must not judge it by an older list.
  const inputsTmp = `${INPUTS}.${process.pid}.tmp`
  writeFileSync(inputsTmp, JSON.stringify(Object.keys(result.metafile.inputs)))
  renameSync(inputsTmp, INPUTS)
  renameSync(tmp, BUNDLE)
}

/**
 * The module to run the CLI from: the bundle, built first when stale, or undefined to run the sources
 * through tsx (FERRY_TSX=1, for stack traces into the .ts files; or when esbuild is not installed).
 *
 * The check runs in a child process (~40 ms). Run in the process that goes on to transfer, its ~770
 * statSync calls put that process's hot path in a slow mode: on the media set, 15 of 16 transfers took
 * 25-45% longer, against 0 of 20 without them. Asynchronous stat calls did much the same (6 of 7), so
 * it is the work, not the API: how V8 compiled the transfer depended on it (docs/performance.md,
 * round 10).
 */
export async function cliBundle () {
  if (process.env.FERRY_TSX === '1') return undefined
  const check = spawnSync(process.execPath, [fileURLToPath(import.meta.url)], { stdio: ['ignore', 'ignore', 'inherit'] })
  if (check.status === 0) return BUNDLE
  if (check.status === NO_ESBUILD) return undefined
  throw new Error(`building the CLI bundle failed (${check.error?.message ?? `exit ${check.status ?? check.signal}`})`)
}

const NO_ESBUILD = 3

// Run as a script (by cliBundle): makes the bundle fresh, exits 0 when it is, NO_ESBUILD without esbuild.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    if (!isFresh()) await buildCli()
  } catch (err) {
    if (err?.code !== 'ERR_MODULE_NOT_FOUND') throw err
    process.exitCode = NO_ESBUILD
  }
}
