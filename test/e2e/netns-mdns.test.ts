import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomInt } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { checkNetnsSupport, createTestbed, type Testbed } from '../../scripts/lib/netns.js'
import { PeerProcess, type PeerEvent } from './helpers/peer-process.js'
import { cannotRun } from '../helpers/cannot-run.js'

// mDNS runs only here, inside namespaces this test makes: each phone is a separate process in its
// own namespace on a private bridge, so the multicast never reaches a real interface.
const support = await checkNetnsSupport()
const skip = cannotRun('the mDNS namespace tests', support.ok ? undefined : support.reason ?? 'unknown')

interface Started extends PeerProcess { peerId?: string, startedAt?: number }

const isDiscovery = (p: Started) => (e: PeerEvent) => e.ev === 'discovered' && e.peerId === p.peerId

describe.skipIf(skip)('mDNS across network namespaces', () => {
  let tb: Testbed
  let dir: string
  const peers: Started[] = []

  beforeAll(async () => {
    tb = await createTestbed({ phones: 4 })
    dir = mkdtempSync(join(tmpdir(), 'ferry-netns-'))
  })
  afterAll(async () => {
    await Promise.all(peers.map(async p => { await p.stop() }))
    await tb?.down()
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  it('finds the peer with the same service tag, dials it, and ignores other tags', async () => {
    // Two transfers on one LAN at once: nameplates differ, so their service tags do.
    const n1 = randomInt(100, 500)
    const tagA = `_ferry-${n1}._udp.local`
    const tagB = `_ferry-${n1 + 1}._udp.local`
    const start = (name: string, phone: number, tag: string, other: string): Started => {
      const p: Started = PeerProcess.start(name, {
        dir: join(dir, name),
        listen: ['/ip4/0.0.0.0/tcp/0'],
        mdns: { serviceTag: tag, interval: 250 },
        observeTags: [other]
      }, { testbed: tb, phone: tb.phones[phone] })
      peers.push(p)
      return p
    }
    const a = start('A', 0, tagA, tagB)
    const b = start('B', 1, tagA, tagB)
    const c = start('C', 2, tagB, tagA)
    const d = start('D', 3, tagB, tagA)
    for (const p of [a, b, c, d]) {
      const ready = await p.waitFor('ready', e => e.ev === 'ready', 30_000)
      p.peerId = String(ready.peerId)
      p.startedAt = Number(ready.startedAt)
      // Announced addresses are the phone's LAN address only: no loopback (STACK.md: it slowed dials).
      const addrs = ready.addrs as string[]
      expect(addrs.length).toBeGreaterThan(0)
      for (const s of addrs) expect(s).toMatch(/^\/ip4\/10\./)
    }

    // Same tag: each finds the other.
    const [ab, ba, cd, dc] = await Promise.all([
      a.waitFor('A to discover B', isDiscovery(b), 10_000),
      b.waitFor('B to discover A', isDiscovery(a), 10_000),
      c.waitFor('C to discover D', isDiscovery(d), 10_000),
      d.waitFor('D to discover C', isDiscovery(c), 10_000)
    ])
    // From the moment the later of the two nodes started (mDNS starts with the node) until both
    // have found each other.
    const mutualAB = Math.max(ab.wall, ba.wall) - Math.max(a.startedAt!, b.startedAt!)
    const mutualCD = Math.max(cd.wall, dc.wall) - Math.max(c.startedAt!, d.startedAt!)
    expect(mutualAB).toBeLessThan(2_000)
    for (const e of [ab, ba]) {
      expect((e.addrs as string[]).every(s => !s.includes('/127.0.0.1/'))).toBe(true)
    }

    // Dial by peer id, with the addresses mDNS put in the peer store.
    a.send({ cmd: 'dial', peerId: b.peerId })
    const dialed = await a.waitFor('A to dial B', e => e.ev === 'dialed', 10_000)
    expect(dialed.peerId).toBe(b.peerId)
    expect(String(dialed.addr)).toContain(`/ip4/${tb.phones[1].ip}/tcp/`)

    // The other pair's responses reached A and B (same LAN, same multicast group) and were ignored.
    await Promise.all([
      a.waitFor('A to see the other tag announced', e => e.ev === 'observed' && e.tag === tagB && Number(e.responses) >= 2, 10_000),
      b.waitFor('B to see the other tag announced', e => e.ev === 'observed' && e.tag === tagB && Number(e.responses) >= 2, 10_000),
      c.waitFor('C to see the other tag announced', e => e.ev === 'observed' && e.tag === tagA && Number(e.responses) >= 2, 10_000)
    ])
    const discovered = (p: PeerProcess): string[] => p.events.filter(e => e.ev === 'discovered').map(e => String(e.peerId))
    expect(new Set(discovered(a))).toEqual(new Set([b.peerId]))
    expect(new Set(discovered(b))).toEqual(new Set([a.peerId]))
    expect(new Set(discovered(c))).toEqual(new Set([d.peerId]))
    expect(new Set(discovered(d))).toEqual(new Set([c.peerId]))

    console.log(`mDNS across namespaces: A<->B mutual discovery ${mutualAB} ms after the later node started (A found B at ${String(ab.ms)} ms, B found A at ${String(ba.ms)} ms after their starts); C<->D ${mutualCD} ms; dial ${String(dialed.ms)} ms`)
  })

  it('moves 256 MiB between two processes in two namespaces, intact', async () => {
    const [a, b, c, d] = peers
    // The other pair idles; its mDNS queries would only add noise to the measurement.
    await Promise.all([c.stop(), d.stop()])
    a.send({ cmd: 'blast', peerId: b.peerId, bytes: 256 * 1024 * 1024, chunk: 256 * 1024 })
    const done = await a.waitFor('the blast to finish', e => e.ev === 'blasted', 120_000)
    expect(done.peerBytes).toBe(done.bytes)
    expect(done.peerSha256).toBe(done.sha256)
    a.send({ cmd: 'blast', peerId: b.peerId, bytes: 512 * 1024 * 1024, chunk: 256 * 1024, verify: false })
    const raw = await a.waitFor('the raw blast to finish', e => e.ev === 'blasted' && e !== done, 120_000)
    expect(raw.peerBytes).toBe(raw.bytes)
    console.log(`two processes across namespaces (veth + bridge, MTU 1500): raw ${String(raw.mbps)} MB/s; generated + sha256 on both ends ${String(done.mbps)} MB/s`)
  })
})
