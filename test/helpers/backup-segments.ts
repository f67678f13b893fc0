import { readFileSync } from 'node:fs'
import { PREAMBLE_BYTES, SEGMENT_PREFIX_BYTES, TAG_BYTES } from '../../src/backup/format.js'

/** Byte offsets where a backup file's segments start (and the file's end), walking the segment prefixes. */
export function segmentStarts (file: string): number[] {
  const b = readFileSync(file)
  const starts: number[] = []
  let pos = PREAMBLE_BYTES
  while (pos < b.byteLength) {
    starts.push(pos)
    pos += SEGMENT_PREFIX_BYTES + (b.readUInt32BE(pos) & 0x7fffffff) + TAG_BYTES
  }
  starts.push(pos)
  return starts
}
