import type { SecuredConnection } from '@libp2p/interface'
import { noise } from '@libp2p/noise'
import { Uint8ArrayList } from 'uint8arraylist'

// @libp2p/noise 17 decrypts each received Noise message (up to 64 KiB) with
//
//   const dst = chunk.subarray(i, end - CHACHA_TAG_LENGTH)
//   plaintext = handshake.decrypt(encrypted, dst)
//
// `dst` lets its WebAssembly ChaCha decrypt in place, but on Node messages over 1,200 bytes go to
// node:crypto, which ignores it. And a message that spans two socket reads (nearly all of them: reads
// are 64 KiB, messages 64 KiB + 2) arrives as a Uint8ArrayList, whose subarray() copies the pieces into
// a new buffer. So the receiver allocated and copied every byte it received once for nothing, a third
// of its buffer churn. V8 frees those buffers only when it collects, so they cost the receiver CPU and
// peak RSS for nothing (docs/performance.md has what they cost).
//
// Below, a message that spans reads is decrypted without the copy (the node:crypto path reads the
// pieces in turn; the WebAssembly one, for small messages, allocates its output as it would have
// allocated `dst`). A contiguous message still gets its in-place view. The method is replaced on each
// secured connection, only when the connection has the shape this was written against; the canary test
// (test/net/noise-decrypt.test.ts) fails when an upgrade of @libp2p/noise changes the code above.

const NOISE_MSG_MAX_LENGTH_BYTES = 65535 // Noise spec: the largest transport message
const CHACHA_TAG_LENGTH = 16

interface NoiseHandshake {
  decrypt: (ciphertext: Uint8Array | Uint8ArrayList, dst?: Uint8Array) => Uint8Array | Uint8ArrayList
}

/** The parts of @libp2p/noise's EncryptedMessageStream that decrypt() uses. */
interface DecryptingStream {
  handshake: NoiseHandshake
  metrics?: { decryptedPackets: { increment: () => void }, decryptErrors: { increment: () => void } }
  decrypt: (chunk: Uint8Array | Uint8ArrayList) => Uint8ArrayList
}

/** EncryptedMessageStream.decrypt, without the copy of a message that spans reads. */
export function decryptMessages (this: DecryptingStream, chunk: Uint8Array | Uint8ArrayList): Uint8ArrayList {
  const output = new Uint8ArrayList()
  for (let i = 0; i < chunk.byteLength; i += NOISE_MSG_MAX_LENGTH_BYTES) {
    const end = Math.min(i + NOISE_MSG_MAX_LENGTH_BYTES, chunk.byteLength)
    if (end - CHACHA_TAG_LENGTH < i) throw new Error('Invalid chunk')
    const contiguous = chunk instanceof Uint8Array
    const encrypted = contiguous ? chunk.subarray(i, end) : chunk.sublist(i, end)
    const dst = contiguous ? chunk.subarray(i, end - CHACHA_TAG_LENGTH) : undefined
    try {
      output.append(this.handshake.decrypt(encrypted, dst))
      this.metrics?.decryptedPackets.increment()
    } catch (e) {
      this.metrics?.decryptErrors.increment()
      throw e
    }
  }
  return output
}

function isDecryptingStream (c: unknown): c is DecryptingStream {
  const s = c as Partial<DecryptingStream> | undefined
  return typeof s?.decrypt === 'function' && typeof s.handshake?.decrypt === 'function'
}

function mend<T extends SecuredConnection<unknown>> (secured: T): T {
  if (isDecryptingStream(secured.connection)) secured.connection.decrypt = decryptMessages
  return secured
}

/**
 * `noise()` whose connections decrypt without the copy described above. Node only: in a browser the
 * ChaCha is JavaScript that does decrypt into `dst`, so browser-node.ts keeps `noise()`.
 */
export function nodeNoise (init?: Parameters<typeof noise>[0]): ReturnType<typeof noise> {
  const factory = noise(init)
  return components => {
    const encrypter = factory(components)
    const inbound = encrypter.secureInbound.bind(encrypter)
    const outbound = encrypter.secureOutbound.bind(encrypter)
    encrypter.secureInbound = async (connection, options) => mend(await inbound(connection, options))
    encrypter.secureOutbound = async (connection, options) => mend(await outbound(connection, options))
    return encrypter
  }
}
