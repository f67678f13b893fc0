import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, fillStore, openStore, tempDir } from '../helpers/stores.js'
import { ferry } from '../helpers/ferry-sync.js'
import { segmentStarts } from '../helpers/backup-segments.js'
import { writeBackup } from '../../src/backup/backup.js'
import { formatBytes } from '../../src/format-bytes.js'

// `ferry inspect` after a restore that stopped part-way: it names the command that carries it on, a
// restore, not the receive that resumes a transfer from a phone (which would find nothing to resume).

const FAST_KDF = { log2N: 4, r: 8, p: 1 } // tests only: new files cost 2^18 (kdf.test.ts)

const dir = tempDir()
const damaged = join(dir, 'damaged.ferrybak')
const pw = join(dir, 'pw')

beforeAll(async () => {
  const old = openStore()
  await fillStore(old, { conversations: 2, messagesPerConversation: 50, mediaSizes: [70_000, 40_000, 33_333] })
  const file = join(dir, 'phone.ferrybak')
  await writeBackup(old, file, { password: 'correct horse', kdf: FAST_KDF, segmentBytes: 8192, transfer: { batchBytes: 4096, chunkBytes: 16 * 1024 } })
  old.close()
  // Damaged among the media, which come after every message: the restore stops there, part-way.
  const starts = segmentStarts(file)
  const bytes = readFileSync(file)
  bytes[starts[starts.length - 3] + 50] ^= 0x10
  writeFileSync(damaged, bytes)
  writeFileSync(pw, 'correct horse\n')
})

afterAll(() => cleanupTempDirs())

describe('ferry inspect after a restore that stopped part-way', () => {
  it('says it is a restore from a backup file, carried on by the same ferry restore', () => {
    const store = join(dir, 'new-phone')
    const r = ferry('restore', '--store', store, '--in', damaged, '--password-file', pw)
    expect(r.status, r.stderr).toBe(2)
    const shown = ferry('inspect', '--store', store)
    expect(shown.status, shown.stderr).toBe(0)
    expect(shown.stdout).toContain('\nUnfinished restores from a backup file (run the same ferry restore again to carry on; what is restored stays):\n')
    expect(shown.stdout).toMatch(/: all conversations; 100 messages restored, not yet verified; last activity /)
    expect(shown.stdout).not.toContain('run the same receive')
    const report = JSON.parse(ferry('inspect', '--store', store, '--json').stdout)
    expect(report.transfers).toEqual([expect.objectContaining({ restore: true, messages: 100 })])
  })
})

describe('a restore stopped by damage among many media files', () => {
  // A flipped byte late in the file: the messages and the media before it are restored and stay. The
  // restore says so, and what carries it on; inspect sums up the many files it had in hand.
  it('says what it kept and how to carry on; inspect sums the partly received files up; the good copy carries on', async () => {
    const own = tempDir()
    const old = openStore()
    await fillStore(old, { conversations: 2, messagesPerConversation: 50, mediaSizes: Array.from({ length: 30 }, (_, i) => 3000 + i) })
    const file = join(own, 'phone.ferrybak')
    await writeBackup(old, file, { password: 'correct horse', kdf: FAST_KDF, segmentBytes: 8192, transfer: { batchBytes: 4096, chunkBytes: 16 * 1024 } })
    old.close()
    const starts = segmentStarts(file)
    const bytes = readFileSync(file)
    bytes[starts[starts.length - 3] + 50] ^= 0x10
    const bad = join(own, 'damaged.ferrybak')
    writeFileSync(bad, bytes)
    const store = join(own, 'new-phone')
    const r = ferry('restore', '--store', store, '--in', bad, '--password-file', pw)
    expect(r.status, r.stderr).toBe(2)
    expect(r.stderr).toMatch(/^ferry: damaged\.ferrybak is corrupted at segment \d+ \(byte \d+\): it fails authentication \(damaged, cut, reordered or from another file\)\. 100 messages and [\d.]+ kB of media from the intact part stay here: run the same restore with a good copy of the file to carry on \[BAD_INPUT\]\n$/)
    const j = ferry('restore', '--store', join(own, 'json-phone'), '--in', bad, '--password-file', pw, '--json')
    expect(j.status).toBe(2)
    expect(JSON.parse(j.stdout.trim().split('\n').at(-1) as string)).toMatchObject({ event: 'error', code: 'BAD_INPUT', details: { keptMessages: 100, keptMediaBytes: expect.any(Number) } })

    const shown = ferry('inspect', '--store', store)
    expect(shown.status, shown.stderr).toBe(0)
    const parts = (JSON.parse(ferry('inspect', '--store', store, '--json').stdout) as { partialMedia: Array<{ length: number, size: number }> }).partialMedia
    expect(parts.length).toBeGreaterThan(5)
    const received = parts.reduce((n, p) => n + p.length, 0)
    expect(shown.stdout).toContain(`\nPartly received media (the run that carries on starts from them; --json lists each):\n  ${parts.length} files, ${formatBytes(received)} of `)
    expect(shown.stdout).not.toMatch(/\(100%\)/)

    const ok = ferry('restore', '--store', store, '--in', file, '--password-file', pw)
    expect(ok.status, ok.stderr).toBe(0)
    expect(ok.stderr).toMatch(/\(100 messages and [\d.]+ kB of media were already here from an earlier run\.\)/)
  })
})
