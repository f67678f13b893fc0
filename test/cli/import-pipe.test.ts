// `ferry import` given a pipe as its PATH: `<(command)` in a shell (/dev/fd/N) or a FIFO. A pipe cannot be
// read at a position, so the import reads it once, from its start, for any format a single file can be;
// a zip, which is read from its end, is refused in words that say to save it to a file first.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'
import { ferry, FERRY, ROOT } from '../helpers/ferry-sync.js'

const FIXTURES = join(ROOT, 'test', 'fixtures')
const NDJSON = join(FIXTURES, 'edge-cases.ndjson')
const TELEGRAM = join(FIXTURES, 'telegram', 'result.json')
const WHATSAPP = join(FIXTURES, 'whatsapp', 'android', 'WhatsApp Chat with Family.txt')

afterAll(() => cleanupTempDirs())

/** Runs a bash script with $FERRY the built CLI; bounded, so a read that never ends fails the test rather than hangs it. */
function shell (script: string): { status: number | null, stdout: string, stderr: string } {
  const r = spawnSync('bash', ['-c', script], { encoding: 'utf8', cwd: ROOT, timeout: 60_000, env: { ...process.env, FERRY: `${process.execPath} ${FERRY}` } })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

/** The store's history as `ferry export` writes it, for comparing two imports. */
function exported (store: string): string {
  const r = ferry('export', '--store', store)
  expect(r.status).toBe(0)
  return r.stdout
}

describe('ferry import from a pipe', () => {
  const dir = tempDir()
  const fromFile = join(dir, 'from-file')

  it('reads NDJSON from <(command) as it reads the file, media from --base', () => {
    expect(ferry('import', NDJSON, '--store', fromFile).status).toBe(0)
    const piped = join(dir, 'piped')
    const r = shell(`$FERRY import <(cat '${NDJSON}') --store '${piped}' --base '${FIXTURES}'`)
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/^imported 6 contacts, 5 conversations, 5 media records \(4 files copied\), 19 messages/)
    expect(exported(piped)).toBe(exported(fromFile))
  })

  it('reads NDJSON from a FIFO its writer fills', () => {
    const fifo = join(dir, 'history.fifo')
    const store = join(dir, 'fifo')
    const r = shell(`mkfifo '${fifo}' && { cat '${NDJSON}' > '${fifo}' & } && $FERRY import '${fifo}' --store '${store}' --base '${FIXTURES}'`)
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    expect(exported(store)).toBe(exported(fromFile))
  })

  it('reads a Telegram result.json and a WhatsApp chat from a pipe, without the media a pipe cannot carry', () => {
    const telegram = join(dir, 'telegram')
    const t = shell(`$FERRY import <(cat '${TELEGRAM}') --store '${telegram}' --json`)
    expect(t.stderr).toBe('')
    expect(t.status).toBe(0)
    const te = JSON.parse(t.stdout) as { format: string, messages: number, mediaFiles: number }
    expect(te).toMatchObject({ format: 'telegram', messages: 20, mediaFiles: 0 })
    const whatsapp = join(dir, 'whatsapp')
    const w = shell(`$FERRY import <(cat '${WHATSAPP}') --store '${whatsapp}' --me Bob --json`)
    expect(w.status).toBe(0)
    expect(JSON.parse(w.stdout)).toMatchObject({ format: 'whatsapp', messages: 15, mediaFiles: 0 })
    // Named by a number, the pipe gives no title; the chat is not called "63".
    expect(exported(whatsapp)).toContain('"title":"WhatsApp chat"')
  })

  it('refuses a zip through a pipe, saying to save it to a file, and makes no store', () => {
    const zip = join(dir, 'telegram.zip')
    const store = join(dir, 'zip')
    const r = shell(`cd '${join(FIXTURES, 'telegram')}' && zip -qr '${zip}' result.json && cd '${ROOT}' && $FERRY import <(cat '${zip}') --store '${store}'`)
    expect(r.stderr).toMatch(/^ferry: \/dev\/fd\/\d+ is a pipe carrying a zip archive: a zip is read from its end, which a pipe cannot give\. Save it to a file and import that \[BAD_INPUT\]\n$/)
    expect(r.status).toBe(2)
    expect(existsSync(store)).toBe(false)
  })
})

