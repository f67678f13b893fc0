import type { SecuredConnection } from '@libp2p/interface'
import { noise } from '@libp2p/noise'
import { Uint8ArrayList } from 'uint8arraylist'
import { hookSecuring } from './securing-hooks.js'

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
// allocated `dst`). A contiguous message still gets its in-place view.
//
// Its 'message' listener also runs
//
//   for (const buf of this.decoder.decode(evt.data)) {
//     this.onData(this.decrypt(buf));
//
// so each Noise message went up through yamux's events on its own, and the decoder found the end of
// each read by catching the RangeError its length reader throws there (a stack trace per read). Below,
// the decoder hands over all of a read's whole messages as one batch, found without throwing, and
// decrypt() returns their plaintexts together: one trip up the stack per read.
//
// The methods are replaced on each secured connection, only when the connection has the shape this was
// written against; the canary test (test/net/noise-decrypt.test.ts) fails when an upgrade of
// @libp2p/noise changes the code above.

const NOISE_MSG_MAX_LENGTH_BYTES = 65535 // Noise spec: the largest transport message
const CHACHA_TAG_LENGTH = 16

interface NoiseHandshake {
  decrypt: (ciphertext: Uint8Array | Uint8ArrayList, dst?: Uint8Array) => Uint8Array | Uint8ArrayList
}

/** The parts of @libp2p/noise's EncryptedMessageStream that its 'message' listener uses. */
interface DecryptingStream {
  handshake: NoiseHandshake
  metrics?: { decryptedPackets: { increment: () => void }, decryptErrors: { increment: () => void } }
  decoder: { decode: (chunk: Uint8Array | Uint8ArrayList) => Iterable<Uint8Array | Uint8ArrayList | NoiseMessages> }
  decrypt: (chunk: Uint8Array | Uint8ArrayList | NoiseMessages) => Uint8ArrayList
}

/** The whole Noise messages of one read, without their length prefixes. */
export class NoiseMessages {
  constructor (readonly messages: Array<Uint8Array | Uint8ArrayList>) {}
}

/** As @libp2p/noise's decoder allows: a peer may not make the receiver buffer more. */
const MAX_BUFFER_BYTES = 16 * 1024 * 1024

/** Splits received bytes into Noise messages (2-byte big-endian length, then the message). */
export class NoiseMessageSplitter {
  private readonly buffer = new Uint8ArrayList()

  /** `leftover`: bytes the decoder this one replaces held, not yet a whole message. */
  constructor (leftover?: Uint8Array) {
    if (leftover !== undefined && leftover.byteLength > 0) this.buffer.append(leftover)
  }

  /** The whole messages `chunk` completes, as one batch; none while a message is still incomplete. */
  decode (chunk: Uint8Array | Uint8ArrayList): NoiseMessages[] {
    const buffer = this.buffer
    buffer.append(chunk)
    if (buffer.byteLength > MAX_BUFFER_BYTES) throw new Error(`Buffer length limit exceeded - ${buffer.byteLength}/${MAX_BUFFER_BYTES}`)
    const messages: Array<Uint8Array | Uint8ArrayList> = []
    let at = 0
    while (buffer.byteLength - at >= 2) {
      const n = buffer.getUint16(at)
      if (buffer.byteLength - at - 2 < n) break
      if (n > 0) {
        const m = buffer.sublist(at + 2, at + 2 + n)
        const [only] = m
        messages.push(only.byteLength === n ? only : m) // within one read: its own view
      }
      at += 2 + n
    }
    buffer.consume(at)
    return messages.length === 0 ? [] : [new NoiseMessages(messages)]
  }
}

/**
 * EncryptedMessageStream.decrypt, without the copy of a message that spans reads; given a batch, the
 * plaintexts of all its messages, in order.
 */
export function decryptMessages (this: DecryptingStream, chunk: Uint8Array | Uint8ArrayList | NoiseMessages): Uint8ArrayList {
  const output = new Uint8ArrayList()
  if (chunk instanceof NoiseMessages) {
    for (const m of chunk.messages) decryptInto(this, m, output)
  } else {
    decryptInto(this, chunk, output)
  }
  return output
}

function decryptInto (s: DecryptingStream, chunk: Uint8Array | Uint8ArrayList, output: Uint8ArrayList): void {
  for (let i = 0; i < chunk.byteLength; i += NOISE_MSG_MAX_LENGTH_BYTES) {
    const end = Math.min(i + NOISE_MSG_MAX_LENGTH_BYTES, chunk.byteLength)
    if (end - CHACHA_TAG_LENGTH < i) throw new Error('Invalid chunk')
    const contiguous = chunk instanceof Uint8Array
    const encrypted = contiguous ? chunk.subarray(i, end) : chunk.sublist(i, end)
    const dst = contiguous ? chunk.subarray(i, end - CHACHA_TAG_LENGTH) : undefined
    try {
      output.append(s.handshake.decrypt(encrypted, dst))
      s.metrics?.decryptedPackets.increment()
    } catch (e) {
      s.metrics?.decryptErrors.increment()
      throw e
    }
  }
}

function isDecryptingStream (c: unknown): c is DecryptingStream {
  const s = c as Partial<DecryptingStream> | undefined
  return typeof s?.decrypt === 'function' && typeof s.handshake?.decrypt === 'function' && typeof s.decoder?.decode === 'function'
}

function mend<T extends SecuredConnection<unknown>> (secured: T): T {
  const c = secured.connection
  if (isDecryptingStream(c)) {
    const held = (c.decoder as { buffer?: { byteLength?: unknown, subarray?: () => Uint8Array } }).buffer
    c.decoder = new NoiseMessageSplitter(typeof held?.subarray === 'function' ? held.subarray() : undefined)
    c.decrypt = decryptMessages
  }
  return secured
}

/**
 * `noise()` whose connections read as described above. Node only: in a browser the
 * ChaCha is JavaScript that does decrypt into `dst`, so browser-node.ts keeps `noise()`.
 */
export function nodeNoise (init?: Parameters<typeof noise>[0]): ReturnType<typeof noise> {
  return hookSecuring(noise(init), { secured: mend })
}
