import { fc } from '../helpers/property.js'
import { describe, expect, it } from 'vitest'
import { packItems, readItems, WRITTEN_DIGEST_BYTES, type LogItem } from '../../src/journal/log-codec.js'
import { MESSAGE_KINDS, MESSAGE_STATUSES, type Message } from '../../src/store/model.js'

const unpack = (b: Uint8Array): LogItem[] => [...readItems(b)]

// The undo log's binary entries: what goes in comes out, whatever the conversations, timestamps and
// message contents, and a damaged entry is a typed error rather than a wrong undo.

const prior = (over: Partial<Message> = {}): Message => ({ conversation: 'c1', id: 'm1', sender: 'u1', ts: 1_700_000_000_000, kind: 'text', ...over })

describe('the undo log codec', () => {
  it('gives back every item: runs of conversations, timestamps going back and forth, every kind of prior', () => {
    const items: LogItem[] = [
      { flag: 'new', conversation: 'c1', ts: 1_700_000_000_000, id: 'm1' },
      { flag: 'held', conversation: 'c1', ts: 1_700_000_000_000, id: 'm2' },
      { flag: 'prior', conversation: 'c1', ts: 1_700_000_005_000, id: 'm3', prior: prior({ id: 'm3', ts: 5, text: '' }) },
      { flag: 'new', conversation: 'g-😀', ts: -12, id: '𝒜' },
      { flag: 'prior', conversation: 'g-😀', ts: 0, id: 'ｚ', prior: prior({ conversation: 'g-😀', id: 'ｚ', kind: 'location', location: { lat: -33.8688, lon: 151.2093, label: '' }, replyTo: '𝒜', status: 'recalled' }) },
      { flag: 'prior', conversation: 'c1', ts: 3, id: 'v', prior: prior({ id: 'v', kind: 'voice', media: 'a'.repeat(64), durationMs: 0 }) },
      { flag: 'new', conversation: 'c1', ts: 3, id: 'x'.repeat(5000) },
      // The farthest jumps two safe-integer timestamps make: no delta of theirs is exact as a double.
      { flag: 'new', conversation: 'c1', ts: Number.MAX_SAFE_INTEGER, id: 'far' },
      { flag: 'held', conversation: 'c2', ts: -Number.MAX_SAFE_INTEGER, id: 'back' },
      { flag: 'new', conversation: 'c2', ts: 2 ** 52 - 2, id: 'there' },
      { flag: 'new', conversation: 'c2', ts: -3, id: 'and back' }
    ]
    expect(unpack(packItems(items))).toEqual(items)
    expect(unpack(packItems([]))).toEqual([])
  })

  it('keeps a long run of one conversation small: its name once, its timestamps as deltas', () => {
    const items: LogItem[] = Array.from({ length: 1000 }, (_, i) => ({ flag: 'new', conversation: 'a conversation with a long id', ts: 1_700_000_000_000 + i * 1000, id: `m${i}` }))
    const packed = packItems(items)
    expect(unpack(packed)).toEqual(items)
    expect(packed.byteLength).toBeLessThan(JSON.stringify(items).length / 4)
  })

  it('round-trips any items (property)', () => {
    const text = fc.string({ unit: 'grapheme', maxLength: 12 })
    const id = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 })
    const ts = fc.oneof(fc.maxSafeInteger(), fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 }), fc.integer({ min: -5, max: 5 }))
    const message = fc.record({
      conversation: id,
      id,
      sender: id,
      ts,
      kind: fc.constantFrom(...MESSAGE_KINDS),
      text: fc.option(text, { nil: undefined }),
      media: fc.option(fc.stringMatching(/^[0-9a-f]{64}$/), { nil: undefined }),
      durationMs: fc.option(fc.nat(), { nil: undefined }),
      location: fc.option(fc.record({ lat: fc.double({ noNaN: true, noDefaultInfinity: true }), lon: fc.double({ noNaN: true, noDefaultInfinity: true }), label: fc.option(text, { nil: undefined }) }, { requiredKeys: ['lat', 'lon'] }), { nil: undefined }),
      replyTo: fc.option(id, { nil: undefined }),
      status: fc.option(fc.constantFrom(...MESSAGE_STATUSES), { nil: undefined })
    }, { requiredKeys: ['conversation', 'id', 'sender', 'ts', 'kind'] }) as fc.Arbitrary<Message>
    // Items of a few conversations (so runs form), each flag, priors with every optional field.
    const written = fc.option(fc.uint8Array({ minLength: WRITTEN_DIGEST_BYTES, maxLength: WRITTEN_DIGEST_BYTES }), { nil: undefined })
    const item = fc.tuple(fc.constantFrom('c1', 'c2', '𝒞'), fc.constantFrom('new', 'prior', 'held') as fc.Arbitrary<LogItem['flag']>, ts, id, message, written)
      .map(([conversation, flag, t, i, m, w]): LogItem => {
        const it: LogItem = flag === 'prior' ? { flag, conversation, ts: t, id: i, prior: m } : { flag, conversation, ts: t, id: i }
        if (w !== undefined) it.written = w
        return it
      })
    fc.assert(fc.property(fc.array(item, { maxLength: 40 }), items => {
      expect(unpack(packItems(items))).toEqual(items)
    }), { numRuns: 500 })
  })

  it('still reads an entry an earlier version wrote (format 1), as an unverified transfer may have left', () => {
    // packItems of format 1, kept as its bytes: each string in place after its length in bytes.
    const v1 = Buffer.from('010102633180a0abfef962026d310400026d3202904e026d331c0a02633112026d331a02753120052a047465787432066265666f72650106672df09f9880a7eeabfef96204f09d929c07026332ffffffffffffff0f03666172', 'hex')
    expect(unpack(v1)).toEqual([
      { flag: 'new', conversation: 'c1', ts: 1_700_000_000_000, id: 'm1' },
      { flag: 'held', conversation: 'c1', ts: 1_700_000_000_000, id: 'm2' },
      { flag: 'prior', conversation: 'c1', ts: 1_700_000_005_000, id: 'm3', prior: prior({ id: 'm3', ts: 5, text: 'before' }) },
      { flag: 'new', conversation: 'g-😀', ts: -12, id: '𝒜' },
      { flag: 'new', conversation: 'c2', ts: Number.MAX_SAFE_INTEGER, id: 'far' }
    ])
  })

  it('keeps with each item the digest of what was written, where one is given', () => {
    const digest = (n: number): Uint8Array => new Uint8Array(WRITTEN_DIGEST_BYTES).fill(n)
    const items: LogItem[] = [
      { flag: 'new', conversation: 'c1', ts: 1_700_000_000_000, id: 'm1', written: digest(1) },
      { flag: 'held', conversation: 'c1', ts: 1_700_000_000_000, id: 'm2', written: digest(2) },
      { flag: 'prior', conversation: 'g-😀', ts: 5, id: 'm3', prior: prior({ id: 'm3', ts: 5, text: 'before' }), written: digest(3) },
      { flag: 'new', conversation: 'g-😀', ts: Number.MAX_SAFE_INTEGER, id: 'no digest' }
    ]
    expect(unpack(packItems(items))).toEqual(items)
    expect(() => packItems([{ flag: 'new', conversation: 'c1', ts: 1, id: 'm1', written: new Uint8Array(3) }])).toThrow(expect.objectContaining({ code: 'INTERNAL' }))
  })

  it('still reads an entry of format 2, which kept no digests: its items undo as they always did', () => {
    // packItems of format 2, kept as its bytes: every string of the batch in one block after the numbers.
    const v2 = Buffer.from('0236010280a0abfef9620204000202904e021c0a02633112026d331a02753120052a047465787432066265666f72650104a7eeabfef9620263316d316d326d33672df09f9880f09d929c', 'hex')
    expect(unpack(v2)).toEqual([
      { flag: 'new', conversation: 'c1', ts: 1_700_000_000_000, id: 'm1' },
      { flag: 'held', conversation: 'c1', ts: 1_700_000_000_000, id: 'm2' },
      { flag: 'prior', conversation: 'c1', ts: 1_700_000_005_000, id: 'm3', prior: prior({ id: 'm3', ts: 5, text: 'before' }) },
      { flag: 'new', conversation: 'g-😀', ts: -12, id: '𝒜' }
    ])
  })

  it('refuses an entry whose strings do not match its lengths, with a typed error', () => {
    const packed = packItems([{ flag: 'new', conversation: 'c1', ts: 5, id: 'm1' }, { flag: 'new', conversation: 'c1', ts: 6, id: 'm2' }])
    expect(() => unpack(packed.subarray(0, packed.byteLength - 1))).toThrow(expect.objectContaining({ code: 'STORE', message: expect.stringContaining('damaged') }))
    const longer = new Uint8Array([...packed, 0x78])
    expect(() => unpack(longer)).toThrow(expect.objectContaining({ code: 'STORE', message: expect.stringContaining('damaged') }))
    const numbersPastTheEnd = packed.slice()
    numbersPastTheEnd[1] = 0x7f
    expect(() => unpack(numbersPastTheEnd)).toThrow(expect.objectContaining({ code: 'STORE' }))
  })

  it('refuses an entry of an unknown format or cut short, with a typed error', () => {
    const packed = packItems([{ flag: 'prior', conversation: 'c1', ts: 5, id: 'm1', prior: prior() }])
    const wrongFormat = packed.slice()
    wrongFormat[0] = 9
    expect(() => unpack(wrongFormat)).toThrow(expect.objectContaining({ code: 'STORE', message: expect.stringContaining('unknown format') }))
    expect(() => unpack(new Uint8Array([1, 0xff]))).toThrow(expect.objectContaining({ code: 'STORE' }))
    expect(() => unpack(new Uint8Array([1, 18]))).toThrow(expect.objectContaining({ code: 'STORE' })) // a head no writer makes
  })
})
