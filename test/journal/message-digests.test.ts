import { describe, expect, it } from 'vitest'
import { fc } from '../helpers/property.js'
import { MessageDigests } from '../../src/journal/message-digests.js'

// The message bases keep a set of 8-byte digests sorted in the journal, big-endian: what a read-back
// collects must hold exactly the digests added, whatever their high bits, and keep as the same bytes
// whichever machine reads it back.

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

describe('message digests collected by a read-back', () => {
  it('hold exactly the digests added, sorted and distinct, and read back from the journal alike', () => {
    fc.assert(fc.property(fc.array(fc.uint8Array({ minLength: 8, maxLength: 8 }), { maxLength: 300 }), fc.uint8Array({ minLength: 8, maxLength: 8 }), (added, other) => {
      const c = MessageDigests.collector()
      for (const d of added) c.add(d)
      const set = c.done()
      const expected = [...new Set(added.map(hex))].sort()
      expect(set.size).toBe(expected.length)
      const packed = set.packed()
      const kept = Array.from({ length: set.size }, (_, i) => hex(packed.subarray(i * 8, i * 8 + 8)))
      expect(kept).toEqual(expected)
      for (const d of added) expect(set.has(d)).toBe(true)
      expect(set.has(other)).toBe(expected.includes(hex(other)))
      const again = MessageDigests.fromPacked(packed)
      expect(again !== undefined && hex(again.packed())).toBe(hex(packed))
    }))
  })

  it('a digest with its top bits set sorts after one without, as its bytes do', () => {
    const c = MessageDigests.collector()
    const high = Uint8Array.from([0xff, 0, 0, 0, 0x80, 0, 0, 1])
    const low = Uint8Array.from([0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
    c.add(high)
    c.add(low)
    expect(hex(c.done().packed())).toBe(hex(low) + hex(high))
  })
})
