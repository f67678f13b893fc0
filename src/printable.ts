// Text that someone else chose (a chat's title, the other phone's error) reaches a terminal or a log
// line. A newline or tab would break a row; an escape sequence could move the cursor and draw over the
// lines above it (a fake "verified"); direction overrides, embeddings and isolates would carry on into
// the text after it in a terminal that lays out right-to-left text; line and paragraph separators end a
// line in some.
const UNPRINTABLE = /[\p{Cc}\u2028\u2029\u202A-\u202E\u2066-\u2069]/gu
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' }

const escaped = (c: string): string => NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`

/** `s` on one line: control and direction-changing characters shown as escapes (\n, \u0007, \u202e). */
export function printable (s: string): string {
  return s.replace(UNPRINTABLE, escaped)
}

/** `s` as printable, but for its line breaks, which stay: a message of several lines for a terminal. */
export function printableLines (s: string): string {
  return s.split('\n').map(printable).join('\n')
}

/**
 * Words the other phone sent (its error's message, its code) as they go into an error of this phone's:
 * printable, and cut to `max` characters, as a frame may carry a megabyte of them.
 */
export function peerText (s: string, max = 300): string {
  const text = printable(s)
  return text.length > max ? `${text.slice(0, max)}… (${text.length - max} more characters)` : text
}
