// `ferry backup` and `ferry restore` with --json tell an app how far they are, as send, receive and
// seed do: `progress` events of the same shape (and the same rate limit), before the figures at the
// end. Real processes, on a store whose one video makes the backup several MiB.
import { createHash, randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'
import { ferry, jsonLines } from '../helpers/ferry-sync.js'

const dir = tempDir()
const phone = join(dir, 'phone')
const pw = join(dir, 'pw')
const backup = join(dir, 'chats.ferrybak')
const VIDEO_BYTES = 6 * 1024 * 1024

beforeAll(() => {
  const video = randomBytes(VIDEO_BYTES)
  writeFileSync(join(dir, 'video.mp4'), video)
  const sha256 = createHash('sha256').update(video).digest('hex')
  const lines = [
    { type: 'contact', id: 'u1', name: 'Ann' },
    { type: 'conversation', id: 'c1', kind: 'direct', title: 'Ann', members: ['me', 'u1'] },
    { type: 'media', sha256, size: VIDEO_BYTES, mime: 'video/mp4', path: 'video.mp4' },
    { type: 'message', conversation: 'c1', id: 'm1', sender: 'u1', ts: 1_700_000_000_000, kind: 'text', text: 'look' },
    { type: 'message', conversation: 'c1', id: 'm2', sender: 'u1', ts: 1_700_000_001_000, kind: 'video', media: sha256 }
  ]
  writeFileSync(join(dir, 'history.ndjson'), lines.map(l => JSON.stringify(l)).join('\n') + '\n')
  expect(ferry('import', join(dir, 'history.ndjson'), '--store', phone).status).toBe(0)
  writeFileSync(pw, 'correct horse battery staple\n')
}, 60_000)

afterAll(() => cleanupTempDirs())

/** The progress events, checked for the shape send and receive print, and the event that ends the run. */
function progressOf (stdout: string, last: string): Array<Record<string, unknown>> {
  const events = jsonLines(stdout)
  expect(events.at(-1)?.event, stdout).toBe(last)
  const progress = events.filter(e => e.event === 'progress')
  expect(progress.length, stdout).toBeGreaterThan(0)
  for (const p of progress) {
    expect(p).toEqual(expect.objectContaining({ at: expect.any(Number), messages: expect.any(Number), mediaBytes: expect.any(Number) }))
    expect('rateBytesPerSec' in p && 'etaSec' in p).toBe(true)
    // The totals are the history's from the first event: never the zeros of a run that has not looked yet.
    expect({ totalMessages: p.totalMessages, totalMediaBytes: p.totalMediaBytes }).toEqual({ totalMessages: 2, totalMediaBytes: VIDEO_BYTES })
    expect(p.messages as number).toBeLessThanOrEqual(2)
    expect(p.mediaBytes as number).toBeLessThanOrEqual(VIDEO_BYTES)
  }
  return progress
}

describe('--json progress of backup and restore', () => {
  it('ferry backup prints progress events before its figures', () => {
    const r = ferry('backup', '--store', phone, '--out', backup, '--password-file', pw, '--json')
    expect(r.status, r.stderr).toBe(0)
    progressOf(r.stdout, 'backup')
  })

  it('ferry restore prints progress events before its figures', () => {
    const r = ferry('restore', '--store', join(dir, 'restored'), '--in', backup, '--password-file', pw, '--json')
    expect(r.status, r.stderr).toBe(0)
    const progress = progressOf(r.stdout, 'restored')
    expect(progress[0]).toHaveProperty('sessionBytes')
  })

  it('both say so in their --help', () => {
    for (const command of ['backup', 'restore']) expect(ferry(command, '--help').stdout).toMatch(/--json +print JSON events instead of lines: progress/)
  })
})
