import { parseCode } from '../pairing/code.js'
import { turnParts } from '../net/turn-url.js'

// What a printed command line never shows: a pairing code, a QR code's payload (its key pairs even after
// three wrong codes), a TURN server's password. Apps and scripts keep what ferry prints (logs, CI output,
// a terminal's scrollback), so a line shown to be run again carries a mark where the secret was, and the
// person puts it back. A path (--code-file, --qr-file, --password-file) is no secret and is shown.

/** Shown in place of a code or a QR code's payload. */
export const HIDDEN = '...'
/** Shown in place of a TURN password; parseIceServers refuses it back, saying to put the password there. */
export const HIDDEN_PASSWORD = '***'

/** The options whose whole value is a secret. */
const SECRET_OPTIONS = new Set(['code', 'qr'])

/** Whether a word typed on its own is a pairing code or a QR code's payload (either one a secret). */
export function secretKind (word: string): 'code' | 'qr' | undefined {
  if (/ferry(:|%3a)(\/|%2f){2}pair/i.test(word)) return 'qr'
  try {
    parseCode(word)
    return 'code'
  } catch {
    return undefined
  }
}

/**
 * Whether a word may be a piece of a pairing code: `--code 204 8816 3390` typed without quotes reaches
 * ferry as three words, and the two after the first hold the code's secret digits.
 */
export function codePart (word: string): boolean {
  return /^[\d-]+$/.test(word) && /\d/.test(word)
}

/** `--ice-servers` with each TURN password hidden: the servers and users stay, to be run again. */
export function hideTurnPasswords (servers: string): string {
  return servers.split(',').map(entry => {
    const t = turnParts(entry.trim())
    return t === undefined ? entry : `${t.scheme}:${t.user}:${HIDDEN_PASSWORD}@${t.server}`
  }).join(',')
}

/** An option's value as a printed line shows it. `-` (read from stdin) is no secret. */
export function shownValue (option: string, value: string): string {
  if (SECRET_OPTIONS.has(option)) return value === '-' ? value : HIDDEN
  if (option === 'ice-servers') return hideTurnPasswords(value)
  return value
}

/**
 * A command line as typed, with its secrets hidden: the value after --code or --qr (or after its `=`),
 * the TURN passwords of --ice-servers, and a bare word that is a code or a QR payload.
 */
export function shownArgv (argv: readonly string[]): string[] {
  const out: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const eq = /^--([\w-]+)=([^]*)$/.exec(a)
    if (eq !== null) {
      out.push(`--${eq[1]}=${shownValue(eq[1], eq[2])}`)
    } else if (a.startsWith('--') && i + 1 < argv.length && (SECRET_OPTIONS.has(a.slice(2)) || a === '--ice-servers') && !argv[i + 1].startsWith('--')) {
      out.push(a, shownValue(a.slice(2), argv[++i]))
    } else {
      out.push(!a.startsWith('-') && (secretKind(a) !== undefined || codePart(a)) ? HIDDEN : a)
    }
  }
  return out
}
