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
      args: argv,
      options: { ...cmd.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: cmd.allowPositionals ?? false,
      strict: true
    })
    return { values: values as ParsedArgs['values'], positionals }
  } catch (err) {
    throw new FerryError(ErrorCode.BAD_INPUT, `${(err as Error).message}\nRun 'ferry ${cmd.name} --help' for usage.`)
  }
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

/** Parses a non-negative integer flag, failing with a usage error that names the flag. */
export function integerFlag (args: ParsedArgs, name: string, fallback: number): number {
  const v = args.values[name]
  if (v === undefined) return fallback
  const n = Number(v)
  if (typeof v !== 'string' || !Number.isSafeInteger(n) || n < 0) {
    throw new FerryError(ErrorCode.BAD_INPUT, `--${name} must be a non-negative integer, got '${String(v)}'`)
  }
  return n
}
