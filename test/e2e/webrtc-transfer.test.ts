// `ferry send` / `ferry receive` over WebRTC (webrtc-direct) between two real processes on loopback,
// with no ICE servers (nothing leaves the machine): the same pairing, transfer, resume and
// verification as over TCP, and the same history at the end (equal exports).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createServer, type AddressInfo } from 'node:net'
import {
  cleanupTempDirs, copyStore, errorCode, exportStore, inspect, killAll, LOOPBACK, newStorePath, NO_MDNS, seedStore, senderReady,
  spawnFerry, startReceiver, startSender, type FerryJsonEvent, type FerryProcess
} from './helpers/ferry-cli.js'
import { killFixture } from './helpers/kill-fixture.js'
import { spawnFerryIn } from './helpers/netns-ferry.js'
import { checkNetnsSupport, createTestbed, type Testbed } from '../../scripts/lib/netns.js'
import { parseQrPayload } from '../../src/pairing/qr-payload.js'
import { kindOf } from '../../src/net/transports.js'
import { cannotRun } from '../helpers/cannot-run.js'

const CODE = '271-8281-8284'
const RTC_LOOPBACK = '/ip4/127.0.0.1/udp/0/webrtc-direct'
const webrtc = ['--transport', 'webrtc']

let tiny: string
let tinyExport: string
let seeding: Promise<void> | undefined
/** Seeds the tiny store once for both describe blocks (either may run alone with -t). */
async function seedTiny (): Promise<void> {
  seeding ??= (async () => {
    tiny = await seedStore('tiny', 5)
    tinyExport = await exportStore(tiny)
  })()
  await seeding
}
/** The tiny store's export after a transfer over TCP (the reference for the WebRTC one). */
let tcpExport: string | undefined

async function bothSucceed (sender: FerryProcess, receiver: FerryProcess): Promise<void> {
  const [r, s] = await Promise.all([receiver.waitExit(60_000), sender.waitExit(60_000)])
  expect(r.code, receiver.describe()).toBe(0)
  expect(s.code, sender.describe()).toBe(0)
  await receiver.waitEvent('verified', 1)
  await sender.waitEvent('verified', 1)
}

const connectionKinds = (p: FerryProcess): unknown[] => p.all('connection').map(e => e.transport)

afterAll(() => { cleanupTempDirs() })

