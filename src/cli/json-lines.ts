// What --json promises: stdout carries JSON objects only, one to a line, each with `event` and `at`
// (events, an `error`, a `warning`, a `stopped`), so an app reads it line by line. The lines people
// read go to stderr, beside them.

/** One JSON event per line: `event`, then `at` (its time, ms since the epoch: the service's own, when it has one). */
export function jsonEvent (event: string, data: Record<string, unknown> = {}): void {
  eventsWritten++
  process.stdout.write(JSON.stringify({ event, at: Date.now(), ...data }) + '\n')
}

let eventsWritten = 0

/** How many events this process has written: what a paced writer compares to see whether another came since. */
export function eventsSoFar (): number {
  return eventsWritten
}

/** Ctrl-C (or another stopping `signal`), however a command meets it: a `stopped` event with --json, else `line` for a person. */
export function sayStop (json: boolean, line: string, signal: NodeJS.Signals = 'SIGINT'): void {
  // The same words for an app as for a person: how to carry on is the app's to show.
  if (json) jsonEvent('stopped', { signal, message: line.trim() })
  else process.stderr.write(`${line}\n`)
}

/** Ctrl-C (or another stopping `signal`) during a run: the bar cleared, then a `stopped` event (--json) or, for a person, how to carry on. */
export function sayStopped (bar: { stop: () => void }, json: boolean, carryOn: string, signal: NodeJS.Signals = 'SIGINT'): void {
  bar.stop()
  sayStop(json, `\nStopped. ${carryOn}`, signal)
}

/**
 * A warning: said to the person on stderr whatever the mode (scripts show their user stderr), and with
 * --json also a `warning` event naming it (`warning`, stable for apps) with the same words.
 */
export function sayWarning (json: boolean, warning: string, message: string): void {
  if (json) jsonEvent('warning', { warning, message })
  process.stderr.write(`${message}\n`)
}
