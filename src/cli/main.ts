import '../polyfill.js'
import { printableLines } from '../printable.js'
import { closest, eitherOf, EXIT_FAILED, EXIT_OK, exitOnSignal, EXIT_USAGE, parse, StoppedAtQuestion, type Command } from './command.js'
import { ErrorCode, FerryError, isFerryError } from '../errors.js'
import { setStoreHolderName } from '../store/holder-name.js'
import { shellWord } from './command-line.js'
import { wrapHelp } from './help-wrap.js'
import { jsonEvent, sayStop } from './json-lines.js'
import { secretKind, shownArgv } from './secret-words.js'

// Each subcommand lives in its own module, loaded only when run, so `ferry --help` stays instant.
const COMMANDS: Record<string, { summary: string, load: () => Promise<Command> }> = {
  seed: { summary: 'create a simulated phone: a seeded chat history with media', load: async () => (await import('./seed.js')).default },
  import: { summary: 'import a history (canonical NDJSON, Telegram Desktop JSON, WhatsApp chat export)', load: async () => (await import('./import.js')).default },
  export: { summary: 'export a store as canonical NDJSON (optionally with its media)', load: async () => (await import('./export.js')).default },
  inspect: { summary: 'show what a store holds and any unfinished incoming transfer', load: async () => (await import('./inspect.js')).default },
  send: { summary: 'offer this phone\'s history to a new phone (shows a pairing code)', load: async () => (await import('./send.js')).default },
  receive: { summary: 'receive a history from an old phone (asks for the code)', load: async () => (await import('./receive.js')).default },
  backup: { summary: 'write a history to an encrypted backup file (when the phones cannot meet)', load: async () => (await import('./backup.js')).default },
  restore: { summary: 'restore a history from a backup file (resumable, verified)', load: async () => (await import('./restore.js')).default },
  demo: { summary: 'move a simulated history between two phones end to end', load: async () => (await import('./demo.js')).default },
  web: { summary: 'serve the browser phone (a web page that receives a history) on localhost', load: async () => (await import('./web.js')).default }
}

export function usage (): string {
  const width = Math.max(...Object.keys(COMMANDS).map(k => k.length))
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)
  return `ferry: move a phone's chat history to a new phone, directly over the local network.

Usage: ferry <command> [options]

Commands:
${lines.join('\n')}

Options:
  -h, --help  this help ('ferry <command> --help' for a command's)
  --version   print Ferry's version

Run 'ferry <command> --help' for a command's options and an example.

A typical move:
  old phone:  ferry send --store ./old-phone         (shows a code like 123-4567-8901)
  new phone:  ferry receive --store ./new-phone      (type the code when asked)

Exit codes: 0 done and verified, 1 failed, 2 bad usage or bad input, 130 stopped with Ctrl-C
(143 with SIGTERM, 129 with SIGHUP: every command stops on these as on Ctrl-C).`
}

