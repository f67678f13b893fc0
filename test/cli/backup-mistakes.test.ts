// `ferry backup` and `ferry restore` given what a person would try: '-' for standard output or input, a
// store whose media files are not all there. Each is a real process of the built CLI.
import { spawnSync } from 'node:child_process'
import { cpSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'
import { ferry, FERRY, jsonLines, ROOT } from '../helpers/ferry-sync.js'

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

describe('ferry backup of a store missing media files', () => {
  // The fixture names 5 media and brings the files of 4; one of those is then lost from the store's folder.
  const PHOTO = '74d55450ef8e1c75a5d13697fb9c63b39a9b9c7bc6cfade62b4a64dde88e4384'
  const lost = join(dir, 'lost')
  beforeAll(() => {
    cpSync(phone, lost, { recursive: true })
    rmSync(join(lost, 'media', PHOTO.slice(0, 2), PHOTO))
  })

  it('says how many files are missing and that the backup holds their messages without them', () => {
    const out = join(dir, 'lost.ferrybak')
    const r = ferry('backup', '--store', lost, '--out', out, '--no-password')
    expect(r.status).toBe(0)
    expect(r.stderr).toContain('\nwarning: 2 media files the chats name are not in this store (lost from its folder, or never brought in), ' +
      'so the backup holds their messages without them: restored, the chats show them as missing.\n')
    const j = ferry('backup', '--store', lost, '--out', out, '--no-password', '--json')
    expect(j.status).toBe(0)
    const events = jsonLines(j.stdout)
    expect(events[0]).toMatchObject({ event: 'backup', messages: 19, mediaFilesMissing: 2 })
    expect(events.filter(e => e.event === 'warning').map(e => e.warning)).toEqual(['no-password', 'media-missing'])
    // What it says is what the backup holds: restored, the messages are all there and the two files not.
    expect(ferry('restore', '--store', join(dir, 'from-lost'), '--in', out).status).toBe(0)
    expect(ferry('inspect', '--store', join(dir, 'from-lost')).stdout).toContain('media: 5 records; 3 files present (47 B), 2 missing')
  })

  it('a chat whose media are all there is backed up without the warning', () => {
    const r = ferry('backup', '--store', lost, '--out', join(dir, 'family.ferrybak'), '--no-password', '--chats', 'g-family', '--json')
    expect(r.status).toBe(0)
    expect(jsonLines(r.stdout)[0]).toMatchObject({ mediaFilesMissing: 0 })
    expect(r.stderr).not.toContain('media file')
  })
})
