// bin/ferry.js: the CLI from its build, the sources through tsx on request, and a clear word when
// either is not there, or when SQLite's native module is not (never a stack trace).
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const BIN = join(ROOT, 'bin', 'ferry.js')

afterAll(cleanupTempDirs)

const ferry = (bin: string, args: string[], env: NodeJS.ProcessEnv = {}): ReturnType<typeof spawnSync> =>
  spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, ...env }, timeout: 60_000 })

describe('bin/ferry.js', () => {
  it('runs the built CLI', () => {
    const r = ferry(BIN, ['--help'])
    expect(r.status, String(r.stderr)).toBe(0)
    expect(r.stdout).toMatch(/^ferry: move a phone's chat history/)
  })

  it('runs the sources through tsx with FERRY_TSX=1', () => {
    const r = ferry(BIN, ['seed', '--help'], { FERRY_TSX: '1' })
    expect(r.status, String(r.stderr)).toBe(0)
    expect(r.stdout).toMatch(/Usage: ferry seed/)
  })

  it('says how to build when there is no build, and that FERRY_TSX=1 needs a clone', () => {
    // A package folder with bin/ but neither dist/ nor src/ nor tsx.
    const pkg = tempDir('ferry-bin-')
    mkdirSync(join(pkg, 'bin'))
    cpSync(BIN, join(pkg, 'bin', 'ferry.js'))
    cpSync(join(ROOT, 'package.json'), join(pkg, 'package.json'))
    const notBuilt = ferry(join(pkg, 'bin', 'ferry.js'), ['--help'])
    expect(notBuilt.status).toBe(1)
    expect(notBuilt.stderr).toBe('ferry: the CLI is not built (dist/cli/ferry.js is missing): run `npm run build` in the repository\n')
    const noTsx = ferry(join(pkg, 'bin', 'ferry.js'), ['--help'], { FERRY_TSX: '1' })
    expect(noTsx.status).toBe(1)
    expect(noTsx.stderr).toMatch(/^ferry: FERRY_TSX=1 runs the sources through tsx, which only a clone of the repository has/)
  })

  /**
   * An install of the package whose better-sqlite3 has no native module, as npm leaves it when it skips
   * install scripts (--ignore-scripts, or npm 12 where the app did not allow it): every other dependency
   * is this repository's, better-sqlite3 a copy of its JavaScript alone. `broken` puts a file there that
   * is no library, as a module built for another machine would load.
   */
  function installWithoutSqlite (broken: boolean): string {
    const pkg = tempDir('ferry-nosqlite-')
    for (const d of ['bin', 'dist']) cpSync(join(ROOT, d), join(pkg, d), { recursive: true })
    cpSync(join(ROOT, 'package.json'), join(pkg, 'package.json'))
    const modules = join(pkg, 'node_modules')
    mkdirSync(modules)
    for (const name of readdirSync(join(ROOT, 'node_modules'))) {
      if (name !== 'better-sqlite3' && name !== '.bin') symlinkSync(join(ROOT, 'node_modules', name), join(modules, name))
    }
    const sqlite = join(modules, 'better-sqlite3')
    for (const f of ['package.json', 'lib']) cpSync(join(ROOT, 'node_modules/better-sqlite3', f), join(sqlite, f), { recursive: true })
    if (broken) {
      mkdirSync(join(sqlite, 'build/Release'), { recursive: true })
      writeFileSync(join(sqlite, 'build/Release/better_sqlite3.node'), 'not a shared library')
    }
    return pkg
  }

  it('says how to build SQLite when its native module is missing or does not load, and the next run, built, works', () => {
    for (const broken of [false, true]) {
      const pkg = installWithoutSqlite(broken)
      const store = join(tempDir('ferry-nosqlite-store-'), 'phone')
      const r = ferry(join(pkg, 'bin', 'ferry.js'), ['seed', '--profile', 'tiny', '--store', store])
      expect(r.status, String(r.stderr)).toBe(1)
      expect(r.stderr).toMatch(broken
        ? /^ferry: .*: SQLite's native module \(better-sqlite3\) does not load \(.*better_sqlite3\.node.*\)\. To build it again, run `npm rebuild better-sqlite3` in the app's folder/
        : /^ferry: .*: SQLite's native module \(better-sqlite3\) is not built: its install script did not run\. To build it, run `npm rebuild better-sqlite3` in the app's folder \(where npm blocks install scripts, allow this one first: `npm install-scripts approve better-sqlite3`\) \[STORE\]\n$/)
      expect(r.stderr).not.toMatch(/\n\s+at |Could not locate the bindings file/)
      // Once SQLite is built (here: this repository's install), the same command on the same folder works.
      const again = ferry(BIN, ['seed', '--profile', 'tiny', '--store', store])
      expect(again.status, String(again.stderr)).toBe(0)
      expect(existsSync(join(store, 'history.db'))).toBe(true)
    }
  })
})
