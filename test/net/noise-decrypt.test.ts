import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { defaultLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddrConnectionPair } from '@libp2p/utils'
import { Uint8ArrayList } from 'uint8arraylist'
import { describe, expect, it } from 'vitest'
import { decryptMessages, nodeNoise, NoiseMessages, NoiseMessageSplitter } from '../../src/net/noise-decrypt.js'

async function encrypter (): Promise<ReturnType<ReturnType<typeof nodeNoise>>> {
  const privateKey = await generateKeyPair('Ed25519')
  return nodeNoise()({
    privateKey,
    peerId: peerIdFromPrivateKey(privateKey),
    logger: defaultLogger(),
    upgrader: { getStreamMuxers: () => new Map() }
  } as unknown as Parameters<ReturnType<typeof nodeNoise>>[0])
}

interface Sealing {
  encrypt: (data: Uint8Array) => Uint8ArrayList
  decrypt: (chunk: Uint8Array | Uint8ArrayList | NoiseMessages) => Uint8ArrayList
  decoder: { decode: (chunk: Uint8Array | Uint8ArrayList) => Iterable<NoiseMessages> }
}

/** Cuts `bytes` into pieces at `cuts`, as socket reads would. */
function pieces (bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const at = [0, ...cuts, bytes.byteLength]
  return at.slice(1).map((end, i) => bytes.subarray(at[i], end))
}

/** Both ends of a Noise connection over an in-memory pair, secured by nodeNoise(). */
async function securedPair (): Promise<{ client: { connection: { close: () => Promise<void> } }, server: { connection: { close: () => Promise<void> } }, sender: Sealing, receiver: Sealing }> {
  const [a, b] = await Promise.all([encrypter(), encrypter()])
  const [outbound, inbound] = multiaddrConnectionPair()
  const [client, server] = await Promise.all([a.secureOutbound(outbound), b.secureInbound(inbound)])
  return { client, server, sender: client.connection as unknown as Sealing, receiver: server.connection as unknown as Sealing }
}

/** Noise transport messages (without their 2-byte length prefixes) that carry `data`. */
function messages (from: Sealing, data: Uint8Array): Uint8Array[] {
  const wire = from.encrypt(data).subarray()
  const out: Uint8Array[] = []
  for (let at = 0; at < wire.byteLength;) {
    const n = (wire[at] << 8) | wire[at + 1]
    out.push(wire.slice(at + 2, at + 2 + n))
    at += 2 + n
  }
  return out
}

describe('nodeNoise', () => {
  it('still has the copy it works around in the installed @libp2p/noise (else drop nodeNoise)', () => {
    const utils = join(dirname(createRequire(import.meta.url).resolve('@libp2p/noise')), 'utils.js')
    expect(readFileSync(utils, 'utf8')).toContain('const dst = chunk.subarray(i, end - CHACHA_TAG_LENGTH);')
  })

  it('still reads each message through a decoder that throws at the end of every read (else drop the splitter)', () => {
    const dir = dirname(createRequire(import.meta.url).resolve('@libp2p/noise'))
    expect(readFileSync(join(dir, 'utils.js'), 'utf8')).toContain('for (const buf of this.decoder.decode(evt.data)) {')
    expect(readFileSync(join(dir, 'encoder.js'), 'utf8')).toContain("throw RangeError('Could not decode int16BE')")
  })

  it('hands over all whole messages of a read as one batch, and keeps a partial one for the next', () => {
    const wire = new Uint8Array([0, 3, 1, 2, 3, 0, 0, 0, 2, 4, 5, 0, 4, 6, 7])
    const splitter = new NoiseMessageSplitter()
    // Two whole messages and an empty one (skipped), then 2 bytes of a 4-byte message.
    const [first, ...none] = splitter.decode(wire)
    expect(none).toEqual([])
    expect(first.messages.map(m => [...m.subarray()])).toEqual([[1, 2, 3], [4, 5]])
    expect(splitter.decode(new Uint8Array([8]))).toEqual([])
    const [second] = splitter.decode(new Uint8ArrayList(new Uint8Array([9]), new Uint8Array([0])))
    expect(second.messages.map(m => [...m.subarray()])).toEqual([[6, 7, 8, 9]])
    // The length prefix itself split across reads.
    const [third] = splitter.decode(new Uint8Array([1, 42]))
    expect(third.messages.map(m => [...m.subarray()])).toEqual([[42]])
  })

  it('takes over the bytes the decoder it replaces held', () => {
    const splitter = new NoiseMessageSplitter(new Uint8Array([0, 2, 1]))
    const [batch] = splitter.decode(new Uint8Array([2]))
    expect(batch.messages.map(m => [...m.subarray()])).toEqual([[1, 2]])
  })

  it('refuses to buffer more than 16 MiB', () => {
    const splitter = new NoiseMessageSplitter()
    // 256 messages of 64 KiB declared, none complete: nothing to hand over, and the limit holds.
    expect(splitter.decode(new Uint8Array([0xff, 0xff]))).toEqual([])
    expect(() => splitter.decode(new Uint8Array(16 * 1024 * 1024))).toThrow(/Buffer length limit exceeded/)
  })

  it('decrypts a stream cut anywhere into the same bytes, each read\'s messages together', async () => {
    const { client, server, sender, receiver } = await securedPair()
    expect(receiver.decoder).toBeInstanceOf(NoiseMessageSplitter)
    const data = randomBytes(300_000)
    const wire = sender.encrypt(data).subarray()
    for (const cuts of [[], [1], [65_536, 65_538], [70_000, 200_000, 200_001], [262_144]]) {
      const got: Uint8Array[] = []
      let batches = 0
      for (const piece of pieces(wire, cuts)) {
        for (const batch of receiver.decoder.decode(piece)) {
          batches++
          got.push(receiver.decrypt(batch).subarray())
        }
      }
      expect(Buffer.concat(got).equals(data)).toBe(true)
      expect(batches).toBeLessThanOrEqual(cuts.length + 1)
      // Each Noise message is sealed with the next nonce: the same stream again needs new messages.
      wire.set(sender.encrypt(data).subarray())
    }
    await Promise.all([client.connection.close(), server.connection.close()])
  })

  it('secures real Noise connections that decrypt messages split across reads, whole ones and refuse forged ones', async () => {
    const { client, server, sender, receiver } = await securedPair()
    expect(receiver.decrypt).toBe(decryptMessages)
    expect(sender.decrypt).toBe(decryptMessages)

    const data = randomBytes(150_000)
    const [m1, m2, m3] = messages(sender, data)
    expect([m1.byteLength, m2.byteLength]).toEqual([65535, 65535])
    // A message in two pieces, as a socket read boundary leaves it: decrypted from the pieces, no copy.
    const split = new Uint8ArrayList(m1.subarray(0, 40_000), m1.subarray(40_000))
    const plain1 = receiver.decrypt(split).subarray()
    // A contiguous message is decrypted in place (node:crypto or not, the result is the same).
    const plain2 = receiver.decrypt(m2).subarray()
    const plain3 = receiver.decrypt(new Uint8ArrayList(m3.subarray(0, 7), m3.subarray(7))).subarray()
    expect(Buffer.concat([plain1, plain2, plain3]).equals(data)).toBe(true)

    const [forged] = messages(sender, randomBytes(1000))
    forged[10] ^= 1
    expect(() => receiver.decrypt(new Uint8ArrayList(forged.subarray(0, 500), forged.subarray(500)))).toThrow()
    expect(() => receiver.decrypt(new Uint8Array(10))).toThrow(/Invalid chunk/)
    await Promise.all([client.connection.close(), server.connection.close()])
  })
})
