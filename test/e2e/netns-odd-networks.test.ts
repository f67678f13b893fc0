// Networks that are not a plain /24, in the namespace testbed: phones whose DHCP got no answer (only a
// self-assigned 169.254/16 address), a network wider than the /24 the sweep asks, and phones with no IPv4
// address at all (IPv6 link-local only). What each phone says there, and that the QR code still pairs.
// Every search here runs inside a namespace this test made (spawnFerryIn sets FERRY_MDNS_NETNS_ONLY).
import { randomInt } from 'node:crypto'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { checkNetnsSupport, createTestbed, type Phone, type Testbed } from '../../scripts/lib/netns.js'
import { cleanupTempDirs, copyStore, errorCode, exportStore, killAll, newStorePath, seedStore, type FerryProcess } from './helpers/ferry-cli.js'
import { receiverArgs, senderArgs, spawnFerryIn } from './helpers/netns-ferry.js'
import { cannotRun } from '../helpers/cannot-run.js'

const support = await checkNetnsSupport()
const skip = cannotRun('the netns tests of networks that are not a plain /24', support.ok ? undefined : support.reason ?? 'no network namespaces')

const newCode = (): string => `${randomInt(100, 1000)}-${randomInt(1000, 10000)}-${randomInt(1000, 10000)}`
/** The way round the search every NO_PEER of a search ends with. */
const WAY_ROUND = /Scanning the old phone's QR code \(--qr\) or passing the address it prints \(--peer\) reaches it without searching\.$/

/** Gives the phone this IPv4 address alone (or none), as its DHCP or lack of one would. */
async function readdress (tb: Testbed, p: Phone, cidr: string | undefined): Promise<void> {
  await tb.exec(p, ['ip', '-4', 'addr', 'flush', 'dev', p.ifname])
  if (cidr !== undefined) await tb.exec(p, ['ip', 'addr', 'add', cidr, 'dev', p.ifname])
  await tb.exec(p, ['ip', 'route', 'replace', '224.0.0.0/4', 'dev', p.ifname])
  p.ip = cidr?.split('/')[0] ?? ''
}

async function expectVerified (sender: FerryProcess, receiver: FerryProcess, target: string, source: string): Promise<void> {
  const [rExit, sExit] = await Promise.all([receiver.waitExit(120_000), sender.waitExit(120_000)])
  expect(rExit.code, receiver.describe()).toBe(0)
  expect(sExit.code, sender.describe()).toBe(0)
  expect(await exportStore(target) === await exportStore(source)).toBe(true)
}

