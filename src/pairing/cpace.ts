import { ristretto255, ristretto255_hasher } from '@noble/curves/ed25519.js'
import { bytesToNumberLE } from '@noble/curves/utils.js'
import { sha512 } from '@noble/hashes/sha2.js'
import { concatBytes, randomBytes } from '@noble/hashes/utils.js'
import { ErrorCode, FerryError } from '../errors.js'

// CPace-RISTR255-SHA512, exactly as draft-irtf-cfrg-cpace specifies it (sections "Definitions and
// notation", "The CPace protocol", "CPace group objects G_Ristretto255..." and appendix A), checked
// against the draft's ristretto255 test vectors in test/pairing/cpace-vectors.test.ts.
//
// Every group operation comes from @noble/curves (RFC 9496 decode/encode, element derivation, constant-time
// scalar multiplication); this file only strings bytes together. Function names follow the draft's.
//
// What the draft leaves to the application (and Ferry decides in handshake.ts): the encodings of
// PRS, CI, sid, ADa and ADb; initiator-responder vs symmetric mode (Ferry: initiator-responder);
// key confirmation; the KDF applied to ISK.

type Point = InstanceType<typeof ristretto255.Point>

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)

/** G.DSI for G_Ristretto255. */
export const DSI = utf8('CPaceRistretto255')
/** G.DSI || b"_ISK", the domain separator of the ISK hash. */
export const DSI_ISK = utf8('CPaceRistretto255_ISK')
/** H.s_in_bytes: SHA-512 consumes 128-byte blocks. */
export const S_IN_BYTES = 128
/** G.field_size_bytes: the length of an encoded element and of a scalar. */
export const FIELD_SIZE_BYTES = 32
/** G.I: the encoding of the neutral element, 32 zero bytes. */
export const IDENTITY: Uint8Array = new Uint8Array(FIELD_SIZE_BYTES)
/** The length of ISK: SHA-512's full output (H.b_in_bytes). */
export const ISK_BYTES = 64

const ORDER = ristretto255.Point.Fn.ORDER

/** prepend_len: the LEB128 encoding of len(data), then data. */
export function prependLen (data: Uint8Array): Uint8Array {
  const len: number[] = []
  let n = data.length
  do {
    len.push(n < 128 ? n : (n & 0x7f) | 0x80)
    n = Math.floor(n / 128)
  } while (n > 0)
  return concatBytes(Uint8Array.from(len), data)
}

/** lv_cat(a0, a1, ...) = prepend_len(a0) || prepend_len(a1) || ... : a prefix-free encoding. */
export function lvCat (...args: Uint8Array[]): Uint8Array {
  return concatBytes(...args.map(prependLen))
}

/** generator_string: lv_cat(DSI, PRS, zero_bytes(len_zpad), CI, sid), padding DSI and PRS to a full hash block. */
export function generatorString (dsi: Uint8Array, prs: Uint8Array, ci: Uint8Array, sid: Uint8Array, sInBytes: number): Uint8Array {
  // The padding makes the first SHA-512 block depend on PRS alone (for short PRS) and the number of
  // blocks hashed independent of PRS's length.
  const lenZpad = Math.max(0, sInBytes - 1 - prependLen(prs).length - prependLen(dsi).length)
  return lvCat(dsi, prs, new Uint8Array(lenZpad), ci, sid)
}

/** lexiographically_larger(a, b): true if a > b, bytewise, a longer string winning a tie. */
export function lexicographicallyLarger (a: Uint8Array, b: Uint8Array): boolean {
  const m = Math.min(a.length, b.length)
  for (let i = 0; i < m; i++) {
    if (a[i] > b[i]) return true
    if (a[i] < b[i]) return false
  }
  return a.length > b.length
}

/** o_cat(a, b) = b"oc" || larger || smaller. */
export function oCat (a: Uint8Array, b: Uint8Array): Uint8Array {
  return lexicographicallyLarger(a, b) ? concatBytes(utf8('oc'), a, b) : concatBytes(utf8('oc'), b, a)
}

/** transcript_ir: the initiator-responder transcript, lv_cat(Ya, ADa) || lv_cat(Yb, ADb). Ferry uses this one. */
export function transcriptIr (Ya: Uint8Array, ADa: Uint8Array, Yb: Uint8Array, ADb: Uint8Array): Uint8Array {
  return concatBytes(lvCat(Ya, ADa), lvCat(Yb, ADb))
}

/** transcript_oc: the symmetric-mode transcript (no roles). Here for the draft's vectors only. */
export function transcriptOc (Ya: Uint8Array, ADa: Uint8Array, Yb: Uint8Array, ADb: Uint8Array): Uint8Array {
  return oCat(lvCat(Ya, ADa), lvCat(Yb, ADb))
}

/** The 64-byte hash of generator_string that element derivation maps to the group (exposed for the vectors). */
export function generatorHash (prs: Uint8Array, ci: Uint8Array, sid: Uint8Array): Uint8Array {
  return sha512(generatorString(DSI, prs, ci, sid, S_IN_BYTES)) // H.hash(gen_str, 2 * field_size_bytes) = all 64 bytes
}

