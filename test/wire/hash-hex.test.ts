import { randomBytes } from 'node:crypto'
import { bytesToHex } from '@noble/hashes/utils.js'
import { describe, expect, it } from 'vitest'
import { hashHex, isHashHex, parseHashHex, writeHashHex } from '../../src/hash-hex.js'

// A sha256 as hex and back, without @noble's per-digit strings: the same text, the same bytes.

describe('a sha256 as 64 hex digits', () => {
  it('is the text @noble and Node write, for every byte value, at any offset', () => {
    const bytes = new Uint8Array(256 + 40)
    for (let b = 0; b < 256; b++) bytes[b] = b
    bytes.set(randomBytes(40), 256)
    for (let at = 0; at + 32 <= bytes.byteLength; at += 8) {
      const want = Buffer.from(bytes.subarray(at, at + 32)).toString('hex')
      expect(hashHex(bytes, at)).toBe(want)
      expect(bytesToHex(bytes.subarray(at, at + 32))).toBe(want)
      const out = new Uint8Array(70).fill(0x2e)
      expect(writeHashHex(bytes, at, out, 3)).toBe(67)
      expect(Buffer.from(out).toString('latin1')).toBe(`...${want}...`)
    }
    // One string, not a view of shared scratch space: a later call leaves it as it was.
    const first = hashHex(bytes, 0)
    hashHex(bytes, 32)
    expect(first).toBe(Buffer.from(bytes.subarray(0, 32)).toString('hex'))
  })

  it('refuses a hash that runs past the bytes', () => {
    expect(() => hashHex(new Uint8Array(31))).toThrow(RangeError)
    expect(() => hashHex(new Uint8Array(64), 33)).toThrow(RangeError)
    expect(() => hashHex(new Uint8Array(64), -1)).toThrow(RangeError)
  })

  it('parses back into the bytes it names, in place', () => {
    for (let n = 0; n < 200; n++) {
      const hash = randomBytes(32)
      const out = new Uint8Array(40).fill(7)
      expect(parseHashHex(hash.toString('hex'), out, 4)).toBe(true)
      expect(Buffer.from(out.subarray(4, 36)).equals(hash)).toBe(true)
      expect([...out.subarray(0, 4), ...out.subarray(36)]).toEqual([7, 7, 7, 7, 7, 7, 7, 7])
    }
  })

  it('refuses what is not 64 lowercase hex digits, or does not fit', () => {
    const good = randomBytes(32).toString('hex')
    const out = new Uint8Array(32)
    expect(parseHashHex(good, out)).toBe(true)
    for (const bad of ['', good.slice(1), good + '0']) {
      expect(parseHashHex(bad, out), JSON.stringify(bad)).toBe(false)
    }
    // Characters next to the digits, and past ASCII where a character's low bits are a digit's.
    for (const c of ['/', ':', '`', 'g', 'A', 'F', ' ', '\u00b0', '\u0161', '\u0130', '\u3030']) {
      for (const at of [0, 31, 63]) expect(parseHashHex(good.slice(0, at) + c + good.slice(at + 1), out), JSON.stringify(c)).toBe(false)
    }
    expect(parseHashHex(good, new Uint8Array(63), 32)).toBe(false)
    expect(parseHashHex(good, new Uint8Array(64), -1)).toBe(false)
  })

  it('is told by isHashHex as the parse tells it, a line end around it included', () => {
    const good = randomBytes(32).toString('hex')
    expect(isHashHex(good)).toBe(true)
    for (const bad of ['', good.slice(1), good + '0', good + '\n', '\n' + good, good.toUpperCase(), ` ${good.slice(1)}`, `${good.slice(0, 63)}g`]) {
      expect(isHashHex(bad), JSON.stringify(bad)).toBe(false)
      expect(parseHashHex(bad, new Uint8Array(32)), JSON.stringify(bad)).toBe(false)
    }
  })
})
