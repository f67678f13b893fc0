import { execFileSync, spawn, spawnSync } from 'node:child_process'
import Database from 'better-sqlite3'
import { existsSync, lstatSync, readdirSync, readFileSync, statSync, truncateSync, copyFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, exportText, fillStore, openStore, tempDir } from '../helpers/stores.js'
import { ferry, FERRY, jsonLines, ROOT } from '../helpers/ferry-sync.js'
import { until } from '../helpers/until.js'

// `ferry backup` and `ferry restore` as a user runs them: real processes, exit codes, messages.

const FIXTURE = join(ROOT, 'test', 'fixtures', 'edge-cases.ndjson')

const dir = tempDir()
const old = join(dir, 'old')
const pw = join(dir, 'pw')
const file = join(dir, 'chats.ferrybak')
let oldExport: string

beforeAll(() => {
  expect(ferry('import', FIXTURE, '--store', old).status).toBe(0)
  oldExport = ferry('export', '--store', old).stdout
  writeFileSync(pw, 'correct horse battery staple\n')
}, 60_000)

afterAll(() => cleanupTempDirs())

describe('ferry backup / restore', () => {
  it('backs up with a password file and restores to an identical store; a second restore duplicates nothing', () => {
    const b = ferry('backup', '--store', old, '--out', file, '--password-file', pw)
    expect(b.stderr).toMatch(/Backed up 19 messages .* MB\/s\)\.\nEncrypted with your password/)
    expect(b.status).toBe(0)
    expect(b.stderr).not.toMatch(/shorter than/)
    expect(existsSync(`${file}.partial`)).toBe(false)
    const target = join(dir, 'new')
    const r = ferry('restore', '--store', target, '--in', file, '--password-file', pw)
    expect(r.stderr).toMatch(/Restored and verified: 19 messages/)
    expect(r.status).toBe(0)
    expect(ferry('export', '--store', target).stdout).toBe(oldExport)
    const again = ferry('restore', '--store', target, '--in', file, '--password-file', pw, '--json')
    expect(again.status).toBe(0)
    expect(jsonLines(again.stdout).at(-1)).toMatchObject({ event: 'restored', messages: 19 })
    expect(ferry('export', '--store', target).stdout).toBe(oldExport)
  })

  it('says a short password can be guessed by whoever gets the file, and still writes a backup it opens', () => {
    const short = join(dir, 'short-pw')
    writeFileSync(short, 'hunter2\n')
    const out = join(dir, 'short.ferrybak')
    const b = ferry('backup', '--store', old, '--out', out, '--password-file', short)
    expect(b.status).toBe(0)
    expect(b.stderr).toMatch(/warning: the password is shorter than 12 characters\. Whoever gets the backup file can try passwords/)
    // With --json the warning is an event too, beside the figures: every line of stdout one JSON object.
    const j = ferry('backup', '--store', old, '--out', join(dir, 'short-json.ferrybak'), '--password-file', short, '--json')
    expect(j.status).toBe(0)
    const [figures, ...warnings] = jsonLines(j.stdout)
    expect(figures).toMatchObject({ event: 'backup', password: true })
    // The fixture's phone lacks one media file: said too.
    expect(warnings.map(w => w.warning)).toEqual(['short-password', 'media-missing'])
    expect(warnings[0]).toEqual({ event: 'warning', at: expect.any(Number), warning: 'short-password', message: expect.stringMatching(/^warning: the password is shorter than 12 characters\./) })
    expect(j.stderr).toBe(warnings.map(w => `${String(w.message)}\n`).join(''))
    const r = ferry('restore', '--store', join(dir, 'from-short'), '--in', out, '--password-file', short)
    expect(r.status).toBe(0)
    expect(ferry('export', '--store', join(dir, 'from-short')).stdout).toBe(oldExport)
  })

  it('without a password source it refuses (no terminal to ask on); --no-password says what that means', () => {
    const r = ferry('backup', '--store', old, '--out', join(dir, 'x.ferrybak'))
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/a backup needs a password: pass --password-file FILE.*--no-password/)
    expect(existsSync(join(dir, 'x.ferrybak'))).toBe(false)
    expect(ferry('backup', '--store', old, '--out', join(dir, 'x'), '--password-file', pw, '--no-password').status).toBe(2)
    const open = join(dir, 'open.ferrybak')
    const n = ferry('backup', '--store', old, '--out', open, '--no-password')
    expect(n.status).toBe(0)
    expect(n.stderr).toMatch(/Warning: this backup has no password\. It is NOT confidential: anyone who gets the file can read every chat in it\. Its checks catch accidental damage only .*: anyone can write or alter such a file so that it passes them/)
    const nj = ferry('backup', '--store', old, '--out', join(dir, 'open2.ferrybak'), '--no-password', '--json')
    expect(nj.status).toBe(0)
    const events = jsonLines(nj.stdout)
    expect(events[0]).toMatchObject({ event: 'backup', password: false })
    // --json warns too: on stderr for the person, and as an event an app can show.
    expect(nj.stderr).toMatch(/Warning: this backup has no password\. It is NOT confidential/)
    expect(events[1]).toEqual({ event: 'warning', at: expect.any(Number), warning: 'no-password', message: expect.stringMatching(/^Warning: this backup has no password\. It is NOT confidential/) })
    const expected = ferry('restore', '--store', join(dir, 'open-new'), '--in', open, '--password-file', pw)
    expect(expected.status).toBe(2) // a password was expected: refuse a file anyone could have written
    expect(expected.stderr).toMatch(/has no password .* run without --password-file/)
    expect(existsSync(join(dir, 'open-new'))).toBe(false)
    // Restored, the file anyone could have written is said to be so, with --json as an event.
    const rj = ferry('restore', '--store', join(dir, 'open-json'), '--in', open, '--json')
    expect(rj.status).toBe(0)
    expect(jsonLines(rj.stdout).filter(e => e.event !== 'progress').map(e => e.warning ?? e.event)).toEqual(['no-password', 'restored'])
    const r2 = ferry('restore', '--store', join(dir, 'open-new'), '--in', open)
    expect(r2.status).toBe(0)
    expect(r2.stderr).toMatch(/Warning: this backup has no password, so nothing shows who wrote it: anyone could have written or altered it .* Restore it only if you know it is the file you made/)
    const r3 = ferry('restore', '--store', join(dir, 'open-new'), '--in', open, '--json')
    expect(r3.status).toBe(0)
    expect(r3.stderr).toMatch(/Warning: this backup has no password, so nothing shows who wrote it/)
  })

  it('a wrong or missing password exits 2 and creates nothing', () => {
    const wrong = join(dir, 'wrong')
    writeFileSync(wrong, 'tr0ub4dor&3\n')
    const target = join(dir, 'never')
    const r = ferry('restore', '--store', target, '--in', file, '--password-file', wrong)
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/wrong password for chats.ferrybak .*\[BAD_INPUT\]/)
    const m = ferry('restore', '--store', target, '--in', file)
    expect(m.status).toBe(2)
    expect(m.stderr).toMatch(/protected by a password: pass --password-file/)
    expect(existsSync(target)).toBe(false)
  })

  it('a truncated copy exits 2 naming the damage; the full file then completes the restore', () => {
    const cut = join(dir, 'cut.ferrybak')
    copyFileSync(file, cut)
    truncateSync(cut, statSync(file).size - 10)
    const target = join(dir, 'resumed')
    const r = ferry('restore', '--store', target, '--in', cut, '--password-file', pw)
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/cut.ferrybak is incomplete: it is cut off after \d+ bytes/)
    const ok = ferry('restore', '--store', target, '--in', file, '--password-file', pw)
    expect(ok.status).toBe(0)
    expect(ferry('export', '--store', target).stdout).toBe(oldExport)
  })

  it('a copy cut off part-way says so in plain words, restores nothing and leaves no store, nor changes one', () => {
    const cut = join(dir, 'half.ferrybak')
    copyFileSync(file, cut)
    const half = Math.floor(statSync(file).size / 2)
    truncateSync(cut, half)
    const target = join(dir, 'from-half')
    const r = ferry('restore', '--store', target, '--in', cut, '--password-file', pw)
    expect(r.status).toBe(2)
    expect(r.stderr).toBe(`ferry: half.ferrybak is incomplete: it is cut off after ${half} bytes, before the backup ends ` +
      '(a copy or download that did not finish?). Nothing was restored from it. [BAD_INPUT]\n')
    expect(existsSync(target)).toBe(false)
    const j = ferry('restore', '--store', target, '--in', cut, '--password-file', pw, '--json')
    expect(j.status).toBe(2)
    expect(JSON.parse(j.stdout)).toMatchObject({ event: 'error', code: 'BAD_INPUT', details: { reason: 'truncated', fileBytes: half, at: 'segment 0 (byte 60)' } })
    expect(existsSync(target)).toBe(false)
    // A store that is there stays exactly as it was.
    const here = join(dir, 'here')
    expect(ferry('import', FIXTURE, '--store', here).status).toBe(0)
    const before = readdirSync(here).map(f => [f, statSync(join(here, f)).mtimeMs, statSync(join(here, f)).size])
    expect(ferry('restore', '--store', here, '--in', cut, '--password-file', pw).status).toBe(2)
    expect(readdirSync(here).map(f => [f, statSync(join(here, f)).mtimeMs, statSync(join(here, f)).size])).toEqual(before)
    expect(ferry('export', '--store', here).stdout).toBe(oldExport)
  })

  it('refuses a backup from a newer Ferry, a file that is not a backup, and unknown --chats', () => {
    const newer = join(dir, 'newer.ferrybak')
    const b = readFileSync(file)
    b[8] = 7
    writeFileSync(newer, b)
    const r = ferry('restore', '--store', join(dir, 'n'), '--in', newer, '--password-file', pw)
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/written by a newer Ferry \(backup format version 7\); this Ferry reads version 1/)
    const n = ferry('restore', '--store', join(dir, 'n'), '--in', FIXTURE)
    expect(n.status).toBe(2)
    expect(n.stderr).toMatch(/is not a Ferry backup/)
    const c = ferry('restore', '--store', join(dir, 'n'), '--in', file, '--password-file', pw, '--chats', 'no-such-chat')
    expect(c.status).toBe(2)
    expect(c.stderr).toMatch(/holds no conversation 'no-such-chat'/)
  })

  it('an empty file is said to be empty, not some other kind of file; nothing is created', () => {
    const empty = join(dir, 'empty.ferrybak')
    writeFileSync(empty, '')
    const r = ferry('restore', '--store', join(dir, 'from-empty'), '--in', empty)
    expect(r.stderr).toBe('ferry: empty.ferrybak is empty: it holds no backup (a copy or download that did not finish?) [BAD_INPUT]\n')
    expect(r.status).toBe(2)
    expect(existsSync(join(dir, 'from-empty'))).toBe(false)
  })

  it('a --password-file that never ends (a device named by mistake) is refused after its first 64 KiB, not read for ever', () => {
    const out = join(dir, 'zero.ferrybak')
    // The cap only turns the hang this guards against into a failure; a refusal takes well under it.
    const r = spawnSync(process.execPath, [FERRY, 'backup', '--store', old, '--out', out, '--password-file', '/dev/zero'],
      { cwd: ROOT, encoding: 'utf8', timeout: 120_000 })
    expect(r.stderr).toBe('ferry: the password file /dev/zero has no line end in its first 64 KiB: it is not a password file; ' +
      'name the file that holds the password on its first line [BAD_INPUT]\n')
    expect(r.status).toBe(2)
    expect(existsSync(out)).toBe(false)
  })

  it('a directory where the file goes, or a file where the store goes, is named before any work', () => {
    const folder = tempDir('ferry-a-folder-')
    const b = ferry('backup', '--store', old, '--out', folder, '--password-file', pw)
    expect(b.status).toBe(2)
    expect(b.stderr).toBe(`ferry: --out ${folder} is a directory: name the file to write, like ${join(folder, 'chats.ferrybak')} [BAD_INPUT]\n`)
    const r = ferry('restore', '--store', join(dir, 'from-a-folder'), '--in', folder, '--password-file', pw)
    expect(r.status).toBe(2)
    expect(r.stderr).toBe(`ferry: ${folder} is a directory, not a backup file [BAD_INPUT]\n`)
    expect(existsSync(join(dir, 'from-a-folder'))).toBe(false)
    const r2 = ferry('restore', '--store', pw, '--in', file, '--password-file', pw)
    expect(r2.status).toBe(2)
    expect(r2.stderr).toMatch(/is a file, not a Ferry store \(a store is a directory\) \[BAD_INPUT\]\n$/)
    expect(readFileSync(pw, 'utf8')).toBe('correct horse battery staple\n')
  })

  it('--out replaces an older backup, never a file that is not one, nor a pipe or device', () => {
    const notes = join(dir, 'notes.txt')
    writeFileSync(notes, 'my notes\n')
    const r = ferry('backup', '--store', old, '--out', notes, '--password-file', pw)
    expect(r.stderr).toBe(`ferry: --out ${notes} already exists and is not a Ferry backup: a backup replaces only an older backup, never other data; move that file away or name another one [BAD_INPUT]\n`)
    expect(r.status).toBe(2)
    expect(readFileSync(notes, 'utf8')).toBe('my notes\n')
    expect(existsSync(`${notes}.partial`)).toBe(false)
    // A FIFO stands for a device as /dev/stdout would: a rename would put a plain file in its place.
    const fifo = join(dir, 'pipe')
    execFileSync('mkfifo', [fifo])
    const p = ferry('backup', '--store', old, '--out', fifo, '--password-file', pw)
    expect(p.stderr).toMatch(/--out .*pipe is not a regular file \(a device, a pipe or a socket\): a backup is written to a file on disk; name one \[BAD_INPUT\]\n$/)
    expect(p.status).toBe(2)
    expect(lstatSync(fifo).isFIFO()).toBe(true)
    // An older backup is the file to replace.
    const again = join(dir, 'again.ferrybak')
    expect(ferry('backup', '--store', old, '--out', again, '--no-password').status).toBe(0)
    const second = ferry('backup', '--store', old, '--out', again, '--password-file', pw)
    expect(second.status, second.stderr).toBe(0)
    expect(ferry('restore', '--store', join(dir, 'from-again'), '--in', again, '--password-file', pw).status).toBe(0)
  })

  it('a backup given through a pipe is refused in plain words: a restore reads its file at random', () => {
    const piped = join(dir, 'piped.ferrybak')
    expect(ferry('backup', '--store', old, '--out', piped, '--no-password').status).toBe(0)
    // As a shell pipes it: `cat FILE | ferry restore --in /dev/stdin`.
    const r = spawnSync('sh', ['-c', 'cat "$1" | "$2" "$3" restore --store "$4" --in /dev/stdin', 'sh', piped, process.execPath, FERRY, join(dir, 'from-a-pipe')],
      { cwd: ROOT, encoding: 'utf8' })
    expect(r.stderr).toBe('ferry: /dev/stdin is not a regular file (a pipe or a device): a backup is read from a file on disk; save it to one first [BAD_INPUT]\n')
    expect(r.status).toBe(2)
    expect(existsSync(join(dir, 'from-a-pipe'))).toBe(false)
  })

  it('a media file damaged on the phone before its backup: the restore completes without it, and says so', () => {
    const phone = join(dir, 'damaged-phone')
    expect(ferry('seed', '--store', phone, '--profile', 'tiny').status).toBe(0)
    const media = join(phone, 'media')
    const files = (readdirSync(media, { recursive: true }) as string[]).filter(f => /[0-9a-f]{64}$/.test(f))
    expect(files.length).toBeGreaterThan(1)
    const bad = join(media, files[0])
    const bytes = readFileSync(bad)
    bytes[0] ^= 0xff
    writeFileSync(bad, bytes)
    const backup = join(dir, 'damaged.ferrybak')
    expect(ferry('backup', '--store', phone, '--out', backup, '--password-file', pw).status).toBe(0)
    const target = join(dir, 'restored-without-it')
    const r = ferry('restore', '--store', target, '--in', backup, '--password-file', pw)
    expect(r.status, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/Restored and verified/)
    expect(r.stderr).toMatch(/warning: 1 media file was damaged on the phone the backup was made from .* and was not restored/)
    expect(r.stderr).not.toMatch(/already here/)
    const messages = (t: string): string[] => t.split('\n').filter(l => l.startsWith('{"type":"message"'))
    expect(messages(ferry('export', '--store', target).stdout)).toEqual(messages(ferry('export', '--store', phone).stdout))
  })

  it('a media file cut short in the store: the backup is written without it and says so, as the restore does', () => {
    const phone = join(dir, 'short-phone')
    expect(ferry('seed', '--store', phone, '--profile', 'tiny').status).toBe(0)
    const media = join(phone, 'media')
    const files = (readdirSync(media, { recursive: true }) as string[]).filter(f => /[0-9a-f]{64}$/.test(f))
    truncateSync(join(media, files[0]), 1)
    const backup = join(dir, 'short.ferrybak')
    const b = ferry('backup', '--store', phone, '--out', backup, '--password-file', pw)
    expect(b.status, b.stderr).toBe(0)
    expect(b.stderr).toMatch(/\nwarning: 1 media file in this store was cut short, or deleted while the backup ran, so the backup holds its message without it: restored, the chats show it as missing\.\n$/)
    const r = ferry('restore', '--store', join(dir, 'restored-short'), '--in', backup, '--password-file', pw)
    expect(r.status, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/warning: 1 media file was damaged on the phone the backup was made from .* and was not restored/)
  })

  it('a media file damaged in the store (same size, other bytes): the backup says so, as the restore later does', () => {
    const dir = tempDir()
    const src = join(dir, 'flipped')
    expect(ferry('import', join(ROOT, 'test', 'fixtures', 'edge-cases.ndjson'), '--store', src).status).toBe(0)
    const files = readdirSync(join(src, 'media'), { recursive: true, encoding: 'utf8' }).map(f => join(src, 'media', f)).filter(f => statSync(f).isFile() && statSync(f).size > 0)
    const bytes = readFileSync(files[0]); bytes[0] ^= 0xff; writeFileSync(files[0], bytes)
    const b = ferry('backup', '--store', src, '--out', join(dir, 'flipped.ferrybak'), '--no-password', '--json')
    expect(b.status).toBe(0)
    const [figures, ...warnings] = jsonLines(b.stdout)
    expect(figures).toMatchObject({ mediaFilesDamaged: 1 })
    expect(warnings.map(w => w.warning)).toEqual(['no-password', 'media-missing', 'media-damaged'])
    expect(b.stderr).toMatch(/damaged/)
    // Said without --json too, with what the restore will do and what brings the file back.
    const plain = ferry('backup', '--store', src, '--out', join(dir, 'flipped-plain.ferrybak'), '--no-password')
    expect(plain.status, plain.stderr).toBe(0)
    expect(plain.stderr).toMatch(/warning: 1 media file in this store is damaged .* a restore of this backup leaves it out and keeps everything else.*a backup from a phone that holds a good copy brings it\./)
    const target = join(dir, 'restored-flipped')
    const r = ferry('restore', '--store', target, '--in', join(dir, 'flipped.ferrybak'))
    expect(r.status, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/Restored and verified/)
    expect(r.stderr).toMatch(/warning: 1 media file was damaged on the phone the backup was made from .* and was not restored/)
    const messages = (t: string): string[] => t.split('\n').filter(l => l.startsWith('{"type":"message"'))
    expect(messages(ferry('export', '--store', target).stdout)).toEqual(messages(ferry('export', '--store', src).stdout))
  })

  it('--help teaches with an example; both commands are listed', () => {
    for (const cmd of ['backup', 'restore']) {
      const h = ferry(cmd, '--help')
      expect(h.status).toBe(0)
      expect(h.stdout).toMatch(new RegExp(`Usage: ferry ${cmd} `))
      expect(h.stdout).toMatch(/Example:\n {2}ferry (backup|restore) --store/)
    }
    expect(ferry('--help').stdout).toMatch(/backup .*\n {2}restore /)
  })
})

