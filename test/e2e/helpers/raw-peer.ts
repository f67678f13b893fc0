// A bare libp2p node inside the test process, for talking to a real `ferry send` the way no honest
// phone would: driving the pairing handshake by hand, replaying recorded messages, or opening
// /ferry/transfer/1.0.0 without having paired. Loopback only, mDNS off.
import { PROTOCOL_VERSION } from '../../../src/protocol/options.js'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p } from '@libp2p/interface'
import { noise } from '@libp2p/noise'
import { tcp, type TCPSocketOptions } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { createLibp2p } from 'libp2p'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { createFerryNode, type FerryNode } from '../../../src/net/node.js'
import { streamToDuplex, type StreamDuplex } from '../../../src/net/stream-duplex.js'
import { MAX_MESSAGE_BYTES, ReceiverHandshake, type PairingCode, type Step } from '../../../src/pairing/index.js'
import { PAIR_PROTOCOL } from '../../../src/net/pair-stream.js'
import { decodeFrame, encodeFrame, type Frame } from '../../../src/wire/codec.js'
import { MAX_FRAME_BYTES, prefix, readFrames } from '../../../src/wire/framing.js'

export async function rawNode (listen = ['/ip4/127.0.0.1/tcp/0']): Promise<FerryNode> {
  return await createFerryNode({ privateKey: await generateKeyPair('Ed25519'), listen, mdns: false })
}

/**
 * A bare libp2p node whose connections come from `from` (a loopback address, 127.0.0.x): another host on
 * the LAN, as the sender sees it. It listens nowhere, answers pings (/ipfs/ping/1.0.0) and pings every
 * connection it holds every `pingEveryMs`, as libp2p's connection monitor does.
 */
export async function hostNode (from: string, pingEveryMs = 10_000): Promise<Libp2p> {
  const node = await createLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    addresses: { listen: [] },
    // net.connect takes localAddress; @libp2p/tcp passes dialOpts through to it.
    transports: [tcp({ dialOpts: { localAddress: from } as TCPSocketOptions })],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionMonitor: { pingInterval: pingEveryMs },
    connectionManager: { maxConnections: 4 }
  })
  await node.handle('/ipfs/ping/1.0.0', async stream => {
    // The ping protocol: echo each 32 bytes back.
    for await (const chunk of stream) stream.send(chunk)
    await stream.close()
  })
  return node
}

/** Length-prefixed messages in, length-prefixed messages out, over one stream. */
export class FramedStream {
  private readonly it: AsyncIterator<Uint8Array>

  constructor (readonly duplex: StreamDuplex, maxBytes: number) {
    this.it = readFrames(duplex.source, maxBytes)[Symbol.asyncIterator]()
  }

  async write (messages: Uint8Array[]): Promise<void> {
    await this.duplex.write(messages.flatMap(m => [prefix([m]), m]))
  }

  /** The next message, or undefined when the peer closed the stream. Rejects on a reset. */
  async next (timeoutMs = 15_000): Promise<Uint8Array | undefined> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`no message within ${timeoutMs} ms`)), timeoutMs)
    })
    try {
      const r = await Promise.race([this.it.next(), timeout])
      return r.done === true ? undefined : r.value
    } finally {
      clearTimeout(timer)
    }
  }

  /** Every message until the peer closes (or resets: then the error is returned as the last item). */
  async rest (timeoutMs = 15_000): Promise<{ messages: Uint8Array[], error?: Error }> {
    const messages: Uint8Array[] = []
    try {
      for (;;) {
        const m = await this.next(timeoutMs)
        if (m === undefined) return { messages }
        messages.push(m)
      }
    } catch (err) {
      return { messages, error: err as Error }
    }
  }
}

/**
 * Resolves once `node` holds no connection to `peer` any more: the sender hung up (it does on a failed
 * pairing). A request sent before that could land on the connection while it closes.
 */
export async function hungUp (node: Pick<Libp2p, 'getConnections' | 'addEventListener' | 'removeEventListener'>, peer: string): Promise<void> {
  const id = peerIdFromString(peer)
  await new Promise<void>(resolve => {
    const check = (): void => {
      if (node.getConnections(id).length > 0) return
      node.removeEventListener('connection:close', check)
      resolve()
    }
    node.addEventListener('connection:close', check)
    check()
  })
}

export async function openStream (node: Pick<Libp2p, 'dialProtocol'>, addr: string, protocol: string, maxBytes = MAX_MESSAGE_BYTES): Promise<FramedStream> {
  const stream = await node.dialProtocol(multiaddr(addr), protocol)
  return new FramedStream(streamToDuplex(stream), maxBytes)
}

/** Opens /ferry/transfer/1.0.0, says Hello as a receiver would, and returns every frame the sender answers. */
export async function tryTransfer (node: FerryNode, addr: string): Promise<{ frames: Frame[], error?: Error }> {
  const s = await openStream(node, addr, '/ferry/transfer/1.0.0', MAX_FRAME_BYTES)
  const hello = encodeFrame({ hello: { version: PROTOCOL_VERSION, agent: 'e2e-intruder' } })
  await s.duplex.write([prefix(hello), ...hello]).catch(() => {})
  const frames: Frame[] = []
  for (;;) {
    let body: Uint8Array | undefined
    try {
      body = await s.next()
    } catch (err) {
      return { frames, error: err as Error }
    }
    if (body === undefined) return { frames }
    const f = decodeFrame(body)
    frames.push(f)
    // A paired peer gets the manifest; once it shows, the answer is known: hang up.
    if (f.body === 'manifest') {
      s.duplex.abort(new Error('seen enough'))
      return { frames }
    }
  }
}

/**
 * A phone with `code` begins pairing with the sender at `addr` (peer id `sender`): its PAKE_A out, the
 * sender's answer read. `step` is what the handshake makes of that answer (its confirmation, or a
 * refusal), not yet sent: the test decides when, or whether, it goes; `hs` then takes the verdict.
 */
export async function beginPairing (node: FerryNode, addr: string, sender: string, code: PairingCode): Promise<{ s: FramedStream, step: Step, hs: ReceiverHandshake }> {
  const s = await openStream(node, addr, PAIR_PROTOCOL)
  const hs = new ReceiverHandshake({ code, localPeerId: node.peerId.toString(), remotePeerId: sender })
  await s.write(hs.start().send)
  return { s, step: hs.onMessage((await s.next())!), hs }
}
