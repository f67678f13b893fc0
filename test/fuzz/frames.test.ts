import { fc } from '../helpers/property.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ErrorCode } from '../../src/errors.js'
import { decodeFrame, encodeFrame } from '../../src/wire/codec.js'
import { FrameDecoder } from '../../src/wire/framing.js'
import { cleanupTempDirs, fillStore, openStore } from '../helpers/stores.js'
import { byteCase, concat, framed, FUZZ_FRAME_CAP, isAllowedError, makeFixture, PREFIX_MAX, runByteCase, type Fixture } from './harness.js'

// Bytes from a hostile peer: random, or honest frames mutated. The decoder and decodeFrame either yield
// frames or throw a FerryError with a known code, and the decoder never buffers more than one frame.

let fx: Fixture
beforeAll(async () => { fx = await makeFixture(openStore, fillStore as never) })
afterAll(() => { fx.source.close(); fx.other.close(); cleanupTempDirs() })

describe('fuzz: frame decoding', () => {
  it('random and mutated bytes: only typed errors, never more than cap + prefix buffered', () => {
    fc.assert(fc.property(byteCase, c => { runByteCase(c, fx.corpus.bodies) }), { numRuns: 80000 })
  })

  it('a length prefix above the cap is refused before any of its body is buffered', () => {
    fc.assert(fc.property(fc.integer({ min: FUZZ_FRAME_CAP + 1, max: 2 ** 35 - 1 }), fc.nat({ max: 64 }), (len, extra) => {
      const decoder = new FrameDecoder(FUZZ_FRAME_CAP)
      const stream = concat([framed(new Uint8Array(0)).subarray(0, 0), Uint8Array.from(prefixOf(len)), new Uint8Array(extra)])
      let code: string | undefined
      try { decoder.push(stream) } catch (err) { code = isAllowedError(err) ? err.code : 'CRASH' }
      expect(code).toBe(ErrorCode.FRAME_TOO_LARGE)
    }), { numRuns: 300 })
  })

  it('honest frames split at any points decode to the same frames', () => {
    const stream = concat(fx.corpus.bodies.map(framed))
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 20 }), cuts => {
      const decoder = new FrameDecoder(FUZZ_FRAME_CAP)
      const out: Uint8Array[] = []
      let pos = 0
      for (let i = 0; pos < stream.byteLength; i++) {
        out.push(...decoder.push(stream.subarray(pos, pos + cuts[i % cuts.length])))
        pos += cuts[i % cuts.length]
        expect(decoder.pending).toBeLessThanOrEqual(FUZZ_FRAME_CAP + PREFIX_MAX)
      }
      decoder.end()
      out.forEach((b, i) => { if (Buffer.compare(b, fx.corpus.bodies[i]) !== 0) throw new Error(`body ${i}: ${b.byteLength} vs ${fx.corpus.bodies[i].byteLength} ${Buffer.from(b.subarray(0, 12)).toString('hex')} vs ${Buffer.from(fx.corpus.bodies[i].subarray(0, 12)).toString('hex')} stream ${Buffer.from(stream.subarray(0, 12)).toString('hex')}`) })
      expect(out.length).toBe(fx.corpus.bodies.length)
      out.forEach((b, i) => expect(concat(encodeFrame(decodeFrame(b)))).toEqual(fx.corpus.bodies[i]))
    }), { numRuns: 60 })
  })
})

function prefixOf (n: number): number[] {
  const out: number[] = []
  while (n >= 0x80) { out.push((n % 128) | 0x80); n = Math.floor(n / 128) }
  out.push(n)
  return out
}