describe('ferry import - (standard input)', () => {
  const dir = tempDir()

  it('reads a Telegram result.json and a WhatsApp chat, told by their first bytes as a pipe is', () => {
    const telegram = join(dir, 'telegram')
    const t = shell(`cat '${TELEGRAM}' | $FERRY import - --store '${telegram}'`)
    expect(t.stderr).toBe('')
    expect(t.status).toBe(0)
    expect(t.stdout).toMatch(/^imported \d+ contacts, \d+ conversations, \d+ media records \(0 files copied\), 20 messages into /)
    expect(t.stdout).toMatch(/^format: telegram \(standard input\)/m)
    const whatsapp = join(dir, 'whatsapp')
    const w = shell(`cat '${WHATSAPP}' | $FERRY import - --store '${whatsapp}' --me Bob --json`)
    expect(w.stderr).toBe('')
    expect(w.status).toBe(0)
    expect(JSON.parse(w.stdout)).toMatchObject({ format: 'whatsapp', messages: 15, mediaFiles: 0 })
    expect(exported(whatsapp)).toContain('"title":"WhatsApp chat"')
  })

  it('takes --format for what it carries, as for a path', () => {
    const store = join(dir, 'forced')
    const r = shell(`cat '${TELEGRAM}' | $FERRY import - --format telegram --store '${store}' --json`)
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ format: 'telegram', messages: 20 })
  })

  it('refuses a zip through a pipe, saying to give its path, and makes no store', () => {
    const zip = join(dir, 'telegram.zip')
    const store = join(dir, 'zip')
    const r = shell(`cd '${join(FIXTURES, 'telegram')}' && zip -qr '${zip}' result.json && cd '${ROOT}' && cat '${zip}' | $FERRY import - --store '${store}'`)
    expect(r.stderr).toBe('ferry: standard input carries a zip archive: a zip is read from its end, which a stream cannot give. Give the archive\'s path instead (ferry import FILE.zip) [BAD_INPUT]\n')
    expect(r.status).toBe(2)
    expect(existsSync(store)).toBe(false)
  })

  it('imports a file given to standard input as its path: a zip with its media, a chat with its title', () => {
    const zip = join(dir, 'telegram-with-media.zip')
    const fromPath = join(dir, 'zip-from-path')
    const r = shell(`cd '${join(FIXTURES, 'telegram')}' && zip -qr '${zip}' result.json photos files voice_messages && cd '${ROOT}' && $FERRY import '${zip}' --store '${fromPath}' --json`)
    expect(r.status, r.stderr).toBe(0)
    const fromStdin = join(dir, 'zip-from-stdin')
    const z = shell(`$FERRY import - --store '${fromStdin}' --json < '${zip}'`)
    expect(z.stderr).toBe('')
    expect(z.status).toBe(0)
    const imported = JSON.parse(z.stdout) as { format: string, messages: number, mediaFiles: number }
    expect(imported).toMatchObject({ format: 'telegram', messages: 20, mediaFiles: JSON.parse(r.stdout).mediaFiles })
    expect(imported.mediaFiles).toBeGreaterThan(0)
    expect(exported(fromStdin)).toBe(exported(fromPath))

    // A WhatsApp .txt on standard input: titled by its name, its media beside it imported, as from its path.
    const whatsapp = join(dir, 'whatsapp-file')
    const w = shell(`$FERRY import - --store '${whatsapp}' --me Bob --json < '${WHATSAPP}'`)
    expect(w.stderr).toBe('')
    expect(w.status).toBe(0)
    expect(JSON.parse(w.stdout)).toMatchObject({ format: 'whatsapp', messages: 15 })
    expect(JSON.parse(w.stdout).mediaFiles).toBeGreaterThan(0)
    expect(exported(whatsapp)).toContain('"title":"Family"')
  })

  it('names standard input when what it carries is no export', () => {
    const store = join(dir, 'nothing')
    const r = shell(`echo 'hello there' | $FERRY import - --store '${store}'`)
    expect(r.stderr).toBe('ferry: standard input: not a recognised chat export (tried: canonical NDJSON, Telegram JSON, WhatsApp text) [BAD_INPUT]\n')
    expect(r.status).toBe(2)
    expect(existsSync(store)).toBe(false)
  })
})

describe('ferry import of NDJSON without a message, through a stream', () => {
  const contact = `echo '{"type":"contact","id":"u1","name":"Ann"}'`

  it('names standard input, or the pipe given as PATH, as what held no message', () => {
    const dir = tempDir()
    const stdin = shell(`${contact} | $FERRY import - --store '${join(dir, 'a')}'`)
    expect(stdin.stderr).toBe('ferry: no message in standard input (only 1 contact): nothing was imported [BAD_INPUT]\n')
    expect(stdin.status).toBe(2)
    const piped = shell(`$FERRY import <(${contact}) --store '${join(dir, 'b')}'`)
    expect(piped.stderr).toMatch(/^ferry: no message in \/dev\/fd\/\d+ \(only 1 contact\): nothing was imported \[BAD_INPUT\]\n$/)
    expect(piped.status).toBe(2)
    expect(existsSync(join(dir, 'a'))).toBe(false)
    expect(existsSync(join(dir, 'b'))).toBe(false)
  })
})
