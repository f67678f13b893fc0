import { randomBytes } from '@noble/hashes/utils.js'
import { ErrorCode, FerryError } from '../errors.js'

// Pairing codes: `NNN-NNNN-NNNN`.
//
//   nameplate (3 digits, public): scopes mDNS discovery to this transfer, so phones of other Ferry users
//                                 on the same LAN stay out of the way. It is sent around in the clear.
//   secret    (8 digits, private): the CPace password (PRS). 10^8 values, about 26.6 bits. That is
//                                 enough only because CPace allows one guess per online attempt and the
//                                 sender allows three attempts in total (see attempts.ts).
//
// Digits, not words: they read aloud and type the same in every language and on every keypad.

export interface PairingCode {
  /** Three ASCII digits, public. */
  readonly nameplate: string
  /** Eight ASCII digits, secret. */
  readonly secret: string
}

export const NAMEPLATE_DIGITS = 3
export const SECRET_DIGITS = 8
export const CODE_DIGITS = NAMEPLATE_DIGITS + SECRET_DIGITS
const EXAMPLE = '123-4567-8901'
const MAX_INPUT = 256

/** A uniform integer in [0, n) for n <= 2^32, by rejection sampling (no modulo bias). */
export function uniformInt (n: number, random: (len: number) => Uint8Array = randomBytes): number {
  if (!Number.isInteger(n) || n < 1 || n > 2 ** 32) throw new RangeError(`uniformInt: bad bound ${n}`)
  // Accept only draws below the largest multiple of n that fits in 32 bits: every residue then has
  // exactly the same number of preimages. For n = 10^8 fewer than 3% of draws are rejected.
  const limit = Math.floor(2 ** 32 / n) * n
  for (;;) {
    const b = random(4)
    if (b.length !== 4) throw new RangeError('uniformInt: the random source returned the wrong length')
    const x = ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0
    if (x < limit) return x % n
  }
}

/** A fresh code from a cryptographically secure source (injectable for tests). */
export function generateCode (random: (len: number) => Uint8Array = randomBytes): PairingCode {
  const nameplate = uniformInt(10 ** NAMEPLATE_DIGITS, random).toString().padStart(NAMEPLATE_DIGITS, '0')
  const secret = uniformInt(10 ** SECRET_DIGITS, random).toString().padStart(SECRET_DIGITS, '0')
  return { nameplate, secret }
}

/** The canonical form, `NNN-NNNN-NNNN`. */
export function formatCode (code: PairingCode): string {
  // An app in JavaScript may hand over the text the person typed: say how a code is made from it.
  if (typeof code !== 'object' || code === null) {
    throw new FerryError(ErrorCode.BAD_INPUT, `a pairing code is an object made by parseCode('123-4567-8901') or generateCode(), not ${code === null ? 'null' : typeof code}`)
  }
  assertDigits(code.nameplate, NAMEPLATE_DIGITS, 'nameplate')
  assertDigits(code.secret, SECRET_DIGITS, 'secret')
  return `${code.nameplate}-${code.secret.slice(0, 4)}-${code.secret.slice(4)}`
}

function assertDigits (s: string, n: number, what: string): void {
  if (typeof s !== 'string' || s.length !== n || !/^[0-9]+$/.test(s)) {
    throw new FerryError(ErrorCode.BAD_INPUT, `a code's ${what} is ${n} digits`)
  }
}

// Separators people type between groups: spaces of any kind, ASCII and Unicode dashes
// (\p{Pd} covers hyphen, en/em dash, full-width hyphen-minus...), and the minus sign U+2212.
const SEPARATOR = /^[\s\p{Pd}\u2212]$/u
const DECIMAL_DIGIT = /^\p{Nd}$/u

/**
 * The value of one Unicode decimal digit (Nd), or -1. Unicode encodes every Nd character in runs
 * of ten, 0 to 9 in order (a stability policy), and adjacent runs start at a zero, so the offset
 * from the start of the maximal Nd stretch, modulo 10, is the digit's value. This accepts
 * Arabic-Indic, Devanagari, Bengali, Thai... digits without a table.
 */
