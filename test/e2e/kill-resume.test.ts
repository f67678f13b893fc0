// SIGKILL of a real `ferry receive` / `ferry send` process mid-transfer, then a restart WITHOUT the code:
// the two phones reconnect with the resume token, the transfer ends verified, nothing is lost or
// duplicated, and the restarted side resumes exactly at the receiver's committed checkpoint.
//
// The receiver reaches the sender through a pacing relay on loopback (helpers/throttle-proxy.ts), so a
// transfer lasts a few seconds on any machine and each kill lands where its seeded fraction says; the
// relay also counts the bytes on the wire, which measures what each kill cost (bytes sent again).
// Kill points are drawn from FERRY_E2E_SEED (printed below) to reproduce a run.
import { closeSync, openSync, readdirSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  cleanupTempDirs, copyStore, exportStore, inspect, killAll, median, newStorePath, senderReady, startReceiver, startSender,
  tcpPort, type FerryJsonEvent, type FerryProcess, type InspectReport
} from './helpers/ferry-cli.js'
import { killFixture } from './helpers/kill-fixture.js'
import { ThrottleProxy } from './helpers/throttle-proxy.js'

const SEED = Number(process.env.FERRY_E2E_SEED ?? 7321)
const CODE = '314-1592-6535'
/** Relay pace: the fixture (~22 MB on the wire) then takes ~3.5 s, with a progress event every 0.5 s. */
const BYTES_PER_SEC = 6_500_000
const SHAPE = { messages: 10_000, textBytes: 1000, mediaFiles: 4, mediaBytes: 3_000_000 }

type Who = 'receiver' | 'sender' | 'both'
type Phase = 'messages' | 'media'

interface Position { messages: number, mediaBytes: number }

interface KillRecord {
  who: Who
  /** Where the kill was aimed, and where it landed (the phase of the progress event it was fired on). */
  phase: Phase
  landed: Phase | 'done'
  fraction: number
  /** The receiver's progress event the kill was fired on. */
  trigger: Position
  /** Committed on the receiver when the killed side was restarted (ferry inspect). */
  checkpoint: Position
  /** The restarted receiver's first progress (receiver kills): where it says it resumes. */
  receiverResume?: Position
  /** What the sender skipped after the restart (what the receiver held), from its verified event. */
  senderResume: Position
  /** Sender -> receiver bytes on the wire before the restart, after it, and their sum minus a clean run. */
  wireBefore: number
  wireAfter: number
  wireResent: number
  /** The sender's final progress (it should report the whole transfer done). */
  senderFinal: Position
  total: Position
}

const records: KillRecord[] = []
const proxies: ThrottleProxy[] = []
let source: string
let sourceExport: string
let sourceReport: InspectReport
let baselineWire = 0

/** mulberry32: a tiny seeded PRNG for the kill points. */
function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
const rand = prng(SEED)
const between = (lo: number, hi: number): number => Number((lo + (hi - lo) * rand()).toFixed(3))

const pos = (e: FerryJsonEvent): Position => ({ messages: e.messages as number, mediaBytes: e.mediaBytes as number })
const isProgress = (e: FerryJsonEvent): boolean => e.event === 'progress'

/** What a receiver store (a new phone's) holds: its messages, and its complete and partial media. */
function checkpointOf (r: InspectReport): Position {
  return { messages: r.stats.messages, mediaBytes: r.stats.mediaBytesPresent + r.partialMedia.reduce((n, p) => n + p.length, 0) }
}

async function startPair (): Promise<{ sender: FerryProcess, receiver: FerryProcess, store: string, target: string, proxy: ThrottleProxy, port: number }> {
  const store = copyStore(source)
  const target = newStorePath()
  const sender = startSender(store, { code: CODE })
  const ready = await senderReady(sender)
  const port = tcpPort(ready.addr)
  const proxy = await ThrottleProxy.start(port, BYTES_PER_SEC)
  proxies.push(proxy)
  const receiver = startReceiver(target, { code: CODE, peer: proxy.addr(ready.peerId) })
  return { sender, receiver, store, target, proxy, port }
}

