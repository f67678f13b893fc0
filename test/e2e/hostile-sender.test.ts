// A hostile old phone over real libp2p against a real `ferry receive` process: it pairs honestly, then
// lies about sizes, hashes, counts or digests, or floods frames without waiting for acks. The receiver
// refuses with a typed error, its store stays consistent (nothing shown as verified, no .part file in
// the content-addressed media folder), and an honest sender afterwards completes the transfer.
// The in-memory versions of every lie are in test/protocol/hostile-sender.test.ts; this file proves the
// same refusals reach a real process through Noise/yamux, its exit code and its store on disk.
import { readFileSync } from 'node:fs'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { SqliteChatStore } from '../../src/store/sqlite-store.js'
import { buildManifest, manifestFrames } from '../../src/protocol/manifest.js'
import { PROTOCOL_VERSION } from '../../src/protocol/options.js'
import { ManifestMedia } from '../../src/protocol/manifest-media.js'
import { decodeFrame, encodeFrame, encodeMediaChunk, type EncodedFrame, type ferry } from '../../src/wire/codec.js'
import { SenderMachine } from '../../src/protocol/sender.js'
import { runSender } from '../../src/protocol/session.js'
import { prefix, readFrames } from '../../src/wire/framing.js'
import type { StreamDuplex } from '../../src/net/stream-duplex.js'
import {
  cleanupTempDirs, copyStore, errorCode, exportStore, inspect, killAll, newStorePath, seedStore, senderReady, startReceiver,
  startSender, type FerryProcess
} from './helpers/ferry-cli.js'
import { lyingSender, startHostileSender, type HostileSender, type Serve } from './helpers/hostile-sender.js'
import { auditMedia, fingerprint } from './helpers/store-check.js'

const CODE = '602-2140-7629'
/** Flood size: enough to show flat memory; FERRY_FLOOD_MB raises it for the gauntlet. */
const FLOOD_BYTES = Number(process.env.FERRY_FLOOD_MB ?? 96) * 1024 * 1024

let seeded: string
let source: SqliteChatStore
let sourceExport: string
const hostiles: HostileSender[] = []

async function hostile (serve: Serve): Promise<HostileSender> {
  const h = await startHostileSender(CODE, serve)
  hostiles.push(h)
  return h
}

/** The receiver must exit 1 naming `code`, never report verified, and leave a consistent store. */
async function expectRefused (receiver: FerryProcess, code: string, target: string): Promise<void> {
  const exit = await receiver.waitExit(40_000)
  expect(exit.code, receiver.describe()).toBe(1)
  expect(errorCode(receiver.stderr), receiver.describe()).toBe(code)
  expect(receiver.events.at(-1)).toMatchObject({ event: 'error', code })
  expect(receiver.all('verified')).toEqual([])
  await expectConsistent(target)
}

/**
 * Nothing unverified is shown as verified, and the new phone is as it was: no message, no media record
 * (none missing) and no file in media/ of the liar's.
 */
async function expectConsistent (target: string): Promise<void> {
  const report = await inspect(target)
  // The refused transfer is listed as unfinished, holding no committed messages of its own.
  expect(report.transfers.length).toBeLessThanOrEqual(1)
  for (const t of report.transfers) expect(t.messages).toBe(0)
  expect(report.stats).toMatchObject({ contacts: 0, conversations: 0, messages: 0, media: 0, mediaPresent: 0, mediaMissing: 0 })
  expect(auditMedia(target)).toMatchObject({ complete: [], corrupt: [] })
}

/** An honest sender afterwards: the same receiver store ends verified, equal to the source. */
async function expectHealed (target: string): Promise<void> {
  const store = copyStore(seeded)
  const before = await fingerprint(store)
  const sender = startSender(store, { code: CODE, name: 'honest sender' })
  const ready = await senderReady(sender)
  const receiver = startReceiver(target, { code: CODE, peer: ready.addr, name: 'receiver (again)' })
  const [r, s] = await Promise.all([receiver.waitExit(60_000), sender.waitExit(60_000)])
  expect(r.code, receiver.describe()).toBe(0)
  expect(s.code, sender.describe()).toBe(0)
  expect(await exportStore(target)).toBe(sourceExport)
  expect(auditMedia(target).parts).toEqual([])
  expect(await fingerprint(store)).toEqual(before)
}

