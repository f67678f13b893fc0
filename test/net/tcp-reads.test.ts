import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { randomBytes } from 'node:crypto'
import { dirname, join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { bulkReads, READ_BYTES } from '../../src/net/tcp-reads.js'
import { buildTransports } from '../../src/net/transports.js'
import { receive, receivePieces, tcpPair } from '../helpers/tcp-pair.js'

const closers: Array<() => Promise<void>> = []
afterEach(async () => { for (const close of closers.splice(0)) await close() })

/** A dialling transport that reads in bulk, as Ferry's does. */
const bulk = (): Parameters<typeof tcpPair>[1] => ({ dialOpts: { onread: bulkReads() } as never })

/** Sends `data` from `c` in 64 KiB pieces, waiting whenever the connection says to. */
async function sendAll (c: Awaited<ReturnType<typeof tcpPair>>['inbound'], data: Uint8Array): Promise<void> {
  for (let at = 0; at < data.byteLength; at += 65_536) {
    if (!c.send(data.subarray(at, at + 65_536))) await new Promise(resolve => c.addEventListener('drain', resolve, { once: true }))
  }
}

describe('bulkReads', () => {
  it('still finds what it relies on in the installed @libp2p/tcp (else drop it)', () => {
    const dir = dirname(createRequire(import.meta.url).resolve('@libp2p/tcp'))
    // dialOpts reach net.connect as they are, and the connection reads its socket's 'data' events.
    expect(readFileSync(join(dir, 'tcp.js'), 'utf8')).toContain('...(this.opts.dialOpts ?? {}),')
    expect(readFileSync(join(dir, 'socket-to-conn.js'), 'utf8')).toContain("this.socket.on('data', buf => {")
  })

  it('is what Ferry dials with', async () => {
    const [transport] = await buildTransports({ kinds: ['tcp'] })
    const t = transport({ logger: (await import('@libp2p/logger')).defaultLogger() } as never) as unknown as { opts: { dialOpts?: { onread?: unknown } } }
    expect(t.opts.dialOpts?.onread).toMatchObject({ buffer: expect.any(Function), callback: expect.any(Function) })
  })

  it('delivers a stream whole, in reads larger than Node\'s own 64 KiB', async () => {
    const { outbound, inbound } = await tcpPair(closers, bulk())
    const sent = randomBytes(32 * 1024 * 1024)
    const arriving = receivePieces(outbound, sent.byteLength)
    await sendAll(inbound, sent)
    const pieces = await arriving
    expect(Buffer.concat(pieces).equals(sent)).toBe(true)
    expect(Math.max(...pieces.map(p => p.byteLength))).toBeGreaterThan(65_536)
    expect(Math.max(...pieces.map(p => p.byteLength))).toBeLessThanOrEqual(READ_BYTES)
  })

  it('copies a small read out, so it does not hold a read buffer alive', async () => {
    const { outbound, inbound } = await tcpPair(closers, bulk())
    const arriving = receivePieces(outbound, 100)
    inbound.send(randomBytes(100))
    const [piece] = await arriving
    expect(piece.byteLength).toBe(100)
    expect(piece.buffer.byteLength).toBeLessThan(READ_BYTES)
  })

  it('reads nothing while paused, and everything once resumed', async () => {
    const { outbound, inbound } = await tcpPair(closers, bulk())
    outbound.socket.pause()
    const total = 64 * 1024 * 1024
    const sent = randomBytes(total)
    let offset = 0
    // The kernel's buffers fill, then the sender is told to wait: the paused side read nothing.
    while (offset < total && inbound.send(sent.subarray(offset, offset + 65_536))) offset += 65_536
    expect(offset).toBeLessThan(total)
    const arriving = receive(outbound, total)
    outbound.socket.resume()
    await sendAll(inbound, sent.subarray(offset + 65_536))
    expect(Buffer.from(await arriving).equals(sent)).toBe(true)
  })

  it('keeps two connections\' bytes apart when both read at once', async () => {
    const dialOpts = bulk() // one transport, one set of buffers, as a node has
    const a = await tcpPair(closers, dialOpts)
    const b = await tcpPair(closers, dialOpts)
    const sentA = randomBytes(16 * 1024 * 1024)
    const sentB = randomBytes(16 * 1024 * 1024)
    const arriving = Promise.all([receive(a.outbound, sentA.byteLength), receive(b.outbound, sentB.byteLength)])
    await Promise.all([sendAll(a.inbound, sentA), sendAll(b.inbound, sentB)])
    const [gotA, gotB] = await arriving
    expect(Buffer.from(gotA).equals(sentA)).toBe(true)
    expect(Buffer.from(gotB).equals(sentB)).toBe(true)
  })

  it('ends the connection when the other side closes', async () => {
    const { outbound, inbound } = await tcpPair(closers, bulk())
    const sent = randomBytes(300_000)
    const arriving = (async () => {
      const pieces: Uint8Array[] = []
      for await (const piece of outbound) pieces.push(piece instanceof Uint8Array ? piece : piece.subarray())
      return Buffer.concat(pieces)
    })()
    await sendAll(inbound, sent)
    await inbound.close()
    expect((await arriving).equals(sent)).toBe(true)
  })
})