describe('ferry send / receive over WebRTC (webrtc-direct, loopback, no ICE servers)', () => {
  beforeAll(seedTiny, 60_000)

  afterEach(async () => { await killAll() })

  it('--transport auto offers TCP and WebRTC in the code event and QR payload, and picks TCP', async () => {
    const sender = startSender(copyStore(tiny), { code: CODE, listen: `${LOOPBACK},${RTC_LOOPBACK}`, extra: ['--transport', 'auto'] })
    const ready = await senderReady(sender)
    const code = await sender.waitEvent('code')
    const qr = parseQrPayload(ready.qr)
    for (const addrs of [code.addrs as string[], qr.addrs]) {
      expect(addrs.map(a => kindOf(a)).sort()).toEqual(['tcp', 'webrtc'])
    }
    // What a browser phone dials: the webrtc-direct address with its certhash and the peer id.
    const rtc = code.webrtc as string[]
    expect(rtc).toEqual([expect.stringMatching(new RegExp(`^/ip4/127\\.0\\.0\\.1/udp/\\d+/webrtc-direct/certhash/u[A-Za-z0-9_-]+/p2p/${ready.peerId}$`))])
    expect(qr.addrs).toContain(rtc[0])

    const target = newStorePath()
    const receiver = startReceiver(target, { qr: ready.qr, extra: ['--transport', 'auto'] })
    await bothSucceed(sender, receiver)
    expect(connectionKinds(receiver)).toEqual(['tcp'])
    expect(connectionKinds(sender)).toEqual(['tcp'])
    tcpExport = await exportStore(target)
    expect(tcpExport === tinyExport).toBe(true)
  }, 60_000)

  it('a TCP-only receiver refuses a WebRTC-only offer; a WebRTC receiver pairs with the code and gets the same history as over TCP', async () => {
    const sender = startSender(copyStore(tiny), { code: CODE, listen: RTC_LOOPBACK, extra: webrtc })
    const ready = await senderReady(sender)
    expect(kindOf(ready.addr)).toBe('webrtc')
    expect(parseQrPayload(ready.qr).addrs.map(a => kindOf(a))).toEqual(['webrtc'])

    const refused = startReceiver(newStorePath(), { qr: ready.qr, extra: ['--transport', 'tcp'], name: 'tcp-only receiver' })
    const exit = await refused.waitExit(30_000)
    expect(exit.code, refused.describe()).toBe(1)
    expect(errorCode(refused.stderr)).toBe('NO_PEER')
    expect(refused.stderr).toMatch(/offers only webrtc addresses.*--transport webrtc or auto/)

    const target = newStorePath()
    const receiver = startReceiver(target, { code: CODE, peer: ready.addr, extra: webrtc })
    await bothSucceed(sender, receiver)
    expect(connectionKinds(receiver)).toEqual(['webrtc'])
    // The refused receiver never reached the sender: its only connection is the WebRTC receiver's.
    expect(connectionKinds(sender)).toEqual(['webrtc'])
    const exported = await exportStore(target)
    expect(exported === tinyExport).toBe(true)
    if (tcpExport !== undefined) expect(exported === tcpExport).toBe(true)
  }, 60_000)

  it('--transport auto falls back to WebRTC when no TCP address answers', async () => {
    const sender = startSender(copyStore(tiny), { code: CODE, listen: RTC_LOOPBACK, extra: webrtc })
    const ready = await senderReady(sender)
    // A TCP address where nothing listens (refused at once), offered first, as a firewalled phone would.
    const port = await new Promise<number>(resolve => {
      const srv = createServer().listen(0, '127.0.0.1', () => { const p = (srv.address() as AddressInfo).port; srv.close(() => resolve(p)) })
    })
    const deadTcp = `/ip4/127.0.0.1/tcp/${port}/p2p/${ready.peerId}`
    const target = newStorePath()
    const receiver = startReceiver(target, { code: CODE, peer: `${deadTcp},${ready.addr}`, extra: ['--transport', 'auto'] })
    await bothSucceed(sender, receiver)
    expect(connectionKinds(receiver)).toEqual(['webrtc'])
    expect((await exportStore(target)) === tinyExport).toBe(true)
  }, 60_000)

  it('resume over WebRTC: SIGKILL of the receiver, then of both phones, mid-media; restarted without the code (same sender address) it verifies, nothing lost or duplicated', async () => {
    // 60 MB sent at no more than 20 MB/s: progress comes every 0.5 s, so each kill lands mid-media
    // however fast the machine is (uncapped, a quiet machine moved it all between two progress events).
    const source = await killFixture({ messages: 3000, textBytes: 500, mediaFiles: 12, mediaBytes: 5_000_000 })
    const capped = ['--max-rate', '20']
    const [sourceExport, sourceReport] = await Promise.all([exportStore(source), inspect(source)])
    const store = copyStore(source)
    const target = newStorePath()
    let sender = startSender(store, { code: CODE, listen: RTC_LOOPBACK, extra: [...webrtc, ...capped] })
    const ready = await senderReady(sender)
    let receiver = startReceiver(target, { code: CODE, peer: ready.addr, extra: webrtc })
    const manifest = await receiver.waitEvent('manifest', 30_000)
    const totalMedia = manifest.totalMediaBytes as number
    const mediaPast = (f: number) => (e: FerryJsonEvent): boolean => e.event === 'progress' && (e.mediaBytes as number) >= f * totalMedia

    // 1. The receiver dies; the sender stays up. Restarted with neither code nor address nor
    //    --transport, it reads its pairing record and dials the WebRTC address it used.
    const first = await receiver.waitFor('progress past 10% of the media', mediaPast(0.1), 30_000)
    expect(first.mediaBytes as number).toBeLessThan(totalMedia)
    expect((await receiver.kill9()).signal).toBe('SIGKILL')
    const saved = (await inspect(target)).pairing as { addrs: string[] }
    expect(saved.addrs).toEqual([ready.addr])
    receiver = startReceiver(target, { name: 'receiver (restarted)' })
    expect((await receiver.waitEvent('paired', 30_000)).mode).toBe('resume')
    const resumedAt = await receiver.waitFor('the first progress after the restart', e => e.event === 'progress', 30_000)
    expect(resumedAt.mediaBytes as number).toBeGreaterThanOrEqual(first.mediaBytes as number) // resumed, not restarted
    expect(connectionKinds(receiver)).toEqual(['webrtc'])

    // 2. Both die. The sender restarts from its pairing record on the same UDP port with the same
    //    certificate, so the receiver's saved address is still right.
    const second = await receiver.waitFor('progress past 50% of the media', mediaPast(0.5), 30_000)
    expect(second.mediaBytes as number).toBeLessThan(totalMedia)
    expect((await receiver.kill9()).signal).toBe('SIGKILL')
    expect((await sender.kill9()).signal).toBe('SIGKILL')
    // No --listen, --code or --transport: everything comes from the pairing record (startSender would add a --listen).
    sender = spawnFerry(['send', '--store', store, NO_MDNS, '--json', ...capped], { name: 'sender (restarted)' })
    const resuming = await sender.waitEvent('resuming', 30_000)
    expect(resuming.addrs).toEqual([ready.addr])
    receiver = startReceiver(target, { name: 'receiver (restarted twice)' })
    expect((await receiver.waitEvent('paired', 30_000)).mode).toBe('resume')
    const again = await receiver.waitFor('the first progress after the second restart', e => e.event === 'progress', 30_000)
    expect(again.mediaBytes as number).toBeGreaterThanOrEqual(second.mediaBytes as number)
    await bothSucceed(sender, receiver)

    const [report, exported] = await Promise.all([inspect(target), exportStore(target)])
    expect(report.stats.messages).toBe(sourceReport.stats.messages)
    expect(report.stats.mediaPresent).toBe(sourceReport.stats.mediaPresent)
    expect(report.partialMedia).toEqual([])
    expect(exported === sourceExport).toBe(true)
  }, 120_000)
})

