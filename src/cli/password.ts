import { closeSync, openSync, readSync } from 'node:fs'
import { ErrorCode, FerryError } from '../errors.js'
import { StoppedAtQuestion, whileAsking } from './command.js'
import { fsError } from '../fs-errors.js'

/** How far a password file is read for its first line: a password is far shorter, a wrong file far longer. */
const MAX_PASSWORD_LINE_BYTES = 64 * 1024

/**
 * Reads a password from a file: its first line, without the line ending (a trailing newline is common).
 * Only that line is read: a device that never ends (/dev/zero, /dev/urandom) or a large file named by
 * mistake would otherwise be read whole, or for ever.
 */
export function readPasswordFile (path: string): string {
  const chunks: Buffer[] = []
  let size = 0
  let fd: number | undefined
  try {
    fd = openSync(path, 'r')
    const buf = Buffer.alloc(4096)
    for (;;) {
      const n = readSync(fd, buf, 0, buf.byteLength, null)
      if (n === 0) break
      const chunk = Buffer.from(buf.subarray(0, n))
      chunks.push(chunk)
      size += n
      if (chunk.includes(0x0a)) break
      if (size > MAX_PASSWORD_LINE_BYTES) {
        throw new FerryError(ErrorCode.BAD_INPUT, `the password file ${path} has no line end in its first ${MAX_PASSWORD_LINE_BYTES / 1024} KiB: it is not a password file; name the file that holds the password on its first line`)
      }
    }
  } catch (err) {
    throw fsError(err, `cannot read the password file ${path}`, path)
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
  const password = Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0]
  if (password === '') throw new FerryError(ErrorCode.BAD_INPUT, `the password file ${path} is empty`)
  return password
}

/** Asks for a password on the terminal without echoing it. */
export async function promptPassword (question: string): Promise<string> {
  return await whileAsking(async () => await askPassword(question))
}

async function askPassword (question: string): Promise<string> {
  const stdin = process.stdin
  // Raw before the question shows: Ctrl-C pressed as soon as it appears is read as the key.
  stdin.setRawMode(true)
  process.stderr.write(question)
  stdin.resume()
  stdin.setEncoding('utf8')
  try {
    return await new Promise<string>((resolve, reject) => {
      let answer = ''
      const onData = (s: string): void => {
        for (const ch of s) {
          if (ch === '\r' || ch === '\n' || ch === '\u0004') {
            stdin.off('data', onData)
            process.stderr.write('\n')
            resolve(answer)
            return
          }
          if (ch === '\u0003') {
            stdin.off('data', onData)
            process.stderr.write('\n')
            reject(new StoppedAtQuestion())
            return
          }
          if (ch === '\u007f' || ch === '\b') answer = [...answer].slice(0, -1).join('')
          else if (ch >= ' ') answer += ch
        }
      }
      stdin.on('data', onData)
    })
  } finally {
    stdin.setRawMode(false)
    stdin.pause()
  }
}

export const isTerminal = (): boolean => process.stdin.isTTY === true && process.stderr.isTTY === true
