import { parseArgs, type ParseArgsConfig } from 'node:util'

type Options = NonNullable<ParseArgsConfig['options']>
type Values<O extends Options> = ReturnType<typeof parseArgs<{ options: O, strict: true }>>['values']

/**
 * Parses the options of an npm script (bench, chaos, fuzz, gauntlet). `--help` (or `-h`) prints `usage`
 * and exits 0. An unknown option, a missing value or a stray argument prints what was wrong and the
 * usage on stderr and exits 2 (bad usage), where parseArgs alone would end in a stack trace.
 */
export function scriptArgs<O extends Options> (usage: string, options: O, args = process.argv.slice(2)): Values<O> {
  return parsed(usage, options, args, false).values
}

/** scriptArgs for a script that also takes arguments (source trees): the options, and the arguments in order. */
export function scriptArgsAndPositionals<O extends Options> (usage: string, options: O, args = process.argv.slice(2)): { values: Values<O>, positionals: string[] } {
  return parsed(usage, options, args, true)
}

function parsed<O extends Options> (usage: string, options: O, args: string[], allowPositionals: boolean): { values: Values<O>, positionals: string[] } {
  let out: { values: Values<O> & { help?: boolean }, positionals: string[] }
  try {
    out = parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals }) as typeof out
  } catch (err) {
    usageError(usage, (err as Error).message)
  }
  if (out.values.help === true) {
    process.stdout.write(`${usage.trimEnd()}\n`)
    process.exit(0)
  }
  return out
}

/** Prints what was wrong and the usage on stderr, and exits 2 (bad usage). */
export function usageError (usage: string, message: string): never {
  process.stderr.write(`${message}\n\n${usage.trimEnd()}\n`)
  process.exit(2)
}

/**
 * The value of a numeric option (`fallback` when absent), or exits 2 with `usage` when it is not a
 * number of at least `min` (an integer unless `integer` is false).
 */
export function numberOption (usage: string, name: string, value: string | undefined, fallback: number, min = 0, integer = true): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (value.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min) {
    usageError(usage, `--${name} wants ${integer ? 'an integer' : 'a number'} of at least ${min}, not ${JSON.stringify(value)}`)
  }
  return n
}
