// The page of the bare-libp2p-browser lane (bundled by bench/bare-browser.ts): the browser phone's own
// libp2p stack (createBrowserNode: webrtc-direct, Noise, yamux) dials libp2p-peer.ts's writer and reads
// its bytes off one stream, counting them and nothing more: no Ferry protocol, no hashing, no
// IndexedDB. What Chromium takes in over libp2p's WebRTC here is the ceiling of the browser phone.
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { streamToDuplex } from '../../src/net/stream-duplex.js'
import { createBrowserNode } from '../../src/web/browser-node.js'

const PROTOCOL = '/ferry-bench/bytes/1.0.0'

export interface BareFetch { bytes: number, dialMs: number, firstByteMs: number, transferMs: number, mbPerSec: number }

async function bareFetch (addr: string, total: number): Promise<BareFetch> {
  const node = await createBrowserNode(await generateKeyPair('Ed25519'), {})
  try {
    const tDial = performance.now()
    const connection = await node.dial(multiaddr(addr))
    const tStream = performance.now()
    const stream = await connection.newStream(PROTOCOL)
    const duplex = streamToDuplex(stream)
    let got = 0
    let first = NaN
    for await (const c of duplex.source) {
      if (Number.isNaN(first)) first = performance.now()
      got += c.byteLength
      if (got >= total) break
    }
    const done = performance.now()
    if (got < total) throw new Error(`the stream ended after ${got} of ${total} bytes`)
    // The writer waits for this one byte before it stops: completion is acknowledged, never inferred.
    await duplex.write([Uint8Array.of(1)])
    await duplex.close()
    const transferMs = done - tStream
    return { bytes: got, dialMs: tStream - tDial, firstByteMs: first - tStream, transferMs, mbPerSec: got / 1e6 / (transferMs / 1000) }
  } finally {
    await node.stop()
  }
}

(globalThis as unknown as { bareFetch: typeof bareFetch }).bareFetch = bareFetch
