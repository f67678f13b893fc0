import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Stream } from '@libp2p/interface'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { isFerryError } from '../../src/errors.js'
import { dialableAddresses } from '../../src/net/addresses.js'
import { createFerryNode, DEFAULT_STREAM_WINDOW, FERRY_STREAM_LIMITS, type FerryNode } from '../../src/net/node.js'
import { peerKeyPath } from '../../src/net/peer-key.js'
import { streamToDuplex, type StreamDuplex } from '../../src/net/stream-duplex.js'
import { keystream } from '../e2e/helpers/bytes.js'
import { until } from '../helpers/until.js'

const LOOPBACK = ['/ip4/127.0.0.1/tcp/0']
const MiB = 1024 * 1024

async function loopbackNode (): Promise<FerryNode> {
  // mDNS off: loopback tests run in the machine's root network namespace.
  return await createFerryNode({ privateKey: await generateKeyPair('Ed25519'), listen: LOOPBACK, mdns: false })
}

function hashOf (chunk: Uint8Array | Iterable<Uint8Array>, h: ReturnType<typeof createHash>): void {
  for (const part of chunk instanceof Uint8Array ? [chunk] : chunk) h.update(part)
}

describe('peer identity', () => {
  let dir: string
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'ferry-net-')) })
  afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

  it('keeps its peer id across restarts with the same store directory', async () => {
    const a = await createFerryNode({ dir, listen: LOOPBACK })
    const id = a.peerId.toString()
    await a.stop()
    expect(statSync(peerKeyPath(dir)).mode & 0o777).toBe(0o600)

    const again = await createFerryNode({ dir, listen: LOOPBACK })
    expect(again.peerId.toString()).toBe(id)
    await again.stop()

    const other = await createFerryNode({ dir: join(dir, 'other'), listen: LOOPBACK, start: false })
    expect(other.peerId.toString()).not.toBe(id)
  })

  it('needs an identity: without one it is the app\'s mistake (BAD_INPUT)', async () => {
    await expect(createFerryNode({ listen: LOOPBACK })).rejects.toSatisfy(err => isFerryError(err, 'BAD_INPUT'))
  })
})

