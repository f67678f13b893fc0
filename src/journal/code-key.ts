import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { formatCode, type PairingCode } from '../pairing/index.js'

/**
 * The journal key of a record about a pairing code: `prefix` and the sha256 of `label` and the code,
 * so the journal never holds the code itself. Each kind of record has its own label, so the same code
 * keys them apart.
 */
export function codeKey (prefix: string, label: string, code: PairingCode): string {
  const head = new TextEncoder().encode(`${label}\0`)
  const text = new TextEncoder().encode(formatCode(code))
  const input = new Uint8Array(head.length + text.length)
  input.set(head)
  input.set(text, head.length)
  return prefix + bytesToHex(sha256(input))
}
