import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { randomBytes } from 'node:crypto'
import { dirname, join } from 'node:path'
import type { Socket } from 'node:net'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { defaultLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddrConnectionPair } from '@libp2p/utils'
import { Uint8ArrayList } from 'uint8arraylist'
import { afterEach, describe, expect, it } from 'vitest'
import { nodeNoise } from '../../src/net/noise-decrypt.js'
import { sendCorked, writeTogether, writingTogether } from '../../src/net/tcp-writes.js'
import { receive, tcpPair, type SocketConnection } from '../helpers/tcp-pair.js'

const closers: Array<() => Promise<void>> = []
afterEach(async () => { for (const close of closers.splice(0)) await close() })

/** Counts the socket's calls into the kernel's write paths: one per buffer, or one for many. */
function countWrites (socket: Socket): { write: number, writev: number, buffers: number } {
  const n = { write: 0, writev: 0, buffers: 0 }
  const s = socket as unknown as { _write: (...a: unknown[]) => void, _writev: (chunks: unknown[], cb: unknown) => void }
  const write = s._write.bind(socket)
  const writev = s._writev.bind(socket)
  s._write = (...a) => { n.write++; n.buffers++; write(...a) }
  s._writev = (chunks, cb) => { n.writev++; n.buffers += chunks.length; writev(chunks, cb) }
  return n
}

/** A Noise message as @libp2p/noise hands it down: length, yamux header, data, tag. */
function sealedMessage (): Uint8ArrayList {
  return new Uint8ArrayList(randomBytes(2), randomBytes(12), randomBytes(65_489), randomBytes(16))
}

describe('writeTogether', () => {
  it('still finds the write per buffer it works around in the installed @libp2p/tcp (else drop it)', () => {
    const conn = join(dirname(createRequire(import.meta.url).resolve('@libp2p/tcp')), 'socket-to-conn.js')
    expect(readFileSync(conn, 'utf8')).toContain('canSendMore = this.socket.write(buf);')
  })

  it('hands the buffers of one send to the kernel together, and they arrive whole and in order', async () => {
    const { outbound, inbound } = await tcpPair(closers)
    writeTogether(outbound)
    expect(outbound.sendData).toBe(sendCorked)
    const writes = countWrites(outbound.socket)
    const messages = [sealedMessage(), sealedMessage(), sealedMessage()]
    const sent = new Uint8ArrayList(...messages.map(m => m.subarray()))
    const arriving = receive(inbound, sent.byteLength)
    for (const m of messages) outbound.send(m)
    expect(Buffer.from(await arriving).equals(sent.subarray())).toBe(true)
    // Four buffers a message, one writev each; written one by one they were four writes.
    expect(writes).toEqual({ write: 0, writev: 3, buffers: 12 })
  })

  it('stops a sender while the other side does not read, and delivers everything once it does', async () => {
    const { outbound, inbound } = await tcpPair(closers)
    writeTogether(outbound)
    inbound.socket.pause()
    const total = 64 * 1024 * 1024
    const sent = randomBytes(total)
    let offset = 0
    let full = false
    // Sends until the connection says to wait, as yamux does: the kernel's buffers fill first.
    while (offset < total && !full) {
      full = !outbound.send(sent.subarray(offset, offset + 65_536))
      offset += 65_536
    }
    expect(full).toBe(true)
    expect(offset).toBeLessThan(total)
    const arriving = receive(inbound, total)
    inbound.socket.resume()
    while (offset < total) {
      if (!outbound.send(sent.subarray(offset, offset + 65_536))) await new Promise(resolve => outbound.addEventListener('drain', resolve, { once: true }))
      offset += 65_536
    }
    expect(Buffer.from(await arriving).equals(sent)).toBe(true)
  })

  it('says a socket that is gone takes nothing more, as write() does', async () => {
    const { outbound } = await tcpPair(closers)
    writeTogether(outbound)
    outbound.socket.destroy()
    expect(sendCorked.call(outbound, sealedMessage()).canSendMore).toBe(false)
  })

  it('is installed on both ends by the encrypter a Ferry node secures its connections with', async () => {
    const { outbound, inbound } = await tcpPair(closers)
    const encrypter = async (): Promise<ReturnType<ReturnType<typeof nodeNoise>>> => {
      const privateKey = await generateKeyPair('Ed25519')
      return writingTogether(nodeNoise())({
        privateKey,
        peerId: peerIdFromPrivateKey(privateKey),
        logger: defaultLogger(),
        upgrader: { getStreamMuxers: () => new Map() }
      } as unknown as Parameters<ReturnType<typeof nodeNoise>>[0])
    }
    const [a, b] = await Promise.all([encrypter(), encrypter()])
    await Promise.all([a.secureOutbound(outbound), b.secureInbound(inbound)])
    expect(outbound.sendData).toBe(sendCorked)
    expect(inbound.sendData).toBe(sendCorked)
  })

  it('leaves a connection without a TCP socket as it is', () => {
    const [a] = multiaddrConnectionPair()
    const before = (a as unknown as SocketConnection).sendData
    writeTogether(a)
    expect((a as unknown as SocketConnection).sendData).toBe(before)
  })
})
