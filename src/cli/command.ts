import { constants } from 'node:os'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { ErrorCode, FerryError } from '../errors.js'
import { codePart, secretKind, shownArgv } from './secret-words.js'

/** Exit codes: 0 done (and verified), 1 failed, 2 bad usage or bad input, 128 + the signal when stopped (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP). */
export const EXIT_OK = 0
export const EXIT_FAILED = 1
export const EXIT_USAGE = 2

/**
 * The signals every command stops on as on Ctrl-C, tidying up first: `kill` (SIGTERM) and the terminal
 * closed (SIGHUP) would otherwise end it at once, leaving what it was writing half done and nothing said.
 */
export const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']

/** The stopping signals other than SIGINT: at a question on the terminal, Ctrl-C comes as a key (whileAsking); these do not. */
export const QUESTION_SIGNALS: readonly NodeJS.Signals[] = STOP_SIGNALS.filter(s => s !== 'SIGINT')

/** The exit code a shell reports for a process `signal` ended: 128 + its number (130 for Ctrl-C). */
export function exitOnSignal (signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 2)
}

/**
 * The one place a command hears it is to stop: `handler` is called with the first of Ctrl-C, SIGTERM or
 * SIGHUP (or of `signals`), once; a second signal then ends the process at once, as a second Ctrl-C
 * does where nothing listens. Returns the unsubscribe, for when the work is done.
 */
export function onStop (handler: (signal: NodeJS.Signals) => void, signals: readonly NodeJS.Signals[] = STOP_SIGNALS): () => void {
  const off = (): void => { for (const s of signals) process.off(s, listener) }
  function listener (signal: NodeJS.Signals): void {
    off()
    // After SIGHUP the terminal is gone: a write to it fails (EIO, EPIPE) as an 'error' event, which
    // must not end the clean-up the handler is doing.
    if (signal === 'SIGHUP') for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {})
    handler(signal)
  }
  for (const s of signals) process.on(s, listener)
  return off
}

/**
 * A stop typed at a question a command asks on the terminal (a pairing code, a password), before it did
 * anything: a stop, as Ctrl-C is anywhere else (128 + the signal), not a failure. The terminal is in raw
 * mode while it asks, so Ctrl-C comes as input rather than as SIGINT; a `kill` or the terminal closed come
 * as their signals.
 */
export class StoppedAtQuestion extends Error {
  constructor (readonly signal: NodeJS.Signals = 'SIGINT') {
    super(`stopped with ${signal === 'SIGINT' ? 'Ctrl-C' : signal} at a question`)
    this.name = 'StoppedAtQuestion'
  }
}

/**
 * Asks `question`, a stopping signal meanwhile being a StoppedAtQuestion too: the key pressed as the
 * question appears, before the terminal reads raw, comes as SIGINT, and so does `kill -INT`; these, a
 * `kill` and the terminal closed would otherwise end the process with nothing said.
 */
export async function whileAsking<T> (question: () => Promise<T>): Promise<T> {
  let off = (): void => {}
  const stopped = new Promise<never>((_resolve, reject) => {
    off = onStop(signal => {
      if (signal !== 'SIGHUP') process.stderr.write('\n')
      reject(new StoppedAtQuestion(signal))
    })
  })
  try {
    return await Promise.race([question(), stopped])
  } finally {
    off()
  }
}

export interface Command {
  name: string
  summary: string
  /** Full help: usage line, what it does, options, an example. */
  help: string
  options: NonNullable<ParseArgsConfig['options']>
  allowPositionals?: boolean
  run(args: ParsedArgs): Promise<number>
}

export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | undefined>
  positionals: string[]
}

