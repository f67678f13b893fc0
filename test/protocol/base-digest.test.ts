import { describe, expect, it } from 'vitest'
import { fc } from '../helpers/property.js'
import { baseDigest } from '../../src/protocol/written-digest.js'
import { MessageDigests } from '../../src/journal/message-digests.js'

// The message bases tell the old phone's unchanged version of a message from any other by this digest:
// a version changed in any byte, at any place (the word-wise body or the bytes after it), or by its
// length, must digest otherwise, and the same bytes alike wherever they sit in memory.

const halves = (b: Uint8Array): [number, number] => { const [hi, lo] = baseDigest(b); return [hi, lo] }

describe('baseDigest', () => {
  it('changes with any one byte changed, and with the length', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.nat(), fc.integer({ min: 1, max: 255 }), (bytes, at, flip) => {
      const i = at % bytes.length
      const other = Uint8Array.from(bytes)
      other[i] ^= flip
      expect(halves(other)).not.toEqual(halves(bytes))
      expect(halves(bytes.subarray(0, bytes.length - 1))).not.toEqual(halves(bytes))
    }), { numRuns: 2000 })
  })

  it('is the same for the same bytes at any offset of any buffer', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat({ max: 7 }), (bytes, offset) => {
      const host = new Uint8Array(bytes.length + offset)
      host.set(bytes, offset)
      expect(halves(host.subarray(offset))).toEqual(halves(bytes))
    }))
  })

  it('finds what a set of digests holds, and nothing else, after a trip through the journal\'s packing', () => {
    const all = Array.from({ length: 500 }, (_, i) => new TextEncoder().encode(`message ${i} of a chat`))
    const held = MessageDigests.collector()
    for (const m of all.slice(0, 250)) held.add(...halves(m))
    const packed = MessageDigests.fromPacked(held.done().packed()) as MessageDigests
    expect(packed.size).toBe(250)
    for (const [i, m] of all.entries()) expect(packed.has(...halves(m))).toBe(i < 250)
  })
})
