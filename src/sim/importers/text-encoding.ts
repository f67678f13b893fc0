// An export's text as the phone wrote it: UTF-8 (with or without a byte order mark), or UTF-16 behind
// its byte order mark, as WhatsApp writes its chat .txt on some phones. Without a mark, UTF-8: a
// UTF-16 file without one cannot be told apart reliably, and no exporter Ferry reads writes one.

type Encoding = 'utf-8' | 'utf-16le' | 'utf-16be'

function encodingOf (bytes: Uint8Array): Encoding {
  if (bytes.byteLength >= 2 && bytes[0] === 0xff && bytes[1] === 0xfe) return 'utf-16le'
  if (bytes.byteLength >= 2 && bytes[0] === 0xfe && bytes[1] === 0xff) return 'utf-16be'
  return 'utf-8'
}

/** A whole file's text, its byte order mark dropped; throws (TypeError) on bytes its encoding refuses. */
export function decodeText (bytes: Uint8Array): string {
  return new TextDecoder(encodingOf(bytes), { fatal: true }).decode(bytes)
}

/** What a file's first bytes say, for telling its format: a character the cut split is replaced. */
export function decodeHead (bytes: Uint8Array): string {
  return new TextDecoder(encodingOf(bytes)).decode(bytes)
}

/** Says which encoding a text decodeText refused was read as, for its error. */
export function encodingName (bytes: Uint8Array): string {
  return encodingOf(bytes) === 'utf-8' ? 'UTF-8' : 'UTF-16'
}
