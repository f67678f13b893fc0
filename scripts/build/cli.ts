// Bundles the CLI (src/cli/main.ts) with esbuild into dist/cli/: ferry.js, which bin/ferry.js runs, and
// the chunks each command loads when it runs.
//
// Why a bundle: one file per command, where the library's plain modules and their packages are hundreds;
// the CLI starts faster and holds less. Why chunks: `ferry --help` should not parse the transfer code.
import { build } from 'esbuild'
import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { DIST, ROOT } from './paths.js'

// Two levels below the root, as src/cli/ is: modules that find files from import.meta.url (bin/ferry.js,
// the browser phone's page) resolve the same from the bundle as from the sources.
export const CLI_DIR = join(DIST, 'cli')
export const CLI_ENTRY = join(CLI_DIR, 'ferry.js')
// Native addons stay packages (node-datachannel is WebRTC's). WebRTC itself is bundled into a chunk of
// its own (src/net/transports.ts imports it when asked for), which only a process that uses WebRTC
// loads: left as packages, resolving and compiling its few hundred modules one by one took Node longer
// than all the rest of a sender's start before it could show its code.
// playwright-core (a development dependency) only for `ferry demo --web`, which says so when it is missing.
const EXTERNAL = ['better-sqlite3', 'node-datachannel', 'playwright-core']

/**
 * `text` with every UTF-16 unit above U+00FF written as a `\uXXXX` escape. V8 keeps a module's source
 * for as long as the process runs, and one character beyond Latin-1 makes the whole of it a two-byte
 * string: a few mathematical signs in @noble/curves' doc comments, which esbuild keeps, doubled the
 * heap the bundle's source takes in every process. Code has none (esbuild escapes them), and where one
 * appeared the escape would mean the same in a string, a regular expression or an identifier; in a
 * comment it is just text.
 */
export function latin1Source (text: string): string {
  return text.replace(/[^\u0000-\u00ff]/g, c => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

export interface CliBuild { files: string[], bytes: number }

/**
 * Bundles the CLI into dist/cli/. Each file is written whole under a temporary name and renamed, the
 * entry last, so a `ferry` started meanwhile runs either build; files of an older build are removed.
 */
export async function buildCli (): Promise<CliBuild> {
  const result = await build({
    entryPoints: { ferry: join(ROOT, 'src', 'cli', 'main.ts') },
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outdir: CLI_DIR,
    chunkNames: '[name]-[hash]',
    external: EXTERNAL,
    // Bundled CommonJS packages call require() for Node's built-ins.
    banner: { js: "import { createRequire as __ferryRequire } from 'node:module'; const require = __ferryRequire(import.meta.url);" },
    write: false,
    logLevel: 'silent',
    absWorkingDir: ROOT
  })
  mkdirSync(CLI_DIR, { recursive: true })
  const outputs = [...result.outputFiles].sort((a, b) => Number(a.path === CLI_ENTRY) - Number(b.path === CLI_ENTRY))
  let bytes = 0
  for (const f of outputs) {
    const text = latin1Source(f.text)
    bytes += text.length
    const tmp = `${f.path}.${process.pid}.tmp`
    writeFileSync(tmp, text)
    renameSync(tmp, f.path)
  }
  const keep = new Set(outputs.map(f => basename(f.path)))
  for (const name of readdirSync(CLI_DIR)) if (!keep.has(name) && !name.endsWith('.tmp')) rmSync(join(CLI_DIR, name), { force: true })
  return { files: outputs.map(f => f.path), bytes }
}
