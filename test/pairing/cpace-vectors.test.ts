import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import { describe, expect, it } from 'vitest'
import { isFerryError } from '../../src/errors.js'
import {
  calculateGenerator, cpaceIsk, cpaceShare, deriveIsk, DSI, DSI_ISK, generatorHash, generatorString, IDENTITY,
  lexicographicallyLarger, lvCat, oCat, prependLen, S_IN_BYTES, sampleScalar, scalarMult, scalarMultVfy, sidOutput,
  transcriptIr, transcriptOc
} from '../../src/pairing/cpace.js'

// Test vectors from draft-irtf-cfrg-cpace (github.com/cfrg/draft-irtf-cfrg-cpace, draft-irtf-cfrg-cpace.md at
// commit 8fb4056, 2026-04-23), appendix "Test vector for CPace using group ristretto255 and hash SHA-512" and
// the string-utility vectors of appendix A. Pinned here as hex; nothing is loaded at test time.

const h = (hex: string): Uint8Array => hexToBytes(hex.replace(/\s+/g, ''))
const b = (s: string): Uint8Array => new TextEncoder().encode(s)
const range = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => i)
const hex = bytesToHex

describe('draft appendix A: string utilities', () => {
  it('prepend_len', () => {
    expect(hex(prependLen(b('')))).toBe('00')
    expect(hex(prependLen(b('1234')))).toBe('0431323334')
    expect(hex(prependLen(range(127)))).toBe('7f' + hex(range(127)))
    expect(hex(prependLen(range(128)))).toBe('8001' + hex(range(128)))
    // Beyond the draft's vectors: a three-byte LEB128 length.
    expect(hex(prependLen(new Uint8Array(16384)).subarray(0, 3))).toBe('808001')
  })

  it('lv_cat', () => {
    expect(hex(lvCat(b('1234'), b('5'), b(''), b('678')))).toBe('043132333401350003363738')
  })

  it('lexiographically_larger and o_cat', () => {
    const z = (...xs: number[]): Uint8Array => Uint8Array.from(xs)
    expect(lexicographicallyLarger(z(0), z(0, 0))).toBe(false)
    expect(lexicographicallyLarger(z(1), z(0, 0))).toBe(true)
    expect(lexicographicallyLarger(z(0, 0), z(0))).toBe(true)
    expect(lexicographicallyLarger(z(0, 0), z(1))).toBe(false)
    expect(lexicographicallyLarger(z(0, 1), z(1))).toBe(false)
    expect(lexicographicallyLarger(b('ABCD'), b('BCD'))).toBe(false)
    expect(hex(oCat(b('ABCD'), b('BCD')))).toBe('6f6342434441424344')
    expect(hex(oCat(b('BCD'), b('ABCDE')))).toBe('6f634243444142434445')
  })

  it('transcript_ir and transcript_oc', () => {
    expect(hex(transcriptIr(b('123'), b('PartyA'), b('234'), b('PartyB')))).toBe('03313233065061727479410332333406506172747942')
    expect(hex(transcriptIr(b('3456'), b('PartyA'), b('2345'), b('PartyB')))).toBe('043334353606506172747941043233343506506172747942')
    expect(hex(transcriptOc(b('123'), b('PartyA'), b('234'), b('PartyB')))).toBe('6f6303323334065061727479420331323306506172747941')
    expect(hex(transcriptOc(b('3456'), b('PartyA'), b('2345'), b('PartyB')))).toBe('6f63043334353606506172747941043233343506506172747942')
  })
})

// Appendix B: CPace-RISTR255-SHA512.
const PRS = b('Password')
const CI = h('0b415f696e69746961746f720b425f726573706f6e646572') // lv_cat(b"A_initiator", b"B_responder")
const SID = h('7e4b4791d6a8ef019b936c79fb7f2c57')
const GEN_STRING = h(`
  11435061636552697374726574746f3235350850617373776f726464
  00000000000000000000000000000000000000000000000000000000
  00000000000000000000000000000000000000000000000000000000
  00000000000000000000000000000000000000000000000000000000
  00000000000000000000000000000000180b415f696e69746961746f
  720b425f726573706f6e646572107e4b4791d6a8ef019b936c79fb7f
  2c57`)
const GEN_HASH = h(`
  da6d3ddc8802fca9058755ffd3ebde08a9c2c74945901a258482a288
  b6663af06bf645c93cd1c51512307199c80e84908916d983b34af772
  05f90851a657ee27`)
