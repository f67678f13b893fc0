// `ferry restore` asks for the password on a terminal, where a person cannot see what they typed: a
// wrong one is asked again (three tries in all), an empty one is said to be empty and asked again; a
// --password-file, which does not change between tries, gets one. Typed on a real pseudo-terminal
// (util-linux's `script`), as a person types.
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'
import { ferry, ROOT } from '../helpers/ferry-sync.js'
import { until } from '../helpers/until.js'
import { cannotRun } from '../helpers/cannot-run.js'
import { noTerminal, onTerminal, type OnTerminal } from '../helpers/terminal.js'

const skip = cannotRun('the restore password test', noTerminal)
const QUESTION = 'Password of the backup: '

const dir = tempDir()
const backup = join(dir, 'chats.ferrybak')
const pw = join(dir, 'pw')
let oldExport: string

beforeAll(() => {
  const phone = join(dir, 'phone')
  expect(ferry('import', join(ROOT, 'test', 'fixtures', 'edge-cases.ndjson'), '--store', phone).status).toBe(0)
  oldExport = ferry('export', '--store', phone).stdout
  writeFileSync(pw, 'correct horse battery\n')
  expect(ferry('backup', '--store', phone, '--out', backup, '--password-file', pw).status).toBe(0)
}, 60_000)

afterAll(() => cleanupTempDirs())

const count = (s: string, of: string): number => s.split(of).length - 1

/** Types `answer` once the question was asked for the `n`th time. */
async function answer (t: OnTerminal, n: number, text: string): Promise<void> {
  await until(`question ${n}`, () => count(t.output(), QUESTION) >= n || t.child.exitCode !== null)
  expect(count(t.output(), QUESTION), t.output()).toBe(n)
  t.child.stdin.write(text)
}

describe('ferry restore\'s password, typed on a terminal', () => {
  it.skipIf(skip)('a wrong one and an empty one are asked again; the right one then restores', async () => {
    const store = join(dir, 'restored')
    const t = onTerminal(['restore', '--store', store, '--in', backup])
    try {
      await answer(t, 1, 'tr0ub4dor&3\r')
      await answer(t, 2, '\r')
      await answer(t, 3, 'correct horse battery\r')
      expect(await t.closed, t.output()).toBe(0)
    } finally {
      if (t.child.exitCode === null) t.child.kill()
    }
    const said = t.output().replace(/\r\n/g, '\n')
    expect(said).toContain(`${QUESTION}\nWrong password, try again (2 tries left).\n${QUESTION}\nThe password is empty; type the password the backup was made with.\n${QUESTION}\n`)
    expect(said).toContain('Restored and verified:')
    expect(ferry('export', '--store', store).stdout).toBe(oldExport)
  }, 60_000)

  it.skipIf(skip)('three wrong ones end it: exit 2, the wrong password said, no store made', async () => {
    const store = join(dir, 'never')
    const t = onTerminal(['restore', '--store', store, '--in', backup])
    try {
      await answer(t, 1, 'one\r')
      await answer(t, 2, 'two\r')
      await answer(t, 3, 'three\r')
      expect(await t.closed, t.output()).toBe(2)
    } finally {
      if (t.child.exitCode === null) t.child.kill()
    }
    const said = t.output().replace(/\r\n/g, '\n')
    expect(count(said, QUESTION)).toBe(3)
    expect(said).toContain('Wrong password, try again (last try).\n')
    expect(said).toMatch(/\nferry: wrong password for chats\.ferrybak \(or its header is damaged\) \[BAD_INPUT\]\n$/)
    expect(existsSync(store)).toBe(false)
  }, 60_000)

  it('a --password-file gets one try: it does not change between tries', () => {
    const wrong = join(dir, 'wrong')
    writeFileSync(wrong, 'tr0ub4dor&3\n')
    const r = ferry('restore', '--store', join(dir, 'from-file'), '--in', backup, '--password-file', wrong)
    expect(r.status).toBe(2)
    expect(r.stderr).toBe('ferry: wrong password for chats.ferrybak (or its header is damaged) [BAD_INPUT]\n')
  }, 60_000)
})
