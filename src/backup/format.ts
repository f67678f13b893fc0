import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes, scryptSync } from 'node:crypto'
import { ErrorCode, FerryError } from '../errors.js'

// The backup file: a header, then the plaintext (a frame stream) cut into authenticated segments.
//
//   header (44 bytes, all of it hashed into every segment's AAD and into the key):
//     0  "FERRYBAK"            magic
//     8  u8 format version     1
//     9  u8 flags              bit 0: a password protects the file
//    10  u8 kdf               1 = scrypt (with a password), 0 = none
//    11  u8 log2(N), u8 r, u8 p   scrypt cost (18, 8, 1; older files have 15, 8, 1: each says its own)
//    14  u16 reserved (0)
//    16  u32 segment bytes     largest plaintext segment (1 MiB)
//    20  16 bytes salt
//    36  8 bytes random        file nonce: its first 4 bytes prefix every segment nonce
//   then 16 bytes key check    HKDF output: tells a wrong password from a damaged segment
//   then segments:             u32 (bit 31: final, low 31: plaintext length) | ciphertext | 16-byte tag
//
// Segment n is ChaCha20-Poly1305 under the file key with nonce = file nonce[0..4] || u64 n and
// AAD = sha256(header) || u64 n || final byte. The key is HKDF-SHA256(scrypt(password, salt), salt =
// sha256(header)); without a password the scrypt output is replaced by a fixed constant, so such a file
// is checked against accidents only (truncation, reordering, splicing, flipped bytes are detected) and is
// neither confidential nor authentic: anyone with Ferry can read it, and anyone can write or alter one
// that checks out. Every file gets a fresh key (fresh salt and nonce), so the counter alone keeps nonces
// unique.

export const MAGIC = Buffer.from('FERRYBAK', 'latin1')
export const FORMAT_VERSION = 1
export const FLAG_PASSWORD = 1
export const HEADER_BYTES = 44
export const CHECK_BYTES = 16
export const PREAMBLE_BYTES = HEADER_BYTES + CHECK_BYTES
export const TAG_BYTES = 16
export const SEGMENT_PREFIX_BYTES = 4
export const DEFAULT_SEGMENT_BYTES = 1024 * 1024
export const MAX_SEGMENT_BYTES = 16 * 1024 * 1024
const FINAL_BIT = 0x80000000

export interface KdfParams { log2N: number, r: number, p: number }
/**
 * scrypt N=2^18, r=8, p=1 (256 MiB): what age asks of a passphrase, twice OWASP's minimum (N=2^17), as
 * dear to each guess of an offline attacker as a restore can afford (docs/performance.md has the time).
 * scrypt rather than Argon2id: Node runs it natively (OpenSSL), where Argon2id would be JavaScript here
 * and native for the attacker, who would then pay less per guess than the phone does.
 */
export const DEFAULT_KDF: KdfParams = { log2N: 18, r: 8, p: 1 }
/**
 * What a header may ask for: scrypt's work (128·N·r·p bytes, also a bound on its memory) up to 1 GiB,
 * four times the default's, so a hostile file cannot make us spend minutes or gigabytes, and a later
 * Ferry may raise its default that far with files this one still opens.
 */
export const MAX_KDF_BYTES = 1024 * 1024 * 1024
const NO_PASSWORD_IKM = createHash('sha256').update('ferry-backup-v1 no password: integrity only').digest()

export interface BackupHeader {
  version: number
  password: boolean
  kdf: KdfParams
  segmentBytes: number
  salt: Uint8Array
  nonce: Uint8Array
  /** The header's 44 bytes as written. */
  bytes: Uint8Array
}

const bad = (message: string): FerryError => new FerryError(ErrorCode.BAD_INPUT, message)

export function newHeader (o: { password: boolean, kdf?: KdfParams, segmentBytes?: number }): BackupHeader {
  const kdf = o.kdf ?? DEFAULT_KDF
  const segmentBytes = o.segmentBytes ?? DEFAULT_SEGMENT_BYTES
  if (segmentBytes < 1 || segmentBytes > MAX_SEGMENT_BYTES) throw new RangeError(`segment size ${segmentBytes} out of range`)
  const b = Buffer.alloc(HEADER_BYTES)
  MAGIC.copy(b, 0)
  b[8] = FORMAT_VERSION
  b[9] = o.password ? FLAG_PASSWORD : 0
  b[10] = o.password ? 1 : 0
  b[11] = kdf.log2N
  b[12] = kdf.r
  b[13] = kdf.p
  b.writeUInt32BE(segmentBytes, 16)
  randomBytes(16).copy(b, 20)
  randomBytes(8).copy(b, 36)
  return parseHeader(b, 'backup')
}

