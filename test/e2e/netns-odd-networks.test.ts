// Networks that are not a plain /24, in the namespace testbed: phones whose DHCP got no answer (only a
// self-assigned 169.254/16 address). What each phone says there, and that the QR code still pairs.
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

    it('a receiver does not dial the 127.0.0.1 another host announces', async () => {
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
      expect(String(receiver.all('error')[0].message)).not.toContain('127.0.0.1')
    }, 60_000)
  })
})
