import * as zlib from 'node:zlib'

// CRC-32 (the zip format's checksum of an entry's bytes), carried on across chunks: Node's own where it
// has it (from 20.15 and 22.2), else a table-driven one.

let table: Uint32Array | undefined

function jsCrc32 (data: Uint8Array, value = 0): number {
  if (table === undefined) {
    table = new Uint32Array(256)
    for (let n = 0; n < 256; n++) {
      let c = n
      for (let k = 0; k < 8; k++) c = (c & 1) !== 0 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
      table[n] = c >>> 0
    }
  }
  let c = ~value >>> 0
  for (let i = 0; i < data.byteLength; i++) c = table[(c ^ data[i]) & 0xff] ^ (c >>> 8)
  return ~c >>> 0
}

const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32

/** The CRC-32 of `data`, continuing from `value` (the CRC-32 of what came before it). */
export function crc32 (data: Uint8Array, value = 0): number {
  return native !== undefined ? native(data, value) : jsCrc32(data, value)
}

export { jsCrc32 as crc32InJs }