const G = h('222b6b195fe84b1652badb6f6a3ae3d24341e7306967f0b8115b40d5698c7e56')
const ADa = b('ADa')
const ya = h('da3d23700a9e5699258aef94dc060dfda5ebb61f02a5ea77fad53f4ff0976d08')
const Ya = h('d6bac480f2c386c394efc7c47adb9925dcd2630b64f240c50f8d0eec482b9157')
const ADb = b('ADb')
const yb = h('d2316b454718c35362d83d69df6320f38578ed5984651435e2949762d900b80d')
const Yb = h('3ea7e0b19560d7c0b0f5734f63b955286dfa8232b5ebe63324e2d9e7433f7258')
const K = h('80b69a8a76457ab6a4d7f887a4bf6b55a2f80ac19c333f917a05fc9887c8b40f')
const TRANSCRIPT_IR = h(`
  20d6bac480f2c386c394efc7c47adb9925dcd2630b64f240c50f8d0e
  ec482b915703414461203ea7e0b19560d7c0b0f5734f63b955286dfa
  8232b5ebe63324e2d9e7433f725803414462`)
const ISK_INPUT_IR = h(`
  15435061636552697374726574746f3235355f49534b107e4b4791d6
  a8ef019b936c79fb7f2c572080b69a8a76457ab6a4d7f887a4bf6b55
  a2f80ac19c333f917a05fc9887c8b40f20d6bac480f2c386c394efc7
  c47adb9925dcd2630b64f240c50f8d0eec482b915703414461203ea7
  e0b19560d7c0b0f5734f63b955286dfa8232b5ebe63324e2d9e7433f
  725803414462`)
const ISK_IR = h(`
  b69effbf61b51d56401c0f65601abe428de8206feaaf0e32198896dc
  ae7b35cd2b38950a39dfd5d4a79164614c2984f7daa460b588c1e80c
  3fa2068af7900447`)
const TRANSCRIPT_OC = h(`
  6f6320d6bac480f2c386c394efc7c47adb9925dcd2630b64f240c50f
  8d0eec482b915703414461203ea7e0b19560d7c0b0f5734f63b95528
  6dfa8232b5ebe63324e2d9e7433f725803414462`)
const ISK_SY = h(`
  544199d71f62f8d9a1fee55727e24fe4a45844593c2b6013c4fa3969
  d0e5debb2244675c0b43397cbb68d342b01fc0f98fc961469a25134d
  e9f0f813c1a57476`)
const SID_OUT_IR = h(`
  bb1c449b35f0ea79a65c209f329a693d475e0ce2387bed9fe4b78f60
  b2a27c219813fb2cfe175ef40d2222d9261e66da7d78f7c55a303b1b
  8611dcdfab880c47`)
const SID_OUT_OC = h(`
  10d5941d4933497fe31b9188d690b84465e2a2d158332a7267284a07
  1a8d0876fc5c8c329dc735d59a9f8ef6623ee23924704a2f929dd631
  ca981227ee82fff2`)