const onChunk = (fn: (c: ferry.MediaChunk) => ferry.Frame.$Properties[]) => (f: ferry.Frame): ferry.Frame.$Properties[] => f.body === 'chunk' ? fn(f.chunk as ferry.MediaChunk) : [f]
const onBatch = (fn: (b: ferry.MessageBatch) => ferry.Frame.$Properties[]) => (f: ferry.Frame): ferry.Frame.$Properties[] => f.body === 'batch' ? fn(f.batch as ferry.MessageBatch) : [f]
const onDone = (fn: (d: ferry.Done) => ferry.Done.$Properties) => (f: ferry.Frame): ferry.Frame.$Properties[] => f.body === 'done' ? [{ done: fn(f.done as ferry.Done) }] : [f]

interface Lie { name: string, code: string, tamper: (f: ferry.Frame, n: number) => ferry.Frame.$Properties[], heal?: boolean }

const LIES: Lie[] = [
  {
    name: 'a media file larger than its declared size',
    code: 'SIZE_MISMATCH',
    tamper: onChunk(c => [{ chunk: { index: c.index, offset: c.offset, data: new Uint8Array(c.data.byteLength + 4096) } }])
  },
  {
    name: 'a manifest whose message count does not add up',
    code: 'COUNT_MISMATCH',
    tamper: f => f.body === 'manifest' && (f.manifest as ferry.Manifest).totalMessages !== 0
      ? [{ manifest: { ...(f.manifest as ferry.Manifest), totalMessages: Number((f.manifest as ferry.Manifest).totalMessages) - 1 } }]
      : [f]
  },
  {
    name: 'fewer messages than Done claims',
    code: 'COUNT_MISMATCH',
    tamper: onDone(d => ({ ...d, conversations: d.conversations.map(c => ({ ...c, count: Number(c.count) + 1 })) }))
  },
  {
    name: 'altered message content under the original digest',
    code: 'DIGEST_MISMATCH',
    heal: true,
    tamper: onBatch(b => [{ batch: { messages: b.messages.map(m => ({ ...m, sender: 'mallory' })) } }])
  },
  {
    name: 'a forged media index digest in Done',
    code: 'DIGEST_MISMATCH',
    tamper: onDone(d => ({ ...d, mediaDigest: new Uint8Array(32) }))
  }
]

