// Finding the old phone on Wi-Fi that does not cooperate, in the namespace testbed: multicast dropped
// by the phones' firewalls (the receiver finds the sender by the subnet sweep), an access point that
// keeps its clients apart (the receiver says so with ISOLATED), a receiver whose VPN holds the default
// and multicast routes (it still pairs over the Wi-Fi), and a sender that restarts at a new address
// mid-transfer (found again by the sweep on the same discovery port). Every sweep here runs inside a
// namespace this test made; FERRY_MDNS_NETNS_ONLY (set by spawnFerryIn) would refuse one anywhere else.
import { randomInt } from 'node:crypto'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { checkNetnsSupport, createTestbed, type Testbed } from '../../scripts/lib/netns.js'
import { cleanupTempDirs, copyStore, errorCode, exportStore, killAll, LOOPBACK, newStorePath, seedStore, spawnFerry, startSender, type FerryProcess } from './helpers/ferry-cli.js'
import { receiverArgs, senderArgs, spawnFerryIn } from './helpers/netns-ferry.js'
import { killFixture } from './helpers/kill-fixture.js'
import { DISCOVERY_PORTS } from '../../src/net/probe.js'

const support = await checkNetnsSupport()
if (!support.ok) {
  if (process.env.CI === 'true') throw new Error(`netns discovery tests cannot run: ${support.reason ?? ''}`)
  console.warn(`SKIP netns discovery tests: ${support.reason ?? ''}`)
}

const newCode = (): string => `${randomInt(100, 1000)}-${randomInt(1000, 10000)}-${randomInt(1000, 10000)}`
const secs = (ms: number): string => (ms / 1000).toFixed(1)

async function expectVerified (sender: FerryProcess, receiver: FerryProcess, target: string, source: string): Promise<void> {
  const [rExit, sExit] = await Promise.all([receiver.waitExit(120_000), sender.waitExit(120_000)])
  expect(rExit.code, receiver.describe()).toBe(0)
  expect(sExit.code, sender.describe()).toBe(0)
  await receiver.waitEvent('verified', 1)
  expect(await exportStore(target) === await exportStore(source)).toBe(true)
}

