// The subnet sweep over a loopback /24 (127.x.y.0/24: every address answers locally, nothing leaves
// the machine), with real responders on some of its hosts.
import { createServer } from 'node:net'
import { randomInt } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterEach, describe, expect, it } from 'vitest'
import { startResponder } from '../../src/net/probe.js'
import { sweep } from '../../src/net/sweep.js'
import type { LocalSubnet } from '../../src/net/subnets.js'
import { isFerryError } from '../../src/errors.js'

const newPeer = async (): Promise<string> => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()

describe('the subnet sweep', () => {
  const cleanup: Array<() => Promise<void> | void> = []
  afterEach(async () => { for (const f of cleanup.splice(0)) await f() })
  const net = `127.${randomInt(1, 255)}.${randomInt(0, 256)}`
  const self: LocalSubnet = { ifname: 'lo-test', address: `${net}.100`, prefix: 24, sweepPrefix: 24, virtual: false }
  const base = randomInt(20_000, 30_000)
  const ports = [base, base + 1, base + 2]
  const sender = async (host: string, nameplate: string, port?: number): Promise<{ peer: string, port: number }> => {
    const peer = await newPeer()
    const r = await startResponder({ nameplate, host, ports: port !== undefined ? [port] : ports, answer: () => ({ peer, addrs: [`/ip4/${host}/tcp/4001/p2p/${peer}`] }) })
    if (r === undefined) throw new Error('no port free')
    cleanup.push(async () => { await r.close() })
    return { peer, port: r.port }
  }

  it('finds the phone with the nameplate behind phones with other nameplates and a foreign service', async () => {
    await sender(`${net}.101`, '552')
    await sender(`${net}.99`, '553')
    // On .140 something else holds the first port, so the phone there took the second.
    const foreign = createServer(s => { s.end('nope\n') })
    await new Promise<void>(resolve => foreign.listen(ports[0], `${net}.140`, resolve))
    cleanup.push(() => { foreign.close() })
    const wanted = await sender(`${net}.140`, '551')
    expect(wanted.port).toBe(ports[1])
    const r = await sweep({ nameplate: '551', subnets: [self], ports, ratePerSecond: 2000 })
    expect(r.hit?.peer).toBe(wanted.peer)
    expect(r.hit?.host).toBe(`${net}.140`)
    expect(r.hit?.port).toBe(ports[1])
    expect(r.hit?.addrs.map(String)).toEqual([`/ip4/${net}.140/tcp/4001/p2p/${wanted.peer}`])
    expect(r.stats[0].subnet).toBe(`${net}.0/24`)
    expect(r.stats[0].ferry).toBeGreaterThanOrEqual(2)
  })

  it('passes over a phone with the nameplate that is not the one asked for', async () => {
    const first = await sender(`${net}.101`, '551')
    const second = await sender(`${net}.120`, '551')
    const r = await sweep({ nameplate: '551', subnets: [self], ports, ratePerSecond: 2000, accept: p => p === second.peer })
    expect(r.hit?.peer).toBe(second.peer)
    expect(first.peer).not.toBe(second.peer)
  })

  it('ends naming the app\'s accept when it throws, rather than with its bare error', async () => {
    await sender(`${net}.101`, '551')
    const bug = new TypeError('record.peerId is undefined')
    const err = await sweep({ nameplate: '551', subnets: [self], ports, ratePerSecond: 2000, accept: () => { throw bug } }).then(() => undefined, (e: unknown) => e)
    expect(err).toSatisfy(e => isFerryError(e, 'CANCELLED') && e.message === 'the app\'s accept threw: record.peerId is undefined' && e.cause === bug)
  })

  it('covers every host of the subnet but its own, and counts who answered and who is a Ferry phone', async () => {
    await sender(`${net}.7`, '900')
    const r = await sweep({ nameplate: '551', subnets: [self], ports, ratePerSecond: 2000 })
    expect(r.hit).toBeUndefined()
    // On loopback every address answers (a refusal at least): all 253 other hosts were reached.
    expect(r.stats).toEqual([{ subnet: `${net}.0/24`, ifname: 'lo-test', hosts: 253, probed: 253, reached: 253, ferry: 1 }])
  })

  it('keeps to its rate: 253 hosts at 500 a second take at least half a second', async () => {
    const r = await sweep({ nameplate: '551', subnets: [self], ports: [ports[0]], ratePerSecond: 500 })
    // A lower bound the pacing guarantees on any machine, however loaded: 252 gaps of 2 ms.
    expect(r.ms).toBeGreaterThanOrEqual(252 * 2 - 5)
    expect(r.stats[0].probed).toBe(253)
  })

  it('asks the real LAN before a VPN\'s or a bridge\'s subnet', async () => {
    const wifi: LocalSubnet = { ...self, address: `${net}.254` }
    const vpnNet = `127.${(Number(net.split('.')[1]) % 254) + 1}.${net.split('.')[2]}`
    const vpn: LocalSubnet = { ifname: 'tun-test', address: `${vpnNet}.254`, prefix: 24, sweepPrefix: 24, virtual: true }
    const wanted = await sender(`${net}.200`, '551')
    const r = await sweep({ nameplate: '551', subnets: [vpn, wifi], ports, ratePerSecond: 200 })
    expect(r.hit?.peer).toBe(wanted.peer)
    // Found among the Wi-Fi's hosts while more of them were still to be asked: the VPN's were not reached.
    expect(r.stats.find(st => st.ifname === 'tun-test')?.probed).toBe(0)
  })

  it('stops when aborted', async () => {
    const ac = new AbortController()
    const p = sweep({ nameplate: '551', subnets: [self], ports, ratePerSecond: 50, signal: ac.signal })
    setTimeout(() => { ac.abort() }, 100)
    const r = await p
    expect(r.hit).toBeUndefined()
    expect(r.stats[0].probed).toBeLessThan(253)
  })

  it('refuses a subnet that is not loopback outside a network namespace under FERRY_MDNS_NETNS_ONLY', async () => {
    const lan: LocalSubnet = { ifname: 'eth0', address: '192.0.2.10', prefix: 24, sweepPrefix: 24, virtual: false }
    await expect(sweep({ nameplate: '551', subnets: [lan], env: { FERRY_MDNS_NETNS_ONLY: '1' } }))
      .rejects.toSatisfy(err => isFerryError(err, 'BAD_INPUT') && /only allowed inside a network namespace/.test(err.message))
    await expect(sweep({ nameplate: '551', subnets: [self, lan], env: { FERRY_MDNS_NETNS_ONLY: '1' } })).rejects.toThrow(/sweep/)
  })
})
