// WebRTC (webrtc-direct) as Ferry uses it: transport choice, the certificate kept in the store, and
// two nodes in one process talking over it on loopback with no ICE servers.
import { createHash } from 'node:crypto'
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { multiaddr } from '@multiformats/multiaddr'
import { lpStream } from '@libp2p/utils'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { createFerryNode, type FerryNode } from '../../src/net/node.js'
import { dialableAddresses } from '../../src/net/addresses.js'
import {
  addressesToDial, choiceCovering, defaultListen, kindOf, kindsNeeded, parseIceServers, parseTransport, pickOffered
} from '../../src/net/transports.js'
import { certPath, certhashOf, createCertificate, loadOrCreateCertificate, readCertificate } from '../../src/net/webrtc-cert.js'
import { buildQrPayload, parseQrPayload } from '../../src/pairing/qr-payload.js'
import { parseCode } from '../../src/pairing/code.js'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'
import { isFerryError } from '../../src/errors.js'

const PEER = '12D3KooWLaLfU1s167ed5reXyARg2naxczkmafTs7f1C4evZiwxo'
const TCP = `/ip4/192.168.1.20/tcp/4001/p2p/${PEER}`
const TCP_LO = `/ip4/127.0.0.1/tcp/4001/p2p/${PEER}`
const RTC = `/ip4/192.168.1.20/udp/4002/webrtc-direct/certhash/uEiAodOoJiTNunpRnehFe1J2yDVkjyphxs4J_tfZr8OruJg/p2p/${PEER}`
const RTC_LO = `/ip4/127.0.0.1/udp/4002/webrtc-direct/certhash/uEiAodOoJiTNunpRnehFe1J2yDVkjyphxs4J_tfZr8OruJg/p2p/${PEER}`

describe('transport choice', () => {
  it('tells TCP, webrtc-direct and the rest apart', () => {
    expect(kindOf(TCP)).toBe('tcp')
    expect(kindOf(RTC)).toBe('webrtc')
    expect(kindOf('/ip4/1.2.3.4/tcp/443/wss')).toBeUndefined()
    expect(kindOf('/ip4/1.2.3.4/udp/443/quic-v1')).toBeUndefined()
    expect(kindOf(`/ip4/1.2.3.4/tcp/4001/p2p/${PEER}/p2p-circuit/webrtc`)).toBeUndefined()
  })

  it('parses --transport and refuses anything else as bad usage', () => {
    expect(parseTransport(undefined)).toBe('tcp')
    expect(parseTransport(undefined, 'auto')).toBe('auto')
    expect(parseTransport('webrtc')).toBe('webrtc')
    expect(() => parseTransport('quic')).toThrow(/tcp, webrtc, auto/)
  })

  it('listens per choice; a WebRTC-only receiver listens on nothing (it only dials)', () => {
    expect(defaultListen('auto', 'sender')).toEqual(['/ip4/0.0.0.0/tcp/0', '/ip4/0.0.0.0/udp/0/webrtc-direct'])
    expect(defaultListen('webrtc', 'receiver')).toEqual([])
    expect(kindsNeeded('tcp', ['/ip4/127.0.0.1/udp/0/webrtc-direct'])).toEqual(['tcp', 'webrtc'])
    expect(kindsNeeded('webrtc', [])).toEqual(['webrtc'])
  })

  it('dials only the chosen kind; auto puts TCP first', () => {
    const offered = [RTC, TCP, RTC_LO, TCP_LO].map(a => multiaddr(a))
    expect(addressesToDial(offered, 'tcp').map(String)).toEqual([TCP, TCP_LO])
    expect(addressesToDial(offered, 'webrtc').map(String)).toEqual([RTC, RTC_LO])
    expect(addressesToDial(offered, 'auto').map(String)).toEqual([TCP, TCP_LO, RTC, RTC_LO])
    expect(addressesToDial([], 'tcp')).toEqual([]) // nothing offered: discovery finds the phone
  })

  it('a TCP-only phone shown WebRTC-only addresses says what to do', () => {
    let err: unknown
    try { addressesToDial([multiaddr(RTC)], 'tcp') } catch (e) { err = e }
    expect(isFerryError(err, 'NO_PEER')).toBe(true)
    expect((err as Error).message).toMatch(/offers only webrtc addresses.*--transport webrtc or auto/)
    expect(() => addressesToDial([multiaddr(TCP)], 'webrtc')).toThrow(/--transport tcp or auto/)
  })

  it('a resumed phone keeps to the kinds it used', () => {
    expect(choiceCovering([TCP, RTC])).toBe('auto')
    expect(choiceCovering([RTC])).toBe('webrtc')
    expect(choiceCovering([TCP])).toBe('tcp')
    expect(choiceCovering([])).toBeUndefined()
  })

  it('the QR payload offers every kind even when one has many addresses', () => {
    const tcps = Array.from({ length: 10 }, (_, i) => `/ip4/10.0.0.${i + 1}/tcp/4001/p2p/${PEER}`)
    const picked = pickOffered([...tcps, RTC, RTC_LO], 8)
    expect(picked).toHaveLength(8)
    expect(picked.filter(a => kindOf(a) === 'webrtc')).toEqual([RTC, RTC_LO])
    expect(picked.slice(0, 2)).toEqual([tcps[0], RTC])
    // certhash addresses survive the QR payload unchanged
    const qr = buildQrPayload({ code: parseCode('123-4567-8901'), peerId: PEER, addrs: picked })
    expect(parseQrPayload(qr).addrs).toEqual(picked)
  })

  it('parses ICE servers; none by default', () => {
    expect(parseIceServers(undefined)).toEqual([])
    expect(parseIceServers('stun:stun.example.org:3478, turn:al%40x:pw@turn.example.org:3478')).toEqual([
      { urls: 'stun:stun.example.org:3478' },
      { urls: 'turn:turn.example.org:3478', username: 'al@x', credential: 'pw' }
    ])
    expect(() => parseIceServers('http://example.org')).toThrow(/stun:HOST:PORT/)
    // A stray % is the person's typo, not a crash: and the password is not echoed back.
    expect(() => parseIceServers('turn:al:p%E0ss@turn.example.org:3478')).toThrow(/not percent-encoded correctly \(write % as %25\)$/)
    expect(() => parseIceServers('turn:al:p%E0ss@turn.example.org:3478')).not.toThrow(/p%E0ss/)
  })
})