async function expectSameHistory (target: string): Promise<void> {
  const [report, exported] = await Promise.all([inspect(target), exportStore(target)])
  expect(report.stats.messages).toBe(sourceReport.stats.messages)
  expect(report.conversations.map(c => [c.id, c.messages])).toEqual(sourceReport.conversations.map(c => [c.id, c.messages]))
  expect(report.stats.mediaPresent).toBe(sourceReport.stats.mediaPresent)
  expect(report.partialMedia).toEqual([])
  expect(report.transfers).toEqual([]) // verified transfers leave no unfinished checkpoint behind
  expect(exported.length).toBe(sourceExport.length)
  expect(exported === sourceExport).toBe(true)
}

/** One transfer, one SIGKILL of `who` on the receiver's first progress past `fraction` of `phase`, one restart. */
async function killAndResume (who: Who, phase: Phase, fraction: number): Promise<KillRecord> {
  const { sender: firstSender, receiver: firstReceiver, store, target, proxy, port } = await startPair()
  let sender = firstSender
  let receiver = firstReceiver
  const manifest = await receiver.waitEvent('manifest', 30_000)
  const total: Position = { messages: manifest.totalMessages as number, mediaBytes: manifest.totalMediaBytes as number }
  const past = (e: FerryJsonEvent): boolean => isProgress(e) && (phase === 'messages'
    ? (e.messages as number) >= fraction * total.messages
    : (e.mediaBytes as number) >= fraction * total.mediaBytes)
  const trigger = await receiver.waitFor(`progress past ${fraction} of the ${phase}`, past, 30_000)
  const lastReported = pos(trigger)
  let senderFrom: number
  let receiverResume: Position | undefined
  let restartedAt: number
  // The receiver's events from the kill on; and where its events before the checkpoint end.
  const receiverMark = receiver.events.length
  let checkpointAt = Infinity
  if (who === 'receiver') {
    const senderMark = sender.events.length
    const exit = await receiver.kill9()
    expect(exit.signal).toBe('SIGKILL')
    // The sender notices the dead link and waits for the receiver to come back.
    await sender.waitEvent('interrupted', 20_000, senderMark)
    const checkpoint = checkpointOf(await inspect(target))
    restartedAt = performance.now()
    senderFrom = sender.events.length
    receiver = startReceiver(target, { name: 'receiver (restarted)' }) // no --code, no --peer: its pairing record
    const paired = await receiver.waitEvent('paired', 20_000)
    expect(paired.mode).toBe('resume')
    const first = await receiver.waitFor('the first progress after the restart', isProgress, 20_000)
    receiverResume = pos(first)
    return await finish(checkpoint)
  } else if (who === 'both') {
    // Both phones go down at once (a power cut on each): both restart without the code.
    expect((await receiver.kill9()).signal).toBe('SIGKILL')
    expect((await sender.kill9()).signal).toBe('SIGKILL')
    const checkpoint = checkpointOf(await inspect(target))
    restartedAt = performance.now()
    senderFrom = 0
    sender = startSender(store, { listen: `/ip4/127.0.0.1/tcp/${port}`, name: 'sender (restarted)' })
    await sender.waitEvent('resuming', 20_000)
    receiver = startReceiver(target, { name: 'receiver (restarted)' }) // its pairing record: the token and the address
    const paired = await receiver.waitEvent('paired', 30_000)
    expect(paired.mode).toBe('resume')
    const first = await receiver.waitFor('the first progress after both restarts', isProgress, 20_000)
    receiverResume = pos(first)
    return await finish(checkpoint)
  } else {
    const exit = await sender.kill9()
    expect(exit.signal).toBe('SIGKILL')
    // The receiver (still running) notices and keeps redialling the stored address.
    checkpointAt = receiver.events.indexOf(await receiver.waitEvent('interrupted', 20_000, receiverMark))
    const checkpoint = checkpointOf(await inspect(target))
    const record = (await inspect(store)).pairing as { role: string, addrs: string[] }
    expect(record.role).toBe('sender')
    expect(record.addrs.map(a => tcpPort(a))).toContain(port) // what a restart without --listen listens on
    restartedAt = performance.now()
    senderFrom = 0
    // Same port, on loopback only (see the report: without --listen it would bind 0.0.0.0:<port>).
    sender = startSender(store, { listen: `/ip4/127.0.0.1/tcp/${port}`, name: 'sender (restarted)' })
    const resuming = await sender.waitEvent('resuming', 20_000)
    expect((resuming.addrs as string[]).map(a => tcpPort(a))).toContain(port)
    const paired = await sender.waitEvent('paired', 30_000)
    expect(paired.mode).toBe('resume')
    const rePaired = await receiver.waitFor('the receiver\'s resume pairing', e => e.event === 'paired' && e.mode === 'resume', 20_000, receiverMark)
    const first = await receiver.waitFor('the receiver\'s first progress after the reconnect', isProgress, 20_000, receiver.events.indexOf(rePaired))
    receiverResume = pos(first)
    return await finish(checkpoint)
  }

  async function finish (checkpoint: Position): Promise<KillRecord> {
    // The committed count never goes down: reported before the kill <= committed at the kill.
    expect(checkpoint.messages).toBeGreaterThanOrEqual(lastReported.messages)
    expect(checkpoint.mediaBytes).toBeGreaterThanOrEqual(lastReported.mediaBytes)
    await sender.waitEvent('manifest', 30_000, senderFrom)
    const [rExit, sExit] = await Promise.all([receiver.waitExit(60_000), sender.waitExit(60_000)])
    expect(rExit.code, receiver.describe()).toBe(0)
    expect(sExit.code, sender.describe()).toBe(0)
    const rVerified = await receiver.waitEvent('verified')
    const sVerified = await sender.waitEvent('verified', 1, senderFrom)
    // Its last session's own counts: what it skipped, which the receiver held (stats are the whole transfer's).
    const stats = sVerified.session as { messagesHeld: number, mediaBytesSent: number }
    // What the receiver reports as done never goes down, across the kill and the restart: its progress
    // events up to the kill, the checkpoint found after it, then its progress events after the restart.
    const order = [
      ...firstReceiver.events.slice(0, checkpointAt).filter(isProgress).map(pos),
      checkpoint,
      ...(receiver === firstReceiver ? receiver.events.slice(checkpointAt) : receiver.events).filter(isProgress).map(pos)
    ]
    for (let i = 1; i < order.length; i++) {
      const why = `progress ${JSON.stringify(order[i])} after ${JSON.stringify(order[i - 1])}`
      expect(order[i].messages, why).toBeGreaterThanOrEqual(order[i - 1].messages)
      expect(order[i].mediaBytes, why).toBeGreaterThanOrEqual(order[i - 1].mediaBytes)
    }
    expect((rVerified.progress as Position).messages).toBe(total.messages)
    const wireBefore = proxy.connections.filter(c => c.openedAt < restartedAt).reduce((n, c) => n + c.down, 0)
    const wireAfter = proxy.bytesDownSince(restartedAt)
    await expectSameHistory(target)
    return {
      who,
      phase,
      landed: lastReported.messages < total.messages ? 'messages' : lastReported.mediaBytes < total.mediaBytes ? 'media' : 'done',
      fraction,
      trigger: lastReported,
      checkpoint,
      receiverResume,
      senderResume: { messages: stats.messagesHeld, mediaBytes: total.mediaBytes - stats.mediaBytesSent },
      wireBefore,
      wireAfter,
      wireResent: wireBefore + wireAfter - baselineWire,
      senderFinal: sVerified.progress as Position,
      total
    }
  }
}

