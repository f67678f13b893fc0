import { readFileSync } from 'node:fs'
import { ErrorCode, FerryError } from '../errors.js'
import { fsError } from '../fs-errors.js'

/** Reads a password from a file: its first line, without the line ending (a trailing newline is common). */
export function readPasswordFile (path: string): string {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw fsError(err, `cannot read the password file ${path}`, path)
  }
  const password = text.split(/\r?\n/)[0]
  if (password === '') throw new FerryError(ErrorCode.BAD_INPUT, `the password file ${path} is empty`)
  return password
}

/** Asks for a password on the terminal without echoing it. */
export async function promptPassword (question: string): Promise<string> {
  const stdin = process.stdin
  process.stderr.write(question)
  stdin.setRawMode(true)
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
            reject(new FerryError(ErrorCode.CANCELLED, 'cancelled'))
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
