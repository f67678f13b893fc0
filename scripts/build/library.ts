// Compiles the library (what src/index.ts and src/node.ts reach) with tsc into dist/: ESM JavaScript and
// .d.ts files, laid out as src/ is.
import { execFileSync } from 'node:child_process'
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { DIST, ROOT, SRC } from './paths.js'

const GEN = join(SRC, 'wire', 'gen')
const DIST_GEN = join(DIST, 'wire', 'gen')
const LONG_IMPORT = 'import Long = require("long");\n'

/**
 * The generated declarations import `long`, the type of int64 fields, but with --force-number nothing
 * uses it, and `long` is protobufjs's dependency, not ours: an app whose package manager does not hoist
 * it (pnpm) would fail to type-check. The line goes only while nothing refers to Long.
 */
export function withoutUnusedLong (dts: string): string {
  const rest = dts.replace(LONG_IMPORT, '')
  return /\bLong\b/.test(rest) ? dts : rest
}

export function buildLibrary (): void {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
  try {
    execFileSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  } catch (err) {
    const out = err as { stdout?: Buffer, stderr?: Buffer }
    throw new Error(`tsc failed:\n${String(out.stdout ?? '')}${String(out.stderr ?? '')}`.trimEnd())
  }
  // The protobuf code is generated JavaScript with its own .d.ts (npm run proto:gen): tsc only reads it.
  mkdirSync(DIST_GEN, { recursive: true })
  copyFileSync(join(GEN, 'ferry.js'), join(DIST_GEN, 'ferry.js'))
  writeFileSync(join(DIST_GEN, 'ferry.d.ts'), withoutUnusedLong(readFileSync(join(GEN, 'ferry.d.ts'), 'utf8')))
}
