import { randomBytes } from 'node:crypto'
import * as zlib from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { crc32, crc32InJs } from '../../../src/sim/importers/crc32.js'

// The checksum a zip entry is checked against: the fallback for a Node without zlib.crc32 (before
// 20.15) must give what the zip format (and Node's own) gives, carried across chunks.

describe('crc32', () => {
  it('matches the zip format\'s CRC-32, whole and across chunks, natively and in JavaScript', () => {
    expect(crc32InJs(Buffer.from('123456789'))).toBe(0xcbf43926) // the CRC-32 check value
    const data = randomBytes(100_003)
    const whole = (zlib as { crc32?: (d: Uint8Array) => number }).crc32?.(data) ?? crc32InJs(data)
    for (const f of [crc32, crc32InJs]) {
      expect(f(data)).toBe(whole)
      let c = 0
      for (let i = 0; i < data.byteLength; i += 7919) c = f(data.subarray(i, i + 7919), c)
      expect(c).toBe(whole)
      expect(f(new Uint8Array(0))).toBe(0)
    }
  })
})
