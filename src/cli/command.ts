import { parseArgs, type ParseArgsConfig } from 'node:util'
import { ErrorCode, FerryError } from '../errors.js'

/** Exit codes: 0 done (and verified), 1 failed, 2 bad usage or bad input, 130 stopped by Ctrl-C. */
export const EXIT_OK = 0
export const EXIT_FAILED = 1
export const EXIT_USAGE = 2
/** 128 + SIGINT, as a shell reports a process Ctrl-C ended. */
export const EXIT_INTERRUPTED = 130

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
    throw new FerryError(ErrorCode.BAD_INPUT, `${(err as Error).message}\nRun 'ferry ${cmd.name} --help' for usage.`)
  }
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