/**
 * What a kill may cost on the wire: the sender keeps at most a window (2 MiB) unacknowledged and the
 * receiver acknowledges only what it committed, so everything beyond that plus one chunk, a new
 * handshake and the manifest would mean the resume started further back than the checkpoint.
 */
const MAX_WIRE_RESENT = 2 * 1024 * 1024 + 256 * 1024 + 128 * 1024

function check (r: KillRecord): void {
  // The kill landed where it was meant to, mid-transfer.
  expect(r.landed, `aimed at the ${r.phase}, landed at ${JSON.stringify(r.trigger)}`).toBe(r.phase)
  // The sender resumes at the receiver's checkpoint: every committed message and media byte (whole
  // files and the committed prefix of a partial one) skipped, nothing re-sent; and it still reports the
  // whole transfer as done at the end.
  expect(r.senderResume, `${r.who} kill: what the sender skipped after the restart vs the receiver's checkpoint`).toEqual(r.checkpoint)
  expect(r.senderFinal).toMatchObject(r.total)
  if (r.receiverResume !== undefined) {
    // The restarted receiver claims at least what it committed (messages and whole + partial media):
    // its first progress comes once it knows what it holds, and may already count some of this session.
    expect(r.receiverResume.messages).toBeGreaterThanOrEqual(r.checkpoint.messages)
    expect(r.receiverResume.mediaBytes).toBeGreaterThanOrEqual(r.checkpoint.mediaBytes)
  }
  expect(r.wireResent, `${r.who} kill re-sent ${r.wireResent} bytes on the wire`).toBeLessThanOrEqual(MAX_WIRE_RESENT)
}

