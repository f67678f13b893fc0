import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'

// --since and --until as a person writes them. backup is the command under test: it checks its
// selection before it asks for a password or writes anything, and its refusal of a selection with no
// message names the instant a date was read as.

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const FERRY = join(ROOT, 'bin', 'ferry.js')
const FIXTURE = join(ROOT, 'test', 'fixtures', 'edge-cases.ndjson')

function ferry (args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null, stderr: string } {
  const r = spawnSync(process.execPath, [FERRY, ...args], { encoding: 'utf8', cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  return { status: r.status, stderr: r.stderr }
}

const dir = tempDir()
const store = join(dir, 'phone')
const out = join(dir, 'b.ferrybak')
const backup = (...flags: string[]): string[] => ['backup', '--store', store, '--out', out, '--no-password', ...flags]

beforeAll(() => {
  expect(ferry(['import', FIXTURE, '--store', store]).status).toBe(0)
}, 60_000)

afterAll(() => cleanupTempDirs())

describe('date flags', () => {
  it('refuse a day the month does not have, rather than rolling it into the next month', () => {
    const r = ferry(backup('--since', '2024-02-30'))
    expect(r.stderr).toBe('ferry: --since: 2024-02-30 is not a date (February 2024 has 29 days) [BAD_INPUT]\n')
    expect(r.status).toBe(2)
    const t = ferry(backup('--until', '2023-02-29T10:00Z'))
    expect(t.stderr).toBe('ferry: --until: 2023-02-29T10:00Z is not a date (February 2023 has 28 days) [BAD_INPUT]\n')
    expect(t.status).toBe(2)
    expect(existsSync(out)).toBe(false)
  })

  it('read a date alone and a time without a zone alike: on this machine\'s clock', () => {
    for (const since of ['2030-01-01', '2030-01-01T00:00']) {
      const r = ferry(backup('--since', since), { TZ: 'Asia/Tokyo' })
      expect(r.stderr).toBe('ferry: no message on this phone is in the selection (every chat from 2029-12-31T15:00:00.000Z): nothing to back up [BAD_INPUT]\n')
      expect(r.status).toBe(2)
    }
    const zoned = ferry(backup('--since', '2030-01-01T00:00Z'), { TZ: 'Asia/Tokyo' })
    expect(zoned.stderr).toMatch(/every chat from 2030-01-01T00:00:00\.000Z/)
  })

  it('--help says which clock a date is read on', () => {
    const r = spawnSync(process.execPath, [FERRY, 'send', '--help'], { encoding: 'utf8', cwd: ROOT })
    expect(r.stdout).toMatch(/--since DATE .*2024-01-31 \(its midnight\) or\s+2024-01-31T18:00, in this machine's time zone, or with a zone of its\s+own: 2024-01-31T18:00Z/)
  })
})
