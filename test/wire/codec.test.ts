import { describe, expect, it } from 'vitest'
import { fc } from '../helpers/property.js'
import { decodeFrame, encodeBatch, encodeFrame, encodeMediaChunk, encodeMessage, ferry, type ReceivedBatch } from '../../src/wire/codec.js'
import { FrameDecoder, MAX_FRAME_BYTES, prefix } from '../../src/wire/framing.js'
import { isFerryError } from '../../src/errors.js'

const concat = (parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.byteLength }
  return out
}

describe('frame codec', () => {
  it('round-trips every frame kind', () => {
    const frames: ferry.Frame.$Properties[] = [
      { hello: { version: 1, agent: 'x', request: { conversations: ['c1'], sinceMs: 5 } } },
      { manifest: { transferId: new Uint8Array(16).fill(7), sourceId: 's', contacts: [{ id: 'u', name: 'N', phone: '' }], more: true } },
      { resume: { mediaHave: new Uint8Array([1]), partial: [{ index: 3, offset: 99 }], held: new Uint8Array([5]) } },
      { holdings: { conversation: 2, leaves: [{ firstTs: -5, firstId: 'a', lastTs: 1_700_000_000_123, lastId: 'z', count: 7, digest: new Uint8Array(16).fill(1) }], more: true } },
      { plan: { conversation: 2, leaves: [{ kind: ferry.PlanLeaf.Kind.LIST, lastTs: 1_700_000_000_124, lastId: 'y', count: 2, items: [{ ts: 1_700_000_000_123, id: 'x', hash: new Uint8Array(8) }] }] } },
      { want: { conversation: 2, items: new Uint8Array([1]) } },
      { ack: { bytes: 2 ** 40, messages: 3 } },
      { done: { conversations: [{ id: 'c', count: 2, digest: new Uint8Array(32) }], mediaCount: 1 } },
      { verified: { messages: 10, media: 2 } },
      { error: { code: 'HASH_MISMATCH', message: 'no' } }
    ]
    for (const f of frames) {
      const decoded = decodeFrame(concat(encodeFrame(f)))
      const body = Object.keys(f)[0]
      expect(decoded.body).toBe(body)
    }
    // 64-bit fields come back as plain numbers, negative ones too.
    const holdings = decodeFrame(concat(encodeFrame(frames[3]))).holdings as ferry.Holdings
    expect(holdings.leaves[0]).toMatchObject({ firstTs: -5, lastTs: 1_700_000_000_123, count: 7 })
    expect(typeof holdings.leaves[0].lastTs).toBe('number')
    const plan = decodeFrame(concat(encodeFrame(frames[4]))).plan as ferry.Plan
    expect(plan.leaves[0].kind).toBe(ferry.PlanLeaf.Kind.LIST)
    expect(plan.leaves[0].items?.[0].ts).toBe(1_700_000_000_123)
    const resume = decodeFrame(concat(encodeFrame(frames[2]))).resume as ferry.Resume
    expect([...resume.held]).toEqual([5])
    expect(resume.partial[0]).toMatchObject({ index: 3, offset: 99 })
    const ack = decodeFrame(concat(encodeFrame(frames[6]))).ack as ferry.Ack
    expect(ack.bytes).toBe(2 ** 40)
  })

  it('keeps an empty text apart from an absent one', () => {
    const withEmpty = ferry.Message.decode(encodeMessage({ conversation: 'c', id: 'm', sender: 'u', ts: 1, kind: 'text', text: '' }))
    const without = ferry.Message.decode(encodeMessage({ conversation: 'c', id: 'm', sender: 'u', ts: 1, kind: 'text' }))
    expect(Object.prototype.hasOwnProperty.call(withEmpty, 'text')).toBe(true)
    expect(withEmpty.text).toBe('')
    expect(without.text).toBeNull()
  })

  it('encodes media chunks without copying, byte-identical to the generic encoder', () => {
    fc.assert(fc.property(fc.nat(5000), fc.nat(2 ** 40), fc.uint8Array({ maxLength: 3000 }), (index, offset, data) => {
      const fast = concat(encodeMediaChunk(index, offset, data))
      const slow = concat(encodeFrame({ chunk: { index, offset, data } }))
      expect(fast).toEqual(slow)
      const parts = encodeMediaChunk(index, offset, data)
      if (data.byteLength > 0) expect(parts[1]).toBe(data)
    }))
  })

  it('builds batches from pre-encoded messages identical to the generic encoder', () => {
    const msgs = [1, 2, 3].map(i => ({ conversation: 'c', id: `m${i}`, sender: 'u', ts: i, kind: 'text', text: 'x'.repeat(i * 100) }))
    const fast = concat(encodeBatch(msgs.map(m => encodeMessage(m))))
    expect(fast).toEqual(concat(encodeFrame({ batch: { messages: msgs } })))
    expect((decodeFrame(fast).batch as ferry.MessageBatch).messages.map(m => m.id)).toEqual(['m1', 'm2', 'm3'])
  })

  it('decodes a batch with each message\'s bytes as they came, and any other layout without them', () => {
    fc.assert(fc.property(fc.array(fc.record({ id: fc.string({ minLength: 1, maxLength: 20 }), ts: fc.integer({ min: -(2 ** 40), max: 2 ** 45 }), text: fc.option(fc.string({ maxLength: 300 }), { nil: undefined }) }), { maxLength: 40 }), list => {
      const msgs = list.map(m => ({ conversation: 'c', sender: 'u', kind: 'text', ...m }))
      const encoded = msgs.map(m => encodeMessage(m))
      const batch = decodeFrame(concat(encodeBatch(encoded))).batch as ReceivedBatch
      const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
      expect(batch.encoded?.map(hex)).toEqual(encoded.map(hex))
      expect(batch.messages.map(m => ({ id: m.id, ts: m.ts, text: m.text ?? undefined }))).toEqual(list)
      batch.messages.forEach((m, i) => expect(encodeMessage(m)).toEqual(encoded[i]))
    }))
    // A batch beside another field, or with a field MessageBatch does not have: decoded as any frame is.
    const msgs = [{ conversation: 'c', id: 'm1', sender: 'u', ts: 1, kind: 'text' }]
    const plain = concat(encodeBatch(msgs.map(m => encodeMessage(m))))
    const withAck = concat([plain, concat(encodeFrame({ ack: { bytes: 5 } }))])
    const unknownInside = concat(encodeFrame({ batch: { messages: msgs } }))
    unknownInside[1] += 2
    const extended = concat([unknownInside, new Uint8Array([0x10, 0x07])]) // MessageBatch field 2 = 7
    // (Of two fields of a oneof, the last one read is the frame's.)
    expect(decodeFrame(withAck).body).toBe('ack')
    const other = decodeFrame(extended).batch as ReceivedBatch
    expect(other.encoded).toBeUndefined()
    expect(other.messages.map(m => m.id)).toEqual(['m1'])
    // Cut short: a typed error, as for any frame.
    for (let cut = 1; cut < plain.byteLength; cut++) {
      let thrown: unknown
      try { decodeFrame(plain.subarray(0, cut)) } catch (err) { thrown = err }
      expect(isFerryError(thrown) && thrown.code === 'MALFORMED_FRAME', `cut at ${cut}`).toBe(true)
    }
  })

  it('rejects garbage with a typed error', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), bytes => {
      try {
        decodeFrame(bytes)
      } catch (err) {
        expect(isFerryError(err)).toBe(true)
      }
    }))
  })
})