/**
 * G.calculate_generator(H, PRS, CI, sid): the password-dependent generator, in the internal
 * representation. RFC 9496 element derivation (two Elligator maps, added) runs in constant time.
 */
export function calculateGenerator (prs: Uint8Array, ci: Uint8Array, sid: Uint8Array): Point {
  return ristretto255_hasher.deriveToCurve!(generatorHash(prs, ci, sid))
}

/**
 * G.sample_scalar(): 32 random bytes with the bits above group_size_bits (252) cleared, read as a
 * little-endian integer: the draft's recommended method, uniform in [0, 2^252), which lies inside
 * [0, group_order). Zero, drawn with probability 2^-252, would make Y the neutral element and the
 * peer abort, so it is drawn again.
 */
export function sampleScalar (random: (len: number) => Uint8Array = randomBytes): Uint8Array {
  for (;;) {
    const y = random(FIELD_SIZE_BYTES).slice()
    if (y.length !== FIELD_SIZE_BYTES) throw new RangeError('sampleScalar: the random source returned the wrong length')
    y[31] &= 0x0f
    if (y.some((b) => b !== 0)) return y
  }
}

function scalarOf (y: Uint8Array): bigint {
  if (y.length !== FIELD_SIZE_BYTES) throw new RangeError('a scalar is 32 bytes')
  return bytesToNumberLE(y) % ORDER
}

/** G.scalar_mult(y, g): encode(y * g), for the generator in internal representation. */
export function scalarMult (y: Uint8Array, g: Point): Uint8Array {
  const s = scalarOf(y)
  if (s === 0n) return IDENTITY.slice()
  return g.multiply(s).toBytes()
}

/**
 * G.scalar_mult_vfy(y, X): encode(y * decode(X)), or G.I when X is not a canonical ristretto255
 * encoding. The caller MUST abort when the result is G.I (an identity X, or an invalid one).
 */
export function scalarMultVfy (y: Uint8Array, X: Uint8Array): Uint8Array {
  let P: Point
  try {
    P = ristretto255.Point.fromBytes(X)
  } catch {
    return IDENTITY.slice()
  }
  const s = scalarOf(y)
  if (s === 0n || P.is0()) return IDENTITY.slice()
  return P.multiply(s).toBytes()
}

/**
 * Whether X is a share scalar_mult_vfy would accept: a canonical ristretto255 encoding of an element
 * other than G.I. Only such a share yields a K that depends on the password; any other aborts the run
 * whatever the password is. Reads public bytes only.
 */
export function isValidShare (X: Uint8Array): boolean {
  try {
    return !ristretto255.Point.fromBytes(X).is0()
  } catch {
    return false
  }
}

/** Constant-time equality for equal-length secrets; different lengths are unequal (lengths are public). */
export function ctEqual (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let d = 0
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i]
  return d === 0
}

/** ISK = H.hash(lv_cat(G.DSI || b"_ISK", sid, K) || transcript). */
export function deriveIsk (sid: Uint8Array, K: Uint8Array, transcript: Uint8Array): Uint8Array {
  return sha512(concatBytes(lvCat(DSI_ISK, sid, K), transcript))
}

/** sid_output = H.hash(b"CPaceSidOutput" || transcript): a public session id, for runs without a sid input. */
export function sidOutput (transcript: Uint8Array): Uint8Array {
  return sha512(concatBytes(utf8('CPaceSidOutput'), transcript))
}

// The protocol itself, as the draft's "CPace protocol instructions" put it. A party computes its
// share, sends (Y, AD), receives the peer's (Y, AD), and derives ISK over the transcript in which the
// initiator's message comes first.

export interface CPaceShare {
  /** The secret scalar y (32 bytes, little endian). Use once. */
  readonly y: Uint8Array
  /** The public share Y = y * g, sent to the peer. */
  readonly Y: Uint8Array
}

/** g = calculate_generator(PRS, CI, sid); y = sample_scalar(); Y = scalar_mult(y, g). */
export function cpaceShare (prs: Uint8Array, ci: Uint8Array, sid: Uint8Array, y: Uint8Array = sampleScalar()): CPaceShare {
  return { y, Y: scalarMult(y, calculateGenerator(prs, ci, sid)) }
}

/**
 * K = scalar_mult_vfy(y, peerY); abort if K = G.I; else ISK = H.hash(lv_cat(DSI_ISK, sid, K) || transcript).
 * The abort is a PROTOCOL error, not WRONG_CODE: an invalid share is an attack or a bug, and it tests no
 * password. K never leaves this function (the draft forbids exposing it).
 */
export function cpaceIsk (y: Uint8Array, peerY: Uint8Array, sid: Uint8Array, transcript: Uint8Array): Uint8Array {
  const K = scalarMultVfy(y, peerY)
  if (ctEqual(K, IDENTITY)) {
    throw new FerryError(ErrorCode.PROTOCOL, 'pairing: the peer sent an invalid CPace share')
  }
  const isk = deriveIsk(sid, K, transcript)
  K.fill(0)
  return isk
}