export function parse (cmd: Command, argv: string[]): ParsedArgs {
  try {
    const { values, positionals } = parseArgs({
      args: negativeValues(cmd.options, argv),
      options: { ...cmd.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: cmd.allowPositionals ?? false,
      strict: true
    })
    return { values: values as ParsedArgs['values'], positionals }
  } catch (err) {
    throw new FerryError(ErrorCode.BAD_INPUT, `${usageMistake(err as Error & { code?: string }, cmd, argv)}\nRun 'ferry ${cmd.name} --help' for usage.`)
  }
}

/**
 * parseArgs' complaint in the words of the person who typed the line: a flag whose value was left out
 * is told so (parseArgs calls the next flag an "ambiguous" value and suggests `--store=-XYZ`), a bare
 * word is shown as the option it was probably meant for, and a misspelt option gets the one it resembles.
 */
function usageMistake (err: Error & { code?: string }, cmd: Command, argv: string[]): string {
  const options = cmd.options
  const longOf = (typed: string): string | undefined => typed.startsWith('--')
    ? typed.slice(2)
    : Object.keys(options).find(k => options[k].short === typed.slice(1))
  if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const typed = /^Option '(-[\w-]+)/.exec(err.message)?.[1]
    const name = typed === undefined ? undefined : longOf(typed)
    if (typed !== undefined && name !== undefined) {
      const placeholder = new RegExp(`--${name} ([A-Z][\\w.,/-]*)`).exec(cmd.help)?.[1] ?? 'VALUE'
      const at = argv.lastIndexOf(typed)
      const next = at >= 0 ? argv[at + 1] : undefined
      return `--${name} needs a value, like --${name} ${placeholder}` + (next !== undefined ? `: '${shownArgv([next])[0]}' after it is another option` : '')
    }
  }
  if (err.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
    const word = /^Unexpected argument '([^]*)'\. /.exec(err.message)?.[1]
    // A code or a QR payload typed without its option is not echoed back (apps keep what ferry prints).
    const secret = word === undefined ? undefined : secretKind(word)
    if (secret !== undefined) {
      const what = secret === 'code' ? 'pairing code' : 'QR code payload'
      return `unexpected ${what}: ferry ${cmd.name} takes named options only` +
        (Object.hasOwn(options, secret) ? ` (did you mean --${secret} followed by the ${secret === 'code' ? 'code' : 'payload'} you typed?)` : '')
    }
    if (word !== undefined && codePart(word)) {
      return `unexpected digits after the options: ferry ${cmd.name} takes named options only` +
        (Object.hasOwn(options, 'code') ? ' (a code typed with spaces is several words: write it with dashes, like --code 123-4567-8901, or in quotes)' : '')
    }
    if (word !== undefined) {
      const storeMissing = options.store !== undefined && !argv.some(a => a === '--store' || a === '-s' || a.startsWith('--store='))
      return `unexpected '${word}': ferry ${cmd.name} takes named options only` + (storeMissing ? ` (did you mean --store ${word}?)` : '')
    }
  }
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const typed = /^Unknown option '(-[^']*)'/.exec(err.message)?.[1]
    const near = typed?.startsWith('--') === true ? closest(typed.slice(2).split('=')[0], [...Object.keys(options), 'help']) : []
    if (typed !== undefined) return `unknown option '${typed}'` + (near.length > 0 ? ` (did you mean ${eitherOf(near.map(n => `--${n}`))}?)` : '')
  }
  return err.message
}

/**
 * The names (options, commands) nearest `typed` within two typing slips (a letter added, dropped or
 * changed, or two neighbours swapped), in the order given; more than one when they are equally near
 * (`sned` is one slip from both seed and send: either may be meant, so both are offered).
 */
export function closest (typed: string, names: string[]): string[] {
  const distance = (a: string, b: string): number => {
    // Optimal string alignment: Levenshtein with a swap of neighbours as one slip, as a typist makes it.
    const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => i === 0 ? j : j === 0 ? i : 0))
    for (let i = 1; i <= a.length; i++) {
      for (let j = 1; j <= b.length; j++) {
        d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
        if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1)
      }
    }
    return d[a.length][b.length]
  }
  const bound = Math.min(2, Math.floor(typed.length / 2))
  const near = names.map(n => ({ n, d: distance(typed, n) })).filter(x => x.d <= bound)
  const best = Math.min(...near.map(x => x.d))
  return near.filter(x => x.d === best).map(x => x.n)
}

/** `a`, `a or b`, `a, b or c`. */
export function eitherOf (words: string[]): string {
  return words.length < 2 ? words.join('') : `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`
}

/**
 * `--timeout -1` as `--timeout=-1`: parseArgs calls a value that starts with a dash ambiguous (it may be
 * an option the value was forgotten before) and says so in its own terms. A negative number is no
 * option, so it goes to the flag, whose own check then says what it wants.
 */
function negativeValues (options: Command['options'], argv: string[]): string[] {
  const out: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--') { out.push(...argv.slice(i)); break }
    const name = a.startsWith('--') ? a.slice(2) : a.length === 2 && a[0] === '-' ? Object.keys(options).find(k => options[k].short === a[1]) : undefined
    const next = argv[i + 1]
    if (name !== undefined && options[name]?.type === 'string' && next !== undefined && /^-\.?\d/.test(next)) {
      out.push(`--${name}=${next}`)
      i++
    } else {
      out.push(a)
    }
  }
  return out
}

export function requireString (args: ParsedArgs, name: string, cmd: string): string {
  const v = args.values[name]
  if (typeof v !== 'string' || v === '') {
    throw new FerryError(ErrorCode.BAD_INPUT, `missing --${name}\nRun 'ferry ${cmd} --help' for usage.`)
  }
  return v
}

export function optionalString (args: ParsedArgs, name: string): string | undefined {
  const v = args.values[name]
  return typeof v === 'string' ? v : undefined
}

/** Parses an integer flag of at least `min` (and at most `max`), failing with a usage error that names the flag. */
export function integerFlag (args: ParsedArgs, name: string, fallback: number, { min = 0, max = Number.MAX_SAFE_INTEGER, unit = '' } = {}): number {
  const v = args.values[name]
  if (v === undefined) return fallback
  const n = Number(v)
  if (typeof v !== 'string' || v.trim() === '' || !Number.isSafeInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? (min === 0 ? '0 or more' : `${min} or more`) : `from ${min} to ${max}`
    throw new FerryError(ErrorCode.BAD_INPUT, `--${name} must be a whole number${unit === '' ? '' : ` of ${unit}`}, ${range}; got '${String(v)}'`)
  }
  return n
}

/** A timeout flag in seconds: at least one, and within what a timer can wait (setTimeout's 2^31 - 1 ms). */
export const TIMEOUT_LIMITS = { min: 1, max: 2_147_483, unit: 'seconds' }
