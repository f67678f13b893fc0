import { describe, expect, it } from 'vitest'
import { ferry } from '../helpers/ferry-sync.js'

// The command lines people get wrong before anything runs: options before the command, a flag whose
// value was left out, a bare word where an option was meant, a misspelt option. Each is told in one
// sentence that shows the line put right, exit 2, and never a stack trace.

describe('a command line in the wrong shape', () => {
  it('options before the command: shows the line with the command first', () => {
    const r = ferry('--store', './my phone', 'inspect', '--json')
    expect(r.stderr).toBe("ferry: the command comes first, then its options: ferry inspect --store './my phone' --json\nRun 'ferry inspect --help' for its options. [BAD_INPUT]\n")
    expect(r.status).toBe(2)
  })

  it('a word that names no command, even one every object has, is an unknown command', () => {
    for (const word of ['constructor', 'toString']) {
      const r = ferry(word)
      expect(r.stderr).toMatch(new RegExp(`^ferry: unknown command '${word}'\\n\\n`))
      expect(r.stderr).not.toMatch(/\n\s+at /)
      expect(r.status).toBe(2)
    }
  })

  it('a flag left without its value says which and what goes there, not parseArgs\' "ambiguous"', () => {
    const last = ferry('inspect', '--store')
    expect(last.stderr).toBe("ferry: --store needs a value, like --store DIR\nRun 'ferry inspect --help' for usage. [BAD_INPUT]\n")
    expect(last.status).toBe(2)
    const before = ferry('receive', '--store', 'never-made', '--peer', '--no-mdns')
    expect(before.stderr).toBe("ferry: --peer needs a value, like --peer MULTIADDR: '--no-mdns' after it is another option\nRun 'ferry receive --help' for usage. [BAD_INPUT]\n")
    expect(before.status).toBe(2)
    const short = ferry('seed', '-s', '--profile', 'tiny')
    expect(short.stderr).toBe("ferry: --store needs a value, like --store DIR: '--profile' after it is another option\nRun 'ferry seed --help' for usage. [BAD_INPUT]\n")
  })

  it('a bare word where the store was meant, and a misspelt option, are shown what was probably meant', () => {
    const bare = ferry('inspect', './old-phone')
    expect(bare.stderr).toBe("ferry: unexpected './old-phone': ferry inspect takes named options only (did you mean --store ./old-phone?)\nRun 'ferry inspect --help' for usage. [BAD_INPUT]\n")
    expect(bare.status).toBe(2)
    const slip = ferry('send', '--store', './old-phone', '--no-mnds')
    expect(slip.stderr).toBe("ferry: unknown option '--no-mnds' (did you mean --no-mdns?)\nRun 'ferry send --help' for usage. [BAD_INPUT]\n")
    expect(slip.status).toBe(2)
    const far = ferry('inspect', '--store', './old-phone', '--verbose')
    expect(far.stderr).toBe("ferry: unknown option '--verbose'\nRun 'ferry inspect --help' for usage. [BAD_INPUT]\n")
  })
})

describe('--json given to a command that does not take it', () => {
  it('is refused on stderr alone: export\'s stdout is the history, not an error event', () => {
    const r = ferry('export', '--store', './old-phone', '--json')
    expect(r.stdout).toBe('')
    expect(r.stderr).toBe("ferry: unknown option '--json'\nRun 'ferry export --help' for usage. [BAD_INPUT]\n")
    expect(r.status).toBe(2)
    // A command that takes it still answers in JSON.
    const inspect = ferry('inspect', '--store', '--json')
    expect(JSON.parse(inspect.stdout)).toMatchObject({ event: 'error', code: 'BAD_INPUT' })
  })
})