describe('ferry restore killed with SIGKILL', () => {
  it('resumes from its checkpoint when run again and ends verified and equal', async () => {
    const src = join(dir, 'big')
    const store = openStore(src)
    await fillStore(store, { conversations: 6, messagesPerConversation: 3000, mediaSizes: [6e6, 6e6, 6e6, 6e6, 6e6, 6e6] })
    const srcExport = await exportText(store)
    store.close()
    const bak = join(dir, 'big.ferrybak')
    expect(ferry('backup', '--store', src, '--out', bak, '--password-file', pw).status).toBe(0)
    const target = join(dir, 'big-new')
    const child = spawn(process.execPath, [FERRY, 'restore', '--store', target, '--in', bak, '--password-file', pw], { cwd: ROOT, stdio: 'ignore' })
    const exited = new Promise<number | null>(resolve => child.on('exit', code => resolve(code)))
    let done = false
    void exited.then(() => { done = true })
    // Kill it once it has committed something (messages come first, then media). Nothing announces a
    // commit (restore --json prints one event, at the end), so the store itself is polled, bounded by
    // the child's exit and a deadline. (Watching its WAL with inotify instead fed on itself: opening the
    // store to look writes its -shm and WAL.)
    const deadline = Date.now() + 60_000
    while (!done) {
      if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error('ferry restore committed nothing within 60 s') }
      await new Promise(resolve => setTimeout(resolve, 10))
      if (!existsSync(join(target, 'history.db'))) continue
      try {
        const db = new Database(join(target, 'history.db'), { readonly: true, fileMustExist: true })
        const n = (db.prepare('SELECT count(*) AS n FROM messages').get() as { n: number }).n
        db.close()
        if (n > 0) { child.kill('SIGKILL'); break }
      } catch {}
    }
    const code = await exited
    const r = ferry('restore', '--store', target, '--in', bak, '--password-file', pw, '--json')
    expect(r.status).toBe(0)
    const ev = jsonLines(r.stdout).at(-1) as { skippedMessages: number, skippedMediaBytes: number, messages: number }
    expect(code).toBeNull() // killed mid-way, not finished
    expect(ev.skippedMessages + ev.skippedMediaBytes).toBeGreaterThan(0)
    expect(ev.messages).toBe(18_000)
    const check = openStore(target)
    expect(await exportText(check)).toBe(srcExport)
    check.close()
  }, 120_000)
})