/** Parses and checks a header; `name` goes into error messages (the file's name). */
export function parseHeader (b: Uint8Array, name: string): BackupHeader {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength)
  // Not "no FERRYBAK header", which reads as some other file: an empty one is a copy that never started.
  if (buf.byteLength === 0) throw bad(`${name} is empty: it holds no backup (a copy or download that did not finish?)`)
  if (buf.byteLength < 9 || !buf.subarray(0, 8).equals(MAGIC)) throw bad(`${name} is not a Ferry backup (no FERRYBAK header)`)
  const version = buf[8]
  if (version > FORMAT_VERSION) {
    throw bad(`${name} was written by a newer Ferry (backup format version ${version}); this Ferry reads version ${FORMAT_VERSION}: update Ferry to restore it`)
  }
  if (version < 1) throw bad(`${name} has an unknown backup format version ${version}: the file is damaged`)
  if (buf.byteLength < HEADER_BYTES) throw cutOff(name, buf.byteLength, 'its header')
  const flags = buf[9]
  if ((flags & ~FLAG_PASSWORD) !== 0) throw bad(`${name} has unknown header flags 0x${flags.toString(16)}: the file is damaged`)
  const password = (flags & FLAG_PASSWORD) !== 0
  const kdf = { log2N: buf[11], r: buf[12], p: buf[13] }
  if (buf[10] !== (password ? 1 : 0) || buf.readUInt16BE(14) !== 0) throw bad(`${name} has a damaged header (key derivation fields)`)
  if (password && (kdf.log2N < 1 || kdf.r < 1 || kdf.p < 1)) throw bad(`${name} has a damaged header (scrypt N=2^${kdf.log2N} r=${kdf.r} p=${kdf.p})`)
  if (password && kdfWork(kdf) > MAX_KDF_BYTES) {
    throw bad(`${name} asks for scrypt N=2^${kdf.log2N} r=${kdf.r} p=${kdf.p} (${kdfWork(kdf) / 2 ** 20} MiB of work), beyond the ` +
      `${MAX_KDF_BYTES / 2 ** 20} MiB Ferry allows: the file is damaged or was not written by Ferry`)
  }
  const segmentBytes = buf.readUInt32BE(16)
  if (segmentBytes < 1 || segmentBytes > MAX_SEGMENT_BYTES) throw bad(`${name} declares ${segmentBytes}-byte segments: the file is damaged`)
  return {
    version, password, kdf, segmentBytes,
    salt: Uint8Array.from(buf.subarray(20, 36)),
    nonce: Uint8Array.from(buf.subarray(36, 44)),
    bytes: Uint8Array.from(buf.subarray(0, HEADER_BYTES))
  }
}

/** The keys of one file: what seals its segments, and the check value stored after the header. */
export interface FileKeys {
  key: Buffer
  check: Buffer
  headerHash: Buffer
  nonce: Uint8Array
}

/** An opened backup: its header and keys (the password was right), ready to stream its plaintext. */
export interface OpenedBackup {
  path: string
  header: BackupHeader
  keys: FileKeys
  kdfMs: number
}

/** 128·N·r·p: scrypt's work in bytes mixed, and (with p = 1) about its memory. */
function kdfWork (k: KdfParams): number {
  return 128 * 2 ** k.log2N * k.r * k.p
}

/**
 * The memory scrypt needs, as OpenSSL counts it against `maxmem` (128·r·(N+2) for its table, 128·r·p
 * for its blocks), plus room to spare: every header parseHeader accepts must derive.
 */
export function scryptMaxmem (k: KdfParams): number {
  return 128 * k.r * (2 ** k.log2N + 2 + k.p) + 1024 * 1024
}

export function deriveKeys (h: BackupHeader, password?: string): FileKeys {
  if (h.password && (password === undefined || password === '')) throw bad('this backup is protected by a password: give it with --password-file FILE (or type it when asked)')
  const ikm = h.password
    ? scryptSync(Buffer.from((password as string).normalize('NFC'), 'utf8'), h.salt, 32, { N: 2 ** h.kdf.log2N, r: h.kdf.r, p: h.kdf.p, maxmem: scryptMaxmem(h.kdf) })
    : NO_PASSWORD_IKM
  const headerHash = createHash('sha256').update(h.bytes).digest()
  const okm = Buffer.from(hkdfSync('sha256', ikm, headerHash, 'ferry-backup-v1 keys', 32 + CHECK_BYTES))
  return { key: okm.subarray(0, 32), check: okm.subarray(32), headerHash, nonce: h.nonce }
}

