import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, tempDir } from '../../helpers/stores.js'
import { FERRY, ferry, ROOT } from '../../helpers/ferry-sync.js'

// `ferry import` on foreign exports, as a user runs it: the format detected, what was not mapped printed.

const FIXTURES = join(ROOT, 'test', 'fixtures')

afterAll(() => cleanupTempDirs())

describe('ferry import of Telegram and WhatsApp exports', () => {
  const dir = tempDir()
  const store = join(dir, 'phone')

  it('detects a Telegram result.json and prints the counts and what it could not map', () => {
    const r = ferry('import', join(FIXTURES, 'telegram', 'result.json'), '--store', store)
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/imported 3 contacts, 2 conversations, 4 media records \(4 files copied\), 20 messages/)
    expect(r.stdout).toMatch(/format: telegram \(result\.json in .*telegram\)\n/)
    expect(r.stdout).toMatch(/dropped or simplified: 1 contact without user id, 1 text formatting \(bold, italic\.\.\.\) dropped, 1 media file missing from the export \(message kept without it\), 2 media not included in the export \(message kept without it\), 1 poll \(kept as text: its question and answers, not its votes\), /)
  })

  it('detects a WhatsApp .txt; --me names the exporter', () => {
    const r = ferry('import', join(FIXTURES, 'whatsapp', 'android', 'WhatsApp Chat with Family.txt'), '--store', store, '--me', 'Bob', '--tz', 'UTC')
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/1 conversations, 4 media records \(4 files copied\), 15 messages/)
    expect(r.stdout).toMatch(/dates read as month\/day\/year \(a second field above 12\); times read in UTC\n/)
    expect(r.stdout).toMatch(/dropped or simplified: 1 media left out of the export \(message kept without it\), 1 media file missing from the export \(message kept without it\), 1 poll \(kept as text\)\n/)
    const again = ferry('import', join(FIXTURES, 'whatsapp', 'android-dmy', 'WhatsApp Chat with Dave.txt'), '--store', store)
    expect(again.stdout).toMatch(/dropped or simplified: nothing\n/)
    const inspect = ferry('inspect', '--store', store)
    expect(inspect.stdout).toMatch(/\b8 contacts, 4 conversations, 39 messages/)
  })

  it('an Arabic export whose days never pass 12 is read day first, as Arabic phones write: the summary says why, no warning', () => {
    const arabic = join(dir, 'arabic')
    const r = ferry('import', join(FIXTURES, 'whatsapp', 'arabic', 'android-early-days', 'محادثة مع مريم.txt'), '--store', arabic, '--tz', 'Asia/Riyadh')
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/dates read as day\/month\/year \(no date tells day from month; the export is in Arabic \(Arabic-Indic digits, its am\/pm, WhatsApp's wording\), which puts the day first in every region\); times read in Asia\/Riyadh\n/)
    const exported = ferry('export', '--store', arabic).stdout.trim().split('\n').map(l => JSON.parse(l) as { type: string, sender?: string, ts?: number })
    const riyadh = (mo: number, d: number, h: number, mi: number): number => Date.UTC(2024, mo - 1, d, h - 3, mi)
    expect(exported.filter(x => x.type === 'message').map(x => [x.sender, x.ts])).toEqual([
      ['system', riyadh(3, 1, 21, 5)], ['wa:مريم', riyadh(3, 1, 21, 6)], ['wa:خالد', riyadh(3, 2, 10, 15)], ['wa:خالد', riyadh(3, 2, 10, 16)],
      ['wa:مريم', riyadh(3, 9, 19, 40)], ['wa:خالد', riyadh(4, 11, 8, 0)]
    ])
  })

  it('lines written like messages in another date or time format stay text of the message before, and the summary counts them', () => {
    const exportDir = tempDir()
    const file = join(exportDir, 'WhatsApp Chat with Ana.txt')
    writeFileSync(file, [
      '12/03/24, 21:05 - Ana: hola',
      '12/03/24, 21:06 - Bob: <Media omitted>',
      '13/03/24, 9:00 a. m. - Ana: hi',
      '[13/03/24, 21:09:00] Ana: seen on the other phone',
      ''
    ].join('\n'))
    const other = join(dir, 'other-format')
    const r = ferry('import', file, '--store', other, '--tz', 'UTC', '--date-order', 'dmy')
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/, 2 messages into /)
    expect(r.stdout).toMatch(/dropped or simplified: 2 line like a message in another date or time format than the export's \(kept as text of the message before\), 1 media left out of the export \(message kept without it\)\n/)
    const exported = ferry('export', '--store', other).stdout.trim().split('\n').map(l => JSON.parse(l) as { type: string, text?: string })
    expect(exported.filter(x => x.type === 'message').at(-1)?.text).toBe('13/03/24, 9:00 a. m. - Ana: hi\n[13/03/24, 21:09:00] Ana: seen on the other phone')
  })

  it('--format overrides detection; an export read as the wrong format yields no message: exit 2, no store', () => {
    const fresh = join(dir, 'fresh')
    const forced = ferry('import', join(FIXTURES, 'telegram', 'result.json'), '--store', fresh, '--format', 'whatsapp')
    expect(forced.status).toBe(2)
    expect(forced.stderr).toMatch(/no WhatsApp message found in result\.json .*nothing was imported/)
    expect(existsSync(fresh)).toBe(false)
    const bad = ferry('import', join(FIXTURES, 'telegram', 'result.json'), '--store', join(dir, 'x'), '--format', 'signal')
    expect(bad.status).toBe(2)
    expect(bad.stderr).toMatch(/--format must be one of ndjson, telegram, whatsapp/)
    const missing = ferry('import', join(dir, 'nope.txt'), '--store', join(dir, 'y'))
    expect(missing.status).toBe(2)
    expect(missing.stderr).toMatch(/nope\.txt does not exist \[BAD_INPUT\]/)
    expect(existsSync(join(dir, 'x'))).toBe(false)
    expect(existsSync(join(dir, 'y'))).toBe(false)
  })

  it('help teaches the formats and the options for dates and zones', () => {
    const help = ferry('import', '--help').stdout
    expect(help).toMatch(/Telegram Desktop export[\s\S]*WhatsApp "Export chat"[\s\S]*\.zip/)
    expect(help).toMatch(/--me NAME[\s\S]*--date-order ORDER[\s\S]*--tz ZONE/)
  })

  it('a file that is no chat export is named as such, with what was tried: exit 2, no store', () => {
    const target = join(dir, 'never')
    const r = ferry('import', join(ROOT, 'README.md'), '--store', target)
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/README\.md: not a recognised chat export \(tried: canonical NDJSON, Telegram JSON, WhatsApp text\)/)
    const json = ferry('import', join(ROOT, 'package.json'), '--store', target)
    expect(json.status).toBe(2)
    expect(json.stderr).toMatch(/not a recognised chat export \(tried: canonical NDJSON, Telegram JSON, WhatsApp text\)/)
    expect(existsSync(target)).toBe(false)
  })

  it('an empty or blank file is no chat export either: exit 2, no store', () => {
    const target = join(dir, 'never-empty')
    for (const [name, text] of [['empty.txt', ''], ['blank.ndjson', '\n   \n\n']]) {
      const file = join(dir, name)
      writeFileSync(file, text)
      const r = ferry('import', file, '--store', target)
      expect(r.status, name).toBe(2)
      expect(r.stderr).toMatch(new RegExp(`${name.replace('.', '\\.')}: not a recognised chat export \\(tried: canonical NDJSON, Telegram JSON, WhatsApp text\\)`))
      expect(existsSync(target)).toBe(false)
    }
  })

  it('the same WhatsApp export saved again by a browser, or piped in, adds nothing: one chat, its title kept', () => {
    const target = join(dir, 'again')
    const first = join(dir, 'WhatsApp Chat with Anna.txt')
    const said = ['Dinner tomorrow?', 'Sure, where?', 'The usual place', 'See you at 8', 'Bring Carl', 'He is away', 'Pity', 'Next time']
    writeFileSync(first, said.map((text, i) => `30/12/2023, 20:0${i} - ${i % 2 === 0 ? 'Anna' : 'Bob'}: ${text}`).join('\n') + '\n')
    expect(ferry('import', first, '--store', target, '--tz', 'UTC').status).toBe(0)
    for (const copy of ['WhatsApp Chat with Anna(1).txt', 'WhatsApp Chat with Anna-1.txt']) {
      copyFileSync(first, join(dir, copy))
      const r = ferry('import', join(dir, copy), '--store', target, '--tz', 'UTC')
      expect(r.stdout, copy).toMatch(/^no new messages: the 8 messages of this export were already in /)
    }
    const piped = spawnSync(process.execPath, [FERRY, 'import', '-', '--store', target, '--tz', 'UTC'], { encoding: 'utf8', cwd: ROOT, input: readFileSync(first) })
    expect(piped.status).toBe(0)
    expect(piped.stdout).toMatch(/^no new messages: the 8 messages of this export were already in /)
    // Found by its messages under another title: the summary names the chat, and --json carries it.
    expect(piped.stdout).toMatch(/; found as the chat 'Anna' \(a title of its own: --title\)\n/)
    const json = spawnSync(process.execPath, [FERRY, 'import', '-', '--store', target, '--tz', 'UTC', '--json'], { encoding: 'utf8', cwd: ROOT, input: readFileSync(first) })
    const imported = json.stdout.split('\n').filter(l => l !== '').map(l => JSON.parse(l) as { event: string, details?: string[] }).find(e => e.event === 'imported')
    expect(imported?.details).toContain('found as the chat \'Anna\' (a title of its own: --title)')
    expect(ferry('inspect', '--store', target).stdout).toMatch(/\b1 conversations, 8 messages/)
    expect(ferry('export', '--store', target).stdout).toMatch(/"type":"conversation".*"title":"Anna"/)
  })

  it('bad --tz and --date-order values are bad usage', () => {
    const file = join(FIXTURES, 'whatsapp', 'android-dmy', 'WhatsApp Chat with Dave.txt')
    const tz = ferry('import', file, '--store', join(dir, 'z'), '--tz', 'Mars/Olympus')
    expect(tz.status).toBe(2)
    expect(tz.stderr).toMatch(/unknown time zone "Mars\/Olympus"/)
    const order = ferry('import', file, '--store', join(dir, 'z'), '--date-order', 'dym')
    expect(order.status).toBe(2)
    expect(order.stderr).toMatch(/--date-order must be one of dmy, mdy, ymd/)
    expect(existsSync(join(dir, 'z'))).toBe(false)
  })
})