describe('framing', () => {
  it('reassembles frames split at every byte boundary', () => {
    const bodies = [new Uint8Array([1, 2, 3]), new Uint8Array(300).fill(9), new Uint8Array(0), new Uint8Array([4])]
    const stream = concat(bodies.flatMap(b => [prefix([b]), b]))
    for (let split = 0; split <= stream.byteLength; split++) {
      const d = new FrameDecoder()
      const out = [...d.push(stream.subarray(0, split)), ...d.push(stream.subarray(split))]
      expect(out).toEqual(bodies)
      d.end()
    }
  })

  it('reassembles large bodies into buffers handed back with recycle, and never reuses one still held', () => {
    const d = new FrameDecoder(MAX_FRAME_BYTES, 1000)
    const body = (n: number, v: number): Uint8Array => new Uint8Array(n).fill(v)
    // Each frame arrives in pieces of 300 bytes, as Noise messages bring a media chunk.
    const feed = (b: Uint8Array): Uint8Array[] => {
      const wire = concat([prefix([b]), b])
      const out: Uint8Array[] = []
      for (let at = 0; at < wire.byteLength; at += 300) out.push(...d.push(wire.subarray(at, at + 300)))
      return out
    }
    const [a] = feed(body(900, 1))
    expect(a).toEqual(body(900, 1))
    d.recycle(a)
    const [b] = feed(body(800, 2))
    expect(b.buffer).toBe(a.buffer) // the recycled buffer, reused
    expect(b).toEqual(body(800, 2))
    const [c] = feed(body(700, 3)) // b is still held: a new buffer
    expect(c.buffer).not.toBe(b.buffer)
    expect(b).toEqual(body(800, 2))
    d.recycle(b)
    d.recycle(b) // twice: must not hand the buffer out to two frames
    const [e] = feed(body(600, 4))
    const [f] = feed(body(650, 5))
    expect(e.buffer).toBe(b.buffer)
    expect(f.buffer).not.toBe(e.buffer)
    expect([e, f, c]).toEqual([body(600, 4), body(650, 5), body(700, 3)])
    // Small bodies and bodies too large to reuse are copied out as before; recycling them is a no-op.
    const [small] = feed(body(400, 6))
    const [large] = feed(body(1200, 7))
    d.recycle(small)
    d.recycle(large)
    expect([small, large]).toEqual([body(400, 6), body(1200, 7)])
    d.end()
  })

  it('refuses an oversized length prefix before buffering its body', () => {
    const d = new FrameDecoder(1000)
    expect(() => d.push(prefix([new Uint8Array(1001)]))).toThrow(/exceeds the 1000-byte limit/)
    const huge = new FrameDecoder()
    expect(() => huge.push(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]))).toThrow(expect.objectContaining({ code: 'FRAME_TOO_LARGE' }))
    expect(() => new FrameDecoder().push(new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x80, 0x01]))).toThrow(expect.objectContaining({ code: 'FRAME_TOO_LARGE' }))
    expect(MAX_FRAME_BYTES).toBeGreaterThan(1024 * 1024)
  })

  it('reports a stream that ends inside a frame', () => {
    const d = new FrameDecoder()
    d.push(new Uint8Array([5, 1, 2]))
    expect(() => d.end()).toThrow(expect.objectContaining({ code: 'TRUNCATED' }))
  })
})
