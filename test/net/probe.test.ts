// The discovery probe on loopback, with real sockets: each responder listens on its own 127.x address,
// on ports of a random range, so parallel runs and a real sender on this machine do not meet.
import { createConnection, createServer, type Server } from 'node:net'
import { randomInt } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterEach, describe, expect, it } from 'vitest'
import { encodeAnswer, parseAnswer, probe, probeTag, startResponder, type DiscoveryResponder } from '../../src/net/probe.js'

const newPeer = async (): Promise<string> => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
const loopbackHost = (): string => `127.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(2, 254)}`
const portRange = (n = 4): number[] => { const base = randomInt(20_000, 30_000); return Array.from({ length: n }, (_, i) => base + i) }

/** Reads everything a connection sends until it closes. */
async function rawExchange (host: string, port: number, send: (hello: Buffer) => Buffer | undefined): Promise<{ hello: Buffer, rest: Buffer, closed: 'end' | 'error' }> {
  return await new Promise((resolve, reject) => {
    const s = createConnection({ host, port })
    let buf = Buffer.alloc(0)
    let hello: Buffer | undefined
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d])
      if (hello === undefined && buf.length >= 24) {
        hello = buf.subarray(0, 24)
        buf = buf.subarray(24)
        const out = send(hello)
        if (out !== undefined) s.write(out)
      }
    })
    s.on('close', hadError => { resolve({ hello: hello ?? Buffer.alloc(0), rest: buf, closed: hadError ? 'error' : 'end' }) })
    s.on('error', () => {})
    setTimeout(() => { s.destroy(); reject(new Error('no close within 5 s')) }, 5_000)
  })
}

