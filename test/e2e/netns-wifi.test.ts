// `ferry send` and `ferry receive` on a testbed shaped like home Wi-Fi: two phones in their own network
// namespaces behind an access point that routes, 300 Mbit/s (tbf) out of each phone, 0.1% of packets
// dropped on the way in (iptables), and 2-5 ms each way through a user-space delaying relay in the
// access point (this kernel has no netem). The receiver finds the sender by mDNS across the bridge and
// pairs with the code; the relay's byte counts prove the transfer really went through it.
import { createConnection, createServer, type AddressInfo } from 'node:net'
import { randomBytes, randomInt } from 'node:crypto'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { checkNetnsSupport, createTestbed, type RelayHandle, type Testbed } from '../../scripts/lib/netns.js'
import { DelayRelay } from '../../scripts/lib/delay-relay.js'
import { cleanupTempDirs, copyStore, exportStore, inspect, killAll, newStorePath, seedStore, type FerryProcess } from './helpers/ferry-cli.js'
import { receiverArgs, SENDER_PORT, senderArgs, spawnFerryIn } from './helpers/netns-ferry.js'
import { killFixture } from './helpers/kill-fixture.js'
import { cannotRun } from '../helpers/cannot-run.js'

const support = await checkNetnsSupport()
const skip = cannotRun('the Wi-Fi namespace tests', support.ok ? undefined : support.reason ?? 'unknown')

describe('the delaying relay (loopback)', () => {
  it('carries bytes both ways intact and in order, holding each chunk at least the minimum delay', async () => {
    const echo = createServer(s => s.pipe(s))
    await new Promise<void>(resolve => echo.listen(0, '127.0.0.1', resolve))
    const relay = new DelayRelay({ delayMs: [3, 6], seed: 5 })
    try {
      const port = await relay.route('127.0.0.1', 0, '127.0.0.1', (echo.address() as AddressInfo).port)
      const payload = randomBytes(3 * 1024 * 1024)
      const sock = createConnection({ host: '127.0.0.1', port })
      const got: Buffer[] = []
      let n = 0
      const t0 = performance.now()
      let firstAt = 0
      const done = new Promise<void>((resolve, reject) => {
        sock.on('data', (d: Buffer) => { if (n === 0) firstAt = performance.now(); got.push(d); n += d.length; if (n >= payload.length) resolve() })
        sock.on('error', reject)
      })
      sock.write(payload)
      await done
      sock.destroy()
      expect(Buffer.concat(got).equals(payload)).toBe(true)
      // Two legs through the relay, each held >= 3 ms: a lower bound the relay guarantees, not a timing guess.
      expect(firstAt - t0).toBeGreaterThanOrEqual(6)
      const [stats] = relay.stats()
      expect(stats.connections[0].up).toBe(payload.length)
      expect(stats.connections[0].down).toBe(payload.length)
    } finally {
      await relay.close()
      echo.close()
    }
  })
})

