// `ferry backup` and `ferry restore` given what a person would try: '-' for standard output or input.
// Each is a real process of the built CLI.
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'
import { ferry, FERRY, ROOT } from '../helpers/ferry-sync.js'

const FIXTURE = join(ROOT, 'test', 'fixtures', 'edge-cases.ndjson')
const dir = tempDir()
const phone = join(dir, 'phone')

/** The CLI run in `cwd`, where a file named '-' would land. */
function ferryIn (cwd: string, ...args: string[]): { status: number | null, stdout: string, stderr: string } {
  const r = spawnSync(process.execPath, [FERRY, ...args], { encoding: 'utf8', cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

beforeAll(() => {
  expect(ferry('import', FIXTURE, '--store', phone).status).toBe(0)
}, 60_000)

afterAll(() => cleanupTempDirs())

describe('ferry backup --out - and ferry restore --in -', () => {
  it('backup --out - is refused, saying a backup cannot go to standard output, and writes no file named -', () => {
    const cwd = tempDir()
    const r = ferryIn(cwd, 'backup', '--store', phone, '--out', '-', '--no-password')
    expect(r.stderr).toBe("ferry: --out - would write a file named '-': a backup cannot go to standard output, since 'ferry restore' reads it at random from a file on disk; name the file, like chats.ferrybak [BAD_INPUT]\n")
    expect(r.status).toBe(2)
    expect(r.stdout).toBe('')
    expect(readdirSync(cwd)).toEqual([])
  })

  it('restore --in - says standard input cannot carry a backup, not that no file is named -', () => {
    const r = ferryIn(tempDir(), 'restore', '--store', join(dir, 'new-phone'), '--in', '-')
    expect(r.stderr).toBe('ferry: --in -: a backup cannot come from standard input, since it is read at random; save it to a file on disk and name that [BAD_INPUT]\n')
    expect(r.status).toBe(2)
  })
})
