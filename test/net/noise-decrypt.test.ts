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
import { decryptMessages, nodeNoise } from '../../src/net/noise-decrypt.js'

async function encrypter (): Promise<ReturnType<ReturnType<typeof nodeNoise>>> {
  const privateKey = await generateKeyPair('Ed25519')
  return nodeNoise()({
    privateKey,
    peerId: peerIdFromPrivateKey(privateKey),
    logger: defaultLogger(),
    upgrader: { getStreamMuxers: () => new Map() }
  } as unknown as Parameters<ReturnType<typeof nodeNoise>>[0])
}

interface Sealing { encrypt: (data: Uint8Array) => Uint8ArrayList, decrypt: (chunk: Uint8Array | Uint8ArrayList) => Uint8ArrayList }

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

  it('secures real Noise connections that decrypt messages split across reads, whole ones and refuse forged ones', async () => {
    const [a, b] = await Promise.all([encrypter(), encrypter()])
    const [outbound, inbound] = multiaddrConnectionPair()
    const [client, server] = await Promise.all([a.secureOutbound(outbound), b.secureInbound(inbound)])
    const sender = client.connection as unknown as Sealing
    const receiver = server.connection as unknown as Sealing
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
