import type { Socket } from 'node:net'
import type { MultiaddrConnection } from '@libp2p/interface'
import { defaultLogger } from '@libp2p/logger'
import { tcp, type TCPOptions } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { Uint8ArrayList } from 'uint8arraylist'

export type SocketConnection = MultiaddrConnection & { socket: Socket, sendData: (d: Uint8ArrayList) => { sentBytes: number, canSendMore: boolean } }

/**
 * Both ends of a real TCP connection on loopback, as @libp2p/tcp hands them to the upgrader; `init` is
 * the dialling transport's. `closers` gets what undoes it, to run after the test.
 */
export async function tcpPair (closers: Array<() => Promise<void>>, init?: TCPOptions): Promise<{ outbound: SocketConnection, inbound: SocketConnection }> {
  const components = { logger: defaultLogger() } as unknown as Parameters<ReturnType<typeof tcp>>[0]
  const listening = tcp()(components)
  const dialling = tcp(init)(components)
  let inbound: SocketConnection | undefined
  let arrived: () => void = () => {}
  const accepted = new Promise<void>(resolve => { arrived = resolve })
  const listener = listening.createListener({
    upgrader: { upgradeInbound: async (c: SocketConnection) => { inbound = c; arrived() } }
  } as unknown as Parameters<typeof listening.createListener>[0])
  await listener.listen(multiaddr('/ip4/127.0.0.1/tcp/0'))
  closers.push(async () => { await listener.close() })
  let outbound: SocketConnection | undefined
  await dialling.dial(listener.getAddrs()[0], {
    upgrader: { upgradeOutbound: async (c: SocketConnection) => { outbound = c; return {} } },
    signal: AbortSignal.timeout(10_000)
  } as unknown as Parameters<typeof dialling.dial>[1])
  await accepted
  const pair = { outbound: outbound as SocketConnection, inbound: inbound as SocketConnection }
  closers.unshift(async () => { pair.outbound.abort(new Error('done')); pair.inbound.abort(new Error('done')) })
  return pair
}

/** Everything `c` receives until it holds `n` bytes, as the pieces it came in. */
export async function receivePieces (c: SocketConnection, n: number): Promise<Uint8Array[]> {
  const pieces: Uint8Array[] = []
  let got = 0
  for await (const piece of c) {
    for (const p of piece instanceof Uint8Array ? [piece] : piece) pieces.push(p)
    got += piece.byteLength
    if (got >= n) break
  }
  return pieces
}

/** Everything `c` receives until it holds `n` bytes. */
export async function receive (c: SocketConnection, n: number): Promise<Uint8Array> {
  return new Uint8ArrayList(...await receivePieces(c, n)).subarray()
}
