// Deflated message batches: a receiver that asks for them gets them, from a sender that can make them,
// and the history arrives verified with a third of the bytes; every other pairing of the two phones
// moves plain batches. A sender that deflates what it should not, or what inflates too far or to no
// batch, is refused, and the store takes an honest transfer afterwards.
import { deflateRawSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { nodeBatchDeflate } from '../../src/wire/deflate-node.js'
import { encodeFrame, type ferry } from '../../src/wire/codec.js'
import type { SqliteChatStore } from '../../src/store/sqlite-store.js'
import { cleanupTempDirs, exportText, fillStore, openStore } from '../helpers/stores.js'
import { closeJournals, runTransfer, type RunOptions } from '../helpers/transfer.js'

let source: SqliteChatStore
let sourceExport: string
const OPTIONS = { batchBytes: 32 * 1024, chunkBytes: 16 * 1024, windowBytes: 256 * 1024 }
const { deflate, inflate } = nodeBatchDeflate

beforeAll(async () => {
  source = openStore()
  await fillStore(source, { conversations: 4, messagesPerConversation: 1500, mediaSizes: [40_000] })
  sourceExport = await exportText(source)
})

afterAll(async () => {
  source.close()
  await closeJournals()
  cleanupTempDirs()
})

async function transfer (opts: RunOptions): Promise<{ bytes: number, deflated: number, batches: number }> {
  const target = openStore()
  let deflated = 0
  let batches = 0
  const r = await runTransfer(source, target, {
    options: OPTIONS,
    ...opts,
    onReceived: f => { if (f.body === 'deflatedBatch') deflated++; if (f.body === 'batch') batches++ }
  })
  expect(r.receiverError).toBeUndefined()
  expect(r.receiver.state).toBe('verified')
  expect(await exportText(target)).toBe(sourceExport)
  target.close()
  return { bytes: r.bytesAtoB, deflated, batches }
}

describe('deflated batches', () => {
  it('go when the receiver asks and the sender can: verified, in under half the bytes', async () => {
    const plain = await transfer({})
    const both = await transfer({ deflate, inflate })
    expect(plain.deflated).toBe(0)
    expect(both.batches).toBe(0)
    expect(both.deflated).toBeGreaterThan(10)
    // The media file (40 KB of noise) goes as it is in both; the messages shrink.
    expect(both.bytes).toBeLessThan(plain.bytes / 2)
  })

  it('do not go when only one phone can', async () => {
    const plain = await transfer({})
    for (const one of [{ deflate }, { inflate }]) {
      const r = await transfer(one)
      expect(r.deflated).toBe(0)
      expect(r.bytes).toBe(plain.bytes)
    }
  })
})

describe('a sender lying in deflated batches', () => {
  const rebatch = (fn: (b: ferry.MessageBatch) => Uint8Array): RunOptions['tamper'] =>
    f => f.body === 'batch' ? [{ deflatedBatch: fn(f.batch as ferry.MessageBatch) }] : [f]
  const cases: Array<[string, RunOptions, string]> = [
    ['to a receiver that did not ask', { tamper: rebatch(b => deflate(encodeFrame({ batch: b })[0])) }, 'PROTOCOL'],
    ['bytes that inflate past a frame', { inflate, tamper: rebatch(() => deflateRawSync(new Uint8Array(8 * 1024 * 1024))) }, 'FRAME_TOO_LARGE'],
    ['bytes that are no DEFLATE stream', { inflate, tamper: rebatch(() => new Uint8Array([0xff, 0xfe, 0xfd, 1, 2, 3])) }, 'MALFORMED_FRAME'],
    ['a frame that is no batch', { inflate, tamper: rebatch(() => deflate(encodeFrame({ ack: { bytes: 1 } })[0])) }, 'MALFORMED_FRAME']
  ]
  it.each(cases)('%s is refused, and an honest transfer then verifies', async (_what, opts, code) => {
    const target = openStore()
    const bad = await runTransfer(source, target, { options: OPTIONS, ...opts })
    expect(bad.receiver.state).toBe('failed')
    expect(bad.receiverError?.code).toBe(code)
    expect(bad.senderError?.details?.peerCode).toBe(code)
    // Nothing of the refused transfer stays.
    expect((await target.conversations()).reduce((n, c) => n + c.messages, 0)).toBe(0)
    const good = await runTransfer(source, target, { options: OPTIONS, deflate, inflate })
    expect(good.receiverError).toBeUndefined()
    expect(good.receiver.state).toBe('verified')
    expect(await exportText(target)).toBe(sourceExport)
    target.close()
  })
})
