// Finding the old phone and choosing its address, on loopback with real sockets: a 127.x.y.0/24 stands
// in for the Wi-Fi subnet (every address on it answers locally; nothing leaves the machine).
import { createServer, type AddressInfo, type Server } from 'node:net'
import { randomInt } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, describe, expect, it } from 'vitest'
import { raceAddresses, rankAddresses } from '../../src/net/happy-dial.js'
import { SenderSearch, senderRoute } from '../../src/net/find-sender.js'
import { startResponder } from '../../src/net/probe.js'
import type { LocalSubnet } from '../../src/net/subnets.js'
import { ErrorCode, isFerryError } from '../../src/errors.js'
import { rawNode } from '../e2e/helpers/raw-peer.js'

const newPeer = async (): Promise<string> => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()

describe('choosing and finding the old phone\'s address', () => {
  const cleanup: Array<() => Promise<void> | void> = []
  afterEach(async () => { for (const f of cleanup.splice(0)) await f() })
  const net = `127.${randomInt(1, 255)}.${randomInt(0, 256)}`
  const self: LocalSubnet = { ifname: 'lo-test', address: `${net}.100`, prefix: 24, sweepPrefix: 24, virtual: false }
  const base = randomInt(20_000, 30_000)
  const ports = [base, base + 1]
  /** A TCP listener standing in for the old phone's libp2p port; returns its port. */
  const listener = async (host: string): Promise<number> => {
    const s: Server = createServer(sock => { sock.destroy() })
    await new Promise<void>(resolve => s.listen(0, host, resolve))
    cleanup.push(() => { s.close() })
    return (s.address() as AddressInfo).port
  }
  const closedPort = async (host: string): Promise<number> => {
    const s = createServer()
    await new Promise<void>(resolve => s.listen(0, host, resolve))
    const port = (s.address() as AddressInfo).port
    await new Promise<void>(resolve => s.close(() => { resolve() }))
    return port
  }

  it('ranks where the sweep reached it first, then the shared LAN, a VPN, elsewhere, and our own address last', () => {
    const subnets: LocalSubnet[] = [
      { ifname: 'wlan0', address: '192.168.1.20', prefix: 24, sweepPrefix: 24, virtual: false },
      { ifname: 'tun0', address: '10.8.0.2', prefix: 24, sweepPrefix: 24, virtual: true },
      { ifname: 'docker0', address: '172.17.0.1', prefix: 16, sweepPrefix: 24, virtual: true }
    ]
    const a = (ip: string): string => `/ip4/${ip}/tcp/4001`
    const ranked = rankAddresses([a('172.17.0.1'), a('10.9.9.9'), a('10.8.0.5'), a('192.168.1.30'), a('192.168.1.31'), '/ip4/1.2.3.4/udp/1/webrtc-direct'].map(s => multiaddr(s)), { subnets, preferHost: '192.168.1.31' })
    expect(ranked.map(String)).toEqual([a('192.168.1.31'), a('192.168.1.30'), a('10.8.0.5'), a('10.9.9.9'), a('172.17.0.1'), '/ip4/1.2.3.4/udp/1/webrtc-direct'])
  })

  it('races the addresses: a refusal moves on at once, the first to open wins', async () => {
    const refused = multiaddr(`/ip4/${net}.30/tcp/${await closedPort(`${net}.30`)}`)
    const open = multiaddr(`/ip4/${net}.31/tcp/${await listener(`${net}.31`)}`)
    const r = await raceAddresses([refused, open], { subnets: [self], staggerMs: 10_000 })
    // The stagger is long: the second address was tried because the first was refused, not because time passed.
    expect(r.winner?.toString()).toBe(open.toString())
    expect(r.attempts.map(a => a.outcome)).toEqual(['refused', 'open'])
  })

  it('hands libp2p the address that answered; refused everywhere on first contact is NO_PEER, not ISOLATED', async () => {
    const peer = await newPeer()
    const open = multiaddr(`/ip4/${net}.40/tcp/${await listener(`${net}.40`)}/p2p/${peer}`)
    const dead = multiaddr(`/ip4/${net}.41/tcp/${await closedPort(`${net}.41`)}/p2p/${peer}`)
    const route = senderRoute({ via: 'mdns', race: { subnets: [self] } })
    expect((await route([dead, open], {})).map(String)).toEqual([open.toString()])
    // With a WebRTC address too (--transport auto), libp2p gets that one to try instead.
    const rtc = multiaddr(`/ip4/${net}.41/udp/4001/webrtc-direct/certhash/uEiDDq4_xNyDorZBH3TlGazyJdOWSwvo4PUo5YHFMrvDE8g/p2p/${peer}`)
    expect((await route([dead, rtc], {})).map(String)).toEqual([rtc.toString()])
    const err = await route([dead], {}).catch(e => e)
    expect(isFerryError(err, 'NO_PEER')).toBe(true)
    expect(err.message).toMatch(/refused the connection: is 'ferry send' still running there\?/)
  })

  it('finds a sender that restarted on another address by the sweep, and dials it there', async () => {
    const peer = await newPeer()
    const oldAddr = multiaddr(`/ip4/${net}.50/tcp/${await closedPort(`${net}.50`)}/p2p/${peer}`)
    const now = `/ip4/${net}.51/tcp/${await listener(`${net}.51`)}/p2p/${peer}`
    const r = await startResponder({ nameplate: '551', host: `${net}.51`, ports, answer: () => ({ peer, addrs: [now] }) })
    if (r === undefined) throw new Error('no port free')
    cleanup.push(async () => { await r.close() })
    const search = new SenderSearch({ nameplate: '551', mdns: false, sweep: true, timeoutMs: 10_000, sweepOptions: { subnets: [self], ports, ratePerSecond: 2000 } })
    const relocated: string[] = []
    const route = senderRoute({ via: 'sweep', search, race: { subnets: [self] }, onRelocated: hit => relocated.push(hit.host) })
    expect((await route([oldAddr], { known: peerIdFromString(peer) })).map(String)).toEqual([now])
    expect(relocated).toEqual([`${net}.51`])
  })

  it('ends a find whose accept throws with CANCELLED naming it, without waiting out its time on the other way of looking', async () => {
    const node = await rawNode()
    cleanup.push(async () => { await node.stop() })
    // mDNS heard a phone (from another host) and the sweep finds one: accept is asked of either first.
    const heard = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    await node.peerStore.merge(heard, { multiaddrs: [multiaddr('/ip4/192.0.2.1/tcp/4001')] })
    const peer = await newPeer()
    const r = await startResponder({ nameplate: '647', host: `${net}.60`, ports, answer: () => ({ peer, addrs: [`/ip4/${net}.60/tcp/4001/p2p/${peer}`] }) })
    if (r === undefined) throw new Error('no port free')
    cleanup.push(async () => { await r.close() })
    const bug = new TypeError('pairing.peerId is undefined')
    const search = new SenderSearch({ node, nameplate: '647', mdns: true, sweep: true, sweepAfterMs: 0, timeoutMs: 600_000, sweepOptions: { subnets: [self], ports, ratePerSecond: 2000 }, accept: () => { throw bug } })
    const err = await search.find().then(() => undefined, (e: unknown) => e)
    expect(err).toSatisfy(e => isFerryError(e, 'CANCELLED') && e.message === 'the app\'s accept threw: pairing.peerId is undefined' && e.cause === bug)
  })

  it('starts no find once its time is spent: a phone set aside for each refusal cannot keep it looking', async () => {
    // mDNS answers from the peer store at once, before any timer could fire: a neighbour announcing a
    // fresh peer id for each refusal would otherwise be found again and again past the search's time.
    // The node runs no mDNS here; the peer store stands in for what it heard (from another host: a
    // loopback address there would name this machine, and the search passes it by).
    const node = await rawNode()
    cleanup.push(async () => { await node.stop() })
    const announce = async (): Promise<string> => {
      const id = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
      await node.peerStore.merge(id, { multiaddrs: [multiaddr(`/ip4/192.0.2.1/tcp/${randomInt(10_000, 60_000)}`)] })
      return id.toString()
    }
    const seen = new Set([await announce(), await announce()])
    const search = new SenderSearch({ node, nameplate: '647', mdns: true, sweep: false, timeoutMs: 300 })
    expect(seen.has((await search.find()).peer)).toBe(true)
    // Both set aside: this find waits out the search's time and finds nobody.
    const none = await search.find({ except: seen }).then(() => undefined, (e: unknown) => e)
    expect(isFerryError(none, ErrorCode.NO_PEER), String(none)).toBe(true)
    // A fresh id after that: the search is over all the same.
    await announce()
    const late = await search.find({ except: seen }).then(f => f.peer, (e: unknown) => e)
    expect(isFerryError(late, ErrorCode.NO_PEER), String(late)).toBe(true)
  })

  it('refuses a search that cannot look as the app\'s mistake, in the library\'s words', async () => {
    for (const [opts, said] of [
      [{ mdns: false, sweep: false }, /neither mdns nor sweep/],
      [{ mdns: true, sweep: false }, /pass `node`/]
    ] as const) {
      const err = await new SenderSearch({ ...opts, nameplate: '553', timeoutMs: 1_000 }).find().then(() => undefined, (e: unknown) => e)
      expect(err).toSatisfy(e => isFerryError(e, 'BAD_INPUT') && said.test(e.message) && !e.message.includes('--'))
    }
  })

  it('finds the phone with the nameplate by the sweep alone, and says what it tried when there is none', async () => {
    const peer = await newPeer()
    const addr = `/ip4/${net}.60/tcp/4001/p2p/${peer}`
    const r = await startResponder({ nameplate: '552', host: `${net}.60`, ports, answer: () => ({ peer, addrs: [addr] }) })
    if (r === undefined) throw new Error('no port free')
    cleanup.push(async () => { await r.close() })
    const opts = { mdns: false, sweep: true, timeoutMs: 10_000, sweepOptions: { subnets: [self], ports, ratePerSecond: 2000 } }
    const found = await new SenderSearch({ ...opts, nameplate: '552' }).find()
    expect(found).toMatchObject({ peer, via: 'sweep', host: `${net}.60` })
    expect(found.addrs.map(String)).toEqual([addr])
    const err = await new SenderSearch({ ...opts, nameplate: '559', timeoutMs: 1_500 }).find().catch(e => e)
    expect(isFerryError(err, 'NO_PEER')).toBe(true)
    expect(err.message).toMatch(new RegExp(`no phone showing a code starting 559 .*a sweep of ${net.replace(/\./g, '\\.')}\\.0/24 \\(lo-test\\) reached 253 devices, 1 Ferry phone showing other codes`))
  })
})