const fmt = (n: number): string => n >= 1e6 ? `${(n / 1e6).toFixed(2)} MB` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} kB` : `${n} B`

describe('kill -9 mid-transfer, restart without the code', () => {
  beforeAll(async () => {
    source = await killFixture(SHAPE)
    ;[sourceExport, sourceReport] = await Promise.all([exportStore(source), inspect(source)])
    console.log(`kill tests: FERRY_E2E_SEED=${SEED}; source ${sourceReport.stats.messages} messages, ${fmt(sourceReport.stats.mediaBytesPresent)} media; relay ${fmt(BYTES_PER_SEC)}/s`)
  }, 120_000)

  afterEach(async () => {
    await killAll()
    for (const p of proxies.splice(0)) await p.close()
  })

  afterAll(() => {
    cleanupTempDirs()
    if (records.length === 0) return
    const rows = records.map(r =>
      `  ${r.who.padEnd(8)} ${r.landed.padEnd(8)} @${r.fraction.toFixed(2)}  committed ${String(r.checkpoint.messages).padStart(5)} msgs + ${fmt(r.checkpoint.mediaBytes).padStart(9)}` +
      `  sender skipped ${String(r.senderResume.messages).padStart(5)} msgs + ${fmt(r.senderResume.mediaBytes).padStart(9)}` +
      `  wire before ${fmt(r.wireBefore).padStart(9)} after ${fmt(r.wireAfter).padStart(9)}  re-sent on the wire ${fmt(r.wireResent)}`)
    const resent = records.map(r => r.wireResent)
    console.log(`bytes re-sent per kill (wire, sender -> receiver, vs a clean run of ${fmt(baselineWire)}):\n${rows.join('\n')}\n` +
      `  max ${fmt(Math.max(...resent))}, median ${fmt(median(resent))} over ${resent.length} kills; sent again past the receiver's checkpoint: ` +
      `max ${Math.max(...records.map(r => r.checkpoint.messages - r.senderResume.messages))} messages, ${fmt(Math.max(...records.map(r => r.checkpoint.mediaBytes - r.senderResume.mediaBytes)))} media`)
  })

  it('a clean run through the relay (the baseline for bytes re-sent)', async () => {
    const { sender, receiver, target, proxy } = await startPair()
    const [rExit, sExit] = await Promise.all([receiver.waitExit(60_000), sender.waitExit(60_000)])
    expect(rExit.code, receiver.describe()).toBe(0)
    expect(sExit.code, sender.describe()).toBe(0)
    baselineWire = proxy.bytesDown
    // The relay must slow the transfer enough for a kill to land mid-way: several progress events.
    expect(receiver.all('progress').length).toBeGreaterThanOrEqual(4)
    await expectSameHistory(target)
  }, 90_000)

  // Fractions stay clear of each phase's end: progress events come every 0.5 s, a third of the messages
  // or a quarter of the media at the relay's pace, and the kill fires on the first one past the fraction.
  const receiverKills: Array<[Phase, number]> = [['messages', between(0.15, 0.5)], ['media', between(0.1, 0.35)], ['media', between(0.4, 0.6)]]
  for (const [phase, fraction] of receiverKills) {
    it(`SIGKILL of the receiver in the ${phase} at ${fraction}: restarted without the code it resumes and verifies`, async () => {
      const r = await killAndResume('receiver', phase, fraction)
      records.push(r)
      check(r)
    }, 90_000)
  }

  it('SIGKILL of both phones in the media: both restarted without the code, they resume and verify', async () => {
    const r = await killAndResume('both', 'media', between(0.2, 0.5))
    records.push(r)
    check(r)
  }, 90_000)

  const senderKills: Array<[Phase, number]> = [['messages', between(0.15, 0.5)], ['media', between(0.2, 0.6)]]
  for (const [phase, fraction] of senderKills) {
    it(`SIGKILL of the sender in the ${phase} at ${fraction}: restarted without the code on the same port, it resumes`, async () => {
      const r = await killAndResume('sender', phase, fraction)
      records.push(r)
      check(r)
    }, 90_000)
  }
})

