import { protobuf } from './protobuf-runtime.js'
import { ferry } from './gen/ferry.js'
import { ErrorCode, FerryError } from '../errors.js'

export { ferry }

/** The body names of the Frame oneof, as they appear on decoded frames. */
export type FrameKind = NonNullable<ferry.Frame['body']>

/** A decoded frame whose `body` names the one field that is set. */
export type Frame = ferry.Frame & { body: FrameKind }

/** An encoded frame body as parts to be written back to back (media payloads are never copied into a frame). */
export type EncodedFrame = Uint8Array[]

export function encodeFrame (frame: ferry.Frame.$Properties): EncodedFrame {
  return [ferry.Frame.encode(frame).finish()]
}

export function frameLength (frame: EncodedFrame): number {
  let n = 0
  for (const part of frame) n += part.byteLength
  return n
}

const BATCH_TAG = (4 << 3) | 2 // Frame.batch
const BATCH_MESSAGE_TAG = (1 << 3) | 2 // MessageBatch.messages

/** A decoded MessageBatch; `encoded` holds each message's bytes as they came, when decodeFrame kept them. */
export type ReceivedBatch = ferry.MessageBatch & { encoded?: Uint8Array[] }

export function decodeFrame (body: Uint8Array): Frame {
  let frame: ferry.Frame
  try {
    frame = (body[0] === BATCH_TAG ? batchFrame(body) : undefined) ?? ferry.Frame.decode(body)
  } catch (err) {
    throw new FerryError(ErrorCode.MALFORMED_FRAME, `malformed frame: ${(err as Error).message}`, undefined, { cause: err })
  }
  if (frame.body == null) throw new FerryError(ErrorCode.MALFORMED_FRAME, 'malformed frame: no known body')
  return frame as Frame
}

/**
 * A frame that is a MessageBatch and nothing else, as encodeBatch writes them, decoded with each
 * message's encoding kept beside it (views into `body`): a store that keeps messages as their encodings
 * then stores those bytes instead of encoding each message again. Undefined for any other layout, which
 * is decoded like any frame.
 */
function batchFrame (body: Uint8Array): ferry.Frame | undefined {
  const r = protobuf.Reader.create(body)
  r.pos = 1
  if (r.uint32() !== body.byteLength - r.pos) return undefined
  const batch: ReceivedBatch = new ferry.MessageBatch()
  const encoded: Uint8Array[] = []
  while (r.pos < r.len) {
    if (r.uint32() !== BATCH_MESSAGE_TAG) return undefined
    const length = r.uint32()
    const start = r.pos
    batch.messages.push(ferry.Message.decode(r, length))
    encoded.push(body.subarray(start, r.pos))
  }
  batch.encoded = encoded
  const frame = new ferry.Frame()
  frame.batch = batch
  return frame
}

/** A frame as the peer decodes it: for feeding a machine frames no peer sent (backup files, tests). */
export function asFrame (frame: ferry.Frame.$Properties): Frame {
  return decodeFrame(ferry.Frame.encode(frame).finish())
}

const CHUNK_FIELD = 6 // Frame.chunk

/** The most a MediaChunk frame adds to its payload: the tags and varints of its fields and of Frame.chunk. */
export const CHUNK_HEADER_MAX = 32
const TAG = { index: 1 << 3, offset: 2 << 3, data: (15 << 3) | 2, chunk: (CHUNK_FIELD << 3) | 2 } as const

/**
 * Encodes a MediaChunk frame as [header, payload]: byte-identical to `encodeFrame({ chunk })`, but the
 * payload is referenced, not copied, so the sender's media bytes go from disk to socket untouched.
 */
export function encodeMediaChunk (index: number, offset: number, data: Uint8Array): EncodedFrame {
  const inner = protobuf.Writer.create()
  if (index !== 0) inner.uint32(TAG.index).uint32(index)
  if (offset !== 0) inner.uint32(TAG.offset).uint64(offset)
  if (data.byteLength !== 0) inner.uint32(TAG.data).uint32(data.byteLength)
  const innerHeader = inner.finish()
  const header = protobuf.Writer.create().uint32(TAG.chunk).uint32(innerHeader.byteLength + data.byteLength).finish()
  const out = new Uint8Array(header.byteLength + innerHeader.byteLength)
  out.set(header, 0)
  out.set(innerHeader, header.byteLength)
  return data.byteLength === 0 ? [out] : [out, data]
}

/** Encodes one chat message on its own: the unit of batching and of the end-to-end digest. */
export function encodeMessage (message: ferry.Message.$Properties): Uint8Array {
  return ferry.Message.encode(message).finish()
}

/** Size a message adds to a MessageBatch frame's body (tag + length + bytes). */
export function batchEntryLength (encoded: Uint8Array): number {
  return 1 + varintLength(encoded.byteLength) + encoded.byteLength
}

/** Builds a MessageBatch frame from already-encoded messages, so each message is encoded once. */
export function encodeBatch (encoded: Uint8Array[]): EncodedFrame {
  let inner = 0
  for (const m of encoded) inner += batchEntryLength(m)
  const out = new Uint8Array(1 + varintLength(inner) + inner)
  let pos = 0
  out[pos++] = BATCH_TAG
  pos = writeVarint(out, pos, inner)
  for (const m of encoded) {
    out[pos++] = BATCH_MESSAGE_TAG
    pos = writeVarint(out, pos, m.byteLength)
    out.set(m, pos)
    pos += m.byteLength
  }
  return [out]
}

const DEFLATED_BATCH_TAG = (14 << 3) | 2 // Frame.deflated_batch

/** A deflated MessageBatch frame as [header, data]: the deflated bytes are referenced, not copied. */
export function encodeDeflatedBatch (deflated: Uint8Array): EncodedFrame {
  const header = new Uint8Array(1 + varintLength(deflated.byteLength))
  header[0] = DEFLATED_BATCH_TAG
  writeVarint(header, 1, deflated.byteLength)
  return [header, deflated]
}

/**
 * Raw DEFLATE for message batches, where bytes cost more than the CPU that shrinks them (WebRTC). The
 * platform supplies it: node:zlib (src/wire/deflate-node.ts), the browser's DecompressionStream
 * (src/web/inflate.ts).
 */
export interface BatchDeflate {
  /** A sender's: the batch frame's bytes, deflated. */
  deflate?: (frame: Uint8Array) => Uint8Array
  /**
   * A receiver's: the bytes inflated, at most `maxBytes` of them (FRAME_TOO_LARGE beyond: a few KiB may
   * inflate to gigabytes); MALFORMED_FRAME when they are no DEFLATE stream.
   */
  inflate?: (data: Uint8Array, maxBytes: number) => Promise<Uint8Array>
}

export function varintLength (n: number): number {
  let len = 1
  while (n >= 0x80) { n = Math.floor(n / 128); len++ }
  return len
}

export function writeVarint (buf: Uint8Array, pos: number, n: number): number {
  while (n >= 0x80) {
    buf[pos++] = (n & 0x7f) | 0x80
    n = Math.floor(n / 128)
  }
  buf[pos++] = n
  return pos
}
