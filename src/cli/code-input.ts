import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { ErrorCode, FerryError } from '../errors.js'
import { fsError } from '../fs-errors.js'
import { parseCode, type PairingCode } from '../pairing/index.js'
import { optionalString, type ParsedArgs } from './command.js'

// Where a command takes the pairing code from, and receive the QR code's payload (which holds the code
// and the QR's key). On the command line either is in every other local user's `ps`; scripts should hand
// it over in a file (--code-file, --qr-file) or on stdin (--code -, --qr -).

export const CODE_OPTIONS = {
  code: { type: 'string' },
  'code-file': { type: 'string' }
} as const

/** The code given by --code or --code-file, or undefined when neither was. */
export async function codeFromArgs (args: ParsedArgs): Promise<PairingCode | undefined> {
  const text = await secretFromArgs(args, 'code', 'code file', 'code')
  return text !== undefined ? parseCode(text) : undefined
}

export const QR_OPTIONS = {
  qr: { type: 'string' },
  'qr-file': { type: 'string' }
} as const

/** The QR code's payload given by --qr or --qr-file (the text, unparsed), or undefined when neither was. */
export async function qrFromArgs (args: ParsedArgs): Promise<string | undefined> {
  return await secretFromArgs(args, 'qr', 'QR code file', 'QR code')
}

/**
 * `--FLAG TEXT`, `--FLAG -` (the first line of stdin) or `--FLAG-file F` (its first line): `holds` names
 * what it is for a person, `file` the file's kind.
 */
async function secretFromArgs (args: ParsedArgs, flag: 'code' | 'qr', file: string, holds: string): Promise<string | undefined> {
  const inline = optionalString(args, flag)
  const path = optionalString(args, `${flag}-file`)
  if (inline !== undefined && path !== undefined) throw new FerryError(ErrorCode.BAD_INPUT, `give the ${holds} once: --${flag} or --${flag}-file, not both`)
  if (path !== undefined) {
    let text: string
    try {
      text = readFileSync(path, 'utf8')
    } catch (err) {
      throw fsError(err, `cannot read the ${file} ${path}`, path)
    }
    return firstLine(text, `the ${file} ${path}`, holds)
  }
  if (inline === '-') return await stdinLine(holds)
  return inline
}

function firstLine (text: string, what: string, holds = 'code'): string {
  const line = text.split(/\r?\n/)[0].trim()
  if (line === '') throw new FerryError(ErrorCode.BAD_INPUT, `${what} holds no ${holds} on its first line`)
  return line
}

/** The first line of stdin (then stdin is let go, so the process can end). */
async function stdinLine (holds = 'code'): Promise<string> {
  const rl = createInterface({ input: process.stdin, terminal: false })
  try {
    const line = await new Promise<string | undefined>((resolve, reject) => {
      rl.once('line', resolve)
      rl.once('close', () => resolve(undefined))
      process.stdin.once('error', reject)
    })
    return firstLine(line ?? '', 'stdin', holds)
  } catch (err) {
    if (err instanceof FerryError) throw err
    throw new FerryError(ErrorCode.BAD_INPUT, `cannot read the ${holds} from stdin: ${(err as Error).message}`)
  } finally {
    rl.close()
    process.stdin.pause()
  }
}