describe('the discovery probe', () => {
  const cleanup: Array<() => Promise<void> | void> = []
  afterEach(async () => { for (const f of cleanup.splice(0)) await f() })
  const responder = async (o: Parameters<typeof startResponder>[0]): Promise<DiscoveryResponder> => {
    const r = await startResponder(o)
    if (r === undefined) throw new Error('no port free')
    cleanup.push(async () => { await r.close() })
    return r
  }
  const holdPort = async (host: string, port: number): Promise<Server> => {
    const s = createServer(sock => { sock.end('HTTP/1.1 400 Bad Request\r\n\r\n') })
    await new Promise<void>(resolve => s.listen(port, host, resolve))
    cleanup.push(() => { s.close() })
    return s
  }

  it('answers the phone that names its nameplate with its peer id and addresses, and only it', async () => {
    const host = loopbackHost()
    const ports = portRange()
    const peer = await newPeer()
    const addrs = [`/ip4/10.1.2.3/tcp/4001/p2p/${peer}`, '/ip4/192.168.1.4/tcp/4001']
    const r = await responder({ nameplate: '551', host, ports, answer: () => ({ peer, addrs }) })
    expect(r.port).toBe(ports[0])
    const yes = await probe(host, r.port, '551')
    expect(yes.kind).toBe('match')
    if (yes.kind !== 'match') return
    expect(yes.answer.peer).toBe(peer)
    expect(yes.answer.addrs.map(String)).toEqual([addrs[0], `${addrs[1]}/p2p/${peer}`])
    for (const other of ['552', '155', '000']) expect((await probe(host, r.port, other)).kind).toBe('no')
  })

  it('says no in one byte and nothing else, and a tag recorded from one connection is no good on the next', async () => {
    const host = loopbackHost()
    const peer = await newPeer()
    const r = await responder({ nameplate: '123', host, ports: portRange(), answer: () => ({ peer, addrs: [] }) })
    const wrong = await rawExchange(host, r.port, hello => probeTag(hello.subarray(8), '124'))
    expect(wrong.hello.subarray(0, 7).toString()).toBe('FERRYPB')
    expect(wrong.rest.toString()).toBe('N')
    const right = await rawExchange(host, r.port, hello => probeTag(hello.subarray(8), '123'))
    expect(right.rest[0]).toBe('Y'.charCodeAt(0))
    expect(right.rest.toString()).toContain(peer)
    // Each connection has its own nonce: the right tag of the last connection is wrong on this one.
    const replayed = await rawExchange(host, r.port, () => probeTag(right.hello.subarray(8), '123'))
    expect(replayed.hello.subarray(8).equals(right.hello.subarray(8))).toBe(false)
    expect(replayed.rest.toString()).toBe('N')
  })

  it('stops answering an address that asked wrongly too often, even when it then asks rightly', async () => {
    const host = loopbackHost()
    const peer = await newPeer()
    const r = await responder({ nameplate: '777', host, ports: portRange(), answer: () => ({ peer, addrs: [] }), limits: { burst: 3, refillMs: 60_000 } })
    for (let i = 0; i < 3; i++) expect((await probe(host, r.port, String(100 + i))).kind).toBe('no')
    // Out of tokens: a right guess gets the same answer as a wrong one, so walking the nameplates stops here.
    expect((await probe(host, r.port, '777')).kind).toBe('busy')
    expect((await probe(host, r.port, '778')).kind).toBe('busy')
  })

  it('lets an address ask again once its budget refilled', async () => {
    const host = loopbackHost()
    const peer = await newPeer()
    const r = await responder({ nameplate: '777', host, ports: portRange(), answer: () => ({ peer, addrs: [] }), limits: { burst: 1, refillMs: 50 } })
    expect((await probe(host, r.port, '100')).kind).toBe('no')
    let kind = 'busy'
    while (kind === 'busy') kind = (await probe(host, r.port, '777')).kind
    expect(kind).toBe('match')
  })

  it('takes the first free port of its range, and none when all are taken', async () => {
    const host = loopbackHost()
    const ports = portRange(3)
    const peer = await newPeer()
    await holdPort(host, ports[0])
    const r = await responder({ nameplate: '321', host, ports, answer: () => ({ peer, addrs: [] }) })
    expect(r.port).toBe(ports[1])
    await holdPort(host, ports[2])
    expect(await startResponder({ nameplate: '321', host, ports, answer: () => ({ peer, addrs: [] }) })).toBeUndefined()
  })

  it('tells a closed port and a port where something else listens from a Ferry phone', async () => {
    const host = loopbackHost()
    const [closed, foreign] = portRange(2)
    await holdPort(host, foreign)
    expect((await probe(host, closed, '551')).kind).toBe('refused')
    expect((await probe(host, foreign, '551')).kind).toBe('foreign')
    // A listener that accepts and says nothing: cut off at the probe's deadline.
    const mute = createServer(() => {})
    await new Promise<void>(resolve => mute.listen(closed, host, resolve))
    cleanup.push(() => { mute.close() })
    expect((await probe(host, closed, '551', { timeoutMs: 200 })).kind).toBe('foreign')
  })

  it('cuts off a prober that says nothing, and one that sends more than a tag', async () => {
    const host = loopbackHost()
    const peer = await newPeer()
    const r = await responder({ nameplate: '551', host, ports: portRange(), answer: () => ({ peer, addrs: [] }), limits: { idleMs: 100 } })
    const idle = await rawExchange(host, r.port, () => undefined)
    expect(idle.rest.length).toBe(0)
    const long = await rawExchange(host, r.port, hello => Buffer.concat([probeTag(hello.subarray(8), '551'), Buffer.from('x')]))
    expect(long.rest.length).toBe(0)
  })

  it('takes a yes only with a valid peer id and addresses of that peer', async () => {
    const peer = await newPeer()
    const other = await newPeer()
    const enc = (v: unknown): Uint8Array => Buffer.from(JSON.stringify(v))
    expect(parseAnswer(enc({ peer, addrs: ['/ip4/10.0.0.1/tcp/1'] }))?.addrs.map(String)).toEqual([`/ip4/10.0.0.1/tcp/1/p2p/${peer}`])
    expect(parseAnswer(enc({ peer: 'not-a-peer', addrs: [] }))).toBeUndefined()
    expect(parseAnswer(enc({ peer, addrs: [`/ip4/10.0.0.1/tcp/1/p2p/${other}`] }))).toBeUndefined()
    expect(parseAnswer(enc({ peer, addrs: ['not a multiaddr'] }))).toBeUndefined()
    expect(parseAnswer(enc({ peer, addrs: [7] }))).toBeUndefined()
    expect(parseAnswer(enc({ peer, addrs: Array.from({ length: 17 }, (_, i) => `/ip4/10.0.0.1/tcp/${i + 1}`) }))).toBeUndefined()
    expect(parseAnswer(Buffer.from('{'))).toBeUndefined()
  })

  it('says yes with as many addresses as a receiver takes, best first, when a phone has more', async () => {
    const peer = await newPeer()
    const many = Array.from({ length: 40 }, (_, i) => `/ip4/10.0.${i}.1/udp/4001/webrtc-direct/certhash/uEiDDq4_xNyDorZBH3TlGazyJdOWSwvo4PUo5YHFMrvDE8g/p2p/${peer}`)
    const parsed = parseAnswer(encodeAnswer({ peer, addrs: many }))
    expect(parsed?.addrs.map(String)).toEqual(many.slice(0, parsed?.addrs.length))
    expect(parsed?.addrs.length).toBeGreaterThan(8)
    expect(encodeAnswer({ peer, addrs: many }).length).toBeLessThanOrEqual(4096)
  })
})
