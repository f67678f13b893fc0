import { describe, expect, it } from 'vitest'
import { ferry, jsonLines } from '../helpers/ferry-sync.js'

// The command lines people get wrong before anything runs: options before the command, a flag whose
// value was left out, a bare word where an option was meant, a misspelt option. Each is told in one
// sentence that shows the line put right, exit 2, and never a stack trace.

describe('a command line in the wrong shape', () => {
  it('options before the command: shows the line with the command first', () => {
    const r = ferry('--store', './my phone', 'inspect', '--json')
    expect(r.stderr).toBe("ferry: the command comes first, then its options: ferry inspect --store './my phone' --json\nRun 'ferry inspect --help' for its options. [BAD_INPUT]\n")
    expect(r.status).toBe(2)
    // With --json, as an app runs it: refused as an `error` event on stdout too, not in words only.
    const json = ferry('--json', 'receive', '--store', 'x', '--no-mdns')
    expect(json.status).toBe(2)
    expect(json.stderr).toBe("ferry: the command comes first, then its options: ferry receive --json --store x --no-mdns\nRun 'ferry receive --help' for its options. [BAD_INPUT]\n")
    expect(jsonLines(json.stdout)).toEqual([expect.objectContaining({
      event: 'error', code: 'BAD_INPUT', message: "the command comes first, then its options: ferry receive --json --store x --no-mdns\nRun 'ferry receive --help' for its options."
    })])
    // export speaks no JSON (its stdout is the history): the words only.
    expect(ferry('--json', 'export', '--store', 'x').stdout).toBe('')
  })

  it('options before the command: the line put right never shows a code, a QR payload or a TURN password', () => {
    const code = ferry('--code', '204-8816-3390', 'receive', '--store', 'x')
    expect(code.stderr).toBe("ferry: the command comes first, then its options: ferry receive --code ... --store x\nRun 'ferry receive --help' for its options. [BAD_INPUT]\n")
    expect(code.status).toBe(2)
    const qr = ferry('--store', 'x', '--qr=ferry://pair?v=2&code=20488163390&k=c2VjcmV0', 'receive', '--ice-servers', 'stun:s.example:3478,turn:bob:hunter2@t.example:3478')
    expect(qr.stderr).toBe("ferry: the command comes first, then its options: ferry receive --store x --qr=... --ice-servers 'stun:s.example:3478,turn:bob:***@t.example:3478'\nRun 'ferry receive --help' for its options. [BAD_INPUT]\n")
    // A code typed bare, and the path of a file holding one (no secret), are shown as such.
    const bare = ferry('--code-file', './code.txt', '204 8816 3390', 'receive')
    expect(bare.stderr).toBe("ferry: the command comes first, then its options: ferry receive --code-file ./code.txt ...\nRun 'ferry receive --help' for its options. [BAD_INPUT]\n")
  })

  it('a code or a QR payload typed where the command goes is not echoed back', () => {
    const code = ferry('204-8816-3390', 'receive', '--store', 'x')
    expect(code.stderr).toBe("ferry: a pairing code is not a command: ferry receive --store DIR --code followed by it receives with it\nRun 'ferry receive --help' for its options. [BAD_INPUT]\n")
    expect(code.status).toBe(2)
    const qr = ferry('ferry://pair?v=2&code=20488163390&k=c2VjcmV0')
    expect(qr.stderr).toBe("ferry: a QR code payload is not a command: ferry receive --store DIR --qr followed by it receives with it\nRun 'ferry receive --help' for its options. [BAD_INPUT]\n")
  })

  it('a code typed with spaces and no quotes (several words) shows none of its digits', () => {
    const after = ferry('receive', '--store', 'x', '--code', '204', '8816', '3390')
    expect(after.stderr).toBe('ferry: unexpected digits after the options: ferry receive takes named options only (a code typed with spaces is several ' +
      "words: write it with dashes, like --code 123-4567-8901, or in quotes)\nRun 'ferry receive --help' for usage. [BAD_INPUT]\n")
    expect(after.status).toBe(2)
    const first = ferry('--code', '204', '8816', '3390', 'receive', '--store', 'x')
    expect(first.stderr).toBe("ferry: the command comes first, then its options: ferry receive --code ... ... ... --store x\nRun 'ferry receive --help' for its options. [BAD_INPUT]\n")
  })

  it('an option with its secret and no command is no command, and its secret is not shown', () => {
    expect(ferry('--code=204-8816-3390').stderr).toMatch(/^ferry: unknown command '--code=\.\.\.'\n/)
    // A TURN password runs to the last @ and may hold / and + (a server's shared-secret password is base64).
    const turn = ferry('--ice-servers=turn:bob:ab/cd+ef=@t.example:3478')
    expect(turn.stderr).toMatch(/^ferry: unknown command '--ice-servers=turn:bob:\*\*\*@t\.example:3478'\n/)
    expect(turn.stderr).not.toContain('ab/cd')
  })

  it('a misspelt command: shows the command it resembles, with the line put right (no secret in it)', () => {
    const r = ferry('recieve', '--store', './new phone', '--code', '204-8816-3390')
    expect(r.stderr).toBe("ferry: unknown command 'recieve' (did you mean receive? ferry receive --store './new phone' --code ...)\nRun 'ferry receive --help' for its options. [BAD_INPUT]\n")
    expect(r.status).toBe(2)
    expect(ferry('exprot').stderr).toMatch(/^ferry: unknown command 'exprot' \(did you mean export\? ferry export\)\n/)
  })

  it('a slip equally near two commands names both and puts no line right: sned may be seed or send', () => {
    // Two neighbours swapped is one slip: `sedn` is send's alone.
    expect(ferry('sedn').stderr).toMatch(/^ferry: unknown command 'sedn' \(did you mean send\? ferry send\)\n/)
    const r = ferry('sned', '--store', './old')
    expect(r.stderr).toBe("ferry: unknown command 'sned' (did you mean seed or send?)\nRun 'ferry COMMAND --help' for a command's options. [BAD_INPUT]\n")
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
    // A pairing code typed without --code is taken for a code, and never echoed back.
    const code = ferry('receive', '204-8816-3390')
    expect(code.stderr).toBe("ferry: unexpected pairing code: ferry receive takes named options only (did you mean --code followed by the code you typed?)\nRun 'ferry receive --help' for usage. [BAD_INPUT]\n")
    expect(code.status).toBe(2)
    const qr = ferry('receive', '--store', 'x', 'http://192.168.1.20:8080/#ferry://pair?v=2&k=c2VjcmV0')
    expect(qr.stderr).toBe("ferry: unexpected QR code payload: ferry receive takes named options only (did you mean --qr followed by the payload you typed?)\nRun 'ferry receive --help' for usage. [BAD_INPUT]\n")
    const elsewhere = ferry('inspect', '20488163390')
    expect(elsewhere.stderr).toBe("ferry: unexpected pairing code: ferry inspect takes named options only\nRun 'ferry inspect --help' for usage. [BAD_INPUT]\n")
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
