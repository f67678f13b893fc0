// bin/ferry.js: the CLI from its build, the sources through tsx on request, and a clear word when
// either is not there (never a stack trace).
import { spawnSync } from 'node:child_process'
import { cpSync, mkdirSync } from 'node:fs'
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
})
