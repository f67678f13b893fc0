import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'
import { ferry, FERRY, jsonLines, ROOT } from '../helpers/ferry-sync.js'

// The import, export and inspect commands as a user runs them: real processes, exit codes, pipes.

const FIXTURE = join(ROOT, 'test', 'fixtures', 'edge-cases.ndjson')

afterAll(() => cleanupTempDirs())

function shell (script: string): { status: number | null, stdout: string, stderr: string } {
  const r = spawnSync('bash', ['-o', 'pipefail', '-c', script], { encoding: 'utf8', cwd: ROOT, env: { ...process.env, FERRY: `${process.execPath} ${FERRY}` } })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

describe('ferry import / export / inspect', () => {
  const dir = tempDir()
  const a = join(dir, 'a')

  it('imports a file into a new store and prints the counts', () => {
    const r = ferry('import', FIXTURE, '--store', a)
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/imported 6 contacts, 5 conversations, 5 media records \(4 files copied\), 19 messages/)
  })

  it('importing the same export again says nothing new came in, in text and in --json', () => {
    const r = ferry('import', FIXTURE, '--store', a)
    expect(r.status).toBe(0)
    expect(r.stdout).toBe(`no new messages: the 19 messages of this export were already in ${a}\n`)
    const j = ferry('import', FIXTURE, '--store', a, '--json')
    expect(j.status).toBe(0)
    expect(JSON.parse(j.stdout)).toMatchObject({ event: 'imported', messages: 19, newMessages: 0, mediaFiles: 0 })
    // A store that holds some of them: the new ones are told apart from the ones it held.
    const some = join(dir, 'some')
    const part = join(dir, 'part.ndjson')
    const lines = readFileSync(FIXTURE, 'utf8').split('\n')
    const lastMessage = lines.findLastIndex(l => l.includes('"type":"message"'))
    writeFileSync(part, lines.filter((_, i) => i !== lastMessage).join('\n'))
    expect(ferry('import', part, '--store', some, '--base', join(ROOT, 'test', 'fixtures')).stderr).toBe('')
    const more = ferry('import', FIXTURE, '--store', some, '--json')
    expect(JSON.parse(more.stdout)).toMatchObject({ event: 'imported', messages: 19, newMessages: 1 })
  })

  it('pipes an export into an import: the copy exports the same bytes', () => {
    const b = join(dir, 'b')
    const r = shell(`$FERRY export --store ${a} | $FERRY import /dev/stdin --store ${b} && $FERRY export --store ${b} > ${dir}/b.ndjson && $FERRY export --store ${a} --out ${dir}/a.ndjson --media ${dir}/media`)
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    const viaPipe = readFileSync(join(dir, 'b.ndjson'), 'utf8')
    const withMedia = readFileSync(join(dir, 'a.ndjson'), 'utf8')
    // The same records; only the file written with --media carries paths (relative to the file).
    expect(withMedia.replace(/,"path":"[^"]*"/g, '')).toBe(viaPipe)
    expect(withMedia).toContain('"path":"media/74d55450ef8e1c75a5d13697fb9c63b39a9b9c7bc6cfade62b4a64dde88e4384"')
    expect(existsSync(join(dir, 'media', '74d55450ef8e1c75a5d13697fb9c63b39a9b9c7bc6cfade62b4a64dde88e4384'))).toBe(true)
  })

  it('an export --media that fails part-way takes away the media it copied, keeps what was there, and says so', () => {
    const whole = join(dir, 'whole-media')
    expect(ferry('export', '--store', a, '--out', join(dir, 'whole.ndjson'), '--media', whole).status).toBe(0)
    const shas = readdirSync(whole).sort()
    expect(shas).toHaveLength(4)
    // Media are copied in sha256 order: a folder where the last one goes stops the export after the others.
    const media = join(dir, 'half-media')
    mkdirSync(join(media, shas[3]), { recursive: true })
    writeFileSync(join(media, 'notes.txt'), 'mine\n')
    const out = join(dir, 'half.ndjson')
    const r = ferry('export', '--store', a, '--out', out, '--media', media)
    expect(r.status).toBe(2)
    expect(r.stderr).toBe(`ferry: cannot copy media into ${media}: ${join(media, shas[3])} is a folder, not a file. The export failed: ` +
      `the 3 media files it had copied into ${media} were removed again (what was there before is kept) [BAD_INPUT]\n`)
    expect(readdirSync(media).sort()).toEqual([shas[3], 'notes.txt'].sort())
    expect(readFileSync(join(media, 'notes.txt'), 'utf8')).toBe('mine\n')
    expect(existsSync(out)).toBe(false)
  })

  it('refuses bad input with exit code 2, the line number, and no store left behind', () => {
    const bad = join(dir, 'bad.ndjson')
    writeFileSync(bad, '{"type":"conversation","id":"c1","kind":"direct","title":"","members":[]}\n{"type":"message","conversation":"c1","id":"m","sender":"u","ts":1,"kind":"gif"}\n')
    const fresh = join(dir, 'fresh')
    const r = ferry('import', bad, '--store', fresh)
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/^ferry: line 2: message "kind" must be one of text, .* got "gif" \[BAD_INPUT\]/)
    expect(existsSync(fresh)).toBe(false)
    // An existing store is kept, unchanged.
    const before = ferry('export', '--store', a).stdout
    expect(ferry('import', bad, '--store', a).status).toBe(2)
    expect(ferry('export', '--store', a).stdout).toBe(before)
  })

  it('inspects a store as text and as JSON', () => {
    const text = ferry('inspect', '--store', a)
    expect(text.status).toBe(0)
    expect(text.stdout).toMatch(/6 contacts, 5 conversations, 19 messages/)
    expect(text.stdout).toMatch(/4 files present \(100 B\), 1 missing \(1\.0 MB\)/)
    expect(text.stdout).toMatch(/g-family\s+group\s+5 messages/)
    // One event on one line, as everything --json prints: an app reads stdout line by line.
    const lines = jsonLines(ferry('inspect', '--store', a, '--json').stdout)
    expect(lines).toHaveLength(1)
    const json = lines[0] as { event: string, at: number, stats: unknown, conversations: Array<{ id: string }>, transfers: unknown }
    expect(json.event).toBe('inspected')
    expect(Math.abs(json.at - Date.now())).toBeLessThan(600_000)
    expect(json.stats).toMatchObject({ contacts: 6, conversations: 5, messages: 19, media: 5, mediaPresent: 4, mediaBytesMissing: 1048576 })
    expect(json.conversations.find((c: { id: string }) => c.id === 'empty')).toMatchObject({ messages: 0, members: 0 })
    expect(json.transfers).toEqual([])
  })

  it('says so, with no stack, when a file is where the store goes or a directory where the file goes', () => {
    const file = join(dir, 'a-file')
    writeFileSync(file, 'mine\n')
    for (const cmd of ['export', 'inspect']) {
      const r = ferry(cmd, '--store', file)
      expect(r.status, cmd).toBe(2)
      expect(r.stderr, cmd).toBe(`ferry: ${file} is a file, not a Ferry store (a store is a directory) [BAD_INPUT]\n`)
    }
    const out = ferry('export', '--store', a, '--out', dir)
    expect(out.status).toBe(2)
    expect(out.stderr).toBe(`ferry: --out ${dir} is a directory: name the file to write, like ${join(dir, 'history.ndjson')} [BAD_INPUT]\n`)
    expect(readFileSync(file, 'utf8')).toBe('mine\n')
  })

  it('will not make a store inside someone else\'s folder: nothing written, its mode kept', () => {
    const folder = join(dir, 'documents')
    mkdirSync(folder, { mode: 0o755 })
    chmodSync(folder, 0o755)
    writeFileSync(join(folder, 'notes.txt'), 'mine\n')
    for (const args of [['import', FIXTURE, '--store', folder], ['receive', '--store', folder, '--code', '123-4567-8901', '--peer', '/ip4/127.0.0.1/tcp/9', '--no-mdns', '--no-sweep', '--timeout', '1']]) {
      const r = ferry(...args)
      expect(r.status, args[0]).toBe(2)
      expect(r.stderr, args[0]).toBe(`ferry: ${folder} is not empty and holds no Ferry store (it has notes.txt); choose a new or empty directory [BAD_INPUT]\n`)
    }
    expect(readdirSync(folder)).toEqual(['notes.txt'])
    expect(statSync(folder).mode & 0o777).toBe(0o755)
  })

  it('explains itself with an example, and rejects a missing store or FILE as bad usage', () => {
    for (const cmd of ['import', 'export', 'inspect']) {
      const r = ferry(cmd, '--help')
      expect(r.status).toBe(0)
      expect(r.stdout).toMatch(new RegExp(`^Usage: ferry ${cmd} `))
      expect(r.stdout).toMatch(/Examples?:\n {2}ferry /)
    }
    expect(ferry('import', '--store', a).status).toBe(2)
    expect(ferry('export', '--store', join(dir, 'nope')).stderr).toMatch(/no Ferry store at .*nope/)
    expect(ferry('inspect').status).toBe(2)
  })
})

