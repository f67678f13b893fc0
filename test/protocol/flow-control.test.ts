import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, fillStore, openStore } from '../helpers/stores.js'
import { SenderMachine } from '../../src/protocol/sender.js'
import { decodeFrame, frameLength, type EncodedFrame, type Frame } from '../../src/wire/codec.js'
import type { SqliteChatStore } from '../../src/store/sqlite-store.js'
import type { HistorySource } from '../../src/store/history.js'
import { ReceiverMachine } from '../../src/protocol/receiver.js'
import { runReceiver, runSender } from '../../src/protocol/session.js'
import { PROTOCOL_VERSION, type TransferOptions } from '../../src/protocol/options.js'
import { memoryPipe } from '../../src/wire/memory-duplex.js'
import { closeJournals, journalOf, tamperSender } from '../helpers/transfer.js'

// The sender's own flow control: whatever the history's size, at most a window of data is in flight
// until the receiver acknowledges it, so a slow receiver slows the sender and memory stays bounded.

let source: SqliteChatStore
beforeAll(async () => {
  source = openStore()
  await fillStore(source, { conversations: 3, messagesPerConversation: 400, mediaSizes: [300_000, 200_000] })
})
afterAll(async () => { source.close(); await closeJournals(); cleanupTempDirs() })

const concat = (f: EncodedFrame): Uint8Array => f.length === 1 ? f[0] : Uint8Array.from(Buffer.concat(f))
const frame = (props: object): Frame => props as Frame

async function drain (s: SenderMachine): Promise<Array<{ kind: string, size: number }>> {
  const out: Array<{ kind: string, size: number }> = []
  for (let f = await s.next(); f !== undefined; f = await s.next()) out.push({ kind: decodeFrame(concat(f)).body, size: frameLength(f) })
  return out
}

const RESUME = { body: 'resume', resume: { mediaHave: new Uint8Array(0), partial: [], held: new Uint8Array(0) } }

describe('sender flow control', () => {
  it('stops at the window and goes on only as acknowledgements arrive', async () => {
    const windowBytes = 64 * 1024
    const s = new SenderMachine({ source, options: { windowBytes, batchBytes: 8 * 1024, chunkBytes: 16 * 1024 } })
    s.start()
    await s.onFrame(frame({ body: 'hello', hello: { version: PROTOCOL_VERSION, agent: 't', request: null } }))
    expect((await drain(s)).every(f => f.kind === 'manifest')).toBe(true)
    await s.onFrame(frame(RESUME))
    let acked = 0
    let rounds = 0
    const data = ['batch', 'chunk', 'fragment']
    for (;;) {
      const sent = await drain(s)
      const inFlight = s.progress.bytesSent - acked
      // Never more than a window plus the one frame that crossed it.
      expect(inFlight).toBeLessThanOrEqual(windowBytes + 17 * 1024)
      if (s.state === 'done-sent') break
      expect(sent.length).toBeGreaterThan(0)
      expect(await s.next()).toBeUndefined() // blocked until an ack
      acked = s.progress.bytesSent
      await s.onFrame(frame({ body: 'ack', ack: { bytes: acked, messages: 0 } }))
      rounds++
      expect(sent.filter(f => data.includes(f.kind)).length).toBeGreaterThan(0)
    }
    // Every window's worth of data needed its own acknowledgement.
    expect(s.progress.bytesSent).toBeGreaterThan(8 * windowBytes)
    expect(rounds).toBeGreaterThanOrEqual(Math.floor(s.progress.bytesSent / windowBytes) - 1)
  })

  it('reads media into a few reused buffers, never into one whose frame is still unacknowledged', async () => {
    const windowBytes = 64 * 1024
    const chunkBytes = 16 * 1024
    const slabs = new Set<ArrayBufferLike>()
    const spied = <S extends Pick<HistorySource, 'readMedia'>>(s: S): S => Object.assign(Object.create(s) as S, {
      async readMedia (sha256: string, offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
        if (into !== undefined) slabs.add(into.buffer)
        return await s.readMedia(sha256, offset, length, into)
      }
    })
    // The session reads its snapshot of the store: its reads are the ones watched.
    const spy: HistorySource = Object.assign(spied(source), { snapshot: async () => spied(await source.snapshot()) })
    const s = new SenderMachine({ source: spy, options: { windowBytes, batchBytes: 8 * 1024, chunkBytes } })
    await s.onFrame(frame({ body: 'hello', hello: { version: PROTOCOL_VERSION, agent: 't', request: null } }))
    await drain(s)
    await s.onFrame(frame(RESUME))
    // Frames in flight, with a copy of their bytes as sent. Each ack covers only the older half of them,
    // as on a link with data in both directions, so the rest stay in flight while new chunks are read.
    let inFlight: Array<{ frame: EncodedFrame, copy: Uint8Array, end: number }> = []
    let chunks = 0
    while (s.state !== 'done-sent') {
      for (let f = await s.next(); f !== undefined; f = await s.next()) {
        const copy = concat(f).slice()
        if (decodeFrame(copy).body === 'chunk') chunks++
        inFlight.push({ frame: f, copy, end: s.progress.bytesSent })
      }
      for (const x of inFlight) expect(Buffer.compare(concat(x.frame), x.copy)).toBe(0)
      const ackTo = inFlight[Math.floor((inFlight.length - 1) / 2)].end
      await s.onFrame(frame({ body: 'ack', ack: { bytes: ackTo, messages: 0 } }))
      inFlight = inFlight.filter(x => x.end > ackTo)
    }
    // 500 kB of media in 16 KiB chunks went through a handful of 16 KiB slabs.
    expect(chunks).toBeGreaterThan(30)
    expect(slabs.size).toBeGreaterThan(1)
    expect(slabs.size).toBeLessThanOrEqual(2 * windowBytes / chunkBytes + 3)
  })

  it('refuses an acknowledgement of bytes never sent', async () => {
    const s = new SenderMachine({ source })
    await s.onFrame(frame({ body: 'hello', hello: { version: PROTOCOL_VERSION, agent: 't', request: null } }))
    await drain(s)
    await s.onFrame(frame(RESUME))
    await drain(s)
    await expect(s.onFrame(frame({ body: 'ack', ack: { bytes: s.progress.bytesSent + 1, messages: 0 } }))).rejects.toMatchObject({ code: 'PROTOCOL' })
  })
})