describe('two nodes on loopback', () => {
  let a: FerryNode
  let b: FerryNode
  beforeAll(async () => { [a, b] = await Promise.all([loopbackNode(), loopbackNode()]) })
  afterAll(async () => { await Promise.all([a?.stop(), b?.stop()]) })
  afterEach(async () => {
    for (const p of b.getProtocols().filter(p => p.startsWith('/ferry-test/'))) await b.unhandle(p)
  })

  it('announces loopback when it has nothing else, with the peer id', () => {
    const addrs = dialableAddresses(a).map(String)
    expect(addrs.length).toBeGreaterThan(0)
    for (const s of addrs) expect(s).toMatch(new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${a.peerId.toString()}$`))
  })

  it('moves 64 MiB both ways at once over one stream, intact', async () => {
    const total = 64 * MiB
    const proto = '/ferry-test/both-ways/1.0.0'
    // Both sides write a mix of tiny and large buffers (frames as the protocol writes them), and
    // hash what they send and what they receive.
    const pump = async (d: StreamDuplex, seed: number): Promise<string> => {
      const next = keystream(seed)
      const h = createHash('sha256')
      let sent = 0
      let i = 0
      while (sent < total) {
        const sizes = i++ % 2 === 0 ? Array.from({ length: 200 }, (_, k) => 1 + ((k * 37 + i) % 300)) : [256 * 1024]
        const parts: Uint8Array[] = []
        for (const s of sizes) {
          const n = Math.min(s, total - sent)
          if (n === 0) break
          const p = next(n)
          h.update(p)
          parts.push(p)
          sent += n
        }
        await d.write(parts)
      }
      await d.close()
      return h.digest('hex')
    }
    const drain = async (d: StreamDuplex, peak: { read: number }): Promise<{ sha256: string, bytes: number }> => {
      const h = createHash('sha256')
      let bytes = 0
      for await (const chunk of d.source) {
        hashOf(chunk, h)
        bytes += chunk.byteLength
        peak.read = Math.max(peak.read, d.stats.readQueued)
      }
      return { sha256: h.digest('hex'), bytes }
    }

    const peakB = { read: 0 }
    let serverResult: Promise<[string, { sha256: string, bytes: number }]> | undefined
    await b.handle(proto, (stream) => {
      const d = streamToDuplex(stream)
      serverResult = Promise.all([pump(d, 2), drain(d, peakB)])
    }, FERRY_STREAM_LIMITS)

    const peakA = { read: 0 }
    const d = streamToDuplex(await a.dialProtocol(b.getMultiaddrs()[0], proto))
    const start = performance.now()
    const [sentA, gotA] = await Promise.all([pump(d, 1), drain(d, peakA)])
    const [sentB, gotB] = await serverResult!
    const ms = performance.now() - start

    expect(gotB).toEqual({ sha256: sentA, bytes: total })
    expect(gotA).toEqual({ sha256: sentB, bytes: total })
    // Bounded memory: neither side ever held more than its high-water mark plus one window.
    expect(peakA.read).toBeLessThanOrEqual(MiB + DEFAULT_STREAM_WINDOW + 512 * 1024)
    expect(peakB.read).toBeLessThanOrEqual(MiB + DEFAULT_STREAM_WINDOW + 512 * 1024)
    console.log(`loopback, one process: 2 x 64 MiB both ways in ${ms.toFixed(0)} ms = ${(2 * total / 1e6 / (ms / 1000)).toFixed(0)} MB/s total`)
  })

  it('measures one-way raw throughput (256 MiB)', async () => {
    const total = 256 * MiB
    const chunk = 256 * 1024
    const proto = '/ferry-test/sink/1.0.0'
    let got: Promise<number> | undefined
    await b.handle(proto, (stream) => {
      const d = streamToDuplex(stream)
      got = (async () => { let n = 0; for await (const c of d.source) n += c.byteLength; await d.close(); return n })()
    })
    const d = streamToDuplex(await a.dialProtocol(b.getMultiaddrs()[0], proto))
    const buf = keystream(3)(chunk)
    const start = performance.now()
    for (let sent = 0; sent < total; sent += chunk) await d.write([buf])
    await d.close()
    expect(await got).toBe(total)
    const ms = performance.now() - start
    console.log(`loopback, one process: 256 MiB one way at ${(total / 1e6 / (ms / 1000)).toFixed(0)} MB/s`)
  })

  it('a slow reader holds the writer back: bytes in flight stay bounded', async () => {
    const total = 64 * MiB
    const chunk = 256 * 1024
    const proto = '/ferry-test/slow/1.0.0'
    let reader: StreamDuplex | undefined
    await b.handle(proto, (stream) => { reader = streamToDuplex(stream) })

    const writerStream = await a.dialProtocol(b.getMultiaddrs()[0], proto)
    const writer = streamToDuplex(writerStream)
    const buf = keystream(4)(chunk)
    let written = 0
    let consumed = 0
    let maxInFlight = 0
    let maxWriteQueued = 0
    let maxReadQueued = 0
    let writerBlocked = false
    const sample = (): void => {
      maxInFlight = Math.max(maxInFlight, written - consumed)
      maxWriteQueued = Math.max(maxWriteQueued, writer.stats.writeQueued)
      if (reader !== undefined) maxReadQueued = Math.max(maxReadQueued, reader.stats.readQueued)
      if (writerStream.writableNeedsDrain) writerBlocked = true
    }
    const writing = (async () => {
      for (let sent = 0; sent < total; sent += chunk) {
        await writer.write([buf])
        written += chunk
        sample()
      }
      await writer.close()
    })()

    // Phase 1: the reader reads nothing. The writer must come to a stop, the receiving stream
    // paused and the writer's stream waiting for window, long before 64 MiB.
    await until('the receiver to pause and the writer to block', () => {
      sample()
      return reader !== undefined && reader.stats.paused && writerStream.writableNeedsDrain
    })
    const stalledAt = written
    expect(stalledAt).toBeLessThan(8 * MiB)

    // Phase 2: a slow reader (it hashes each chunk 8 times) drains everything.
    const h = createHash('sha256')
    for await (const c of reader!.source) {
      for (let k = 0; k < 8; k++) hashOf(c, createHash('sha256'))
      hashOf(c, h)
      consumed += c.byteLength
      sample()
    }
    await writing
    expect(consumed).toBe(total)
    expect(writerBlocked).toBe(true)
    // Written but not yet consumed: at most the reader's high-water mark, one yamux window and a
    // chunk or two in the pipes. Without read-side flow control this reaches ~64 MiB.
    expect(maxInFlight).toBeLessThanOrEqual(MiB + DEFAULT_STREAM_WINDOW + 4 * chunk)
    expect(maxReadQueued).toBeLessThanOrEqual(MiB + DEFAULT_STREAM_WINDOW + chunk)
    // Queued for the writer: two chunks, each with its 12-byte yamux frame header.
    expect(maxWriteQueued).toBeLessThanOrEqual(2 * (chunk + 12))
    console.log(`backpressure: writer stalled at ${(stalledAt / MiB).toFixed(2)} MiB; max in flight ${(maxInFlight / MiB).toFixed(2)} MiB, reader queue ${(maxReadQueued / MiB).toFixed(2)} MiB, writer queue ${(maxWriteQueued / 1024).toFixed(0)} KiB`)
  })

  it('coalesces many tiny buffers into few sends', async () => {
    const proto = '/ferry-test/tiny/1.0.0'
    let got: Promise<string> | undefined
    await b.handle(proto, (stream) => {
      const d = streamToDuplex(stream)
      got = (async () => { const h = createHash('sha256'); for await (const c of d.source) hashOf(c, h); return h.digest('hex') })()
    })
    const stream = await a.dialProtocol(b.getMultiaddrs()[0], proto)
    let sends = 0
    const send = stream.send.bind(stream)
    stream.send = (data) => { sends++; return send(data) }
    const d = streamToDuplex(stream)
    const next = keystream(5)
    const parts = Array.from({ length: 200_000 }, (_, i) => next(1 + (i % 31)))
    const bytes = parts.reduce((n, p) => n + p.byteLength, 0)
    const h = createHash('sha256')
    for (const p of parts) h.update(p)
    await d.write(parts)
    await d.close()
    expect(await got).toBe(h.digest('hex'))
    expect(sends).toBeLessThanOrEqual(Math.ceil(bytes / (64 * 1024)) + 1)
  })

  it('a reset reaches the reader as an error, not as a clean end', async () => {
    const proto = '/ferry-test/reset/1.0.0'
    let server: StreamDuplex | undefined
    await b.handle(proto, (stream) => { server = streamToDuplex(stream) })
    const d = streamToDuplex(await a.dialProtocol(b.getMultiaddrs()[0], proto))
    await d.write([new Uint8Array([1, 2, 3])])
    await until('the server stream', () => server !== undefined)
    const it = server!.source[Symbol.asyncIterator]()
    const first = await it.next()
    expect(first.value?.byteLength).toBe(3)
    d.abort(new Error('test abort'))
    await expect(it.next()).rejects.toSatisfy(err => isFerryError(err, 'TRUNCATED'))
    await expect(server!.write([new Uint8Array(10)])).rejects.toSatisfy(err => isFerryError(err, 'TRUNCATED'))
  })

  it('bytes that arrived before a reset are delivered before the error, even while paused', async () => {
    const proto = '/ferry-test/reset-paused/1.0.0'
    let server: StreamDuplex | undefined
    // A small high-water mark: the first message pauses the stream, the rest waits in its buffer.
    await b.handle(proto, (stream) => { server = streamToDuplex(stream, { readHighWaterMark: 16 * 1024 }) })
    const d = streamToDuplex(await a.dialProtocol(b.getMultiaddrs()[0], proto))
    const sent = keystream(6)(200 * 1024) // within the initial 256 KiB window
    const last = new TextEncoder().encode('the Error frame')
    await d.write([sent])
    await d.write([last])
    const total = sent.byteLength + last.byteLength
    await until('everything to reach the paused receiver', () => server !== undefined && server.stats.readQueued === total)
    expect(server!.stats.paused).toBe(true)
    d.abort(new Error('sender gives up'))
    await until('the reset to arrive', () => server!.stream.status === 'reset')

    const h = createHash('sha256')
    let got = 0
    const reading = (async () => { for await (const c of server!.source) { hashOf(c, h); got += c.byteLength } })()
    await expect(reading).rejects.toSatisfy(err => isFerryError(err, 'TRUNCATED'))
    expect(got).toBe(total)
    expect(h.digest('hex')).toBe(createHash('sha256').update(sent).update(last).digest('hex'))
  })

  it('a local abort ends our own reader with the abort reason', async () => {
    const proto = '/ferry-test/abort/1.0.0'
    await b.handle(proto, () => {})
    const d = streamToDuplex(await a.dialProtocol(b.getMultiaddrs()[0], proto))
    const reading = (async () => { for await (const _ of d.source) { /* nothing comes */ } })()
    const reason = new Error('cancelled by test')
    d.abort(reason)
    await expect(reading).rejects.toBe(reason)
  })

  it('a half-close ends the reader cleanly and the other direction stays open', async () => {
    const proto = '/ferry-test/half/1.0.0'
    let echoed: Promise<void> | undefined
    await b.handle(proto, (stream: Stream) => {
      const d = streamToDuplex(stream)
      echoed = (async () => {
        const got: Uint8Array[] = []
        for await (const c of d.source) got.push(c instanceof Uint8Array ? c : c.subarray())
        await d.write(got) // after the peer's half-close, we can still answer
        await d.close()
      })()
    })
    const d = streamToDuplex(await a.dialProtocol(b.getMultiaddrs()[0], proto))
    await d.write([new TextEncoder().encode('hello')])
    await d.close()
    let reply = ''
    for await (const c of d.source) reply += new TextDecoder().decode(c instanceof Uint8Array ? c : c.subarray())
    await echoed
    expect(reply).toBe('hello')
  })
})
