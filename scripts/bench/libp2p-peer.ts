// One side of the bare-libp2p baseline: Ferry's own stack (createFerryNode: TCP + Noise + yamux,
// mDNS off, 127.0.0.1 only) moving N opaque bytes over one stream, with nothing of Ferry's protocol.
// With --transport webrtc the same over webrtc-direct (a data channel per stream, no yamux): what
// libp2p's WebRTC moves on this machine without Ferry, the ceiling of the ferry-webrtc lane.
// Run by scripts/bench.ts as `node --import tsx scripts/bench/libp2p-peer.ts ...`; JSON lines on stdout.
//
//   --role serve  --dir D --bytes N [--chunk 262144]   listens, prints {"event":"listening","addrs":[...]};
//                                                      on the bench stream writes N bytes in `chunk`-byte
//                                                      buffers through streamToDuplex(stream).write([buf]),
//                                                      then waits for the reader's one-byte acknowledgement
//   --role fetch  --dir D --bytes N --addr MULTIADDR    dials, opens the stream, counts bytes until N, prints
//                                                      {"event":"done",...} with its timings, acknowledges
//   --transport tcp|webrtc (both roles)                default tcp
//   --store S (serve), --media M (fetch)               "libp2p + files": the writer sends the media files
//                                                      of the store S instead (bench/media-copy.ts), the
//                                                      reader stores them into the folder M and syncs
//                                                      before "done"
//
// Roles mirror Ferry: the sender listens and writes, the receiver dials and reads. Completion is the
// reader's count plus an explicit acknowledgement, never close() (STACK.md).
import '../../src/polyfill.js'
import { randomBytes } from 'node:crypto'
import { multiaddr } from '@multiformats/multiaddr'
import { createFerryNode, FERRY_STREAM_LIMITS } from '../../src/net/node.js'
import { streamToDuplex } from '../../src/net/stream-duplex.js'
import { ByteCount, peerArgs } from './baseline-peer.js'
import { mediaOf, MediaSink, readMedia } from './media-copy.js'
import { SqliteChatStore } from '../../src/store/sqlite-store.js'
import { within } from '../../src/within.js'

const PROTOCOL = '/ferry-bench/bytes/1.0.0'
const { values, total, chunk } = peerArgs('libp2p-peer', '--role serve|fetch --dir DIR --bytes N [--chunk B] [--addr MA] [--transport tcp|webrtc] [--store DIR | --media DIR]',
  ['dir', 'addr', 'store', 'media', 'transport'], ['dir'])

const out = (event: string, data: Record<string, unknown> = {}): void => { process.stdout.write(JSON.stringify({ event, ...data }) + '\n') }
const now = (): number => performance.now()

const transport = values.transport === 'webrtc' ? 'webrtc' : 'tcp'
const listen = values.role === 'fetch' && transport === 'webrtc' ? [] // a WebRTC reader only dials
  : [transport === 'tcp' ? `/ip4/${values.host as string}/tcp/0` : `/ip4/${values.host as string}/udp/0/webrtc-direct`]
const node = await createFerryNode({ dir: values.dir, mdns: false, transport, listen })

/**
 * The reader acknowledges once it has counted every byte, and says so in its own report. Over WebRTC a
 * reader that exits at once may take its acknowledgement with it (its last message not yet sent), and
 * waiting on would hold the lane to its deadline: past ACK_MS the writer stops listening.
 */
const ACK_MS = 15_000

async function acknowledged (duplex: ReturnType<typeof streamToDuplex>, ms: number): Promise<'acked' | 'closed' | 'silent'> {
  const read = (async () => {
    for await (const c of duplex.source) if (c.byteLength > 0) return 'acked' as const
    return 'closed' as const
  })()
  read.catch(() => {}) // an abort after the silence ends the read
  return await within(read, ms, 'silent' as const)
}

/**
 * A stopped node may leave handles behind (bin/ferry.js exits for the same reason), and the lane waits
 * for this process's exit: each side exits once its node has stopped, or past STOP_MS.
 */
const STOP_MS = 5_000

async function stopWithin (n: typeof node, ms: number): Promise<void> {
  await within(Promise.resolve(n.stop()).catch(() => {}), ms, undefined)
}

if (values.role === 'serve') {
  // Listed before listening: the reader's clock starts when the stream opens.
  const files = values.store === undefined ? undefined : (() => {
    const store = SqliteChatStore.open(values.store)
    try { return mediaOf(store) } finally { store.close() }
  })()
  const finished = new Promise<void>((resolve, reject) => {
    void node.handle(PROTOCOL, async stream => {
      try {
        const duplex = streamToDuplex(stream)
        const t0 = now()
        let sent = 0
        if (files !== undefined) {
          for (const batch of readMedia(files, chunk)) {
            await duplex.write(batch)
            sent += batch.reduce((n, b) => n + b.byteLength, 0)
          }
        } else {
          // One buffer, never modified, so handing it to write() again and again is allowed.
          const buf = randomBytes(chunk) as Uint8Array
          while (sent < total) {
            const n = Math.min(chunk, total - sent)
            await duplex.write([n === chunk ? buf : buf.subarray(0, n)])
            sent += n
          }
        }
        const writeMs = now() - t0
        const heard = await acknowledged(duplex, ACK_MS)
        if (heard === 'closed') throw new Error('the reader closed without acknowledging')
        if (heard === 'acked') await duplex.close()
        else duplex.abort(new Error(`no word from the reader for ${ACK_MS} ms`))
        out('sent', { bytes: sent, writeMs })
        resolve()
      } catch (err) {
        reject(err)
      }
    }, FERRY_STREAM_LIMITS).then(() => {
      out('listening', { addrs: node.getMultiaddrs().map(String) })
    }, reject)
  })
  try {
    await finished
  } finally {
    await stopWithin(node, STOP_MS)
  }
  process.exit(0)
} else if (values.role === 'fetch') {
  try {
    if (values.addr === undefined) throw new Error('--addr is required for --role fetch')
    const tDial = now()
    const connection = await node.dial(multiaddr(values.addr))
    const tStream = now()
    const stream = await connection.newStream(PROTOCOL)
    const duplex = streamToDuplex(stream)
    const tOpen = now()
    const count = new ByteCount(total, now)
    const sink = values.media !== undefined ? new MediaSink(values.media) : undefined
    for await (const c of duplex.source) {
      if (sink !== undefined) for (const piece of c instanceof Uint8Array ? [c] : c) sink.push(piece)
      if (count.add(c.byteLength)) {
        if (sink !== undefined) {
          sink.finish() // the files are stored once they are durable: the transfer ends after the sync
          count.done = now()
        }
        out('done', {
          bytes: count.got,
          dialMs: tStream - tDial,
          openMs: tOpen - tStream,
          firstByteMs: count.firstByte - tStream,
          transferMs: count.done - tStream,
          mbPerSec: count.mbPerSec(tStream)
        })
        await duplex.write([Uint8Array.of(1)])
        await duplex.close()
        break
      }
    }
    count.expectDone('the stream')
    // Give the acknowledgement a moment to leave before the node (and its connection) goes.
    await new Promise<void>(resolve => {
      const t = setTimeout(resolve, 2000)
      stream.addEventListener('close', () => { clearTimeout(t); resolve() }, { once: true })
      if (stream.status === 'closed') { clearTimeout(t); resolve() }
    })
  } finally {
    await stopWithin(node, STOP_MS)
  }
  process.exit(0)
} else {
  await node.stop()
  process.stderr.write(`unknown --role ${values.role}\n`)
  process.exit(2)
}
