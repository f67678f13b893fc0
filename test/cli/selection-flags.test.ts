import { spawnSync } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
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

  it('take --since inclusive and --until exclusive, to the millisecond, in the zone each names', () => {
    // 18:00 in UTC+1 is 17:00Z; the messages sit one millisecond either side of each edge.
    const since = Date.UTC(2024, 0, 31, 17, 0, 0)
    const until = Date.UTC(2024, 1, 1, 0, 0, 0, 500)
    const edges = join(dir, 'edges')
    const file = join(dir, 'edges.ndjson')
    const lines = [
      { type: 'contact', id: 'u1', name: 'Ann' },
      { type: 'conversation', id: 'c1', kind: 'direct', title: 'Ann', members: ['me', 'u1'] },
      ...[since - 1, since, until - 1, until].map((ts, i) => ({ type: 'message', conversation: 'c1', id: `m${i}`, sender: 'u1', ts, kind: 'text', text: `at ${ts}` }))
    ]
    writeFileSync(file, lines.map(l => JSON.stringify(l)).join('\n') + '\n')
    expect(ferry(['import', file, '--store', edges]).status).toBe(0)
    const picked = join(dir, 'edges.ferrybak')
    const b = ferry(['backup', '--store', edges, '--out', picked, '--no-password', '--since', '2024-01-31T18:00+01:00', '--until', '2024-02-01T00:00:00.5Z'])
    expect(b.status, b.stderr).toBe(0)
    const restored = join(dir, 'edges-restored')
    expect(ferry(['restore', '--store', restored, '--in', picked]).status).toBe(0)
    const exported = spawnSync(process.execPath, [FERRY, 'export', '--store', restored], { encoding: 'utf8', cwd: ROOT })
    const ids = exported.stdout.trim().split('\n').map(l => JSON.parse(l) as { type: string, id?: string }).filter(r => r.type === 'message').map(r => r.id)
    expect(ids).toEqual(['m1', 'm2'])
  })

  it('--help says which clock a date is read on', () => {
    const r = spawnSync(process.execPath, [FERRY, 'send', '--help'], { encoding: 'utf8', cwd: ROOT })
    expect(r.stdout).toMatch(/--since DATE .*2024-01-31 \(its midnight\) or\s+2024-01-31T18:00, in this machine's time zone, or with a zone of its\s+own: 2024-01-31T18:00Z/)
  })
})

describe('--chats with an id that holds a comma', () => {
  // An id is the store's own (an import keeps an export's), and may hold a comma, which --chats reads as
  // the end of an id: `\,` writes it, inspect shows ids in that form and says so, and --help teaches it.
  const commas = join(dir, 'commas')
  const exported = (store: string): string[] => {
    const e = spawnSync(process.execPath, [FERRY, 'export', '--store', store], { encoding: 'utf8', cwd: ROOT })
    return e.stdout.trim().split('\n').map(l => JSON.parse(l) as { type: string, conversation?: string }).filter(r => r.type === 'message').map(r => String(r.conversation))
  }

  beforeAll(() => {
    const file = join(dir, 'commas.ndjson')
    const lines = [
      { type: 'contact', id: 'u1', name: 'Ann' },
      ...['family, close', 'work', 'a\\b'].map(id => ({ type: 'conversation', id, kind: 'group', title: id, members: ['u1'] })),
      ...['family, close', 'work', 'a\\b'].map((conversation, i) => ({ type: 'message', conversation, id: `m${i}`, sender: 'u1', ts: 1_700_000_000_000 + i, kind: 'text', text: 'hi' }))
    ]
    writeFileSync(file, lines.map(l => JSON.stringify(l)).join('\n') + '\n')
    expect(ferry(['import', file, '--store', commas]).status).toBe(0)
  }, 60_000)

  it('inspect shows the id as --chats takes it, and says how', () => {
    const r = spawnSync(process.execPath, [FERRY, 'inspect', '--store', commas], { encoding: 'utf8', cwd: ROOT })
    expect(r.stdout).toMatch(/\n {2}family\\, close {2}group /)
    // A backslash before anything but a comma or a backslash is itself, and shown as it is.
    expect(r.stdout).toMatch(/\n {2}a\\b +group /)
    expect(r.stdout).toContain("\nIds are shown as --chats takes them: \\, is a comma in an id, \\\\ a backslash, '\\ ' a space at its start or end (in a shell, quoted: --chats 'family\\, close').\n")
    // The JSON keeps the id itself.
    const j = spawnSync(process.execPath, [FERRY, 'inspect', '--store', commas, '--json'], { encoding: 'utf8', cwd: ROOT })
    expect((JSON.parse(j.stdout) as { conversations: Array<{ id: string }> }).conversations.map(c => c.id)).toEqual(['a\\b', 'family, close', 'work'])
  })

  it('names it with \\, (as inspect shows it), in one --chats or several, and restores it by the same words', () => {
    const out = join(dir, 'family.ferrybak')
    const b = ferry(['backup', '--store', commas, '--out', out, '--no-password', '--chats', 'family\\, close'])
    expect(b.status, b.stderr).toBe(0)
    const restored = join(dir, 'family-restored')
    expect(ferry(['restore', '--store', restored, '--in', out, '--chats', 'family\\, close']).status).toBe(0)
    expect(exported(restored)).toEqual(['family, close'])

    const both = join(dir, 'both.ferrybak')
    const r = ferry(['backup', '--store', commas, '--out', both, '--no-password', '--chats', 'family\\, close', '--chats', 'a\\b,work'])
    expect(r.status, r.stderr).toBe(0)
    const all = join(dir, 'both-restored')
    expect(ferry(['restore', '--store', all, '--in', both]).status).toBe(0)
    expect(exported(all).sort()).toEqual(['a\\b', 'family, close', 'work'])
  })

  it('typed without the escape, is refused naming the ids held, each quoted', () => {
    const r = ferry(['backup', '--store', commas, '--out', join(dir, 'x.ferrybak'), '--no-password', '--chats', 'family, close'])
    expect(r.stderr).toBe("ferry: this phone holds no conversation 'family', 'close' (it holds 'a\\b', 'family, close', 'work') [BAD_INPUT]\n")
    expect(r.status).toBe(2)
  })

  it('--help of each command that takes --chats teaches the escape', () => {
    for (const cmd of ['send', 'receive', 'backup', 'restore']) {
      const h = spawnSync(process.execPath, [FERRY, cmd, '--help'], { encoding: 'utf8', cwd: ROOT })
      expect(h.stdout.replace(/\s+/g, ' '), cmd).toMatch(/given more than once, all of them\. In an id, \\, is a comma, \\\\ a backslash, and '\\ ' a space kept at its start or end/)
    }
  })
})

