import { createSocket } from 'node:dgram'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p, Startable } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isFerryError } from '../../src/errors.js'
import { assertMdnsAllowed, createFerryNode, discoverPeer, FERRY_STREAM_LIMITS, isPeer, namedNetns, type FerryNode } from '../../src/net/node.js'
import type { TransportChoice } from '../../src/net/transports.js'
import { createFerry } from '../../src/create-ferry.js'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'

describe('node options', () => {
  afterAll(() => { cleanupTempDirs() })

  it('rejects a malformed service tag before anything starts', async () => {
    for (const serviceTag of ['ferry', '_ferry 1._udp.local', '_ferry._udp.example']) {
      await expect(createFerryNode({ privateKey: await generateKeyPair('Ed25519'), start: false, mdns: { serviceTag } }))
        .rejects.toSatisfy(err => isFerryError(err, 'BAD_INPUT'))
    }
  })

  it('with FERRY_MDNS_NETNS_ONLY=1, refuses mDNS in the root namespace', async () => {
    // This test process runs in the machine's root namespace (no /run/netns entry matches it).
    expect(namedNetns()).toBeUndefined()
    expect(() => assertMdnsAllowed({ FERRY_MDNS_NETNS_ONLY: '1' })).toThrow(/only allowed inside a network namespace/)
    expect(() => assertMdnsAllowed({})).not.toThrow()
    const prev = process.env.FERRY_MDNS_NETNS_ONLY
    process.env.FERRY_MDNS_NETNS_ONLY = '1'
    try {
      // start: false as a second fence: even a broken guard would not multicast from here.
      await expect(createFerryNode({ privateKey: await generateKeyPair('Ed25519'), start: false, mdns: { serviceTag: '_ferry-123._udp.local' } }))
        .rejects.toSatisfy(err => isFerryError(err, 'BAD_INPUT'))
    } finally {
      if (prev === undefined) delete process.env.FERRY_MDNS_NETNS_ONLY
      else process.env.FERRY_MDNS_NETNS_ONLY = prev
    }
  })

  it('passes services through, the way the Ferry service is added', async () => {
    // A service in the shape of @libp2p/ping: a factory of init options returning a function of components.
    interface Components { registrar: Pick<Libp2p, 'handle' | 'unhandle'> }
    class Hello implements Startable {
      constructor (private readonly c: Components, readonly greeting: string) {}
      async start (): Promise<void> { await this.c.registrar.handle('/ferry-test/hello/1.0.0', () => {}, FERRY_STREAM_LIMITS) }
      async stop (): Promise<void> { await this.c.registrar.unhandle('/ferry-test/hello/1.0.0') }
    }
    const hello = (init: { greeting: string }) => (c: Components) => new Hello(c, init.greeting)
    const node = await createFerryNode({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], services: { hello: hello({ greeting: 'hi' }) } })
    try {
      expect(node.services.hello.greeting).toBe('hi')
      expect(node.services.identify).toBeDefined()
      expect(node.getProtocols()).toContain('/ferry-test/hello/1.0.0')
    } finally {
      await node.stop()
    }
  })

  it('refuses a listen or announce address it cannot use as a usage error naming it, before anything starts', async () => {
    // An app's typo: a host:port, a UDP address with no WebRTC on it, a malformed announce address (which
    // libp2p otherwise throws later, from a timer, where no caller can catch it).
    const cases: Array<[{ listen: string[], announce?: string[] }, string]> = [
      [{ listen: ['127.0.0.1:4001'] }, '127.0.0.1:4001'],
      [{ listen: ['/ip4/127.0.0.1/udp/0'] }, '/ip4/127.0.0.1/udp/0'],
      [{ listen: ['/ip4/127.0.0.1/tcp/0'], announce: ['192.168.1.20:4001'] }, '192.168.1.20:4001']
    ]
    for (const [opts, named] of cases) {
      const err = await createFerryNode({ privateKey: await generateKeyPair('Ed25519'), ...opts }).then(n => n, e => e)
      if (!isFerryError(err)) await (err as FerryNode).stop?.()
      expect(err).toSatisfy(e => isFerryError(e, 'BAD_INPUT') && e.message.includes(named) && e.message.includes('/ip4/0.0.0.0/tcp/0'))
    }
  })

  it('refuses a transport it does not know as a usage error naming the ones it has, and the folder stays free', async () => {
    // The type allows three values; an app in JavaScript may pass any, and heard 'cannot listen on undefined'.
    for (const transport of ['carrier-pigeon', 'TCP', 42]) {
      const err = await createFerryNode({ privateKey: await generateKeyPair('Ed25519'), transport: transport as TransportChoice }).then(n => n, e => e)
      if (!isFerryError(err)) await (err as FerryNode).stop?.()
      expect(err).toSatisfy(e => isFerryError(e, 'BAD_INPUT') && e.message.startsWith(`transport wants one of tcp, webrtc, auto, got ${typeof transport === 'string' ? `'${transport}'` : String(transport)}`))
    }
    const dir = tempDir('node-options-transport-')
    await expect(createFerry(dir, { transport: 'carrier-pigeon' as TransportChoice })).rejects.toSatisfy(e => isFerryError(e, 'BAD_INPUT') && e.message === "transport wants one of tcp, webrtc, auto, got 'carrier-pigeon'")
    const phone = await createFerry(dir, { listen: ['/ip4/127.0.0.1/tcp/0'] })
    await phone.stop()
  })

  it('createFerry refuses start: false, in its type and at run time, before it makes anything in the folder', async () => {
    // Its phone is a started node (the Ferry type says so): one never started offered no address, and a
    // send waited on it for nothing.
    const dir = join(tempDir('node-options-start-'), 'phone')
    // @ts-expect-error: createFerry's options leave start out
    await expect(createFerry(dir, { listen: ['/ip4/127.0.0.1/tcp/0'], start: false }))
      .rejects.toSatisfy(e => isFerryError(e, 'BAD_INPUT') && e.message.startsWith('createFerry starts its phone\'s node: start: false is not taken'))
    expect(existsSync(dir)).toBe(false)
    const phone = await createFerry(dir, { listen: ['/ip4/127.0.0.1/tcp/0'] })
    try {
      expect(phone.node.status).toBe('started')
      expect(phone.addresses().length).toBeGreaterThan(0)
    } finally {
      await phone.stop()
    }
  })

  it('reports a taken port as a usage error naming it', async () => {
    const a = await createFerryNode({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'] })
    try {
      const port = a.getMultiaddrs()[0].toString().split('/')[4]
      await expect(createFerryNode({ privateKey: await generateKeyPair('Ed25519'), listen: [`/ip4/127.0.0.1/tcp/${port}`] }))
        .rejects.toSatisfy(err => isFerryError(err, 'BAD_INPUT') && err.message === `cannot listen on 127.0.0.1:${port}: the port is taken (use tcp/0 for any free port)`)
    } finally {
      await a.stop()
    }
  })

  it('reports a webrtc-direct UDP port it cannot bind as a usage error naming it', async () => {
    const socket = createSocket('udp4')
    await new Promise<void>(resolve => socket.bind(0, '127.0.0.1', resolve))
    try {
      const port = socket.address().port
      await expect(createFerryNode({ privateKey: await generateKeyPair('Ed25519'), transport: 'webrtc', listen: [`/ip4/127.0.0.1/udp/${port}/webrtc-direct`] }))
        .rejects.toSatisfy(err => isFerryError(err, 'BAD_INPUT') && err.details?.listen === `/ip4/127.0.0.1/udp/${port}/webrtc-direct` &&
          err.message === `cannot listen on 127.0.0.1:${port} (UDP): the port is taken, or this machine has no such address (use udp/0 for any free port)`)
    } finally {
      await new Promise<void>(resolve => socket.close(resolve))
    }
  })
})

describe('discoverPeer', () => {
  let node: FerryNode
  beforeAll(async () => { node = await createFerryNode({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'] }) })
  afterAll(async () => { await node?.stop() })

  const fakePeer = async () => ({ id: peerIdFromPrivateKey(await generateKeyPair('Ed25519')), multiaddrs: [multiaddr('/ip4/10.9.9.9/tcp/4001')] })

  it('resolves with the first accepted discovery, ignoring others', async () => {
    const wanted = await fakePeer()
    const other = await fakePeer()
    const found = discoverPeer(node, { accept: isPeer(wanted.id), timeout: 5_000 })
    node.safeDispatchEvent('peer:discovery', { detail: other })
    node.safeDispatchEvent('peer:discovery', { detail: wanted })
    expect((await found).id.equals(wanted.id)).toBe(true)
  })

  it('finds a peer already in the peer store', async () => {
    const known = await fakePeer()
    await node.peerStore.merge(known.id, { multiaddrs: known.multiaddrs })
    expect((await discoverPeer(node, { accept: isPeer(known.id.toString()), timeout: 1_000 })).id.equals(known.id)).toBe(true)
  })

  it('times out with NO_PEER and cancels with CANCELLED', async () => {
    await expect(discoverPeer(node, { accept: () => false, timeout: 50 })).rejects.toSatisfy(err => isFerryError(err, 'NO_PEER'))
    const ac = new AbortController()
    const p = discoverPeer(node, { accept: () => false, signal: ac.signal })
    ac.abort()
    await expect(p).rejects.toSatisfy(err => isFerryError(err, 'CANCELLED'))
  })
})