describe('kill -9 inside a video, whose copy on the old phone then goes bad past what came', () => {
  afterEach(async () => { await killAll() })
  afterAll(() => cleanupTempDirs())

  it('the restarted receiver keeps every chat, fetches the video again whole and verifies with it left out as damaged', async () => {
    const VIDEO = 4_000_000
    const store = copyStore(await killFixture({ messages: 300, textBytes: 200, mediaFiles: 2, mediaBytes: VIDEO }))
    const target = newStorePath()
    const sender = startSender(store, { code: '603-2254-7108', extra: ['--timeout', '120', '--max-rate', '1'] })
    const ready = await senderReady(sender)
    const receiver = startReceiver(target, { code: '603-2254-7108', peer: ready.addr })
    await receiver.waitFor('a video under way', e => isProgress(e) && (e.mediaBytes as number) > 1_000_000, 60_000)
    const mark = sender.events.length
    expect((await receiver.kill9()).signal).toBe('SIGKILL')
    await sender.waitEvent('interrupted', 20_000, mark)
    expect((await inspect(target)).partialMedia).toHaveLength(1)
    // Both videos go bad on the old phone past the part that came (a bad sector, the app rewriting them).
    const media = join(store, 'media')
    for (const d of readdirSync(media).filter(d => /^[0-9a-f]{2}$/.test(d))) {
      for (const f of readdirSync(join(media, d))) {
        const fd = openSync(join(media, d, f), 'r+')
        writeSync(fd, Buffer.alloc(100_000, 7), 0, 100_000, 3_000_000)
        closeSync(fd)
      }
    }
    const again = startReceiver(target, { name: 'receiver (restarted)' })
    const exit = await again.waitExit(90_000)
    const report = await inspect(target)
    expect(report.stats.messages, again.describe()).toBe(300)
    expect(exit.code, again.describe()).toBe(0)
    // It said why it reconnected, in words, and counted both videos as the old phone's damaged copies.
    const refetch = again.all('interrupted').find(e => e.code === 'TRUNCATED' && String(e.message).includes('the part this phone kept from an earlier attempt'))
    expect(refetch, again.describe()).toBeDefined()
    expect((again.all('verified')[0].stats as { mediaFilesDamaged: number }).mediaFilesDamaged).toBe(2)
    expect(report.stats.mediaPresent).toBe(0)
    expect(report.partialMedia).toEqual([])
    expect((await sender.waitExit(30_000)).code, sender.describe()).toBe(0)
  }, 240_000)
})
