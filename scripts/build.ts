// npm run build: the package's dist/, from src/. `npm ci` and `npm install` in a clone run it (prepare).
import { rmSync } from 'node:fs'
import { join, relative } from 'node:path'
import { parseArgs } from 'node:util'
import { buildCli, CLI_ENTRY } from './build/cli.js'
import { buildLibrary } from './build/library.js'
import { buildPage, PAGE_DIR } from './build/page.js'
import { DIST, isStale, ROOT } from './build/paths.js'
import { usageError } from './lib/script-args.js'

const USAGE = `Usage: npm run build [-- [--if-stale] PART...]

Builds the package into dist/ from src/:
  lib    the library: ESM JavaScript and .d.ts (tsc), what 'chat-ferry' and 'chat-ferry/node' import
  cli    the CLI bin/ferry.js runs: an esbuild bundle in dist/cli/
  page   the browser phone 'ferry web' serves: dist/browser-phone/

With no PART, all three, into a fresh dist/.

Options:
  --if-stale   build a part only when it is missing or older than a source (the scripts that run the
               CLI, such as npm run bench, do this first)`

const PARTS = { lib: join(DIST, 'index.js'), cli: CLI_ENTRY, page: join(PAGE_DIR, 'app.js') }
type Part = keyof typeof PARTS

let args: { positionals: string[], values: { 'if-stale'?: boolean, help?: boolean } }
try {
  args = parseArgs({ options: { 'if-stale': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true })
} catch (err) {
  usageError(USAGE, (err as Error).message)
}
const { positionals, values } = args
if (values.help === true) {
  process.stdout.write(USAGE + '\n')
  process.exit(0)
}
for (const a of positionals) if (!(a in PARTS)) usageError(USAGE, `unknown part '${a}'`)
const all = positionals.length === 0
const parts = (all ? Object.keys(PARTS) : positionals).filter(p => values['if-stale'] !== true || isStale(PARTS[p as Part])) as Part[]
if (all && values['if-stale'] !== true) rmSync(DIST, { recursive: true, force: true })

// Progress on stderr: `npm pack --json` runs this (prepare) and its stdout must stay JSON.
const say = (s: string): void => { process.stderr.write(s + '\n') }
const timed = async <T>(what: string, f: () => T | Promise<T>): Promise<T> => {
  const t0 = performance.now()
  const r = await f()
  say(`built ${what} in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
  return r
}
try {
  if (parts.includes('lib')) await timed('the library (dist/)', buildLibrary)
  if (parts.includes('cli')) await timed('the CLI (dist/cli/)', buildCli)
  if (parts.includes('page')) {
    const p = await timed('the browser phone', buildPage)
    say(`  ${relative(ROOT, p.outDir)}/app.js: ${(p.bytes / 1e6).toFixed(2)} MB`)
  }
} catch (err) {
  process.stderr.write(`build failed: ${(err as Error).message}\n`)
  process.exit(1)
}