describe.skipIf(skip)('networks that are not a plain /24', () => {
  let source: string
  beforeAll(async () => { source = await seedStore('tiny', 5) }, 120_000)
  afterEach(async () => { await killAll() })
  afterAll(() => { cleanupTempDirs() })

  describe('no DHCP answer: both phones on self-assigned 169.254/16 addresses', () => {
    let tb: Testbed
    beforeAll(async () => {
      tb = await createTestbed({ phones: 2 })
      const [p1, p2] = tb.phones
      await readdress(tb, p1, `169.254.${randomInt(1, 255)}.11/16`)
      await readdress(tb, p2, `169.254.${randomInt(1, 255)}.12/16`)
    }, 120_000)
    afterAll(async () => { await tb?.down() })

    it('the sender announces and puts in its QR code its link-local address, says it has no LAN address, and pairs by mDNS and by the QR code', async () => {
      const [p1, p2] = tb.phones
      for (const how of ['code', 'qr'] as const) {
        const code = newCode()
        const target = newStorePath()
        const sender = spawnFerryIn(tb, p1, senderArgs(copyStore(source), { code, listen: false }), 'sender')
        const shown = await sender.waitEvent('code', 30_000)
        const addrs = shown.addrs as string[]
        expect(addrs.length).toBeGreaterThan(0)
        expect(addrs.every(a => a.startsWith(`/ip4/${p1.ip}/tcp/`)), String(addrs)).toBe(true)
        expect(String(shown.qr)).toContain(`/ip4/${p1.ip}/tcp/`)
        expect(String(shown.qr)).not.toContain('127.0.0.1')
        const noLan = await sender.waitEvent('no-lan', 30_000)
        expect(noLan.network).toBe('link-local')
        expect(String(noLan.message)).toContain(`only the self-assigned ${p1.ip} (no DHCP answer)`)
        const args = how === 'code'
          ? receiverArgs(target, { code })
          : ['receive', '--store', target, '--json', '--qr', String(shown.qr), '--no-mdns', '--no-sweep']
        const receiver = spawnFerryIn(tb, p2, args, `receiver by ${how}`)
        await expectVerified(sender, receiver, target, source)
        const connection = receiver.all('connection')[0]
        expect(String(connection.addr)).toContain(`/ip4/${p1.ip}/tcp/`)
        if (how === 'code') expect(receiver.all('discovered').map(e => e.via)).toEqual(['mdns'])
      }
    }, 240_000)

    it('a receiver does not dial the 127.0.0.1 another host announces: it says what it tried and the way round the search', async () => {
      const [p1, p2] = tb.phones
      const code = newCode()
      // Pinned to loopback, the sender announces 127.0.0.1 alone over mDNS, which the multicast route
      // still carries to the other phone.
      const sender = spawnFerryIn(tb, p1, [...senderArgs(copyStore(source), { code, listen: false }), '--listen', '/ip4/127.0.0.1/tcp/0'], 'sender')
      const shown = await sender.waitEvent('code', 30_000)
      expect(shown.addrs as string[]).toEqual([expect.stringMatching(/^\/ip4\/127\.0\.0\.1\/tcp\//)])
      const receiver = spawnFerryIn(tb, p2, [...receiverArgs(newStorePath(), { code }), '--timeout', '8'], 'receiver')
      const exit = await receiver.waitExit(30_000)
      expect(exit.code, receiver.describe()).toBe(1)
      expect(errorCode(receiver.stderr)).toBe('NO_PEER')
      expect(receiver.all('discovered')).toEqual([])
      expect(receiver.all('interrupted')).toEqual([])
      expect(receiver.all('sweeping')[0].subnets).toEqual([])
      const message = String(receiver.all('error')[0].message)
      expect(message).toContain(`only the self-assigned ${p2.ip} (no DHCP answer), so only mDNS can find the old phone here`)
      expect(message).not.toContain('127.0.0.1')
      expect(message).toMatch(WAY_ROUND)
    }, 60_000)
  })

  describe('a network wider than /24, multicast dropped by both phones', () => {
    let tb: Testbed
    let net: string
    beforeAll(async () => {
      tb = await createTestbed({ phones: 2 })
      const [a, b, c] = tb.subnet.split('.').map(Number)
      const base = c & ~3
      net = `${a}.${b}.${base}.0/22`
      const [p1, p2] = tb.phones
      // The sender in the /24 next to the receiver's: on-link, but outside the part the sweep asks.
      await readdress(tb, p1, `${a}.${b}.${base + 1}.11/22`)
      await readdress(tb, p2, `${a}.${b}.${base}.12/22`)
      for (const p of tb.phones) await tb.multicast(p, false)
    }, 120_000)
    afterAll(async () => { await tb?.down() })

    it('the receiver names the range it sweeps, blames the network\'s size rather than isolation, and the QR code pairs', async () => {
      const [p1, p2] = tb.phones
      const code = newCode()
      const swept = net.replace(/\.\d+\.0\/22$/, `.${p2.ip.split('.')[2]}.0/24`)
      const sender = spawnFerryIn(tb, p1, senderArgs(copyStore(source), { code, listen: false }), 'sender')
      const shown = await sender.waitEvent('code', 30_000)
      expect(sender.all('no-lan')).toEqual([])
      const searching = spawnFerryIn(tb, p2, [...receiverArgs(newStorePath(), { code }), '--timeout', '6'], 'receiver by the code')
      expect((await searching.waitEvent('sweeping', 30_000)).subnets).toEqual([`${swept} (eth0, part of ${net})`])
      const round = await searching.waitEvent('swept', 30_000)
      expect(round.subnets).toEqual([{ subnet: swept, network: net, ifname: 'eth0', hosts: 253, probed: 253, reached: 0, ferry: 0 }])
      expect((await searching.waitExit(30_000)).code, searching.describe()).toBe(1)
      expect(errorCode(searching.stderr)).toBe('NO_PEER')
      const message = String(searching.all('error')[0].message)
      expect(message).toContain(`No device answered in ${swept}, the part searched of a larger network (${net}): the old phone may be on the rest of it`)
      expect(message).not.toMatch(/isolation|hotspot/)
      expect(message).toMatch(WAY_ROUND)
      // The way named works: the QR code reaches the old phone on the rest of the network.
      const target = newStorePath()
      const receiver = spawnFerryIn(tb, p2, ['receive', '--store', target, '--json', '--qr', String(shown.qr), '--no-mdns', '--no-sweep'], 'receiver by the QR code')
      await expectVerified(sender, receiver, target, source)
    }, 120_000)

    it('in words: the range swept, then the network\'s size and the way round the search after the first round', async () => {
      const [, p2] = tb.phones
      const receiver = spawnFerryIn(tb, p2, ['receive', '--store', newStorePath(), '--code', newCode(), '--timeout', '5'], 'receiver')
      expect((await receiver.waitExit(30_000)).code, receiver.describe()).toBe(1)
      const swept = `${p2.ip.split('.').slice(0, 3).join('.')}.0/24`
      expect(receiver.stderr).toContain(`asking the hosts of ${swept} (eth0, part of ${net})...\n`)
      expect(receiver.stderr).toContain(`No device answered in ${swept}, the part searched of a larger network (${net}): the old phone may be on the rest of it. ` +
        'Scanning the old phone\'s QR code (--qr) or passing the address it prints (--peer) reaches it without searching. Still looking...\n')
      expect(receiver.stderr).not.toMatch(/isolation|hotspot/)
    }, 60_000)
  })

  describe('no IPv4 address at all, IPv6 link-local only', () => {
    let tb: Testbed
    beforeAll(async () => {
      tb = await createTestbed({ phones: 1 })
      await readdress(tb, tb.phones[0], undefined)
    }, 120_000)
    afterAll(async () => { await tb?.down() })

    it('the receiver says it has no IPv4 address to search from and the way round, never isolation', async () => {
      const [p1] = tb.phones
      const receiver = spawnFerryIn(tb, p1, ['receive', '--store', newStorePath(), '--code', newCode(), '--timeout', '5'], 'receiver')
      expect((await receiver.waitExit(30_000)).code, receiver.describe()).toBe(1)
      expect(errorCode(receiver.stderr)).toBe('NO_PEER')
      expect(receiver.stderr).not.toContain('asking the hosts of')
      expect(receiver.stderr).toContain('This phone has no IPv4 address on any network, so searching cannot find the old phone. ' +
        'Scanning the old phone\'s QR code (--qr) or passing the address it prints (--peer) reaches it without searching. Still looking...\n')
      expect(receiver.stderr).not.toMatch(/isolation|hotspot/)
      expect(receiver.stderr).toMatch(/found within 5 s \(mDNS found nobody\)\. This phone has no IPv4 address on any network, so searching cannot find the old phone\..*reaches it without searching\. \[NO_PEER\]\n$/s)
    }, 60_000)

    it('a sender there says no other phone can reach it', async () => {
      const [p1] = tb.phones
      const sender = spawnFerryIn(tb, p1, [...senderArgs(copyStore(source), { code: newCode(), listen: false }), '--timeout', '3'], 'sender')
      expect((await sender.waitEvent('no-lan', 30_000)).network).toBe('none')
      await sender.waitExit(30_000)
    }, 60_000)
  })
})