describe('receiver acknowledgements', () => {
  /** One transfer into a fresh store, counting the acks the receiver sends and the reads that could have had one. */
  async function countAcks (options: Partial<TransferOptions>, announceWindow: boolean): Promise<{ acks: number, reads: number, bytes: number }> {
    const target = openStore()
    const pipe = memoryPipe({ highWaterMark: 16 * 1024 })
    const sender = new SenderMachine({ source, options })
    // An older sender announces no window: strip it from the manifest.
    if (!announceWindow) tamperSender(sender, f => [f.manifest != null ? { manifest: { ...f.manifest, windowBytes: 0 } } : f])
    const receiver = new ReceiverMachine({ sink: target, journal: journalOf(target), options })
    let acks = 0
    let reads = 0
    let seen = 0
    const take = receiver.takeAck.bind(receiver)
    receiver.takeAck = () => {
      if (receiver.progress.bytesReceived > seen) reads++
      seen = receiver.progress.bytesReceived
      const ack = take()
      if (ack !== undefined) acks++
      return ack
    }
    await Promise.all([runSender(sender, pipe.a), runReceiver(receiver, pipe.b)])
    expect(receiver.state).toBe('verified')
    target.close()
    return { acks, reads, bytes: receiver.progress.bytesReceived }
  }

  it('acks once per quarter of the window the sender announced, and the sender never waits on one held back', async () => {
    // A window smaller than the whole history several times over: the transfer completes only if every
    // window the sender fills is acknowledged.
    const windowBytes = 64 * 1024
    const r = await countAcks({ windowBytes, batchBytes: 2 * 1024, chunkBytes: 4 * 1024 }, true)
    expect(r.bytes).toBeGreaterThan(8 * windowBytes)
    expect(r.acks).toBeGreaterThanOrEqual(Math.floor(r.bytes / windowBytes))
    expect(r.acks).toBeLessThanOrEqual(Math.ceil(r.bytes / (windowBytes / 4)))
    expect(r.acks).toBeLessThan(r.reads / 2)
  })

  it('acks after every read for a sender that announced no window', async () => {
    const r = await countAcks({ windowBytes: 64 * 1024, batchBytes: 2 * 1024, chunkBytes: 4 * 1024 }, false)
    expect(r.acks).toBe(r.reads)
  })
})
