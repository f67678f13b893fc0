import { multiaddr } from '@multiformats/multiaddr'
import type { Libp2p } from '@libp2p/interface'
import { afterAll, describe, expect, it } from 'vitest'
import type { FerryNode } from '../../src/net/node.js'
import { streamToDuplex } from '../../src/net/stream-duplex.js'
import { ThrottleProxy } from '../e2e/helpers/throttle-proxy.js'
import { hostNode, rawNode } from '../e2e/helpers/raw-peer.js'
import { tcpPort } from '../e2e/helpers/ferry-cli.js'

// The reading phone grants yamux window back once half of it is used, not after every data frame
// (src/net/yamux-window.ts). Measured on the wire: the bytes the reader sends back while 64 MiB
// come in, through a relay that counts them.

const MiB = 1024 * 1024
const TOTAL = 64 * MiB
const PROTO = '/ferry-test/window/1.0.0'
/** One window update on the wire: Noise's length prefix and tag around yamux's 12-byte header. */
const UPDATE_BYTES = 2 + 12 + 16
/** yamux's initial stream window (its spec's): where every window starts and the least it can be. */
const INITIAL_WINDOW = 256 * 1024

const nodes: Libp2p[] = []
const proxies: ThrottleProxy[] = []
afterAll(async () => {
  for (const p of proxies) await p.close()
  await Promise.all(nodes.map(async n => { await n.stop() }))
})

async function writer (): Promise<FerryNode> {
  const n = await rawNode()
  nodes.push(n)
  // Small writes, so the data goes as many small frames: the case where per-frame updates cost most.
  const chunk = new Uint8Array(16 * 1024).fill(7)
  await n.handle(PROTO, async stream => {
    const d = streamToDuplex(stream)
    for (let sent = 0; sent < TOTAL; sent += chunk.byteLength) await d.write([chunk])
    await d.close()
  })
  return n
}

/** Reads everything `reader` gets on PROTO from `w` through a counting relay; the bytes it sent back. */
async function upBytesWhileReading (reader: Libp2p, w: FerryNode): Promise<{ got: number, up: number }> {
  const port = tcpPort(w.getMultiaddrs()[0].toString())
  const proxy = await ThrottleProxy.start(port, Number.MAX_SAFE_INTEGER)
  proxies.push(proxy)
  const d = streamToDuplex(await reader.dialProtocol(multiaddr(proxy.addr(w.peerId.toString())), PROTO))
  const upBefore = proxy.bytesUp
  let got = 0
  for await (const c of d.source) got += c.byteLength
  const up = proxy.bytesUp - upBefore
  await d.close().catch(() => {})
  return { got, up }
}

describe('yamux window updates', () => {
  it('a Ferry node reading 64 MiB grants window once per half window at most, not once per frame', async () => {
    const w = await writer()
    const ferryReader = await rawNode()
    nodes.push(ferryReader)
    const ferry = await upBytesWhileReading(ferryReader, w)
    // The same bytes read by a stock libp2p node (yamux's own per-frame updates), for scale.
    const stock = await hostNode('127.0.0.1')
    nodes.push(stock)
    const plain = await upBytesWhileReading(stock, w)
    expect(ferry.got).toBe(TOTAL)
    expect(plain.got).toBe(TOTAL)
    // Every update grants at least half the window, and the window never shrinks below yamux's initial
    // 256 KiB (it grows when the reader keeps up, which depends on timing): at most one update per
    // 128 KiB read, plus the stream's opening and closing frames and the protocol's name.
    const bound = (TOTAL / (INITIAL_WINDOW / 2) + 8) * UPDATE_BYTES + 256
    process.stderr.write(`yamux-window: reading 64 MiB in 16 KiB frames, a Ferry node sent back ${ferry.up} bytes (bound ${bound}); a stock node ${plain.up}\n`)
    expect(ferry.up).toBeLessThanOrEqual(bound)
  }, 60_000)
})