// Two phones in two network namespaces on a private bridge (scripts/lib/netns.ts): the receiver knows
// the sender only from its QR payload (mDNS off), and the only way in is the webrtc-direct address.
const netns = await checkNetnsSupport()
const noNetns = cannotRun('WebRTC across network namespaces', netns.ok ? undefined : netns.reason ?? 'unknown')

describe.skipIf(noNetns)('ferry send / receive over WebRTC across network namespaces', () => {
  let tb: Testbed | undefined
  afterEach(async () => { await killAll() })
  afterAll(async () => { await tb?.down() })

  it('pairs from the QR payload alone and moves the history intact', async () => {
    await seedTiny()
    tb = await createTestbed({ phones: 2 })
    const [p1, p2] = tb.phones
    const store = copyStore(tiny)
    const sender = spawnFerryIn(tb, p1, ['send', '--store', store, '--json', NO_MDNS, '--code', CODE, ...webrtc, '--listen', '/ip4/0.0.0.0/udp/0/webrtc-direct'], 'sender')
    const code = await sender.waitEvent('code', 30_000)
    const qr = parseQrPayload(code.qr as string)
    // Only its LAN address: loopback is not offered when the phone has a LAN.
    expect(qr.addrs).toEqual([expect.stringMatching(new RegExp(`^/ip4/${p1.ip.replace(/\./g, '\\.')}/udp/\\d+/webrtc-direct/certhash/`))])
    const target = newStorePath()
    const receiver = spawnFerryIn(tb, p2, ['receive', '--store', target, '--json', NO_MDNS, '--qr', code.qr as string, ...webrtc], 'receiver')
    await bothSucceed(sender, receiver)
    expect(connectionKinds(receiver)).toEqual(['webrtc'])
    expect((await exportStore(target)) === tinyExport).toBe(true)
  }, 60_000)
})