describe('ferry backup stopped with Ctrl-C', () => {
  // Its FILE.partial left behind would make the same command, run again, refuse it as a backup still
  // running; and it holds the history. The backup holds a few MiB in (FERRY_TEST_HOLD_BACKUP), so the
  // signal lands with the file half written, deterministically.
  it('takes its partial file away, leaves the older backup at FILE as it was, says so, exits 130; run again, it backs up', async () => {
    const src = join(dir, 'stopped')
    const store = openStore(src)
    await fillStore(store, { conversations: 1, messagesPerConversation: 10, mediaSizes: [6e6] })
    store.close()
    const out = join(dir, 'stopped.ferrybak')
    expect(ferry('backup', '--store', old, '--out', out, '--no-password').status).toBe(0)
    const older = readFileSync(out)
    const child = spawn(process.execPath, [FERRY, 'backup', '--store', src, '--out', out, '--no-password'], {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FERRY_TEST_HOLD_BACKUP: '1' }
    })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    child.stdout.resume()
    const closed = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => child.on('close', (code, signal) => resolve({ code, signal })))
    await until('the backup is half written', () => (statSync(`${out}.partial`, { throwIfNoEntry: false })?.size ?? 0) > 4 * 1024 * 1024)
    child.kill('SIGINT')
    expect(await closed, stderr).toEqual({ code: 130, signal: null })
    expect(stderr).toBe(`\nStopped. Nothing was backed up: ${out} is not written. Run the same backup again to back up.\n`)
    expect(existsSync(`${out}.partial`)).toBe(false)
    expect(readFileSync(out).equals(older)).toBe(true)
    const again = ferry('backup', '--store', src, '--out', out, '--no-password')
    expect(again.status, again.stderr).toBe(0)
    const restored = join(dir, 'stopped-restored')
    expect(ferry('restore', '--store', restored, '--in', out).status).toBe(0)
    expect(JSON.parse(ferry('inspect', '--store', restored, '--json').stdout).stats).toMatchObject({ messages: 10, mediaPresent: 1 })
  }, 30_000)
})
