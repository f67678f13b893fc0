import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, tempDir } from '../../helpers/stores.js'

// `ferry import` on foreign exports, as a user runs it: the format detected, what was not mapped printed.

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const FERRY = join(ROOT, 'bin', 'ferry.js')
const FIXTURES = join(ROOT, 'test', 'fixtures')

afterAll(() => cleanupTempDirs())

function ferry (...args: string[]): { status: number | null, stdout: string, stderr: string } {
  const r = spawnSync(process.execPath, [FERRY, ...args], { encoding: 'utf8', cwd: ROOT })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

describe('ferry import of Telegram and WhatsApp exports', () => {
  const dir = tempDir()
  const store = join(dir, 'phone')

  it('detects a Telegram result.json and prints the counts and what it could not map', () => {
    const r = ferry('import', join(FIXTURES, 'telegram', 'result.json'), '--store', store)
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/imported 3 contacts, 2 conversations, 4 media records \(4 files copied\), 19 messages/)
    expect(r.stdout).toMatch(/format: telegram; not mapped: 1 contact without user id, 1 missing media file, 2 media not included in export, 1 poll, 1 contact card, /)
  })

  it('detects a WhatsApp .txt; --me names the exporter', () => {
    const r = ferry('import', join(FIXTURES, 'whatsapp', 'android', 'WhatsApp Chat with Family.txt'), '--store', store, '--me', 'Bob')
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/1 conversations, 4 media records \(4 files copied\), 15 messages/)
    expect(r.stdout).toMatch(/format: whatsapp; not mapped: 1 media omitted from export, 1 missing media file, 1 poll\n/)
    const again = ferry('import', join(FIXTURES, 'whatsapp', 'android-dmy', 'WhatsApp Chat with Dave.txt'), '--store', store)
    expect(again.stdout).toMatch(/format: whatsapp; not mapped: nothing\n/)
    const inspect = ferry('inspect', '--store', store)
    expect(inspect.stdout).toMatch(/\b8 contacts, 4 conversations, 38 messages/)
  })

  it('--format overrides detection; an unknown format or a missing file is bad usage and creates no store', () => {
    const fresh = join(dir, 'fresh')
    const forced = ferry('import', join(FIXTURES, 'telegram', 'result.json'), '--store', fresh, '--format', 'whatsapp')
    expect(forced.status).toBe(0)
    expect(forced.stdout).toMatch(/0 conversations, 0 media records \(0 files copied\), 0 messages/)
    const bad = ferry('import', join(FIXTURES, 'telegram', 'result.json'), '--store', join(dir, 'x'), '--format', 'signal')
    expect(bad.status).toBe(2)
    expect(bad.stderr).toMatch(/--format must be one of ndjson, telegram, whatsapp/)
    const missing = ferry('import', join(dir, 'nope.txt'), '--store', join(dir, 'y'))
    expect(missing.status).toBe(2)
    expect(missing.stderr).toMatch(/cannot read .*nope\.txt/)
    expect(existsSync(join(dir, 'x'))).toBe(false)
    expect(existsSync(join(dir, 'y'))).toBe(false)
  })

  it('help mentions the formats', () => {
    expect(ferry('import', '--help').stdout).toMatch(/Telegram Desktop's JSON export[\s\S]*--me NAME/)
  })
})