describe('discovery outside a network namespace, under FERRY_MDNS_NETNS_ONLY', () => {
  afterEach(async () => { await killAll() })
  afterAll(() => { cleanupTempDirs() })

  it('the receiver refuses to sweep the machine\'s real network, and says what to use instead', async () => {
    const receiver = spawnFerry(['receive', '--store', newStorePath(), '--code', '551-1234-5678', '--no-mdns', '--json', '--listen', LOOPBACK])
    const exit = await receiver.waitExit(30_000)
    expect(exit.code, receiver.describe()).toBe(2)
    expect(receiver.stderr).toBe('ferry: looking for the old phone on the local network (the subnet sweep) is only allowed inside a network namespace here ' +
      '(FERRY_MDNS_NETNS_ONLY=1): give the old phone\'s address with --peer MULTIADDR or --qr PAYLOAD and add --no-sweep, or run in a namespace [BAD_INPUT]\n')
    expect(receiver.all('sweeping')).toEqual([])
    const neither = spawnFerry(['receive', '--store', newStorePath(), '--code', '551-1234-5678', '--no-mdns', '--no-sweep', '--json', '--listen', LOOPBACK])
    expect((await neither.waitExit(30_000)).code).toBe(2)
    expect(neither.stderr).toMatch(/with --no-mdns and --no-sweep the old phone's address is needed: --peer MULTIADDR or --qr PAYLOAD/)
  })

  it('a sender on loopback opens no discovery port; --no-sweep opens none on any interface', async () => {
    const source = await seedStore('tiny', 7)
    const onLoopback = startSender(copyStore(source), { code: '552-1234-5678' })
    expect((await onLoopback.waitEvent('code', 30_000)).discoveryPort).toBeUndefined()
    const everywhere = startSender(copyStore(source), { code: '553-1234-5678', listen: '/ip4/0.0.0.0/tcp/0', extra: ['--no-sweep'] })
    expect((await everywhere.waitEvent('code', 30_000)).discoveryPort).toBeUndefined()
  })
})

describe.skipIf(!support.ok)('discovery on Wi-Fi that does not cooperate', () => {
  let source: string
  beforeAll(async () => { source = await seedStore('tiny', 7) }, 120_000)
  afterEach(async () => { await killAll() })
  afterAll(() => { cleanupTempDirs() })

  describe('multicast dropped by both phones', () => {
    let tb: Testbed
    let movable: string
    beforeAll(async () => {
      tb = await createTestbed({ phones: 2 })
      for (const p of tb.phones) await tb.multicast(p, false)
      movable = await killFixture({ messages: 2000, textBytes: 600, mediaFiles: 3, mediaBytes: 1_500_000 })
    }, 120_000)
    afterAll(async () => { await tb?.down() })

    it('the receiver, given only the code, finds the sender by the sweep and completes verified', async () => {
      const [p1, p2] = tb.phones
      const store = copyStore(source)
      const target = newStorePath()
      const code = newCode()
      const sender = spawnFerryIn(tb, p1, senderArgs(store, { code, listen: false }), 'sender')
      const shown = await sender.waitEvent('code', 30_000)
      expect(shown.discoveryPort).toBe(DISCOVERY_PORTS[0])
      const receiver = spawnFerryIn(tb, p2, receiverArgs(target, { code }), 'receiver')
      const sweeping = await receiver.waitEvent('sweeping', 30_000)
      expect(sweeping.subnets).toEqual([`${tb.subnet}.0/24 (eth0)`])
      const found = await receiver.waitEvent('discovered', 30_000)
      expect(found).toMatchObject({ via: 'sweep', peer: shown.peerId, host: p1.ip })
      const connection = await receiver.waitEvent('connection', 30_000)
      expect(String(connection.addr)).toContain(`/ip4/${p1.ip}/tcp/`)
      expect(connection).toMatchObject({ interface: 'eth0', subnet: `${tb.subnet}.0/24` })
      await expectVerified(sender, receiver, target, source)
      // Nothing came by mDNS: the multicast never got through.
      expect(receiver.all('discovered').map(e => e.via)).toEqual(['sweep'])
      console.log(`multicast dropped: sweep started ${secs(Number(sweeping.at))} s after the receiver, found the sender at ${secs(Number(found.at))} s, verified at ${secs(Number(receiver.all('verified')[0].at))} s`)
    }, 180_000)

    it('a sender restarted mid-transfer at a new address, on the same discovery port, is found again by the sweep and the transfer resumes', async () => {
      const [p1, p2] = tb.phones
      await tb.shape(p1, { rateMbit: 24 })
      const store = copyStore(movable)
      const target = newStorePath()
      const code = newCode()
      const first = spawnFerryIn(tb, p1, senderArgs(store, { code, listen: false }), 'sender')
      const shown = await first.waitEvent('code', 30_000)
      const receiver = spawnFerryIn(tb, p2, receiverArgs(target, { code }), 'receiver')
      const manifest = await receiver.waitEvent('manifest', 60_000)
      await receiver.waitFor('a quarter of the media', e => e.event === 'progress' && Number(e.mediaBytes) >= Number(manifest.totalMediaBytes) / 4, 60_000)
      await first.kill9()
      const mark = receiver.events.length
      const killedAt = Number(receiver.events.at(-1)?.at)
      // The phone comes back with a new lease: the address the receiver knows is gone.
      const oldIp = p1.ip
      await tb.setIp(p1, tb.freeIp())
      const again = spawnFerryIn(tb, p1, senderArgs(store, { listen: false }), 'sender again')
      const resuming = await again.waitEvent('resuming', 30_000)
      expect(resuming.discoveryPort).toBe(shown.discoveryPort)
      const refound = await receiver.waitFor('the sender found again', e => e.event === 'discovered' && e.again === true, 90_000, mark)
      expect(refound).toMatchObject({ via: 'sweep', host: p1.ip, peer: shown.peerId })
      expect(p1.ip).not.toBe(oldIp)
      const resumed = await receiver.waitFor('a resume pairing', e => e.event === 'paired' && e.mode === 'resume', 60_000, mark)
      await tb.unshape(p1)
      await expectVerified(again, receiver, target, movable)
      const interrupted = receiver.events.slice(mark).find(e => e.event === 'interrupted')
      console.log(`sender restarted at a new address: the receiver noticed ${secs(Number(interrupted?.at) - killedAt)} s after the kill, ` +
        `found it again by the sweep at ${secs(Number(refound.at) - killedAt)} s, resumed at ${secs(Number(resumed.at) - killedAt)} s`)
    }, 240_000)
  })

  describe('an access point that keeps its clients apart', () => {
    let tb: Testbed
    beforeAll(async () => {
      tb = await createTestbed({ phones: 2 })
      await tb.isolate(true)
    }, 120_000)
    afterAll(async () => { await tb?.down() })

    it('unicast dropped, multicast flowing: the receiver fails within 30 s with ISOLATED and says what to do', async () => {
      const [p1, p2] = tb.phones
      const code = newCode()
      const sender = spawnFerryIn(tb, p1, senderArgs(copyStore(source), { code, listen: false }), 'sender')
      await sender.waitEvent('code', 30_000)
      const t0 = performance.now()
      const receiver = spawnFerryIn(tb, p2, receiverArgs(newStorePath(), { code }), 'receiver')
      // mDNS still works (multicast is flooded), so the receiver knows the sender is there.
      await receiver.waitFor('the sender seen by mDNS', e => e.event === 'discovered' && e.via === 'mdns', 30_000)
      const exit = await receiver.waitExit(30_000)
      const ms = performance.now() - t0
      expect(exit.code, receiver.describe()).toBe(1)
      expect(errorCode(receiver.stderr)).toBe('ISOLATED')
      const error = receiver.all('error')[0]
      expect(error.code).toBe('ISOLATED')
      expect(String(error.message)).toMatch(/this Wi-Fi seems to keep devices apart \(client or AP isolation/)
      expect(String(error.message)).toMatch(/hotspot/)
      expect(String(error.message)).toContain(`a sweep of ${tb.subnet}.0/24 reached no other device`)
      // Never a stack trace.
      expect(receiver.stderr).not.toMatch(/\n\s+at /)
      console.log(`client isolation: the receiver said ISOLATED ${secs(ms)} s after it started`)
    }, 60_000)

    it('isolated and no multicast either: the receiver says after its first sweep that nobody answers, then ends NO_PEER with the hint', async () => {
      const [p1, p2] = tb.phones
      for (const p of tb.phones) await tb.multicast(p, false)
      try {
        const code = newCode()
        const sender = spawnFerryIn(tb, p1, senderArgs(copyStore(source), { code, listen: false }), 'sender')
        await sender.waitEvent('code', 30_000)
        const receiver = spawnFerryIn(tb, p2, [...receiverArgs(newStorePath(), { code }), '--timeout', '10'], 'receiver')
        const swept = await receiver.waitEvent('swept', 30_000)
        expect(swept.subnets).toEqual([{ subnet: `${tb.subnet}.0/24`, ifname: 'eth0', hosts: 253, probed: 253, reached: 0, ferry: 0 }])
        const exit = await receiver.waitExit(30_000)
        expect(exit.code, receiver.describe()).toBe(1)
        expect(errorCode(receiver.stderr)).toBe('NO_PEER')
        expect(String(receiver.all('error')[0].message)).toMatch(/reached 0 devices.*the Wi-Fi may keep devices apart \(client or AP isolation\).*hotspot/)
        console.log(`isolated without multicast: first sweep round over at ${secs(Number(swept.at))} s (${String(swept.ms)} ms), NO_PEER at the 10 s timeout`)
      } finally {
        for (const p of tb.phones) await tb.multicast(p, true)
      }
    }, 60_000)
  })

  describe('a receiver whose VPN holds the default and multicast routes, a sender on a VPN too', () => {
    let tb: Testbed
    let vpnNs: string
    let senderVpn: string
    beforeAll(async () => {
      tb = await createTestbed({ phones: 2 })
      const [p1, p2] = tb.phones
      // The sender's VPN address is private too, so it is announced with the Wi-Fi one; the receiver
      // could only reach it through its own VPN, where it would vanish.
      senderVpn = (await tb.addInterface(p1, { name: 'tun0' })).ip
      const vpn = await tb.addInterface(p2, { name: 'tun0', defaultRoute: true, multicastRoute: true })
      vpnNs = vpn.ns
      // Counts every connection attempt that went into the VPN.
      await tb.exec(vpnNs, ['iptables', '-w', '-t', 'raw', '-A', 'PREROUTING', '-i', 'eth0', '-p', 'tcp', '--syn'])
    }, 120_000)
    afterAll(async () => { await tb?.down() })

    const synsIntoVpn = async (): Promise<number> => {
      const out = await tb.exec(vpnNs, ['iptables', '-w', '-t', 'raw', '-L', 'PREROUTING', '-n', '-v', '-x'])
      const line = out.split('\n').find(l => l.includes('tcp') && l.includes('flags:'))
      return Number(line?.trim().split(/\s+/)[0] ?? NaN)
    }

    it('pairs over the shared subnet by the code, the QR code or addresses VPN first, and nothing goes into the VPN', async () => {
      const [p1, p2] = tb.phones
      for (const how of ['code', 'qr', 'peer'] as const) {
        const store = copyStore(source)
        const target = newStorePath()
        const code = newCode()
        const sender = spawnFerryIn(tb, p1, senderArgs(store, { code, listen: false }), 'sender')
        const shown = await sender.waitEvent('code', 30_000)
        expect((shown.addrs as string[]).some(a => a.startsWith(`/ip4/${senderVpn}/tcp/`))).toBe(true)
        // --peer with the sender's VPN address first: the order a phone may list its interfaces in, and
        // the one libp2p would dial in, one address at a time.
        const addrs = shown.addrs as string[]
        const vpnFirst = [...addrs.filter(a => a.includes(`/${senderVpn}/`)), ...addrs.filter(a => !a.includes(`/${senderVpn}/`))]
        const args = how === 'code'
          ? receiverArgs(target, { code })
          : ['receive', '--store', target, '--json', '--code', code, ...(how === 'qr' ? ['--qr', String(shown.qr)] : ['--peer', vpnFirst.join(',')])]
        const receiver = spawnFerryIn(tb, p2, args, 'receiver')
        const connection = await receiver.waitEvent('connection', 30_000)
        expect(connection).toMatchObject({ interface: 'eth0', subnet: `${tb.subnet}.0/24` })
        expect(String(connection.addr)).toContain(`/ip4/${p1.ip}/tcp/`)
        await expectVerified(sender, receiver, target, source)
        const found = receiver.all('discovered')[0]
        console.log(`VPN on the receiver, by ${how}: found via ${String(found.via)} at ${secs(Number(found.at))} s, connected over ${String(connection.interface)} at ${secs(Number(connection.at))} s`)
      }
      expect(await synsIntoVpn()).toBe(0)
    }, 240_000)
  })
})

describe.skipIf(!support.ok)('several pairs on one Wi-Fi at once', () => {
  let tb: Testbed
  let source: string
  beforeAll(async () => {
    tb = await createTestbed({ phones: 2 })
    source = await seedStore('tiny', 11)
  }, 120_000)
  afterEach(async () => { await killAll() })
  afterAll(async () => {
    await tb?.down()
    cleanupTempDirs()
  })

  // An IT desk moving four phones: the four old phones on one machine, the four new ones on another, so
  // every receiver sees every sender (mDNS answers and the probe ports of one host).
  it.each(['mdns', 'sweep'] as const)('four pairs, one namespace each side, found by %s: each receiver finds its own sender, nobody spends another pair\'s guesses, all verified', async (via) => {
    const [p1, p2] = tb.phones
    for (const p of tb.phones) await tb.multicast(p, via === 'mdns')
    const base = randomInt(100, 996)
    const codes = [0, 1, 2, 3].map(i => `${base + i}-${randomInt(1000, 10000)}-${randomInt(1000, 10000)}`)
    const senders = codes.map((code, i) => spawnFerryIn(tb, p1, senderArgs(copyStore(source, `old-${i}`), { code, listen: false }), `sender ${code}`))
    const shown = await Promise.all(senders.map(async s => await s.waitEvent('code', 30_000)))
    expect(new Set(shown.map(e => e.discoveryPort)).size).toBe(4)
    const targets = codes.map((_, i) => newStorePath(`new-${i}`))
    const receivers = codes.map((code, i) => spawnFerryIn(tb, p2, receiverArgs(targets[i], { code }), `receiver ${code}`))
    await Promise.all(receivers.map(async (r, i) => { await expectVerified(senders[i], r, targets[i], source) }))
    for (const [i, r] of receivers.entries()) {
      expect(r.all('discovered').map(e => e.via)).toEqual([via])
      // It paired with, and only ever connected to, its own sender.
      expect(r.all('paired').map(e => e.peer), r.describe()).toEqual([shown[i].peerId])
      expect(new Set(r.all('connection').map(e => e.peer))).toEqual(new Set([shown[i].peerId]))
      // No sender saw a failed pairing attempt: no guess was spent by another pair's receiver.
      expect(senders[i].all('pair-failed'), senders[i].describe()).toEqual([])
    }
    console.log(`four pairs at once by ${via}: ${receivers.map(r => `${String(r.all('discovered')[0]?.via)} ${secs(Number(r.all('verified')[0].at))} s`).join(', ')}`)
  }, 240_000)
})