function nonceAndAad (k: FileKeys, counter: number, final: boolean): { nonce: Buffer, aad: Buffer } {
  const nonce = Buffer.alloc(12)
  nonce.set(k.nonce.subarray(0, 4), 0)
  nonce.writeBigUInt64BE(BigInt(counter), 4)
  const aad = Buffer.alloc(32 + 8 + 1)
  k.headerHash.copy(aad, 0)
  aad.writeBigUInt64BE(BigInt(counter), 32)
  aad[40] = final ? 1 : 0
  return { nonce, aad }
}

/** Seals one segment: returns [prefix, ciphertext, tag]. */
export function sealSegment (k: FileKeys, counter: number, final: boolean, plain: Uint8Array): Buffer[] {
  const { nonce, aad } = nonceAndAad(k, counter, final)
  const c = createCipheriv('chacha20-poly1305', k.key, nonce, { authTagLength: TAG_BYTES })
  c.setAAD(aad, { plaintextLength: plain.byteLength })
  const body = c.update(plain)
  c.final()
  const prefix = Buffer.alloc(SEGMENT_PREFIX_BYTES)
  prefix.writeUInt32BE((plain.byteLength | (final ? FINAL_BIT : 0)) >>> 0, 0)
  return [prefix, body, c.getAuthTag()]
}

export function parseSegmentPrefix (b: Uint8Array): { length: number, final: boolean } {
  const v = Buffer.from(b.buffer, b.byteOffset, SEGMENT_PREFIX_BYTES).readUInt32BE(0)
  return { length: v & ~FINAL_BIT, final: (v & FINAL_BIT) !== 0 }
}

/** Opens one segment; returns undefined when it fails authentication (nothing of it may be used then). */
export function openSegment (k: FileKeys, counter: number, final: boolean, body: Uint8Array, tag: Uint8Array): Buffer | undefined {
  const { nonce, aad } = nonceAndAad(k, counter, final)
  const d = createDecipheriv('chacha20-poly1305', k.key, nonce, { authTagLength: TAG_BYTES })
  d.setAAD(aad, { plaintextLength: body.byteLength })
  d.setAuthTag(tag)
  const plain = d.update(body)
  try {
    d.final()
  } catch {
    return undefined
  }
  return plain
}

/**
 * Cuts a byte stream into sealed segments. A segment is sealed only once more bytes follow it, so the
 * one `end()` seals is always the final one (possibly empty when nothing was written at all).
 */
export class SegmentWriter {
  private readonly buf: Buffer
  private fill = 0
  private counter = 0
  /** Plaintext bytes taken so far. */
  plainBytes = 0

  constructor (private readonly keys: FileKeys, segmentBytes: number, private readonly out: (parts: Buffer[]) => void) {
    this.buf = Buffer.alloc(segmentBytes)
  }

  push (data: Uint8Array): void {
    this.plainBytes += data.byteLength
    let pos = 0
    while (pos < data.byteLength) {
      if (this.fill === this.buf.byteLength) this.seal(false)
      const n = Math.min(data.byteLength - pos, this.buf.byteLength - this.fill)
      this.buf.set(data.subarray(pos, pos + n), this.fill)
      this.fill += n
      pos += n
    }
  }

  end (): void {
    this.seal(true)
  }

  private seal (final: boolean): void {
    this.out(sealSegment(this.keys, this.counter++, final, this.buf.subarray(0, this.fill)))
    this.fill = 0
  }
}

/**
 * A backup file that ends before its end marker: almost always a copy or download that did not finish.
 * A person needs to know that, not which segment the cut fell in; that stays in the details (--json)
 * for whoever looks into it.
 */
export function cutOff (name: string, fileSize: number, where: string): FerryError {
  return new FerryError(ErrorCode.BAD_INPUT,
    `${name} is incomplete: it is cut off after ${fileSize} bytes, before the backup ends (a copy or download that did not finish?)`,
    { reason: 'truncated', fileBytes: fileSize, at: where })
}
