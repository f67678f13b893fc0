import { ErrorCode, FerryError } from '../errors.js'
import type { BatchDeflate } from '../wire/codec.js'

/**
 * Whether this browser inflates raw DEFLATE (Chrome 103, Firefox 113, Safari 16.4 and later). One that
 * does not asks for plain batches and still receives.
 */
export function canInflateRaw (): boolean {
  try {
    return typeof DecompressionStream === 'function' && new DecompressionStream('deflate-raw') !== undefined
  } catch {
    return false
  }
}

/**
 * The browser's half of deflated batches: DecompressionStream, read until the stream ends or passes
 * `maxBytes` (it has no limit of its own, and a few KiB may inflate to gigabytes).
 */
export const browserBatchInflate: Pick<Required<BatchDeflate>, 'inflate'> = {
  inflate: async (data, maxBytes) => {
    const stream = new DecompressionStream('deflate-raw')
    const writer = stream.writable.getWriter()
    // Failures surface on the reading side too; these promises only must not go unhandled.
    writer.write(data as Uint8Array<ArrayBuffer>).catch(() => {})
    writer.close().catch(() => {})
    const reader = stream.readable.getReader()
    const parts: Uint8Array[] = []
    let length = 0
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        length += value.byteLength
        if (length > maxBytes) {
          reader.cancel().catch(() => {})
          throw new FerryError(ErrorCode.FRAME_TOO_LARGE, `a deflated batch inflates past ${maxBytes} bytes`)
        }
        parts.push(value)
      }
    } catch (err) {
      if (err instanceof FerryError) throw err
      throw new FerryError(ErrorCode.MALFORMED_FRAME, `a deflated batch does not inflate: ${(err as Error).message}`, undefined, { cause: err })
    }
    if (parts.length === 1) return parts[0]
    const out = new Uint8Array(length)
    let at = 0
    for (const p of parts) { out.set(p, at); at += p.byteLength }
    return out
  }
}
