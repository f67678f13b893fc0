import { createCipheriv, createHash } from 'node:crypto'
import { ErrorCode, FerryError } from '../errors.js'

// Simulated media: a chacha20 keystream (OpenSSL makes it at GB/s, identical everywhere) framed by the
// header and trailer of the type it claims to be, so `file` and thumbnailers see a plausible file.
// Bytes are produced piece by piece and never held whole: a 5 GB phone seeds in constant memory.

export const PIECE_BYTES = 256 * 1024
/** Room for the largest header plus trailer, so they never overlap. */
export const MIN_MEDIA_BYTES = 256

const ZEROS = Buffer.alloc(PIECE_BYTES)
const IV = Buffer.alloc(16) // one stream per key, so a fixed counter and nonce are fine

const ascii = (s: string): Buffer => Buffer.from(s, 'latin1')
const u32be = (n: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32BE(Math.min(n, 0xffffffff)); return b }
const u32le = (n: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32LE(Math.min(n, 0xffffffff)); return b }

interface Format {
  header: (size: number) => Buffer
  trailer: Buffer
}

const ZIP: Format = {
  header: () => Buffer.concat([ascii('PK\x03\x04\x14\x00\x06\x00\x08\x00'), Buffer.alloc(20)]),
  trailer: Buffer.concat([ascii('PK\x05\x06'), Buffer.alloc(18)]) // end of central directory
}

const FORMATS: Readonly<Record<string, Format>> = {
  'image/jpeg': { header: () => ascii('\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x48\x00\x48\x00\x00'), trailer: ascii('\xff\xd9') },
  'image/png': {
    header: () => Buffer.concat([ascii('\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR'), u32be(1170), u32be(2532), ascii('\x08\x06\x00\x00\x00')]),
    trailer: ascii('\x00\x00\x00\x00IEND\xae\x42\x60\x82')
  },
  'image/webp': { header: size => Buffer.concat([ascii('RIFF'), u32le(size - 8), ascii('WEBPVP8 ')]), trailer: Buffer.alloc(0) },
  'video/mp4': {
    // ftyp box, then one mdat box spanning the rest of the file
    header: size => Buffer.concat([u32be(32), ascii('ftypisom\x00\x00\x02\x00isomiso2avc1mp41'), u32be(size - 32), ascii('mdat')]),
    trailer: Buffer.alloc(0)
  },
  'audio/ogg': { header: () => Buffer.concat([ascii('OggS\x00\x02'), Buffer.alloc(20), ascii('\x01\x13OpusHead\x01\x01\x38\x01\x80\xbb\x00\x00\x00\x00\x00')]), trailer: Buffer.alloc(0) },
  'application/pdf': { header: () => ascii('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n'), trailer: ascii('\n%%EOF\n') },
  'application/zip': ZIP,
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': ZIP,
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': ZIP
}

const EXTENSION_MIME: Readonly<Record<string, string>> = {
  pdf: 'application/pdf',
  zip: 'application/zip',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'
}

export function mimeForFileName (name: string): string {
  const ext = name.slice(name.lastIndexOf('.') + 1).toLowerCase()
  return EXTENSION_MIME[ext] ?? 'application/octet-stream'
}

function formatOf (mime: string): Format {
  const f = FORMATS[mime]
  if (f === undefined) throw new FerryError(ErrorCode.INTERNAL, `the simulator has no byte format for '${mime}'`)
  return f
}

/** Writes the part of `bytes` (which belongs at file offset `at`) that falls inside `piece` (at file offset `offset`). */
function overlay (piece: Uint8Array, offset: number, bytes: Uint8Array, at: number): void {
  const from = Math.max(offset, at)
  const to = Math.min(offset + piece.length, at + bytes.length)
  if (from < to) piece.set(bytes.subarray(from - at, to - at), from - offset)
}

/**
 * The bytes of one simulated media file, in pieces of PIECE_BYTES: same key, mime and size give the
 * same bytes. Each piece is a fresh buffer the consumer may keep.
 */
export async function * mediaPieces (key: Uint8Array, mime: string, size: number): AsyncGenerator<Uint8Array> {
  if (!Number.isSafeInteger(size) || size < MIN_MEDIA_BYTES) {
    throw new FerryError(ErrorCode.INTERNAL, `simulated media size ${size} is below ${MIN_MEDIA_BYTES} bytes`)
  }
  const format = formatOf(mime)
  const header = format.header(size)
  const cipher = createCipheriv('chacha20', key, IV)
  for (let offset = 0; offset < size; offset += PIECE_BYTES) {
    const piece = cipher.update(ZEROS.subarray(0, Math.min(PIECE_BYTES, size - offset)))
    overlay(piece, offset, header, 0)
    overlay(piece, offset, format.trailer, size - format.trailer.length)
    yield piece
  }
}

/** sha256 (lowercase hex) and length of a byte stream, consumed piece by piece. */
export async function digestPieces (pieces: AsyncIterable<Uint8Array>): Promise<{ sha256: string, size: number }> {
  const hash = createHash('sha256')
  let size = 0
  for await (const p of pieces) {
    hash.update(p)
    size += p.length
  }
  return { sha256: hash.digest('hex'), size }
}