describe('--chats with an id that begins or ends with a space', () => {
  // --chats trims the spaces around each id (`a, b`), so a space an id begins or ends with is written
  // `\ `, as inspect shows it: such an id (an import keeps an export's) can be named.
  const spaced = join(dir, 'spaced')
  const ids = [' lead', 'trail ', 'lead', 'a\\ b']

  beforeAll(() => {
    const file = join(dir, 'spaced.ndjson')
    const lines = [
      { type: 'contact', id: 'u1', name: 'Ann' },
      ...ids.map(id => ({ type: 'conversation', id, kind: 'group', title: id, members: ['u1'] })),
      ...ids.map((conversation, i) => ({ type: 'message', conversation, id: `m${i}`, sender: 'u1', ts: 1_700_000_000_000 + i, kind: 'text', text: 'hi' }))
    ]
    writeFileSync(file, lines.map(l => JSON.stringify(l)).join('\n') + '\n')
    const r = ferry(['import', file, '--store', spaced])
    expect(r.status, r.stderr).toBe(0)
  }, 60_000)

  it('inspect shows the spaces at either end escaped, and --chats names each id by those words', () => {
    const r = spawnSync(process.execPath, [FERRY, 'inspect', '--store', spaced], { encoding: 'utf8', cwd: ROOT })
    expect(r.stdout).toMatch(/\n {2}\\ lead +group /)
    expect(r.stdout).toMatch(/\n {2}trail\\  +group /)
    // A backslash before a space is escaped itself, so it does not read as one.
    expect(r.stdout).toMatch(/\n {2}a\\\\ b +group /)
    // Each id as inspect shows it, and so as --chats takes it.
    const shown: Record<string, string> = { ' lead': '\\ lead', 'trail ': 'trail\\ ', lead: 'lead', 'a\\ b': 'a\\\\ b' }
    for (const id of ids) {
      const out = join(dir, `spaced-${ids.indexOf(id)}.ferrybak`)
      const b = ferry(['backup', '--store', spaced, '--out', out, '--no-password', '--chats', shown[id]])
      expect(b.status, `${id}: ${b.stderr}`).toBe(0)
      const restored = join(dir, `spaced-restored-${ids.indexOf(id)}`)
      expect(ferry(['restore', '--store', restored, '--in', out]).status).toBe(0)
      const e = spawnSync(process.execPath, [FERRY, 'export', '--store', restored], { encoding: 'utf8', cwd: ROOT })
      const conversations = e.stdout.trim().split('\n').map(l => JSON.parse(l) as { type: string, conversation?: string }).filter(l => l.type === 'message').map(l => l.conversation)
      expect(conversations, JSON.stringify(id)).toEqual([id])
    }
  })

  it('an unescaped space around an id is still trimmed', () => {
    const out = join(dir, 'trimmed.ferrybak')
    expect(ferry(['backup', '--store', spaced, '--out', out, '--no-password', '--chats', ' lead ,']).status).toBe(0)
    const restored = join(dir, 'trimmed-restored')
    expect(ferry(['restore', '--store', restored, '--in', out]).status).toBe(0)
    const e = spawnSync(process.execPath, [FERRY, 'export', '--store', restored], { encoding: 'utf8', cwd: ROOT })
    expect(e.stdout).toContain('"conversation":"lead"')
    expect(e.stdout).not.toContain('"conversation":" lead"')
  })
})
