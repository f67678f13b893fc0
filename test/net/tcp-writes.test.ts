import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { randomBytes } from 'node:crypto'
import { dirname, join } from 'node:path'
import type { Socket } from 'node:net'
import type { MultiaddrConnection } from '@libp2p/interface'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { defaultLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { multiaddrConnectionPair } from '@libp2p/utils'
import { Uint8ArrayList } from 'uint8arraylist'
import { afterEach, describe, expect, it } from 'vitest'
import { nodeNoise } from '../../src/net/noise-decrypt.js'
import { sendCorked, writeTogether, writingTogether } from '../../src/net/tcp-writes.js'

type SocketConnection = MultiaddrConnection & { socket: Socket, sendData: (d: Uint8ArrayList) => { sentBytes: number, canSendMore: boolean } }

const closers: Array<() => Promise<void>> = []
afterEach(async () => { for (const close of closers.splice(0)) await close() })

/** Both ends of a real TCP connection on loopback, as @libp2p/tcp hands them to the upgrader. */
async function tcpPair (): Promise<{ outbound: SocketConnection, inbound: SocketConnection }> {
  const transport = tcp()({ logger: defaultLogger() } as unknown as Parameters<ReturnType<typeof tcp>>[0])
  let inbound: SocketConnection | undefined
  let arrived: () => void = () => {}
  const accepted = new Promise<void>(resolve => { arrived = resolve })
  const listener = transport.createListener({
    upgrader: { upgradeInbound: async (c: SocketConnection) => { inbound = c; arrived() } }
  } as unknown as Parameters<typeof transport.createListener>[0])
  await listener.listen(multiaddr('/ip4/127.0.0.1/tcp/0'))
  closers.push(async () => { await listener.close() })
  let outbound: SocketConnection | undefined
  await transport.dial(listener.getAddrs()[0], {
    upgrader: { upgradeOutbound: async (c: SocketConnection) => { outbound = c; return {} } },
    signal: AbortSignal.timeout(10_000)
  } as unknown as Parameters<typeof transport.dial>[1])
  await accepted
  const pair = { outbound: outbound as SocketConnection, inbound: inbound as SocketConnection }
  closers.unshift(async () => { pair.outbound.abort(new Error('done')); pair.inbound.abort(new Error('done')) })
  return pair
}

/** Everything `c` receives until it holds `n` bytes. */
async function receive (c: SocketConnection, n: number): Promise<Uint8Array> {
  const got = new Uint8ArrayList()
  for await (const piece of c) {
    got.append(piece)
    if (got.byteLength >= n) break
  }
  return got.subarray()
}

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
    const { outbound, inbound } = await tcpPair()
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
    const { outbound, inbound } = await tcpPair()
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
    const { outbound } = await tcpPair()
    writeTogether(outbound)
    outbound.socket.destroy()
    expect(sendCorked.call(outbound, sealedMessage()).canSendMore).toBe(false)
  })

  it('is installed on both ends by the encrypter a Ferry node secures its connections with', async () => {
    const { outbound, inbound } = await tcpPair()
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
