export { bytesToHex as toHex } from '@noble/hashes/utils.js'
import { encodeMessage } from '../wire/codec.js'
import { messageToWire } from './message-wire.js'
import type { MediaRecord, Message } from '../store/model.js'
import { createSha256, type Sha256 } from './sha256.js'

/**
 * Digest of one conversation's messages: sha256 over each message's protobuf encoding, length-prefixed,
 * in canonical order. The receiver recomputes it from what its store reads back, so a match proves the
 * messages arrived and were stored intact, not merely that frames went through.
 */
export class ConversationDigest {
  private readonly hash: Sha256 = createSha256()
  private readonly len = new Uint8Array(4)
  count = 0

  addEncoded (encoded: Uint8Array): void {
    new DataView(this.len.buffer).setUint32(0, encoded.byteLength)
    this.hash.update(this.len)
    this.hash.update(encoded)
    this.count++
  }

  add (m: Message): void {
    this.addEncoded(encodeMessage(messageToWire(m)))
  }

  digest (): Uint8Array {
    return this.hash.digest()
  }
}

/** Digest of a media index: what the manifest promised, bound into Done. */
export function mediaIndexDigest (media: Iterable<MediaRecord & { missing?: boolean }>): Uint8Array {
  const h = createSha256()
  const enc = new TextEncoder()
  for (const m of media) h.update(enc.encode(`${m.sha256}:${m.size}:${m.missing === true ? 0 : 1}\n`))
  return h.digest()
}

export function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  let diff = 0
  for (let i = 0; i < a.byteLength; i++) diff |= a[i] ^ b[i]
  return diff === 0
}