describe('a hostile sender over libp2p against a real `ferry receive`', () => {
  beforeAll(async () => {
    seeded = await seedStore('tiny')
    sourceExport = await exportStore(seeded)
    // The liar serves the same history as the honest sender (same store id, so the same transfer id).
    source = SqliteChatStore.open(copyStore(seeded, 'liar-phone'))
  }, 60_000)
  afterEach(async () => {
    await killAll()
    await Promise.all(hostiles.splice(0).map(async h => { await h.stop() }))
  })
  afterAll(() => {
    source.close()
    cleanupTempDirs()
  })

  for (const lie of LIES) {
    it(`${lie.name}: refused with ${lie.code}${lie.heal === true ? ', then healed by an honest sender' : ''}`, async () => {
      const liar = await hostile(lyingSender(source, lie.tamper, { batchBytes: 8 * 1024, chunkBytes: 16 * 1024 }))
      const target = newStorePath()
      const receiver = startReceiver(target, { code: CODE, peer: liar.addr })
      await expectRefused(receiver, lie.code, target)
      const [outcome] = await Promise.all(liar.sessions)
      expect(outcome.status).toBe('rejected')
      // The liar was told why, in an Error frame, before the receiver hung up (even while it was blocked
      // writing media: the receiver no longer aborts its connection after a refusal).
      expect((outcome as PromiseRejectedResult).reason).toMatchObject({ code: 'PEER_ERROR', details: { peerCode: lie.code } })
      if (lie.code === 'HASH_MISMATCH' || lie.code === 'SIZE_MISMATCH') expect(auditMedia(target).parts).toEqual([])
      if (lie.heal === true) await expectHealed(target)
    }, 90_000)
  }

  // What a damaged copy on the old phone looks like too: the history comes, without those files.
  it('media bytes that do not hash to their name: the messages verify, the files are left out and said so, then an honest sender brings them', async () => {
    const liar = await hostile(lyingSender(source, onChunk(c => { const data = c.data.slice(); data[data.length - 1] ^= 0x55; return [{ chunk: { index: c.index, offset: c.offset, data } }] }), { batchBytes: 8 * 1024, chunkBytes: 16 * 1024 }))
    const target = newStorePath()
    const receiver = startReceiver(target, { code: CODE, peer: liar.addr })
    const exit = await receiver.waitExit(60_000)
    expect(exit.code, receiver.describe()).toBe(0)
    const damaged = (receiver.events.at(-1) as { stats?: { mediaFilesDamaged?: number } }).stats?.mediaFilesDamaged ?? 0
    expect(damaged).toBeGreaterThan(0)
    const notMedia = (t: string): string[] => t.trim().split('\n').filter(l => !l.startsWith('{"type":"media"'))
    expect(notMedia(await exportStore(target))).toEqual(notMedia(sourceExport))
    const media = auditMedia(target)
    expect(media.parts).toEqual([])
    expect(media.complete).toEqual([])
    await expectHealed(target)
  }, 90_000)

  // A refused transfer is undone (src/store resetTransfer): nothing the liar wrote stays in the history.
  it('a refused transfer\'s forged messages do not stay in the history or its export', async () => {
    const liar = await hostile(lyingSender(source, onBatch(b => [{ batch: { messages: b.messages.map(m => ({ ...m, sender: 'mallory' })) } }]), { batchBytes: 8 * 1024 }))
    const target = newStorePath()
    await expectRefused(startReceiver(target, { code: CODE, peer: liar.addr }), 'DIGEST_MISMATCH', target)
    const sourceLines = new Set(sourceExport.trim().split('\n'))
    const forged = (await exportStore(target)).split('\n').filter(l => l !== '' && !sourceLines.has(l))
    expect(forged).toEqual([])
  }, 60_000)

  it(`a flood of ${FLOOD_BYTES >> 20} MiB of media chunks sent without waiting for acks: paced by the receiver, its memory flat, then refused`, async () => {
    const samples: Array<{ written: number, rss: number }> = []
    let pid = 0
    let maxLead = 0
    const flood: Serve = async duplex => {
      const lead = await floodChunks(duplex, FLOOD_BYTES, written => { samples.push({ written, rss: rssOf(pid).rss }) })
      maxLead = lead
    }
    const liar = await hostile(flood)
    const target = newStorePath()
    const receiver = startReceiver(target, { code: CODE, peer: liar.addr })
    pid = receiver.child.pid as number
    await expectRefused(receiver, 'ORDER', target)
    const [outcome] = await Promise.all(liar.sessions)
    expect(outcome.status, String((outcome as PromiseRejectedResult).reason)).toBe('fulfilled')
    // The flooder could never get more than the stream's buffers ahead of what the receiver had
    // processed: a receiver that queued frames in memory would let it run the whole flood ahead.
    expect(maxLead).toBeLessThan(32 * 1024 * 1024)
    // Memory flat: from a quarter of the flood to its end, the receiver's RSS grew by far less than
    // the bytes that passed through it.
    const quarter = samples.find(s => s.written >= FLOOD_BYTES / 4) as { written: number, rss: number }
    const end = samples.at(-1) as { written: number, rss: number }
    console.log(`flood: ${FLOOD_BYTES >> 20} MiB, receiver RSS ${mb(quarter.rss)} MiB at 1/4, ${mb(end.rss)} MiB at the end; max sender lead ${mb(maxLead)} MiB`)
    expect(end.written - quarter.written).toBeGreaterThan(FLOOD_BYTES / 2)
    expect(end.rss - quarter.rss).toBeLessThan(48 * 1024 * 1024)
    // The refused partial file is dropped, and never promoted into media/.
    expect(auditMedia(target)).toEqual({ complete: [], corrupt: [], parts: [] })
  }, 120_000)

  // A link that dies as the transfer ends looks, from the new phone, like an old phone that never hangs
  // up after Verified: it cannot know Verified was heard. It says so again in new sessions; when none
  // gets an answer, its history is verified all the same, and it says so.
  it('an old phone that never hangs up after Verified: told again by new sessions, then the history is verified here all the same', async () => {
    const deaf: Serve = async duplex => {
      const machine = new SenderMachine({ source })
      await runSender(machine, { source: duplex.source, write: async c => { await duplex.write(c) }, close: async () => {}, abort: e => { duplex.abort(e) } })
      return machine.state
    }
    const liar = await hostile(deaf)
    const target = newStorePath()
    // Each session waits its while for the hang-up that never comes; the next starts as soon as one gives
    // up, so a time to tell again shorter than that wait (the seam; 20 s by default) still sees a second
    // session start and then ends the receive after it, rather than after a third.
    const receiver = startReceiver(target, { code: CODE, peer: liar.addr, env: { FERRY_TEST_TELL_AGAIN_MS: '5000' } })
    const exit = await receiver.waitExit(60_000)
    expect(exit.code, receiver.describe()).toBe(0)
    expect(receiver.all('verified')).toHaveLength(1)
    // Every session verified; at least one more came to say it again.
    const sessions = await Promise.all(liar.sessions)
    expect(sessions.length).toBeGreaterThanOrEqual(2)
    for (const s of sessions) expect(s).toEqual({ status: 'fulfilled', value: 'verified' })
    expect(receiver.all('paired').map(e => e.mode)).toContain('resume')
    expect(await exportStore(target)).toBe(sourceExport)
  }, 90_000)
})