describe('ferry export / import of media damaged on disk', () => {
  const dir = tempDir()
  const store = join(dir, 'store')
  const PHOTO = '74d55450ef8e1c75a5d13697fb9c63b39a9b9c7bc6cfade62b4a64dde88e4384'
  const PDF = 'cb391c5840dd30172c4cf96f1d609ebf00142baac5910746523218816a3ac9e6'
  const flip = (path: string): void => { const b = readFileSync(path); b[3] ^= 1; writeFileSync(path, b) }

  it('exports everything but a file damaged in the store, says so, and exits 0; the export imports but for a file damaged since', () => {
    expect(ferry('import', FIXTURE, '--store', store).status).toBe(0)
    flip(join(store, 'media', PHOTO.slice(0, 2), PHOTO))
    const out = join(dir, 'export', 'history.ndjson')
    const media = join(dir, 'export', 'media')
    const e = ferry('export', '--store', store, '--out', out, '--media', media)
    expect(e.stderr).toBe('warning: 1 media file in the store is damaged (not the file its record names) and was left out of the export: ' +
      'imported, the chats show it as missing.\n')
    expect(e.status).toBe(0)
    expect(e.stdout).toBe(`exported 6 contacts, 5 conversations, 5 media records (3 files copied, 1 damaged left out), 19 messages to ${out}\n`)
    expect(readdirSync(media)).not.toContain(PHOTO)

    // Damaged after the export: the rest of the history comes in, that file shown as missing.
    flip(join(media, PDF))
    const i = ferry('import', out, '--store', join(dir, 'new'), '--json')
    expect(i.stderr).toBe('warning: 1 media file of the export was damaged (not the file its record names) and was not imported: ' +
      'the chats show it as missing.\n')
    expect(i.status).toBe(0)
    const [imported, warning, ...more] = jsonLines(i.stdout)
    expect(imported).toMatchObject({ event: 'imported', messages: 19, newMessages: 19, media: 5, mediaFiles: 2, mediaFilesDamaged: 1 })
    expect(warning).toMatchObject({ event: 'warning', warning: 'media-damaged', message: i.stderr.trimEnd() })
    expect(more).toEqual([])
    expect(JSON.parse(ferry('inspect', '--store', join(dir, 'new'), '--json').stdout).stats).toMatchObject({ messages: 19, media: 5, mediaPresent: 2 })
  })
})