describe.skipIf(skip)('ferry over a Wi-Fi-shaped namespace testbed', () => {
  let tb: Testbed
  let relay: RelayHandle
  let source: string
  let movable: string | undefined

  beforeAll(async () => {
    tb = await createTestbed({ phones: 2, routed: true })
    relay = await tb.startRelay({ delayMs: [2, 5], seed: 11 })
    for (const p of tb.phones) await tb.shape(p, { rateMbit: 300, loss: 0.001 })
    source = await seedStore('small', 3)
  }, 120_000)
  afterEach(async () => { await killAll() })
  afterAll(async () => {
    await relay?.stop().catch(() => {})
    await tb?.down()
    cleanupTempDirs()
  })

  it('routes phone-to-phone unicast through the access point', async () => {
    const [p1, p2] = tb.phones
    for (const p of [p1, p2]) {
      expect(await tb.exec(p, ['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0'])).toContain(`inet ${p.ip}/32`)
      expect(await tb.exec(p, ['ip', '-4', 'route', 'show'])).toContain(`${tb.subnet}.0/24 via ${tb.gateway}`)
    }
    expect(await tb.exec(p1, ['tc', 'qdisc', 'show', 'dev', 'eth0'])).toContain('rate 300Mbit')
    expect(await tb.exec(p1, ['iptables', '-S', 'INPUT'])).toContain('--probability 0.001')
  })

  it('drops a phone from the access point and takes it back; moves it to a new address with its routes', async () => {
    const p2 = tb.phones[1]
    await tb.linkDown(p2)
    expect(await tb.exec(p2, ['ip', '-o', 'link', 'show', 'eth0'])).toMatch(/NO-CARRIER|LOWERLAYERDOWN/)
    await tb.linkUp(p2)
    expect(await tb.exec(p2, ['ip', '-o', 'link', 'show', 'eth0'])).not.toMatch(/NO-CARRIER|LOWERLAYERDOWN/)
    const old = p2.ip
    await tb.setIp(p2, tb.freeIp())
    expect(p2.ip).not.toBe(old)
    const addrs = await tb.exec(p2, ['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0'])
    expect(addrs).toContain(`inet ${p2.ip}/32`)
    expect(addrs).not.toContain(`inet ${old}/`)
    // Removing the old address must not take the routes with it (that cut the phone off for good).
    const routes = await tb.exec(p2, ['ip', '-4', 'route', 'show'])
    expect(routes).toContain(`${tb.subnet}.0/24 via ${tb.gateway}`)
    expect(routes).toContain('224.0.0.0/4 dev eth0')
  })

  it('sends a small phone from one namespace to another: mDNS, the code, the relay, verified, exports equal', async () => {
    const [p1, p2] = tb.phones
    const store = copyStore(source)
    const target = newStorePath()
    const code = `${randomInt(100, 1000)}-${randomInt(1000, 10000)}-${randomInt(1000, 10000)}`
    const sender = spawnFerryIn(tb, p1, senderArgs(store, { code }), 'sender')
    const ready = await sender.waitEvent('code', 30_000)
    expect((ready.addrs as string[]).some(a => a.startsWith(`/ip4/${p1.ip}/tcp/${SENDER_PORT}/`))).toBe(true)
    // Installed before the receiver exists, so its very first dial goes through the relay.
    await relay.forward(p1, SENDER_PORT)
    const receiver = spawnFerryIn(tb, p2, receiverArgs(target, { code }), 'receiver')

    const discovered = await receiver.waitEvent('discovered', 30_000)
    expect(discovered.peer).toBe(ready.peerId)
    expect((discovered.addrs as string[]).some(a => a.includes(`/ip4/${p1.ip}/tcp/${SENDER_PORT}`))).toBe(true)
    const paired = await receiver.waitEvent('paired', 30_000)
    expect(paired.mode).toBe('code')
    const [rExit, sExit] = await Promise.all([receiver.waitExit(120_000), sender.waitExit(120_000)])
    expect(rExit.code, receiver.describe()).toBe(0)
    expect(sExit.code, sender.describe()).toBe(0)
    await receiver.waitEvent('verified', 1)
    await sender.waitEvent('verified', 1)

    const [srcReport, report, srcExport, exported] = await Promise.all([inspect(source), inspect(target), exportStore(source), exportStore(target)])
    expect(report.stats.messages).toBe(srcReport.stats.messages)
    expect(report.stats.mediaPresent).toBe(srcReport.stats.mediaPresent)
    expect(report.partialMedia).toEqual([])
    expect(exported === srcExport).toBe(true)

    // Every byte went through the relay: what it carried down is at least the media and the messages.
    const routes = await relay.stats()
    const down = routes.flatMap(r => r.connections).reduce((n, c) => n + c.down, 0)
    expect(down).toBeGreaterThan(srcReport.stats.mediaBytesPresent)
    const secs = (Number(sender.all('verified')[0].at) - Number(ready.at)) / 1000
    console.log(`Wi-Fi testbed (300 Mbit tbf, 0.1% loss, 2-5 ms relay): ${srcReport.stats.messages} messages + ${(srcReport.stats.mediaBytesPresent / 1e6).toFixed(1)} MB media, ` +
      `${(down / 1e6).toFixed(1)} MB through the relay on ${routes.flatMap(r => r.connections).length} connection(s); sender code-to-verified ${secs.toFixed(1)} s`)
  }, 180_000)

  /**
   * Starts a transfer of a smaller phone on a slower link (24 Mbit/s: a weak signal), so that a fault
   * lands mid-transfer, and resolves once the receiver reports a quarter of the media.
   */
  async function transferUnderWay (): Promise<{ sender: FerryProcess, receiver: FerryProcess, target: string }> {
    const [p1, p2] = tb.phones
    movable ??= await killFixture({ messages: 2000, textBytes: 600, mediaFiles: 3, mediaBytes: 1_500_000 })
    await tb.shape(p1, { rateMbit: 24 })
    const store = copyStore(movable)
    const target = newStorePath()
    const code = `${randomInt(100, 1000)}-${randomInt(1000, 10000)}-${randomInt(1000, 10000)}`
    const sender = spawnFerryIn(tb, p1, senderArgs(store, { code }), 'sender')
    await sender.waitEvent('code', 30_000)
    const receiver = spawnFerryIn(tb, p2, receiverArgs(target, { code }), 'receiver')
    const manifest = await receiver.waitEvent('manifest', 30_000)
    await receiver.waitFor('a quarter of the media', e => e.event === 'progress' && Number(e.mediaBytes) >= Number(manifest.totalMediaBytes) / 4, 60_000)
    return { sender, receiver, target }
  }

  async function expectVerifiedCopy (sender: FerryProcess, receiver: FerryProcess, target: string): Promise<void> {
    const [rExit, sExit] = await Promise.all([receiver.waitExit(120_000), sender.waitExit(120_000)])
    expect(rExit.code, receiver.describe()).toBe(0)
    expect(sExit.code, sender.describe()).toBe(0)
    expect(await exportStore(target) === await exportStore(movable!)).toBe(true)
  }

  it('the sender moves to a new address mid-transfer: the receiver finds it again by mDNS and resumes', async () => {
    const { sender, receiver, target } = await transferUnderWay()
    const mark = receiver.events.length
    await tb.setIp(tb.phones[0], tb.freeIp())
    const again = await receiver.waitFor('a resume pairing', e => e.event === 'paired' && e.mode === 'resume', 60_000, mark)
    // It noticed the loss and said why before it paired again.
    const interrupted = receiver.events.slice(mark, receiver.events.indexOf(again)).find(e => e.event === 'interrupted')
    expect(interrupted, receiver.describe()).toMatchObject({ code: expect.stringMatching(/^[A-Z_]+$/), message: expect.stringMatching(/\w/) })
    await expectVerifiedCopy(sender, receiver, target)
  }, 180_000)

  it('the receiver moves to a new address mid-transfer: it notices the dead link itself and redials', async () => {
    const { sender, receiver, target } = await transferUnderWay()
    const mark = receiver.events.length
    await tb.setIp(tb.phones[1], tb.freeIp())
    const interrupted = await receiver.waitFor('the interruption', e => e.event === 'interrupted', 60_000, mark)
    // Noticed by the transfer's own stall watch (nothing arrives while it waits), not libp2p's ping much later.
    expect(interrupted.code).toBe('TRUNCATED')
    expect(String(interrupted.message)).toMatch(/nothing from the other phone/)
    await receiver.waitFor('a resume pairing', e => e.event === 'paired' && e.mode === 'resume', 60_000, mark)
    await expectVerifiedCopy(sender, receiver, target)
  }, 180_000)
})
