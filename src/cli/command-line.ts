import type { ParsedArgs } from './command.js'
import { shownValue } from './secret-words.js'

/** An argument as a shell reads it back: quoted when it holds anything but plain characters. */
export function shellWord (a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`
}

/**
 * The command line that was run, rebuilt from its parsed options less those in `drop`: what a person
 * types to run it again (a code that paired once is no use a second time; the network options are).
 * A secret left in is shown as a mark (secret-words.ts): a TURN server is still needed to carry on over
 * WebRTC, but its password must not be printed where apps keep what ferry says.
 */
export function commandLine (name: string, args: ParsedArgs, drop: readonly string[]): string {
  const words = [`ferry ${name}`]
  for (const [key, value] of Object.entries(args.values)) {
    if (drop.includes(key) || key === 'help' || value === undefined || value === false) continue
    for (const v of Array.isArray(value) ? value : [value]) words.push(v === true ? `--${key}` : `--${key} ${shellWord(shownValue(key, v))}`)
  }
  return words.join(' ')
}
