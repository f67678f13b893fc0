// Every command's --help is its whole manual: it names every option the command accepts (the short
// form too), names no option the command refuses, and says what its exit codes mean. The options are
// read from each command's own definition, so a flag added without its help line fails here.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ferry, ROOT } from '../helpers/ferry-sync.js'
import type { Command } from '../../src/cli/command.js'
import { SELECTION_OPTIONS } from '../../src/cli/selection-flags.js'
import { PROFILE_NAMES } from '../../src/sim/profiles.js'

/** The commands `ferry --help` lists. */
function commands (): string[] {
  const r = ferry('--help')
  expect(r.status).toBe(0)
  const listed = r.stdout.split('\n\nCommands:\n')[1].split('\n\n')[0]
  return listed.split('\n').map(l => l.trim().split(/\s+/)[0])
}

const names = commands()

async function definition (name: string): Promise<Command> {
  return (await import(`../../src/cli/${name}.ts`) as { default: Command }).default
}

/** The options the help's Options section lists: each of its lines that starts with a flag. */
function listed (help: string): string[] {
  const section = help.split('\nOptions:\n')[1]?.split('\n\n')[0] ?? ''
  return [...section.matchAll(/^ {2}(?:-\w, )?--([a-z][\w-]*)/gm)].map(m => m[1])
}

describe('ferry --help', () => {
  it('names the options ferry takes before a command, and each does what it says', () => {
    const help = ferry('--help').stdout
    const options = help.split('\n\nOptions:\n')[1]?.split('\n\n')[0] ?? ''
    expect([...options.matchAll(/^ {2}(?:-\w, )?--([a-z][\w-]*)/gm)].map(m => m[1])).toEqual(['help', 'version'])
    expect(ferry('-h').stdout).toBe(help)
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version
    const r = ferry('--version')
    expect(r.status).toBe(0)
    expect(r.stdout).toBe(`ferry ${version}\n`)
  })
})

describe('ferry COMMAND --help', () => {
  it('covers every command there is', () => {
    expect(names).toEqual(['seed', 'import', 'export', 'inspect', 'send', 'receive', 'backup', 'restore', 'demo', 'web'])
  })

  it.each(names)('ferry %s --help names every option it accepts, and only those', async name => {
    const help = ferry(name, '--help').stdout
    const { options } = await definition(name)
    for (const [option, o] of Object.entries(options)) {
      expect(help, `--${option}`).toMatch(new RegExp(`(^|[\\s[|(,'])--${option}(?![\\w-])`))
      if (o.short !== undefined) expect(help, `-${o.short}, --${option}`).toContain(`-${o.short}, --${option} `)
    }
    // Listed in its Options section: every option listed is one it takes, and every one it takes is listed.
    const inSection = listed(help)
    for (const option of inSection) expect(Object.keys(options), `--${option} listed in its help`).toContain(option)
    expect([...new Set(inSection)].sort()).toEqual(Object.keys(options).sort())
  })

  it.each(names)('ferry %s --help: a usage line that spells its options out spells them all', async name => {
    const help = ferry(name, '--help').stdout
    const usage = help.split('\n\n')[0]
    // `[options]` says there are more than the line shows; `[selection]` stands for --chats, --since and --until.
    if (usage.includes('[options]')) return
    const { options } = await definition(name)
    const shown = usage.includes('[selection]') ? usage + Object.keys(SELECTION_OPTIONS).map(o => ` --${o}`).join('') : usage
    for (const option of Object.keys(options)) expect(shown, `--${option}`).toMatch(new RegExp(`--${option}(?![\\w-])`))
  })

  it.each(['seed', 'demo'])('ferry %s --help names every profile --profile takes', name => {
    const help = ferry(name, '--help').stdout
    for (const profile of PROFILE_NAMES) expect(help).toMatch(new RegExp(`\\b${profile}\\b`))
  })

  it.each(names)('ferry %s --help says what its exit codes mean', name => {
    const help = ferry(name, '--help').stdout
    expect(help).toMatch(/\nExit codes: 0 [^\n]*/)
    const codes = help.split('\nExit codes: ')[1]
    for (const code of ['0', '1', '2']) expect(codes, `exit ${code}`).toMatch(new RegExp(`(^|[\\s,])${code}\\s`))
    // Every command that works long enough to be stopped says what each way of stopping it exits with
    // (inspect is over at once; web is served until stopped, and that is its 0).
    if (name !== 'inspect' && name !== 'web') {
      for (const code of ['130', '143', '129']) expect(codes, `exit ${code}`).toMatch(new RegExp(`(^|[\\s,(])${code}\\s`))
    }
  })

  it.each(names)('ferry %s takes -s for --store wherever it takes a store', async name => {
    const { options } = await definition(name)
    if (options.store === undefined) return
    expect(options.store.short).toBe('s')
    // Heard as --store, whose value is missing.
    const r = ferry(name, '-s')
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/^ferry: --store needs a value, like --store DIR/)
  })
})
