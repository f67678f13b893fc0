import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import { cleanupTempDirs, fillStore, openStore } from '../helpers/stores.js'
import { buildManifest, manifestFrames, mediaInfoLength } from '../../src/protocol/manifest.js'
import { SenderMachine } from '../../src/protocol/sender.js'
import { DEFAULT_OPTIONS, PROTOCOL_VERSION } from '../../src/protocol/options.js'
import { ErrorCode } from '../../src/errors.js'
import { decodeFrame, ferry, type EncodedFrame, type Frame } from '../../src/wire/codec.js'
import type { SqliteChatStore } from '../../src/store/sqlite-store.js'

// The sender streams its manifest's media index from the store into the frames: the first part leaves
// before the last record is read. What the frames carry must not depend on that.

const MIMES = ['image/jpeg', 'audio/ogg; codecs=opus', 'image/ü', 'application/x-😀', 'text/\ud800lone', '']
const RECORDS = 3000

let source: SqliteChatStore
beforeAll(async () => {
  source = openStore()
  await fillStore(source, { conversations: 2, messagesPerConversation: 50, mediaSizes: [10_000, 20_000] })
  // Records whose files this phone lacks: listed as missing, with every kind of mime.
  const records = Array.from({ length: RECORDS }, (_, i) => ({
    sha256: createHash('sha256').update(`record ${i}`).digest('hex'), size: i * 997, mime: MIMES[i % MIMES.length]
  }))
  source.putMetadata([], [], records)
})
afterAll(() => { source.close(); cleanupTempDirs() })

const concat = (f: EncodedFrame): Uint8Array => f.length === 1 ? f[0] : Uint8Array.from(Buffer.concat(f))
const manifestOf = (f: EncodedFrame): ferry.Manifest => decodeFrame(concat(f)).manifest as ferry.Manifest
const frame = (props: object): Frame => props as Frame

describe('manifest frames', () => {
  it('carry the same index whether it is streamed from the store or built first, the total in the last part', async () => {
    const whole = await buildManifest(source, {})
    const frameBytes = 16 * 1024
    const eager: Uint8Array[] = []
    for await (const f of manifestFrames(whole, frameBytes, undefined, DEFAULT_OPTIONS.windowBytes, true)) eager.push(concat(f))
    const sender = new SenderMachine({ source, options: { batchBytes: frameBytes } })
    sender.start()
    await sender.onFrame(frame({ body: 'hello', hello: { version: PROTOCOL_VERSION, agent: 't', request: null } }))
    const streamed: Uint8Array[] = []
    for (let f = await sender.next(); f !== undefined; f = await sender.next()) streamed.push(concat(f))
    expect(streamed.length).toBeGreaterThan(10)
    expect(streamed.map(b => Buffer.from(b).toString('hex'))).toEqual(eager.map(b => Buffer.from(b).toString('hex')))
    const parts = streamed.map(b => decodeFrame(b).manifest as ferry.Manifest)
    expect(parts.map(p => p.more)).toEqual([...parts.slice(1).map(() => true), false])
    // The first part announces the sender's window (the receiver acks by it).
    expect(parts.map(p => Number(p.windowBytes))).toEqual([DEFAULT_OPTIONS.windowBytes, ...parts.slice(1).map(() => 0)])
    // ...and that it plans against a receiver's base (Holdings.base).
    expect(parts.map(p => p.plansBases)).toEqual([true, ...parts.slice(1).map(() => false)])
    expect(Number(parts[parts.length - 1].totalMediaBytes)).toBe(whole.totalMediaBytes)
    expect(whole.totalMediaBytes).toBe(30_000) // the two files it holds; the records without one are missing
    expect(parts.flatMap(p => p.media).length).toBe(RECORDS + 2)
    // The sender's own copy of the index is whole by then.
    expect(sender.manifest?.media.length).toBe(RECORDS + 2)
    expect(sender.progress.totalMediaBytes).toBe(30_000)
    // Split by the estimate, every part stays within its size (plus one entry).
    for (const b of streamed) expect(b.byteLength).toBeLessThan(frameBytes + 256)
  })

  it('estimate every entry\'s encoded length from above, whatever its mime', () => {
    for (const [i, mime] of [...MIMES, 'x'.repeat(300), '€'.repeat(50), '😀'.repeat(40)].entries()) {
      for (const size of [0, 1, 127, 128, 2 ** 31, 2 ** 53 - 1]) {
        const e = { sha256: createHash('sha256').update(String(i)).digest('hex'), size, mime, missing: i % 2 === 0 }
        const actual = ferry.MediaInfo.encode(e).finish().byteLength
        expect(mediaInfoLength(e)).toBeGreaterThanOrEqual(actual)
        // Not wildly above: surrogates and fields left at their default (not encoded) are the slack.
        expect(mediaInfoLength(e)).toBeLessThanOrEqual(actual + mime.length + 4)
      }
    }
  })

  it('a Resume before the last part is refused', async () => {
    const sender = new SenderMachine({ source, options: { batchBytes: 16 * 1024 } })
    sender.start()
    await sender.onFrame(frame({ body: 'hello', hello: { version: PROTOCOL_VERSION, agent: 't', request: null } }))
    expect(manifestOf(await sender.next() as EncodedFrame).more).toBe(true)
    await expect(sender.onFrame(frame({ body: 'resume', resume: { mediaHave: new Uint8Array(0), partial: [], held: new Uint8Array(0) } })))
      .rejects.toMatchObject({ code: ErrorCode.PROTOCOL })
    expect(sender.state).toBe('failed')
  })
})
