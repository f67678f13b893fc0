import { fstatSync, readlinkSync, statSync } from 'node:fs'
import { isatty } from 'node:tty'

/**
 * What `ferry import -` finds on standard input:
 * - a terminal: a person is to paste or type the export, and is told how to end it (nothing else says
 *   that the command is waiting for them);
 * - a regular file (`< export.zip`): it can be read at any position, as a path is, so it is imported as
 *   its path would be, a zip and the media beside a chat included; `path` names it;
 * - anything else (a pipe, a socket, a device): a stream, read once from its start.
 */
export type StandardInput = { kind: 'terminal' } | { kind: 'file', path: string } | { kind: 'stream' }

/** Decides what file descriptor `fd` (standard input by default) is. */
export function standardInput (fd = 0): StandardInput {
  if (isatty(fd)) return { kind: 'terminal' }
  let st
  try {
    st = fstatSync(fd)
  } catch {
    // A closed standard input: reading it fails, and says so, as a stream's read does.
    return { kind: 'stream' }
  }
  if (!st.isFile()) return { kind: 'stream' }
  const path = nameOf(fd, st.dev, st.ino)
  return path === undefined ? { kind: 'stream' } : { kind: 'file', path }
}

/**
 * The path of the file open on `fd`, where the system tells it (Linux's /proc) and it still names that
 * same file: a file deleted or replaced since it was opened has no name to read it by, and is read as a
 * stream is instead. The path, not /proc's link, so that what the import says, and the chat's title
 * WhatsApp put in the file's name, name the file the person gave.
 */
function nameOf (fd: number, dev: number, ino: number): string | undefined {
  try {
    const path = readlinkSync(`/proc/self/fd/${fd}`)
    const st = statSync(path)
    return st.dev === dev && st.ino === ino ? path : undefined
  } catch {
    return undefined
  }
}

/** Said on the terminal before `ferry import -` reads from it: otherwise it only looks stuck. */
export const TERMINAL_PROMPT = 'Reading the export to import from the terminal: paste it, then press Ctrl-D at the start of a line ' +
  'to end it (Ctrl-C stops, importing nothing).\n'
