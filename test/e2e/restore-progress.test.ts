// `ferry restore` on a terminal shows how far it is from its first render: a bar drawn from the hello
// (before the backup's manifest says how much is coming) read as done at once and stayed at 100% for
// the whole restore, so a person could unplug early. Run on a real pseudo-terminal (util-linux's
// `script`), from a real backup of a seeded phone.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'
import { ferry } from '../helpers/ferry-sync.js'
import { cannotRun } from '../helpers/cannot-run.js'
import { barRenders, noTerminal, onTerminal } from '../helpers/terminal.js'

const skip = cannotRun('the restore progress test', noTerminal)

afterAll(() => cleanupTempDirs())

const percent = (render: string): number => Number(/ (\d+)% \|/.exec(render)?.[1])

describe('ferry restore on a terminal', () => {
  it.skipIf(skip)('draws its bar from the backup\'s totals, moving forward to 100%', async () => {
    const dir = tempDir()
    const phone = join(dir, 'phone')
    expect(ferry('seed', '--store', phone, '--profile', 'tiny').status).toBe(0)
    const password = join(dir, 'password')
    writeFileSync(password, 'correct horse battery\n')
    const backup = join(dir, 'chats.ferrybak')
    expect(ferry('backup', '--store', phone, '--out', backup, '--password-file', password).status).toBe(0)
    const t = onTerminal(['restore', '--store', join(dir, 'restored'), '--in', backup, '--password-file', password])
    try {
      expect(await t.closed, t.output()).toBe(0)
    } finally {
      if (t.child.exitCode === null) t.child.kill()
    }
    const renders = barRenders(t.output(), 'restoring')
    expect(renders.length, t.output()).toBeGreaterThan(0)
    // Every render knows the totals: 300 messages, never the hello's 0.
    for (const r of renders) expect(r, t.output()).toMatch(/\| \d+\/300 msgs \|/)
    expect(renders[0]).not.toMatch(/ 100% \|/)
    const shown = renders.map(percent)
    expect(shown).toEqual([...shown].sort((a, b) => a - b))
    expect(shown.at(-1)).toBe(100)
    expect(t.output()).toContain('Restored and verified: 300 messages')
  }, 60_000)
})
