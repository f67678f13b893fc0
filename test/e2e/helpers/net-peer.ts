// A Ferry node in its own process, driven over stdio by the net tests (run as
// `node --import tsx test/e2e/helpers/net-peer.ts '<json config>'`, possibly under `ip netns exec`).
//
// stdout: one JSON event per line. stdin: one JSON command per line.
//   events:   ready {peerId, addrs, startedAt} | discovered {peerId, addrs, ms} | observed {tag, responses}
//             dialed {peerId, ms, addr} | blasted {bytes, ms, sha256, peerSha256, peerBytes}
//             sunk {bytes, sha256} | error {message} | stopped
//   commands: dial {peerId | addr} | blast {peerId | addr, bytes, chunk, verify} | stop
import '../../../src/polyfill.js'
import { createHash } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { createInterface } from 'node:readline'
import type { Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { dialableAddresses } from '../../../src/net/addresses.js'
import { createFerryNode, type MdnsOptions } from '../../../src/net/node.js'
import { streamToDuplex } from '../../../src/net/stream-duplex.js'
import { keystream } from './bytes.js'

export const SINK_PROTOCOL = '/ferry-test/sink/1.0.0'
/** Like SINK_PROTOCOL without hashing on either side: raw stream throughput. */
export const COUNT_PROTOCOL = '/ferry-test/count/1.0.0'

export interface NetPeerConfig {
  dir: string
  listen?: string[]
  mdns?: MdnsOptions
  /** Count raw mDNS responses naming these service tags (proof that a peer was on the LAN). */
  observeTags?: string[]
}

const t0 = performance.now()
const emit = (ev: string, data: Record<string, unknown> = {}): void => {
  process.stdout.write(JSON.stringify({ ev, t: Math.round(performance.now() - t0), wall: Date.now(), ...data }) + '\n')
}

async function main (): Promise<void> {
  const cfg = JSON.parse(process.argv[2] ?? '{}') as NetPeerConfig
  const startedAt = Date.now()
  const started = performance.now()
  const node = await createFerryNode({ dir: cfg.dir, listen: cfg.listen ?? ['/ip4/0.0.0.0/tcp/0'], mdns: cfg.mdns ?? false })

  node.addEventListener('peer:discovery', evt => {
    emit('discovered', { peerId: evt.detail.id.toString(), addrs: evt.detail.multiaddrs.map(String), ms: Math.round(performance.now() - started) })
  })

  const sink = (verify: boolean) => async (stream: Stream): Promise<void> => {
    const d = streamToDuplex(stream)
    const h = createHash('sha256')
    let bytes = 0
    try {
      for await (const chunk of d.source) {
        if (verify) for (const part of chunk instanceof Uint8Array ? [chunk] : chunk) h.update(part)
        bytes += chunk.byteLength
      }
      const sha256 = verify ? h.digest('hex') : ''
      emit('sunk', { bytes, sha256 })
      await d.write([new TextEncoder().encode(JSON.stringify({ bytes, sha256 }))])
      await d.close()
    } catch (err) {
      emit('error', { message: `sink: ${(err as Error).message}` })
    }
  }
  await node.handle(SINK_PROTOCOL, sink(true), { maxInboundStreams: 4 })
  await node.handle(COUNT_PROTOCOL, sink(false), { maxInboundStreams: 4 })

  if (cfg.observeTags !== undefined && cfg.observeTags.length > 0) observe(cfg.observeTags)

  const target = (c: { peerId?: string, addr?: string }): ReturnType<typeof peerIdFromString> | ReturnType<typeof multiaddr> =>
    c.addr !== undefined ? multiaddr(c.addr) : peerIdFromString(c.peerId ?? '')

  const commands = createInterface({ input: process.stdin })
  commands.on('line', line => {
    const c = JSON.parse(line) as { cmd: string, peerId?: string, addr?: string, bytes?: number, chunk?: number, verify?: boolean }
    void (async () => {
      try {
        if (c.cmd === 'dial') {
          const start = performance.now()
          const conn = await node.dial(target(c))
          emit('dialed', { peerId: conn.remotePeer.toString(), ms: Math.round(performance.now() - start), addr: conn.remoteAddr.toString() })
        } else if (c.cmd === 'blast') {
          // verify: fresh pseudo-random bytes, hashed on both sides. Otherwise one random chunk is
          // sent over and over and only counted: the stream's own throughput.
          const verify = c.verify !== false
          const total = c.bytes ?? 64 * 1024 * 1024
          const chunk = c.chunk ?? 256 * 1024
          const stream = await node.dialProtocol(target(c), verify ? SINK_PROTOCOL : COUNT_PROTOCOL)
          const d = streamToDuplex(stream)
          const next = keystream(1)
          const fixed = next(chunk)
          const h = createHash('sha256')
          const start = performance.now()
          for (let sent = 0; sent < total;) {
            const n = Math.min(chunk, total - sent)
            const buf = verify ? next(n) : fixed.subarray(0, n)
            if (verify) h.update(buf)
            await d.write([buf])
            sent += n
          }
          await d.close()
          let reply = ''
          for await (const part of d.source) reply += new TextDecoder().decode(part instanceof Uint8Array ? part : part.subarray())
          const ms = performance.now() - start
          const peer = JSON.parse(reply) as { bytes: number, sha256: string }
          emit('blasted', { bytes: total, ms: Math.round(ms), mbps: Number((total / 1e6 / (ms / 1000)).toFixed(1)), sha256: verify ? h.digest('hex') : '', peerSha256: peer.sha256, peerBytes: peer.bytes })
        } else if (c.cmd === 'stop') {
          await node.stop()
          emit('stopped')
          process.exit(0)
        } else {
          emit('error', { message: `unknown command ${c.cmd}` })
        }
      } catch (err) {
        emit('error', { message: `${c.cmd}: ${(err as Error).message}` })
      }
    })()
  })
  // The test runner going away must not leave a node behind in a namespace.
  commands.on('close', () => { void Promise.resolve(node.stop()).finally(() => process.exit(0)) })

  emit('ready', { peerId: node.peerId.toString(), addrs: dialableAddresses(node).map(String), startedAt })
}

/**
 * A second listener on the mDNS group that counts responses naming each tag. It sees the packets
 * the node's own mDNS socket sees, so a test can prove a differently-tagged peer was announcing on
 * the same LAN and was still not discovered.
 */
function observe (tags: string[]): void {
  const counts = new Map(tags.map(t => [t, 0]))
  const labels = tags.map(t => ({ tag: t, bytes: Buffer.from(t.split('.')[0], 'utf8') }))
  const sock = createSocket({ type: 'udp4', reuseAddr: true })
  sock.on('error', err => emit('error', { message: `observer: ${err.message}` }))
  sock.on('message', msg => {
    if (msg.length < 12 || (msg[2] & 0x80) === 0) return // queries; only responses announce a peer
    for (const { tag, bytes } of labels) {
      if (msg.includes(bytes)) {
        const n = (counts.get(tag) ?? 0) + 1
        counts.set(tag, n)
        emit('observed', { tag, responses: n })
      }
    }
  })
  sock.bind(5353, () => { sock.addMembership('224.0.0.251') })
}

main().catch(err => {
  emit('error', { message: (err as Error).stack ?? String(err) })
  process.exit(1)
})