describe('the webrtc-direct certificate', () => {
  afterAll(() => { cleanupTempDirs() })

  it('is created once, kept private, and reused: the certhash survives a restart', async () => {
    const dir = tempDir('ferry-cert-')
    const a = await loadOrCreateCertificate(dir)
    expect(statSync(certPath(dir)).mode & 0o777).toBe(0o600)
    const b = await loadOrCreateCertificate(dir)
    expect(b).toEqual(a)
    // multibase base64url ('u') of a sha2-256 multihash (0x12 0x20) of the DER certificate
    const der = Buffer.from(a.pem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64')
    const hash = Buffer.from(a.certhash.slice(1), 'base64url')
    expect(a.certhash[0]).toBe('u')
    expect(hash.toString('hex')).toBe('1220' + createHash('sha256').update(der).digest('hex'))
  })

  it('a damaged or mismatched file is replaced by a new certificate', async () => {
    const dir = tempDir('ferry-cert-')
    const a = await loadOrCreateCertificate(dir)
    writeFileSync(certPath(dir), JSON.stringify({ ...a, certhash: certhashOf(new Uint8Array([1, 2, 3])) }))
    expect(readCertificate(dir)).toBeUndefined()
    const b = await loadOrCreateCertificate(dir)
    expect(b.certhash).not.toBe(a.certhash)
    expect(JSON.parse(readFileSync(certPath(dir), 'utf8'))).toEqual(b)
  })

  it('an expiring certificate is renewed', async () => {
    const dir = tempDir('ferry-cert-')
    await loadOrCreateCertificate(dir)
    expect(readCertificate(dir, Date.now() + 13.5 * 24 * 3600_000)).toBeUndefined()
    expect(readCertificate(dir, Date.now() + 12 * 24 * 3600_000)).toBeDefined()
    // Mid-transfer (a pairing record), kept until it really expires: the receiver saved its certhash.
    expect(readCertificate(dir, Date.now() + 13.5 * 24 * 3600_000, 0)).toBeDefined()
    expect(readCertificate(dir, Date.now() + 14.1 * 24 * 3600_000, 0)).toBeUndefined()
  })

  it('one within a day of expiry is replaced at start, unless a pairing is under way', async () => {
    const dir = tempDir('ferry-cert-')
    const expiring = await createCertificate(12 * 3600_000)
    writeFileSync(certPath(dir), JSON.stringify(expiring))
    expect((await loadOrCreateCertificate(dir, true)).certhash).toBe(expiring.certhash)
    expect((await loadOrCreateCertificate(dir)).certhash).not.toBe(expiring.certhash)
  })
})

describe('two nodes over webrtc-direct on loopback', () => {
  const nodes: FerryNode[] = []
  afterEach(async () => { await Promise.all(nodes.splice(0).map(async n => await n.stop())) })
  afterAll(() => { cleanupTempDirs() })

  it('listens with its stored certhash, is dialled by a WebRTC-only node, carries a stream; same certhash after a restart', async () => {
    const dir = tempDir('ferry-rtc-')
    const listen = ['/ip4/127.0.0.1/udp/0/webrtc-direct']
    const a = await createFerryNode({ dir, listen })
    nodes.push(a)
    const addrs = dialableAddresses(a).map(String)
    const cert = JSON.parse(readFileSync(certPath(dir), 'utf8')) as { certhash: string }
    expect(addrs).toEqual([expect.stringMatching(new RegExp(`^/ip4/127\\.0\\.0\\.1/udp/\\d+/webrtc-direct/certhash/${cert.certhash}/p2p/${a.peerId.toString()}$`))])
    await a.handle('/ferry-test/echo/1', async (stream) => {
      const lp = lpStream(stream)
      await lp.write(await lp.read())
      await stream.close()
    })
    const b = await createFerryNode({ dir: tempDir('ferry-rtc-'), transport: 'webrtc', listen: [] })
    nodes.push(b)
    expect(b.getMultiaddrs()).toEqual([])
    const stream = await b.dialProtocol(multiaddr(addrs[0]), '/ferry-test/echo/1')
    const lp = lpStream(stream)
    const payload = new Uint8Array(200_000).map((_, i) => i * 7)
    await lp.write(payload)
    expect((await lp.read()).subarray()).toEqual(payload)
    expect(kindOf(b.getConnections()[0].remoteAddr)).toBe('webrtc')

    // Restarted: the same certhash (the CLI restarts in a new process on the same port too, see
    // test/e2e/webrtc-transfer.test.ts; in one process the native UDP mux frees its port a little later).
    await a.stop()
    const again = await createFerryNode({ dir, listen })
    nodes.push(again)
    const certhash = (s: string): string | undefined => multiaddr(s).getComponents().find(c => c.name === 'certhash')?.value
    expect(dialableAddresses(again).map(a => certhash(a.toString()))).toEqual([cert.certhash])
  })

  it('auto dials TCP when the other node offers both', async () => {
    const a = await createFerryNode({ dir: tempDir('ferry-rtc-'), listen: ['/ip4/127.0.0.1/udp/0/webrtc-direct', '/ip4/127.0.0.1/tcp/0'] })
    nodes.push(a)
    const b = await createFerryNode({ dir: tempDir('ferry-rtc-'), transport: 'auto', listen: [] })
    nodes.push(b)
    const offered = dialableAddresses(a)
    expect(offered.map(kindOf).sort()).toEqual(['tcp', 'webrtc'])
    // Given WebRTC first on purpose: the order libp2p dials in must still put TCP first.
    const conn = await b.dial([...offered].sort((x, y) => (kindOf(x) === 'webrtc' ? -1 : 0) - (kindOf(y) === 'webrtc' ? -1 : 0)))
    expect(kindOf(conn.remoteAddr)).toBe('tcp')
  })

  it('a WebRTC-only node listening on TCP still dials only WebRTC, even by peer id', async () => {
    const a = await createFerryNode({ dir: tempDir('ferry-rtc-'), listen: ['/ip4/127.0.0.1/udp/0/webrtc-direct', '/ip4/127.0.0.1/tcp/0'] })
    nodes.push(a)
    const b = await createFerryNode({ dir: tempDir('ferry-rtc-'), transport: 'webrtc', listen: ['/ip4/127.0.0.1/tcp/0'] })
    nodes.push(b)
    const offered = dialableAddresses(a)
    const tcpOnly = offered.filter(x => kindOf(x) === 'tcp')
    await expect(b.dial(tcpOnly)).rejects.toThrow()
    // Known by peer id with both kinds in the peer store (as identify and mDNS leave it): WebRTC is used.
    await b.peerStore.merge(a.peerId, { multiaddrs: offered })
    const conn = await b.dial(a.peerId)
    expect(kindOf(conn.remoteAddr)).toBe('webrtc')
  })
})
