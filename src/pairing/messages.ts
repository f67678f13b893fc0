import { concatBytes } from '@noble/hashes/utils.js'
import { ErrorCode, FerryError } from '../errors.js'
import { prependLen } from './cpace.js'

// The pairing protocol's messages (/ferry/pair/1.0.0): one message per length-prefixed stream frame
// (the transport's framing; at most MAX_MESSAGE_BYTES). No protobuf: nine tiny fixed shapes.
//
//   message = version (1 byte, = 1) || type (1 byte) || field* ; each field = prepend_len(bytes)
//
// Fields are length-prefixed with CPace's own LEB128 prepend_len, so one auditable encoding serves the
// PAKE and the wire. Parsing is strict: exact field count, exact sizes for fixed fields, minimal LEB128,
// no trailing bytes.
//
//   type  name            direction                fields
//   1     PAKE_A          receiver -> sender       nonce (16), Ya (32), ADa (0..256)
//   2     PAKE_B          sender -> receiver       Yb (32), ADb (0..256), Tb (64)
//   3     CONFIRM_A       receiver -> sender       Ta (64)
//   4     ABORT           either                   reason (1 byte, see ABORT_REASONS)
//   5     RESUME_A        receiver -> sender       nonce (32)
//   6     RESUME_B        sender -> receiver       nonce (32), tag (32)
//   7     RESUME_CONFIRM  receiver -> sender       tag (32)
//   8     PAKE_A_QR       receiver -> sender       nonce (16), Ya (32), key proof (32), ADa (0..256);
//                                                  the PRS holds the QR code's key too (handshake.ts)
//   9     PAIRED          sender -> receiver       none: the sender's verdict on CONFIRM_A, it paired
//                                                  this phone (an ABORT is the other verdict)

export const PAIR_VERSION = 1
export const MAX_MESSAGE_BYTES = 1024
export const MAX_AD_BYTES = 256

export const MsgType = {
  PAKE_A: 1,
  PAKE_B: 2,
  CONFIRM_A: 3,
  ABORT: 4,
  RESUME_A: 5,
  RESUME_B: 6,
  RESUME_CONFIRM: 7,
  PAKE_A_QR: 8,
  PAIRED: 9
} as const
export type MsgType = typeof MsgType[keyof typeof MsgType]

// Field shapes: a fixed length, or [min, max].
const SHAPES: Record<MsgType, Array<number | [number, number]>> = {
  [MsgType.PAKE_A]: [16, 32, [0, MAX_AD_BYTES]],
  [MsgType.PAKE_B]: [32, [0, MAX_AD_BYTES], 64],
  [MsgType.CONFIRM_A]: [64],
  [MsgType.ABORT]: [1],
  [MsgType.RESUME_A]: [32],
  [MsgType.RESUME_B]: [32, 32],
  [MsgType.RESUME_CONFIRM]: [32],
  [MsgType.PAKE_A_QR]: [16, 32, 32, [0, MAX_AD_BYTES]],
  [MsgType.PAIRED]: []
}

/** Why a side gave up; carried by ABORT so both phones show the same reason. */
export const ABORT_REASONS = [
  ErrorCode.WRONG_CODE, // 0
  ErrorCode.CODE_EXPIRED, // 1
  ErrorCode.PROTOCOL, // 2
  ErrorCode.VERSION, // 3
  ErrorCode.NOT_PAIRED, // 4
  ErrorCode.CANCELLED, // 5
  // Reachable, but offering no transfer (yet): a phone started again may be reading its journal before
  // it offers, so the other phone tries again for a while. An older receiver reads it as PROTOCOL.
  ErrorCode.NO_PEER // 6
] as const
export type AbortReason = typeof ABORT_REASONS[number]

export interface Message {
  type: MsgType
  fields: Uint8Array[]
}

export function encodeMessage (type: MsgType, ...fields: Uint8Array[]): Uint8Array {
  const out = concatBytes(Uint8Array.of(PAIR_VERSION, type), ...fields.map(prependLen))
  if (out.length > MAX_MESSAGE_BYTES) throw new RangeError('pairing message too large')
  return out
}

export function encodeAbort (reason: AbortReason): Uint8Array {
  return encodeMessage(MsgType.ABORT, Uint8Array.of(ABORT_REASONS.indexOf(reason)))
}

/** The reason an ABORT carries; an unknown byte reads as PROTOCOL. */
export function abortReason (m: Message): AbortReason {
  return ABORT_REASONS[m.fields[0][0]] ?? ErrorCode.PROTOCOL
}

const malformed = (why: string): FerryError => new FerryError(ErrorCode.PROTOCOL, `pairing: malformed message (${why})`)

/**
 * Parses one message. Throws VERSION for another protocol version, PROTOCOL for anything malformed.
 * `expected` lists the types acceptable in the current state; ABORT is always acceptable.
 */
export function decodeMessage (bytes: Uint8Array, expected: readonly MsgType[]): Message {
  if (!(bytes instanceof Uint8Array)) throw malformed('not bytes')
  if (bytes.length > MAX_MESSAGE_BYTES) throw malformed('too large')
  if (bytes.length < 2) throw malformed('too short')
  if (bytes[0] !== PAIR_VERSION) {
    throw new FerryError(ErrorCode.VERSION, `pairing: the peer speaks pairing version ${bytes[0]}, this phone speaks ${PAIR_VERSION}`)
  }
  const type = bytes[1] as MsgType
  const shape = SHAPES[type]
  if (shape === undefined) throw malformed(`unknown type ${type}`)
  if (type !== MsgType.ABORT && !expected.includes(type)) {
    throw new FerryError(ErrorCode.PROTOCOL, `pairing: unexpected message type ${type} here`)
  }
  const fields: Uint8Array[] = []
  let at = 2
  for (const want of shape) {
    // LEB128 length, minimal, at most two bytes (every field is under 16384 bytes).
    if (at >= bytes.length) throw malformed('missing field')
    let len = bytes[at++]
    if (len & 0x80) {
      if (at >= bytes.length) throw malformed('truncated length')
      const hi = bytes[at++]
      if (hi === 0 || (hi & 0x80) !== 0) throw malformed('non-minimal or oversized length')
      len = (len & 0x7f) | (hi << 7)
    }
    const [min, max] = typeof want === 'number' ? [want, want] : want
    if (len < min || len > max) throw malformed(`field of ${len} bytes`)
    if (at + len > bytes.length) throw malformed('truncated field')
    fields.push(bytes.slice(at, at + len))
    at += len
  }
  if (at !== bytes.length) throw malformed('trailing bytes')
  return { type, fields }
}