export async function main (argv: string[]): Promise<number> {
  // A reader that went away (`ferry export | head`) is not our failure.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => { if (err.code !== 'EPIPE') throw err })
  const [name, ...rest] = argv
  // `ferry help seed` is `ferry seed --help`.
  if (name === 'help' && rest.length > 0) return await main([...rest.slice(0, 1), '--help'])
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n')
    return name === undefined ? EXIT_USAGE : EXIT_OK
  }
  if (name === '--version') {
    process.stdout.write('ferry 0.1.0\n')
    return EXIT_OK
  }
  const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined
  // `ferry --store ./phone inspect`: the options came first. Said with the line put right, not as an
  // unknown command '--store' and the whole usage.
  const named = name.startsWith('-') ? argv.findIndex(a => Object.hasOwn(COMMANDS, a)) : -1
  if (entry === undefined && named > 0) {
    // Shown without its secrets: apps keep what ferry prints, and a code or QR key must not be in it.
    const shown = shownArgv(argv)
    const line = [argv[named], ...shown.filter((_, i) => i !== named)].map(shellWord).join(' ')
    // Refused with --json as any usage mistake is: an app reading the events gets an `error` event.
    const json = argv.includes('--json') && Object.hasOwn((await COMMANDS[argv[named]].load()).options, 'json')
    return reportError(new FerryError(ErrorCode.BAD_INPUT, `the command comes first, then its options: ferry ${line}\nRun 'ferry ${argv[named]} --help' for its options.`), json)
  }
  // A code or a QR payload typed first is not echoed back either.
  const secret = entry === undefined ? secretKind(name) : undefined
  if (secret !== undefined) {
    process.stderr.write(`ferry: a ${secret === 'code' ? 'pairing code' : 'QR code payload'} is not a command: ferry receive --store DIR --${secret} followed by it receives with it\nRun 'ferry receive --help' for its options. [${ErrorCode.BAD_INPUT}]\n`)
    return EXIT_USAGE
  }
  if (entry === undefined) {
    // Shown without a secret it may hold (`--code=...` with no command). A slip (`recieve`) is answered
    // with the command it resembles and the line put right, as a misspelt option is.
    const near = name.startsWith('-') ? [] : closest(name, Object.keys(COMMANDS))
    if (near.length === 1) {
      const line = [near[0], ...shownArgv(rest)].map(shellWord).join(' ')
      process.stderr.write(`ferry: unknown command '${shownArgv([name])[0]}' (did you mean ${near[0]}? ferry ${line})\nRun 'ferry ${near[0]} --help' for its options. [${ErrorCode.BAD_INPUT}]\n`)
      return EXIT_USAGE
    }
    // Equally near to several (`sned`: seed or send): no line is put right, as either may be meant.
    if (near.length > 1) {
      process.stderr.write(`ferry: unknown command '${shownArgv([name])[0]}' (did you mean ${eitherOf(near)}?)\nRun 'ferry COMMAND --help' for a command's options. [${ErrorCode.BAD_INPUT}]\n`)
      return EXIT_USAGE
    }
    process.stderr.write(`ferry: unknown command '${shownArgv([name])[0]}'\n\n${usage()}\n`)
    return EXIT_USAGE
  }
  // Named in the lock of every store this process opens, for another process it refuses.
  setStoreHolderName(`ferry ${name}`)
  const cmd = await entry.load()
  // Only a command that speaks JSON answers in it: export's stdout is the history, not events. Until the
  // line is parsed, as typed: a mistake in it is answered in JSON too.
  let json = rest.includes('--json') && Object.hasOwn(cmd.options, 'json')
  try {
    const args = parse(cmd, rest)
    json = args.values.json === true
    if (args.values.help === true) {
      process.stdout.write(wrapHelp(cmd.help.trimEnd()) + '\n')
      return EXIT_OK
    }
    return await cmd.run(args)
  } catch (err) {
    if (err instanceof StoppedAtQuestion) return reportStopped(json, err.signal)
    return reportError(err, json)
  }
}

/** Ctrl-C (or another stopping `signal`) at a question, before anything was done: said as any stop is (`stopped` with --json), exit 128 + the signal. */
export function reportStopped (json = false, signal: NodeJS.Signals = 'SIGINT'): number {
  sayStop(json, 'Stopped: nothing was done.', signal)
  return exitOnSignal(signal)
}

/** One line for people on stderr; the exit code says whether it was their input or the run that failed. */
export function reportError (err: unknown, json = false): number {
  if (json) {
    const e = isFerryError(err) ? err : { code: ErrorCode.INTERNAL, message: String((err as Error)?.message ?? err), details: undefined }
    // The details (where in a file, what a peer said) are for whoever looks into it; the line people
    // read on stderr stays plain.
    jsonEvent('error', { code: e.code, message: e.message, details: e.details })
  }
  if (isFerryError(err)) {
    // Ferry's words may hold what someone else chose (an id, the other phone's words): never raw escapes.
    process.stderr.write(`ferry: ${printableLines(err.message)} [${err.code}]\n`)
    return err.code === ErrorCode.BAD_INPUT ? EXIT_USAGE : EXIT_FAILED
  }
  // Not a failure Ferry knows how to describe: a bug. One line still, not a stack trace a person cannot
  // act on; whoever debugs it asks for the stack.
  const message = (err as Error)?.message ?? String(err)
  if (showStacks()) {
    process.stderr.write(`ferry: ${(err as Error)?.stack ?? String(err)}\n`)
  } else {
    process.stderr.write(`ferry: unexpected error: ${printableLines(message)} (run with DEBUG=ferry for the details) [${ErrorCode.INTERNAL}]\n`)
  }
  return EXIT_FAILED
}

/** DEBUG=ferry (or ferry:*, as the library's logs take it) or FERRY_TSX=1, the sources' development path. */
function showStacks (): boolean {
  const debug = process.env.DEBUG ?? ''
  return process.env.FERRY_TSX === '1' || debug.split(/[\s,]+/).some(d => d === '*' || d.startsWith('ferry'))
}
