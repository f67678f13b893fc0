import { describe, expect, it } from 'vitest'
import { ferry } from '../helpers/ferry-sync.js'

// The command lines people get wrong before anything runs. Each is told in one
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
})