describe('draft appendix B: CPace-RISTR255-SHA512 vectors', () => {
  it('DSI constants', () => {
    expect(hex(DSI)).toBe('435061636552697374726574746f323535')
    expect(hex(DSI_ISK)).toBe('435061636552697374726574746f3235355f49534b')
  })

  it('calculate_generator: generator string (ZPAD 100), hash, generator g', () => {
    const gs = generatorString(DSI, PRS, CI, SID, S_IN_BYTES)
    expect(gs.length).toBe(170)
    expect(hex(gs)).toBe(hex(GEN_STRING))
    expect(hex(gs.subarray(1 + DSI.length + 1 + PRS.length + 1, 1 + DSI.length + 1 + PRS.length + 1 + 100))).toBe('00'.repeat(100))
    expect(hex(generatorHash(PRS, CI, SID))).toBe(hex(GEN_HASH))
    expect(hex(calculateGenerator(PRS, CI, SID).toBytes())).toBe(hex(G))
  })

  it('messages from A and B', () => {
    const g = calculateGenerator(PRS, CI, SID)
    expect(hex(scalarMult(ya, g))).toBe(hex(Ya))
    expect(hex(scalarMult(yb, g))).toBe(hex(Yb))
    expect(hex(cpaceShare(PRS, CI, SID, ya).Y)).toBe(hex(Ya))
    expect(hex(cpaceShare(PRS, CI, SID, yb).Y)).toBe(hex(Yb))
  })

  it('secret points K', () => {
    expect(hex(scalarMultVfy(ya, Yb))).toBe(hex(K))
    expect(hex(scalarMultVfy(yb, Ya))).toBe(hex(K))
  })

  it('ISK, initiator/responder', () => {
    const t = transcriptIr(Ya, ADa, Yb, ADb)
    expect(t.length).toBe(74)
    expect(hex(t)).toBe(hex(TRANSCRIPT_IR))
    expect(hex(concat(lvCat(DSI_ISK, SID, K), t))).toBe(hex(ISK_INPUT_IR))
    expect(hex(deriveIsk(SID, K, t))).toBe(hex(ISK_IR))
    // Both parties through the protocol-level function.
    expect(hex(cpaceIsk(ya, Yb, SID, t))).toBe(hex(ISK_IR))
    expect(hex(cpaceIsk(yb, Ya, SID, t))).toBe(hex(ISK_IR))
  })

  it('ISK, parallel (symmetric) execution', () => {
    const t = transcriptOc(Ya, ADa, Yb, ADb)
    expect(t.length).toBe(76)
    expect(hex(t)).toBe(hex(TRANSCRIPT_OC))
    expect(hex(deriveIsk(SID, K, t))).toBe(hex(ISK_SY))
  })

  it('optional session id output', () => {
    expect(hex(sidOutput(transcriptIr(Ya, ADa, Yb, ADb)))).toBe(hex(SID_OUT_IR))
    expect(hex(sidOutput(transcriptOc(Ya, ADa, Yb, ADb)))).toBe(hex(SID_OUT_OC))
  })

  it('scalar_mult with valid inputs', () => {
    const s = h('7cd0e075fa7955ba52c02759a6c90dbbfc10e6d40aea8d283e407d88cf538a05')
    const X = h('2c3c6b8c4f3800e7aef6864025b4ed79bd599117e427c41bd47d93d654b4a51c')
    const out = '7c13645fe790a468f62c39beb7388e541d8405d1ade69d1778c5fe3e7f6b600e'
    expect(hex(scalarMultVfy(s, X))).toBe(out)
  })

  it('invalid inputs for scalar_mult_vfy give G.I, and the protocol aborts', () => {
    const s = h('7cd0e075fa7955ba52c02759a6c90dbbfc10e6d40aea8d283e407d88cf538a05')
    const Yi1 = h('2b3c6b8c4f3800e7aef6864025b4ed79bd599117e427c41bd47d93d654b4a51c') // not a valid encoding
    const Yi2 = IDENTITY // the neutral element itself
    expect(hex(scalarMultVfy(s, Yi1))).toBe(hex(IDENTITY))
    expect(hex(scalarMultVfy(s, Yi2))).toBe(hex(IDENTITY))
    for (const bad of [Yi1, Yi2, new Uint8Array(31), new Uint8Array(33), h('ff'.repeat(32))]) {
      let err: unknown
      try { cpaceIsk(s, bad, SID, transcriptIr(Ya, ADa, bad, ADb)) } catch (e) { err = e }
      expect(isFerryError(err, 'PROTOCOL')).toBe(true)
    }
  })
})

describe('sample_scalar', () => {
  it('clears the bits above 252 and never returns zero', () => {
    const all = (v: number) => (n: number) => new Uint8Array(n).fill(v)
    const y = sampleScalar(all(0xff))
    expect(y[31]).toBe(0x0f)
    expect(y.slice(0, 31).every((x) => x === 0xff)).toBe(true)
    let calls = 0
    const zeroThenOnes = (n: number): Uint8Array => (calls++ === 0 ? new Uint8Array(n) : all(1)(n))
    expect(sampleScalar(zeroThenOnes)[0]).toBe(1)
    expect(calls).toBe(2)
    // 0x10 in the top byte is above 2^252: it is cleared, the rest stays.
    let once = 0
    const topOnly = (n: number): Uint8Array => { const r = new Uint8Array(n); r[31] = 0x10; if (once++ > 0) r[0] = 7; return r }
    expect(hex(sampleScalar(topOnly))).toBe('07' + '00'.repeat(31))
  })
})

function concat (...xs: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(xs.reduce((n, x) => n + x.length, 0))
  let o = 0
  for (const x of xs) { out.set(x, o); o += x.length }
  return out
}
