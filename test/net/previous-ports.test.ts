import { createSocket, type Socket } from 'node:dgram'
import { createServer, type Server } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { isFerryError } from '../../src/errors.js'
import { createFerryNode, type FerryNode } from '../../src/net/node.js'
import { keepPreviousPorts, startOnPreviousPorts } from '../../src/net/previous-ports.js'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'

// A restarted old phone asked for any port takes the one it paired on, so the new phone's redial of the
// addresses it knows finds it; each address family at its own port. A port another process took since
// leaves it on any free port rather than not started.

const toClose: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const close of toClose.splice(0).reverse()) await close()
  cleanupTempDirs()
})

/** Another process's socket on a port the system picked: TCP, or UDP as webrtc-direct's is. */
async function squat (kind: 'tcp' | 'udp'): Promise<number> {
  if (kind === 'tcp') {
    const server: Server = createServer()
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    toClose.push(async () => await new Promise<void>(resolve => server.close(() => resolve())))
    return (server.address() as { port: number }).port
  }
  const socket: Socket = createSocket('udp4')
  await new Promise<void>(resolve => socket.bind(0, '127.0.0.1', resolve))
  toClose.push(async () => await new Promise<void>(resolve => socket.close(resolve)))
  return socket.address().port
}

async function start (listen: string[]): Promise<FerryNode> {
  const node = await createFerryNode({ dir: tempDir('ports-'), listen, transport: listen.some(a => a.includes('webrtc')) ? 'auto' : 'tcp' })
  toClose.push(async () => await node.stop())
  return node
}

const portsOf = (node: FerryNode, proto: 'tcp' | 'udp'): number[] =>
  node.getMultiaddrs().map(a => a.getComponents().find(c => c.name === proto)?.value).filter(p => p !== undefined).map(Number)

describe('the ports a restarted old phone listens on', () => {
  it('are those it paired on, each family its own, and a fixed port stays as given', () => {
    const previous = ['/ip4/192.168.1.20/tcp/41000', '/ip6/fe80::1/tcp/42000', '/ip4/192.168.1.20/udp/43000/webrtc-direct']
    expect(keepPreviousPorts(['/ip4/0.0.0.0/tcp/0', '/ip6/::/tcp/0', '/ip4/0.0.0.0/tcp/4100', '/ip4/0.0.0.0/udp/0/webrtc-direct'], previous))
      .toEqual(['/ip4/0.0.0.0/tcp/41000', '/ip6/::/tcp/42000', '/ip4/0.0.0.0/tcp/4100', '/ip4/0.0.0.0/udp/43000/webrtc-direct'])
  })

  it('leave an IPv6 listener on any port when it paired over IPv4 only', () => {
    expect(keepPreviousPorts(['/ip6/::/tcp/0'], ['/ip4/192.168.1.20/tcp/41000'])).toEqual(['/ip6/::/tcp/0'])
  })

  it('are any free ones where another process holds the old one when the node binds, TCP and UDP alike', async () => {
    const tcp = await squat('tcp')
    const udp = await squat('udp')
    const node = await startOnPreviousPorts(['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/udp/0/webrtc-direct'],
      [`/ip4/127.0.0.1/tcp/${tcp}`, `/ip4/127.0.0.1/udp/${udp}/webrtc-direct`], start)
    expect(portsOf(node, 'tcp')).toHaveLength(1)
    expect(portsOf(node, 'tcp')[0]).not.toBe(tcp)
    expect(portsOf(node, 'udp')).toHaveLength(1)
    expect(portsOf(node, 'udp')[0]).not.toBe(udp)
  })

  it('keep an old port that is free beside one that is taken', async () => {
    // A port the system handed out and that is free again: the phone's own from when it paired.
    const first = await start(['/ip4/127.0.0.1/tcp/0'])
    const free = portsOf(first, 'tcp')[0]
    await first.stop()
    const taken = await squat('udp')
    const node = await startOnPreviousPorts(['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/udp/0/webrtc-direct'],
      [`/ip4/127.0.0.1/tcp/${free}`, `/ip4/127.0.0.1/udp/${taken}/webrtc-direct`], start)
    expect(portsOf(node, 'tcp')).toEqual([free])
    expect(portsOf(node, 'udp')).toHaveLength(1)
    expect(portsOf(node, 'udp')[0]).not.toBe(taken)
  })

  it('fall back on both families when a kept UDP port of one is taken: the failure names neither', async () => {
    const taken = await squat('udp')
    // The IPv6 one's old port: one the system handed out and that is free again.
    const v6 = createSocket('udp6')
    await new Promise<void>(resolve => v6.bind(0, '::1', resolve))
    const free = v6.address().port
    await new Promise<void>(resolve => v6.close(resolve))
    const node = await startOnPreviousPorts(['/ip4/127.0.0.1/udp/0/webrtc-direct', '/ip6/::1/udp/0/webrtc-direct'],
      [`/ip4/127.0.0.1/udp/${taken}/webrtc-direct`, `/ip6/::1/udp/${free}/webrtc-direct`], start)
    expect(portsOf(node, 'udp')).toHaveLength(2)
    expect(portsOf(node, 'udp')).not.toContain(taken)
  })

  it('refuse a fixed port the caller gave that is taken, naming it: only a kept port falls back', async () => {
    const taken = await squat('tcp')
    const err = await startOnPreviousPorts([`/ip4/127.0.0.1/tcp/${taken}`], ['/ip4/127.0.0.1/tcp/41000'], start).catch(e => e)
    expect(isFerryError(err, 'BAD_INPUT'), String(err)).toBe(true)
    expect(err.message).toBe(`cannot listen on 127.0.0.1:${taken}: the port is taken (use tcp/0 for any free port)`)
  })
})
