// `ferry export --media` on a large phone copies gigabytes before it says anything: on a terminal it
// shows how far it is, as the other long commands do, and takes the bar away once done. Held after its
// first media file (FERRY_TEST_HOLD_EXPORT_MEDIA), the bar is on the screen mid-way, deterministically.
import { createHash } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'
import { ferry } from '../helpers/ferry-sync.js'
import { until } from '../helpers/until.js'
import { cannotRun } from '../helpers/cannot-run.js'
import { barRenders, noTerminal, onTerminal } from '../helpers/terminal.js'
import { formatBytes } from '../../src/format-bytes.js'

const skip = cannotRun('the export progress test', noTerminal)

const dir = tempDir()
const store = join(dir, 'phone')
const photos = ['the first photo', 'the second photo, a longer one', 'the third photo, the longest of the three'].map(text => ({
  text, size: Buffer.byteLength(text), sha256: createHash('sha256').update(text).digest('hex')
})).sort((a, b) => a.sha256 < b.sha256 ? -1 : 1)
const total = photos.reduce((n, p) => n + p.size, 0)

beforeAll(() => {
  const lines: object[] = [
    { type: 'contact', id: 'u1', name: 'Ann' },
    { type: 'conversation', id: 'c1', kind: 'direct', title: 'Ann', members: ['me', 'u1'] }
  ]
  photos.forEach((p, i) => {
    writeFileSync(join(dir, `${i}.jpg`), p.text)
    lines.push({ type: 'media', sha256: p.sha256, size: p.size, mime: 'image/jpeg', path: `${i}.jpg` })
    lines.push({ type: 'message', conversation: 'c1', id: `m${i}`, sender: 'u1', ts: 1_700_000_000_000 + i, kind: 'image', media: p.sha256 })
  })
  writeFileSync(join(dir, 'history.ndjson'), lines.map(l => JSON.stringify(l)).join('\n') + '\n')
  expect(ferry('import', join(dir, 'history.ndjson'), '--store', store).status).toBe(0)
})

afterAll(() => cleanupTempDirs())

const percent = (render: string): number => Number(/ (\d+)% \|/.exec(render)?.[1])

describe('ferry export on a terminal', () => {
  it.skipIf(skip)('shows a bar of messages and media bytes while it copies, then clears it before its summary', async () => {
    const out = join(tempDir(), 'history.ndjson')
    const t = onTerminal(['export', '--store', store, '--out', out, '--media', join(dir, 'media')], { FERRY_TEST_HOLD_EXPORT_MEDIA: '1' })
    try {
      // Held after its first file: the bar says so, before any summary.
      const midway = `| 0/3 msgs | ${formatBytes(photos[0].size)}/${formatBytes(total)} |`
      await until('the bar to show the first media file copied', () => barRenders(t.output(), 'exporting').some(r => r.includes(midway)) || t.child.exitCode !== null)
      expect(barRenders(t.output(), 'exporting').some(r => r.includes(midway)), t.output()).toBe(true)
      expect(t.output()).not.toContain('exported')
      process.kill(t.pid(), 'SIGUSR2')
      expect(await t.closed, t.output()).toBe(0)
    } finally {
      if (t.child.exitCode === null) t.child.kill()
    }
    const output = t.output()
    const renders = barRenders(output, 'exporting')
    expect(renders.at(-1)).toContain(`100% | 3/3 msgs | ${formatBytes(total)}/${formatBytes(total)} |`)
    // It only moves forward.
    const percents = renders.map(percent)
    expect(percents).toEqual([...percents].sort((a, b) => a - b))
    // Taken off its line (erased) before the summary, which stands alone.
    const summary = output.indexOf('exported 1 contacts')
    expect(summary).toBeGreaterThan(0)
    expect(output.lastIndexOf('\x1b[2K', summary)).toBeGreaterThan(output.lastIndexOf('exporting', summary))
    expect(output.slice(summary)).not.toContain('exporting')
  })

  it.skipIf(skip)('draws no bar among the history when that goes to the same terminal', async () => {
    const t = onTerminal(['export', '--store', store])
    expect(await t.closed, t.output()).toBe(0)
    expect(t.output()).toContain('"type":"message"')
    expect(t.output()).not.toContain('exporting')
  })
})

describe('ferry export off a terminal', () => {
  it('says nothing on stderr: a script or a log gets no bar', () => {
    const r = ferry('export', '--store', store, '--out', join(tempDir(), 'history.ndjson'), '--media', join(tempDir(), 'media'))
    expect(r.status).toBe(0)
    expect(r.stderr).toBe('')
    expect(r.stdout).toMatch(/^exported 1 contacts, 1 conversations, 3 media records \(3 files copied\), 3 messages to /)
  })
})
