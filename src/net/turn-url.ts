/**
 * A `turn:USER:PASS@HOST:PORT` entry's parts, as typed (percent-encoded), or undefined for another entry.
 * The password runs to the last @: a TURN server's shared-secret password is base64, with / and + in it.
 * The one reading of the form, for parsing and for hiding the password where a line is printed (a
 * module of its own so the CLI reads it without loading the transports).
 */
export function turnParts (entry: string): { scheme: string, user: string, password: string, server: string } | undefined {
  const m = /^(turns?):([^:@/]+):(.+)@([^@]+)$/.exec(entry)
  return m === null ? undefined : { scheme: m[1], user: m[2], password: m[3], server: m[4] }
}