function digitValue (ch: string): number {
  const cp = ch.codePointAt(0)!
  if (cp >= 0x30 && cp <= 0x39) return cp - 0x30
  if (!DECIMAL_DIGIT.test(ch)) return -1
  let start = cp
  while (start > 0 && DECIMAL_DIGIT.test(String.fromCodePoint(start - 1))) start--
  return (cp - start) % 10
}

/**
 * Parses what a person typed or a script passed. Accepts surrounding whitespace, spaces or any dash
 * between digits (or none), full-width and other scripts' digits. Throws BAD_INPUT with a message
 * that says what to fix.
 */
export function parseCode (input: string): PairingCode {
  if (typeof input !== 'string') throw new FerryError(ErrorCode.BAD_INPUT, 'a code must be text')
  // Bound the work on hostile input (a megabyte of spaces) before normalizing it.
  if (input.length > MAX_INPUT) throw new FerryError(ErrorCode.BAD_INPUT, `a code has ${CODE_DIGITS} digits, like ${EXAMPLE}; this is far too long`)
  // NFKC folds compatibility forms first: full-width digits and hyphens, mathematical digits.
  const text = input.normalize('NFKC').trim()
  if (text === '') throw new FerryError(ErrorCode.BAD_INPUT, `no code given: a code has ${CODE_DIGITS} digits, like ${EXAMPLE}`)
  let digits = ''
  let position = 0
  for (const ch of text) {
    position++
    const d = digitValue(ch)
    if (d >= 0) digits += String(d)
    else if (!SEPARATOR.test(ch)) {
      throw new FerryError(ErrorCode.BAD_INPUT,
        `a code has only digits, like ${EXAMPLE}; ${JSON.stringify(ch)} at position ${position} is not one`,
        { position })
    }
  }
  if (digits.length !== CODE_DIGITS) {
    throw new FerryError(ErrorCode.BAD_INPUT,
      `a code has ${CODE_DIGITS} digits, like ${EXAMPLE}; you typed ${digits.length}`,
      { digits: digits.length })
  }
  return { nameplate: digits.slice(0, NAMEPLATE_DIGITS), secret: digits.slice(NAMEPLATE_DIGITS) }
}

/**
 * The mDNS service tag that scopes discovery to one nameplate: `_ferry-<nameplate>._udp.local`.
 * It is a valid DNS-SD service name (RFC 6335 section 5.1: at most 15 letters, digits and hyphens,
 * at least one letter, no leading, trailing or doubled hyphen), so @libp2p/mdns's `serviceTag` takes
 * it as is. Only phones showing or typing the same nameplate answer each other's queries. The
 * nameplate is public: it only narrows discovery; with 1000 values two transfers on one LAN can
 * collide, which costs an attempt (the PAKE fails), never a secret.
 */
export function serviceTag (nameplate: string): string {
  assertDigits(nameplate, NAMEPLATE_DIGITS, 'nameplate')
  return `_ferry-${nameplate}._udp.local`
}

/** The CPace password string: the secret's eight ASCII digits. */
export function codePrs (code: PairingCode): Uint8Array {
  assertDigits(code.secret, SECRET_DIGITS, 'secret')
  return new TextEncoder().encode(code.secret)
}

/** Bytes of the key a QR code carries beside the code. */
export const QR_KEY_BYTES = 16

/**
 * A fresh key for the QR code. Typed codes share three guesses, so a neighbour can burn them; the QR's
 * 128-bit key cannot be guessed, so a phone that scans pairs outside that budget and no neighbour can
 * stop it (attempts.ts).
 */
export function generateQrKey (random: (len: number) => Uint8Array = randomBytes): Uint8Array {
  const key = random(QR_KEY_BYTES).slice()
  if (key.length !== QR_KEY_BYTES) throw new RangeError('the random source returned the wrong length')
  return key
}

/** The PRS of a pairing by the QR code: the code's secret digits, then the key only the QR carries. */
export function qrPrs (code: PairingCode, key: Uint8Array): Uint8Array {
  if (!(key instanceof Uint8Array) || key.length !== QR_KEY_BYTES) throw new FerryError(ErrorCode.BAD_INPUT, `pairing: a QR key is ${QR_KEY_BYTES} bytes`)
  const digits = codePrs(code)
  const out = new Uint8Array(digits.length + key.length)
  out.set(digits)
  out.set(key, digits.length)
  return out
}
