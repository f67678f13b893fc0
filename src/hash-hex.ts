// A sha256 as 64 lowercase hex digits and back, for the paths that turn a whole media index (100k+
// hashes) into one or the other. @noble's bytesToHex builds its string two digits at a time, leaving an
// intermediate string per step, which a loop over a large manifest's index turned into most of the
// receiver's peak (docs/performance.md). Here a hash becomes one flat string,
// and a string goes straight into the bytes it names.

const HASH = 32
const DIGITS = new TextEncoder().encode('0123456789abcdef')
// Every byte written is an ASCII digit, which latin1 (windows-1252 to WHATWG) decodes as itself.
const ascii = new TextDecoder('latin1')
const scratch = new Uint8Array(HASH * 2)

/** Writes the 32 bytes of `bytes` at `at` as 64 lowercase hex digits (ASCII) into `out` at `pos`; returns the end. */
export function writeHashHex (bytes: Uint8Array, at: number, out: Uint8Array, pos: number): number {
  for (let k = at, end = at + HASH; k < end; k++) {
    out[pos++] = DIGITS[bytes[k] >>> 4]
    out[pos++] = DIGITS[bytes[k] & 15]
  }
  return pos
}

/** The 32 bytes of `bytes` at `at`, as 64 lowercase hex digits. */
export function hashHex (bytes: Uint8Array, at = 0): string {
  if (at < 0 || at + HASH > bytes.byteLength) throw new RangeError(`no 32-byte hash at ${at} of ${bytes.byteLength} bytes`)
  writeHashHex(bytes, at, scratch, 0)
  return ascii.decode(scratch)
}

const HASH_HEX = /^[0-9a-f]{64}$/

/**
 * Whether `s` is a sha256 as Ferry writes one: 64 lowercase hex digits, nothing around them. What
 * becomes a file name, a journal key or a wire hash is checked by this one rule.
 */
export function isHashHex (s: string): boolean {
  return HASH_HEX.test(s)
}

/** Each character's hex digit value, -1 for a character that is not a lowercase hex digit. */
const HEX_VALUE = new Int8Array(128).fill(-1)
for (let c = 48; c <= 57; c++) HEX_VALUE[c] = c - 48
for (let c = 97; c <= 102; c++) HEX_VALUE[c] = c - 87

/**
 * Parses 64 lowercase hex digits into `out` at `at`; false (leaving those 32 bytes partly written) when
 * `hex` is not one. Branch-free per digit (a table, one check at the end): the receiver parses the media
 * hash of every message that has one.
 */
export function parseHashHex (hex: string, out: Uint8Array, at = 0): boolean {
  if (hex.length !== HASH * 2 || at < 0 || at + HASH > out.byteLength) return false
  let bad = 0
  for (let k = at, i = 0, end = at + HASH; k < end; k++, i += 2) {
    const a = hex.charCodeAt(i)
    const b = hex.charCodeAt(i + 1)
    // A character past 127 makes 127 - c negative; a non-digit below it has the value -1.
    const hi = HEX_VALUE[a & 127]
    const lo = HEX_VALUE[b & 127]
    bad |= hi | lo | (127 - a) | (127 - b)
    out[k] = (hi << 4) | lo
  }
  return bad >= 0
}