const mb = (n: number): string => (n / 1024 / 1024).toFixed(1)

/** The resident set of a process, from /proc (Linux). */
function rssOf (pid: number): { rss: number, hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') }
}

/**
 * A sender that announces one 1 GiB media file and pushes `total` bytes of it as fast as the stream
 * takes them, ignoring the flow-control window; then a chunk at a wrong offset, which must be refused.
 * Returns the largest lead it had over the receiver's acknowledgements.
 */
async function floodChunks (duplex: StreamDuplex, total: number, sample: (written: number) => void): Promise<number> {
  const send = async (f: EncodedFrame): Promise<void> => { await duplex.write([prefix(f), ...f]) }
  const frames = readFrames(duplex.source)[Symbol.asyncIterator]()
  const next = async (): Promise<ferry.Frame> => {
    const r = await frames.next()
    if (r.done === true) throw new Error('receiver hung up')
    return decodeFrame(r.value)
  }
  await send(encodeFrame({ hello: { version: PROTOCOL_VERSION, agent: 'flooder' } }))
  expect((await next()).body).toBe('hello')
  const size = 1024 * 1024 * 1024
  const manifest = { ...await buildManifest(source, {}), conversations: [], contacts: [], totalMessages: 0, totalMediaBytes: size }
  manifest.media = ManifestMedia.from([{ sha256: 'f'.repeat(64), size, mime: 'video/mp4', missing: false }])
  for await (const f of manifestFrames(manifest, 64 * 1024)) await send(f)
  expect((await next()).body).toBe('resume')
  let acked = 0
  let written = 0
  let lead = 0
  const acks = (async () => {
    for (;;) {
      const f = await next().catch(() => undefined)
      if (f === undefined) return
      if (f.body === 'ack') acked = Number((f.ack as ferry.Ack).bytes)
    }
  })()
  const chunk = new Uint8Array(256 * 1024).fill(7)
  for (let offset = 0; offset < total; offset += chunk.byteLength) {
    const f = encodeMediaChunk(0, offset, chunk)
    await send(f)
    written += f.reduce((n, p) => n + p.byteLength, 0)
    lead = Math.max(lead, written - acked)
    if (offset % (8 * 1024 * 1024) === 0) sample(offset + chunk.byteLength)
  }
  sample(total)
  // Out of order: the receiver refuses as soon as it reads this chunk, and may reset the stream while
  // this write still waits for room (a loaded machine) before it is told the write went out.
  await send(encodeMediaChunk(0, total + 1, chunk)).catch(() => {})
  await acks
  return lead
}
