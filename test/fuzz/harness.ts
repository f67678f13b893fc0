import { fc } from '../helpers/property.js'
import { ErrorCode, FerryError } from '../../src/errors.js'
import { ReceiverMachine } from '../../src/protocol/receiver.js'
import { SenderMachine } from '../../src/protocol/sender.js'
import type { TransferOptions } from '../../src/protocol/options.js'
import type { HistorySink, HistorySource } from '../../src/store/history.js'
import type { Message } from '../../src/store/model.js'
import { breathe } from '../../src/protocol/breathe.js'
import { journalOf } from '../helpers/transfer.js'
import { decodeFrame, encodeFrame, ferry, frameLength, type EncodedFrame, type Frame } from '../../src/wire/codec.js'
import { FrameDecoder } from '../../src/wire/framing.js'
import { ManifestMedia } from '../../src/protocol/manifest-media.js'

// Shared by the property tests (test/fuzz/*.test.ts) and the long-running fuzzer (scripts/fuzz.ts):
// generators of hostile input and the drivers that feed it to the decoder and the two state machines.

export const FUZZ_OPTIONS: Partial<TransferOptions> = {
  batchBytes: 1024, chunkBytes: 1024, windowBytes: 8 * 1024, maxMessageBytes: 64 * 1024, maxManifestEntries: 500
}
/** Frame cap of the decoder under fuzz: small, so hostile prefixes above it are cheap to try. */
export const FUZZ_FRAME_CAP = 16 * 1024
export const PREFIX_MAX = 5
/** Upper bound of work per case: frames fed, polls per frame. */
export const MAX_POLLS = 10_000

const KNOWN_CODES = new Set<string>(Object.values(ErrorCode))

/** Any error a fuzz case may legitimately end with; anything else is a crash. */
export function isAllowedError (err: unknown): err is FerryError {
  return err instanceof FerryError && KNOWN_CODES.has(err.code)
}

export class InvariantError extends Error {}

export function concat (parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.byteLength }
  return out
}

function varint (n: number): number[] {
  const out: number[] = []
  while (n >= 0x80) { out.push((n % 128) | 0x80); n = Math.floor(n / 128) }
  out.push(n)
  return out
}

export function framed (body: Uint8Array): Uint8Array {
  return concat([Uint8Array.from(varint(body.byteLength)), body])
}

// ---- corpus: frames of honest transfers -------------------------------------------------------------

export interface Corpus {
  /** Sender -> receiver frames of an honest transfer into an empty store. */
  toReceiver: ferry.Frame[]
  /** Receiver -> sender frames of the same transfer. */
  toSender: ferry.Frame[]
  /** Sender -> receiver frames of a transfer from another source store. */
  foreign: ferry.Frame[]
  /** Sender -> receiver frames of a transfer into a phone that held part of the history (fillPartial). */
  reconcile: ferry.Frame[]
  /** The Holdings frames that phone sent in that transfer. */
  reconcileHoldings: ferry.Frame[]
  /** Encoded bodies of all of the above. */
  bodies: Uint8Array[]
}

export interface HonestResult { sender: SenderMachine, receiver: ReceiverMachine, toReceiver: ferry.Frame[], toSender: ferry.Frame[] }

/** Runs both machines against each other in memory, without I/O; records every frame. */
export async function honestTransfer (source: HistorySource, target: HistorySink & { dir: string }, options = FUZZ_OPTIONS): Promise<HonestResult> {
  const sender = new SenderMachine({ source, options })
  const receiver = new ReceiverMachine({ sink: target, journal: journalOf(target), options })
  const toR: EncodedFrame[] = [...sender.start()]
  const toS: EncodedFrame[] = [...receiver.start()]
  receiver.emit = frames => { toS.push(...frames) }
  const rec: HonestResult = { sender, receiver, toReceiver: [], toSender: [] }
  try {
    await pumpHonest(sender, receiver, toR, toS, rec)
  } catch (err) {
    if (!isAllowedError(err)) throw err
  }
  return rec
}

async function pumpHonest (sender: SenderMachine, receiver: ReceiverMachine, toR: EncodedFrame[], toS: EncodedFrame[], rec: HonestResult): Promise<void> {
  let idle = 0
  for (let steps = 0; steps < 1_000_000; steps++) {
    let moved = false
    for (let f = toS.shift(); f !== undefined; f = toS.shift()) {
      const frame = decodeFrame(concat(f))
      rec.toSender.push(frame)
      await sender.onFrame(frame)
      moved = true
    }
    for (let f = await sender.next(); f !== undefined; f = await sender.next()) toR.push(f)
    const f = toR.shift()
    if (f !== undefined) {
      const body = concat(f)
      const frame = decodeFrame(body)
      rec.toReceiver.push(frame)
      toS.push(...await receiver.onFrame(frame, body.byteLength))
      const ack = receiver.takeAck()
      if (ack !== undefined) toS.push(ack)
      moved = true
    }
    if (sender.finished && receiver.finished) break
    // Both machines also work in the background (reading what they hold, planning): give it its turn.
    if (moved) idle = 0
    else if (++idle > 50) break
    else await breathe()
  }
}

// ---- byte-level generators --------------------------------------------------------------------------

export type ByteMutation =
  | { t: 'flip', at: number, bit: number }
  | { t: 'truncate', at: number }
  | { t: 'splice', other: number, at: number, from: number }
  | { t: 'duplicate', at: number, len: number }
  | { t: 'hugeLength', at: number, value: number }
  | { t: 'wireType', at: number, wt: number }
  | { t: 'repeat', times: number }
  | { t: 'insert', at: number, bytes: Uint8Array }

export const byteMutation: fc.Arbitrary<ByteMutation> = fc.oneof(
  fc.record({ t: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ t: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ t: fc.constant('splice' as const), other: fc.nat(), at: fc.nat(), from: fc.nat() }),
  fc.record({ t: fc.constant('duplicate' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ t: fc.constant('hugeLength' as const), at: fc.nat(), value: fc.oneof(fc.constantFrom(2 ** 31, 2 ** 32 - 1, 2 ** 35 - 1, 2 ** 53 - 1, 1 << 20), fc.nat()) }),
  fc.record({ t: fc.constant('wireType' as const), at: fc.nat(), wt: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ t: fc.constant('repeat' as const), times: fc.integer({ min: 2, max: 200 }) }),
  fc.record({ t: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 16 }) })
)

export function mutateBytes (body: Uint8Array, m: ByteMutation, bodies: Uint8Array[]): Uint8Array {
  const n = body.byteLength
  const at = n === 0 ? 0 : m.t === 'truncate' ? m.at % n : ('at' in m ? m.at % (n + 1) : 0)
  switch (m.t) {
    case 'flip': { if (n === 0) return body; const b = new Uint8Array(body); b[at % n] ^= 1 << m.bit; return b }
    case 'truncate': return body.subarray(0, at)
    case 'splice': {
      const o = bodies[m.other % bodies.length]
      return concat([body.subarray(0, at), o.subarray(o.byteLength === 0 ? 0 : m.from % o.byteLength)])
    }
    case 'duplicate': return concat([body.subarray(0, at), body.subarray(at, at + m.len), body.subarray(at)])
    case 'hugeLength': return concat([body.subarray(0, at), Uint8Array.from(varint(m.value)), body.subarray(at)])
    case 'wireType': { if (n === 0) return body; const b = new Uint8Array(body); b[at % n] = (b[at % n] & ~7) | m.wt; return b }
    case 'repeat': return concat(Array.from({ length: Math.max(1, Math.min(m.times, Math.floor(64 * 1024 / Math.max(n, 1)))) }, () => body))
    case 'insert': return concat([body.subarray(0, at), m.bytes, body.subarray(at)])
  }
}

export type ByteCase =
  | { t: 'random', bytes: Uint8Array, chunks: number[] }
  | { t: 'mutated', base: number, muts: ByteMutation[], framing: 'body' | 'stream', chunks: number[] }
  | { t: 'prefix', prefix: Uint8Array, tail: number }

const chunking = fc.array(fc.integer({ min: 1, max: 4096 }), { maxLength: 8 })
export const byteCase: fc.Arbitrary<ByteCase> = fc.oneof(
  { arbitrary: fc.record({ t: fc.constant('random' as const), bytes: fc.uint8Array({ maxLength: 2048 }), chunks: chunking }), weight: 2 },
  { arbitrary: fc.record({ t: fc.constant('mutated' as const), base: fc.nat(), muts: fc.array(byteMutation, { minLength: 1, maxLength: 4 }), framing: fc.constantFrom('body' as const, 'stream' as const), chunks: chunking }), weight: 6 },
  { arbitrary: fc.record({ t: fc.constant('prefix' as const), prefix: fc.uint8Array({ minLength: 1, maxLength: 12 }).map(p => p.map((b, i) => i < p.length - 1 ? b | 0x80 : b)), tail: fc.nat({ max: 64 }) }), weight: 1 }
)

export interface ByteOutcome { frames: number, errors: FerryError[] }

/**
 * Streams a byte case through a FrameDecoder (capped at FUZZ_FRAME_CAP) and decodeFrame. Throws only
 * a crash: a non-FerryError, or an InvariantError when the decoder buffers more than cap + prefix.
 */
export function runByteCase (c: ByteCase, bodies: Uint8Array[]): ByteOutcome {
  const out: ByteOutcome = { frames: 0, errors: [] }
  const check = (err: unknown): void => {
    if (!isAllowedError(err)) throw err
    out.errors.push(err)
  }
  let stream: Uint8Array
  let chunks: number[] = []
  if (c.t === 'random') { stream = c.bytes; chunks = c.chunks } else if (c.t === 'prefix') {
    stream = concat([c.prefix, new Uint8Array(c.tail)])
  } else {
    let body = bodies[c.base % bodies.length]
    for (const m of c.muts) body = mutateBytes(body, m, bodies)
    chunks = c.chunks
    if (c.framing === 'body') {
      out.frames++
      try { decodeFrame(body) } catch (err) { check(err) }
      // and framed, so the decoder sees it too
    }
    stream = framed(body)
  }
  const decoder = new FrameDecoder(FUZZ_FRAME_CAP)
  let pos = 0
  let ci = 0
  try {
    while (pos < stream.byteLength) {
      const len = chunks.length === 0 ? stream.byteLength : chunks[ci++ % chunks.length]
      const bodiesOut = decoder.push(stream.subarray(pos, pos + len))
      pos += len
      if (decoder.pending > FUZZ_FRAME_CAP + PREFIX_MAX) throw new InvariantError(`decoder buffers ${decoder.pending} bytes, above the cap`)
      for (const b of bodiesOut) {
        if (b.byteLength > FUZZ_FRAME_CAP) throw new InvariantError(`decoder returned a ${b.byteLength}-byte frame`)
        out.frames++
        try { decodeFrame(b) } catch (err) { check(err) }
      }
    }
    decoder.end()
  } catch (err) {
    check(err)
  }
  if (out.frames === 0) out.frames = 1
  return out
}

// ---- frame-level generators: the receiver -----------------------------------------------------------

const u64 = fc.oneof(fc.nat(), fc.constantFrom(0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, 2 ** 53 + 2, 2 ** 63, 2 ** 64 - 2048))
const u32 = fc.oneof(fc.nat({ max: 70_000 }), fc.constantFrom(0, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1))
const i64 = fc.oneof(fc.integer(), fc.constantFrom(-(2 ** 63), 2 ** 63 - 1024, 1_700_000_000_000, -1))
const sha = fc.oneof(fc.uint8Array({ minLength: 32, maxLength: 32 }).map(b => Buffer.from(b).toString('hex')), fc.constantFrom('', 'x', 'A'.repeat(64)))
const shortStr = fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('c0', 'c-😀', 'c1', 'm1', 'me', 'u1', ''))

const wireMessage: fc.Arbitrary<ferry.Message.$Properties> = fc.record({
  conversation: shortStr, id: shortStr, sender: shortStr, ts: i64,
  kind: fc.constantFrom('text', 'image', 'bogus', 'voice', ''),
  text: fc.option(fc.string({ maxLength: 16 }), { nil: undefined }),
  media: fc.option(sha, { nil: undefined }),
  durationMs: fc.option(i64, { nil: undefined }),
  location: fc.option(fc.record({ lat: fc.double(), lon: fc.double() }), { nil: undefined }),
  status: fc.option(fc.constantFrom('read', 'nope'), { nil: undefined })
}, { requiredKeys: ['conversation', 'id', 'sender', 'ts', 'kind'] })

const wireSelection: fc.Arbitrary<ferry.Selection.$Properties> = fc.record({
  conversations: fc.array(shortStr, { maxLength: 4 }),
  sinceMs: fc.option(i64, { nil: undefined }),
  untilMs: fc.option(i64, { nil: undefined })
}, { requiredKeys: ['conversations'] })

/** Structural lies about one frame; applied to an honest frame of the matching kind, or built on their own. */
export type FrameMutation =
  | { m: 'manifestDupConversation' } | { m: 'manifestDupMedia' }
  | { m: 'manifestMany', n: number, kind: 'contacts' | 'conversations' | 'media' }
  | { m: 'mediaSize', k: number, size: number } | { m: 'messageCount', k: number, count: number }
  | { m: 'totalMessages', n: number } | { m: 'transferId', id: Uint8Array } | { m: 'selection', sel: ferry.Selection.$Properties }
  | { m: 'more', more: boolean }
  | { m: 'fragment', total: number, offset: number, len: number }
  | { m: 'chunk', index: number | null, offset: number | null, len: number | null }
  | { m: 'batch', k: number, msg: ferry.Message.$Properties } | { m: 'batchReverse' } | { m: 'batchRepeat', times: number }
  | { m: 'done', count: number | null, mediaCount: number | null }
  | { m: 'hello', version: number, request?: ferry.Selection.$Properties }
  | { m: 'frame', body: 'ack' | 'resume' | 'verified' | 'error' | 'empty' | 'holdings' | 'want' }
  | { m: 'plan', conversation: number, leaves: Array<{ kind: number, have: number, ts: number, id: string, count: number, items: number }>, more: boolean }

export const frameMutation: fc.Arbitrary<FrameMutation> = fc.oneof(
  fc.constant({ m: 'manifestDupConversation' as const }),
  fc.constant({ m: 'manifestDupMedia' as const }),
  fc.record({ m: fc.constant('manifestMany' as const), n: fc.oneof(fc.integer({ min: 1, max: 20 }), fc.constantFrom(499, 501, 2000)), kind: fc.constantFrom('contacts' as const, 'conversations' as const, 'media' as const) }),
  fc.record({ m: fc.constant('mediaSize' as const), k: fc.nat(), size: u64 }),
  fc.record({ m: fc.constant('messageCount' as const), k: fc.nat(), count: u64 }),
  fc.record({ m: fc.constant('totalMessages' as const), n: u64 }),
  fc.record({ m: fc.constant('transferId' as const), id: fc.uint8Array({ maxLength: 20 }) }),
  fc.record({ m: fc.constant('selection' as const), sel: wireSelection }),
  fc.record({ m: fc.constant('more' as const), more: fc.boolean() }),
  fc.record({ m: fc.constant('fragment' as const), total: u32, offset: u32, len: fc.nat({ max: 3000 }) }),
  fc.record({ m: fc.constant('chunk' as const), index: fc.option(u32), offset: fc.option(u64), len: fc.option(fc.nat({ max: 5000 })) }),
  fc.record({ m: fc.constant('batch' as const), k: fc.nat(), msg: wireMessage }),
  fc.constant({ m: 'batchReverse' as const }),
  fc.record({ m: fc.constant('batchRepeat' as const), times: fc.integer({ min: 2, max: 3 }) }),
  fc.record({ m: fc.constant('done' as const), count: fc.option(u64), mediaCount: fc.option(u64) }),
  fc.record({ m: fc.constant('hello' as const), version: fc.oneof(fc.constant(1), u32), request: fc.option(wireSelection, { nil: undefined }) }),
  fc.record({ m: fc.constant('frame' as const), body: fc.constantFrom('ack' as const, 'resume' as const, 'verified' as const, 'error' as const, 'empty' as const, 'holdings' as const, 'want' as const) }),
  fc.record({
    m: fc.constant('plan' as const),
    conversation: fc.oneof(fc.nat({ max: 4 }), u32),
    leaves: fc.array(fc.record({ kind: fc.integer({ min: 0, max: 3 }), have: fc.oneof(fc.nat({ max: 8 }), u32), ts: i64, id: shortStr, count: fc.oneof(fc.nat({ max: 70 }), u32), items: fc.nat({ max: 80 }) }), { maxLength: 6 }),
    more: fc.boolean()
  })
)

/** A decoded copy, so mutations never touch the corpus. */
const clone = (f: ferry.Frame | ferry.Frame.$Properties): ferry.Frame => ferry.Frame.decode(concat(encodeFrame(f)))
// Decoded objects take plain objects for nested fields: encode reads properties, not classes.
const as = <T>(x: object): T => x as T

/** Applies a structural lie; the result is a frame object ready to encode. */
export function mutateFrame (base: ferry.Frame, mut: FrameMutation): ferry.Frame.$Properties {
  const f = clone(base)
  const man = f.body === 'manifest' ? f.manifest as ferry.Manifest : undefined
  const sampleMedia = { sha256: 'ab'.repeat(32), size: 10, mime: 'x' }
  switch (mut.m) {
    case 'manifestDupConversation':
      if (man === undefined || man.conversations.length === 0) return { manifest: { transferId: new Uint8Array(16), sourceId: 's', conversations: [{ id: 'c0', kind: 'direct' }, { id: 'c0', kind: 'direct' }] } }
      man.conversations.push(man.conversations[0]); return f
    case 'manifestDupMedia':
      if (man === undefined || man.media.length === 0) return { manifest: { transferId: new Uint8Array(16), sourceId: 's', media: [sampleMedia, sampleMedia] } }
      man.media.push(man.media[0]); return f
    case 'manifestMany': {
      const target = man ?? as<ferry.Manifest>({ transferId: new Uint8Array(16), sourceId: 's', contacts: [], conversations: [], media: [] })
      for (let i = 0; i < mut.n; i++) {
        if (mut.kind === 'contacts') target.contacts.push(as<ferry.Contact>({ id: `x${i}`, name: 'n' }))
        else if (mut.kind === 'conversations') target.conversations.push(as<ferry.Conversation>({ id: `x${i}`, kind: 'group', messageCount: 0 }))
        else target.media.push(as<ferry.MediaInfo>({ sha256: i.toString(16).padStart(64, '0'), size: i }))
      }
      return man === undefined ? { manifest: target } : f
    }
    case 'mediaSize':
      if (man === undefined || man.media.length === 0) return { manifest: { transferId: new Uint8Array(16), sourceId: 's', media: [{ ...sampleMedia, size: mut.size }] } }
      man.media[mut.k % man.media.length].size = mut.size; return f
    case 'messageCount':
      if (man === undefined || man.conversations.length === 0) return { manifest: { transferId: new Uint8Array(16), sourceId: 's', totalMessages: mut.count, conversations: [{ id: 'c0', kind: 'direct', messageCount: mut.count }] } }
      man.conversations[mut.k % man.conversations.length].messageCount = mut.count; return f
    case 'totalMessages':
      if (man === undefined) return { manifest: { transferId: new Uint8Array(16), sourceId: 's', totalMessages: mut.n } }
      man.totalMessages = mut.n; return f
    case 'transferId':
      if (man === undefined) return { manifest: { transferId: mut.id, sourceId: 's' } }
      man.transferId = mut.id; return f
    case 'selection':
      if (man === undefined) return { manifest: { transferId: new Uint8Array(16), sourceId: 's', selection: mut.sel } }
      man.selection = as<ferry.Selection>(mut.sel); return f
    case 'more':
      if (man === undefined) return { manifest: { transferId: new Uint8Array(16), sourceId: 's', more: mut.more } }
      man.more = mut.more; return f
    case 'fragment': {
      const fr = f.body === 'fragment' ? f.fragment as ferry.MessageFragment : undefined
      const data = fr !== undefined && mut.len === 0 ? fr.data : new Uint8Array(mut.len)
      return { fragment: { total: mut.total, offset: mut.offset, data } }
    }
    case 'chunk': {
      const c = f.body === 'chunk' ? f.chunk as ferry.MediaChunk : undefined
      return {
        chunk: {
          index: mut.index ?? c?.index ?? 0,
          offset: mut.offset ?? c?.offset ?? 0,
          data: mut.len === null ? (c?.data ?? new Uint8Array(0)) : new Uint8Array(mut.len).fill(7)
        }
      }
    }
    case 'batch': {
      const b = f.body === 'batch' ? f.batch as ferry.MessageBatch : undefined
      if (b === undefined || b.messages.length === 0) return { batch: { messages: [mut.msg] } }
      b.messages[mut.k % b.messages.length] = as<ferry.Message>(mut.msg); return f
    }
    case 'batchReverse':
      if (f.body === 'batch') (f.batch as ferry.MessageBatch).messages.reverse()
      return f
    case 'batchRepeat':
      if (f.body === 'batch') { const b = f.batch as ferry.MessageBatch; b.messages = Array.from({ length: mut.times }, () => b.messages).flat() }
      return f
    case 'done': {
      const d = f.body === 'done' ? f.done as ferry.Done : as<ferry.Done>({ conversations: [{ id: 'c0', count: 1 }] })
      if (mut.count !== null) for (const c of d.conversations) c.count = mut.count
      if (mut.mediaCount !== null) d.mediaCount = mut.mediaCount
      return { done: d }
    }
    case 'hello': return { hello: { version: mut.version, request: mut.request } }
    case 'frame':
      switch (mut.body) {
        case 'ack': return { ack: { bytes: 1 } }
        case 'resume': return { resume: {} }
        case 'verified': return { verified: { messages: 1 } }
        case 'error': return { error: { code: 'X', message: 'y' } }
        case 'empty': return {}
        case 'holdings': return { holdings: { conversation: 0, leaves: [] } }
        case 'want': return { want: { conversation: 0, items: new Uint8Array(1) } }
      }
      break
    case 'plan': {
      // A plan built over the honest one when there is one: same conversation, leaves replaced.
      const base = f.body === 'plan' ? f.plan as ferry.Plan : undefined
      const leaves = mut.leaves.map(l => ({
        kind: l.kind, have: l.have, lastTs: l.ts, lastId: l.id, count: l.count,
        items: Array.from({ length: l.items }, (_, i) => ({ ts: l.ts - l.items + i, id: `${l.id}${i}`, hash: new Uint8Array(8) }))
      }))
      return { plan: { conversation: base?.conversation ?? mut.conversation, leaves: [...(base?.leaves ?? []), ...leaves], more: mut.more } }
    }
  }
  return f
}

export type SeqEdit =
  | { t: 'drop', i: number } | { t: 'dup', i: number } | { t: 'swap', i: number, j: number }
  | { t: 'foreign', i: number, at: number } | { t: 'mutate', i: number, mut: FrameMutation }
  | { t: 'insert', at: number, mut: FrameMutation } | { t: 'cut', at: number } | { t: 'shuffle', seed: number }

export const seqEdit: fc.Arbitrary<SeqEdit> = fc.oneof(
  fc.record({ t: fc.constant('drop' as const), i: fc.nat() }),
  fc.record({ t: fc.constant('dup' as const), i: fc.nat() }),
  fc.record({ t: fc.constant('swap' as const), i: fc.nat(), j: fc.nat() }),
  fc.record({ t: fc.constant('foreign' as const), i: fc.nat(), at: fc.nat() }),
  { arbitrary: fc.record({ t: fc.constant('mutate' as const), i: fc.nat(), mut: frameMutation }), weight: 4 },
  fc.record({ t: fc.constant('insert' as const), at: fc.nat(), mut: frameMutation }),
  fc.record({ t: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ t: fc.constant('shuffle' as const), seed: fc.nat() })
)

export const receiverCase = fc.array(seqEdit, { minLength: 1, maxLength: 4 })

/** The frames a hostile sender sends: the honest stream with edits applied, each as an encoded body. */
export function receiverFrames (edits: SeqEdit[], corpus: Corpus, stream: ferry.Frame[] = corpus.toReceiver): Uint8Array[] {
  let seq: Array<ferry.Frame | ferry.Frame.$Properties> = [...stream]
  const n = (): number => Math.max(seq.length, 1)
  for (const e of edits) {
    switch (e.t) {
      case 'drop': seq.splice(e.i % n(), 1); break
      case 'dup': { const i = e.i % n(); if (seq[i] !== undefined) seq.splice(i, 0, seq[i]); break }
      case 'swap': { if (seq.length === 0) break; const i = e.i % n(); const j = e.j % n(); [seq[i], seq[j]] = [seq[j], seq[i]]; break }
      case 'foreign': seq.splice(e.at % (seq.length + 1), 0, corpus.foreign[e.i % corpus.foreign.length]); break
      case 'mutate': { const i = e.i % n(); if (seq[i] !== undefined) seq[i] = mutateFrame(asFrame(seq[i]), e.mut); break }
      case 'insert': { const at = e.at % (seq.length + 1); seq.splice(at, 0, mutateFrame(asFrame(seq[Math.min(at, seq.length - 1)] ?? {}), e.mut)); break }
      case 'cut': seq = seq.slice(0, e.at % (seq.length + 1)); break
      case 'shuffle': {
        let s = e.seed
        for (let i = seq.length - 1; i > 0; i--) { s = (s * 1103515245 + 12345) % 2147483648; const j = s % (i + 1); [seq[i], seq[j]] = [seq[j], seq[i]] }
        break
      }
    }
  }
  return seq.map(f => concat(encodeFrame(f)))
}

function asFrame (f: ferry.Frame | ferry.Frame.$Properties): ferry.Frame {
  return f instanceof ferry.Frame ? f : clone(f)
}

export interface MachineOutcome { frames: number, error?: FerryError, finished: boolean }

/**
 * Feeds frame bodies to a receiver until it fails or they run out. Throws only a crash: a non-FerryError
 * or a broken invariant (a fragment buffer above maxMessageBytes, a frame accepted after failure).
 */
export async function runReceiverCase (receiver: ReceiverMachine, bodies: Uint8Array[], maxMessageBytes: number): Promise<MachineOutcome> {
  const out: MachineOutcome = { frames: 0, finished: false }
  for (const body of bodies) {
    out.frames++
    let frame: Frame
    try { frame = decodeFrame(body) } catch (err) { if (!isAllowedError(err)) throw err; out.error = err; break }
    try {
      await receiver.onFrame(frame, body.byteLength)
      receiver.takeAck()
    } catch (err) {
      if (!isAllowedError(err)) throw err
      out.error = err
      if (receiver.state !== 'failed' && receiver.state !== 'verified') throw new InvariantError(`receiver threw ${err.code} but is still in state ${receiver.state}`)
      break
    } finally {
      const fragment = (receiver as unknown as { fragment?: { buf: Uint8Array } }).fragment
      if (fragment !== undefined && fragment.buf.byteLength > maxMessageBytes) {
        throw new InvariantError(`receiver allocated a ${fragment.buf.byteLength}-byte fragment buffer`)
      }
    }
    if (receiver.finished) break
  }
  out.finished = receiver.finished
  return out
}

// ---- frame-level generators: the sender -------------------------------------------------------------

export type SenderOp =
  | { t: 'hello', version: number, request?: ferry.Selection.$Properties }
  | { t: 'resume', held: 'none' | 'all' | Uint8Array, have: 'none' | 'all' | Uint8Array, partial: Array<{ index: number, offset: number | { rel: number } }> }
  | { t: 'holdings', conversation: number, leaves: Array<{ first: number, span: number, id: string, count: number, digest: Uint8Array }>, more: boolean, real: boolean }
  | { t: 'root', conversation: number, count: number, last: boolean, base: Uint8Array }
  | { t: 'want', conversation: number, items: Uint8Array }
  | { t: 'ack', from: 'sent' | 'acked', delta: number }
  | { t: 'verified' } | { t: 'error' } | { t: 'other', mut: FrameMutation }

export const senderOp: fc.Arbitrary<SenderOp> = fc.oneof(
  fc.record({ t: fc.constant('hello' as const), version: fc.oneof(fc.constant(1), fc.constant(1), u32), request: fc.option(wireSelection, { nil: undefined }) }),
  fc.record({
    t: fc.constant('resume' as const),
    held: fc.oneof(fc.constantFrom('none' as const, 'all' as const), fc.uint8Array({ maxLength: 4 })),
    have: fc.oneof(fc.constantFrom('none' as const, 'all' as const), fc.uint8Array({ maxLength: 64 })),
    partial: fc.array(fc.record({ index: u32, offset: fc.oneof(u64, fc.record({ rel: fc.integer({ min: -2, max: 2 }) })) }), { maxLength: 4 })
  }),
  { arbitrary: fc.record({ t: fc.constant('ack' as const), from: fc.constantFrom('sent' as const, 'acked' as const), delta: fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: -5000, max: 5000 }), u64) }), weight: 6 },
  fc.constant({ t: 'verified' as const }),
  fc.constant({ t: 'error' as const }),
  fc.record({ t: fc.constant('other' as const), mut: frameMutation }),
  { arbitrary: fc.record({
    t: fc.constant('holdings' as const),
    conversation: fc.oneof(fc.nat({ max: 4 }), u32),
    leaves: fc.array(fc.record({ first: i64, span: fc.oneof(fc.nat({ max: 10_000 }), fc.integer({ min: -5, max: 0 })), id: shortStr, count: fc.oneof(fc.nat({ max: 80 }), u32), digest: fc.uint8Array({ minLength: 0, maxLength: 20 }) }), { maxLength: 5 }),
    more: fc.boolean(),
    real: fc.boolean()
  }), weight: 3 },
  { arbitrary: fc.record({ t: fc.constant('want' as const), conversation: fc.oneof(fc.nat({ max: 4 }), u32), items: fc.uint8Array({ maxLength: 40 }) }), weight: 2 },
  // A root, with a base of whole digests or not, counting nothing (a deleted chat) or something.
  { arbitrary: fc.record({
    t: fc.constant('root' as const),
    conversation: fc.oneof(fc.nat({ max: 4 }), u32),
    count: fc.oneof(fc.constant(0), fc.nat({ max: 80 }), u32),
    last: fc.boolean(),
    base: fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.nat({ max: 6 }).map(n => new Uint8Array(16 * n).fill(n)))
  }), weight: 2 }
)

const honestStart: SenderOp[] = [{ t: 'hello', version: 2 }, { t: 'resume', held: 'none', have: 'none', partial: [] }]
/** Mostly an honest receiver (Hello, Resume, acks of all that was sent), with hostile ops mixed in. */
export const senderCase = fc.tuple(fc.nat({ max: 2 }), fc.array(senderOp, { maxLength: 12 }), fc.array(fc.tuple(fc.nat(), senderOp), { maxLength: 3 }))
  .map(([keep, tail, inserts]) => {
    const ops = [...honestStart.slice(0, keep), ...tail]
    for (const [at, op] of inserts) ops.splice(at % (ops.length + 1), 0, op)
    return ops
  })

function senderFrame (op: SenderOp, sender: SenderMachine, corpus: Corpus): ferry.Frame.$Properties {
  switch (op.t) {
    case 'hello': return { hello: { version: op.version, request: op.request } }
    case 'resume': {
      const media = sender.manifest?.media ?? new ManifestMedia()
      const resume: ferry.Resume.$Properties = {}
      resume.held = op.held === 'none' ? new Uint8Array(0) : op.held === 'all' ? new Uint8Array(4).fill(255) : op.held
      resume.mediaHave = op.have === 'none' ? new Uint8Array(0) : op.have === 'all' ? new Uint8Array(64).fill(255) : op.have
      resume.partial = op.partial.map(p => ({
        index: p.index,
        offset: typeof p.offset === 'number' ? p.offset : Math.max(0, (media.length > 0 ? media.size(Math.abs(p.index) % media.length) : 0) + p.offset.rel)
      }))
      return { resume }
    }
    case 'holdings': {
      // Either made up, or the honest receiver's leaves of a reconciling transfer with the lies mixed in.
      const honest = op.real ? corpus.reconcileHoldings.find(h => (h.holdings?.conversation ?? 0) === op.conversation)?.holdings : undefined
      const leaves = op.leaves.map(l => ({ firstTs: l.first, firstId: l.id, lastTs: l.first + l.span, lastId: l.id, count: l.count, digest: l.digest }))
      return { holdings: { conversation: op.conversation, leaves: [...(honest?.leaves ?? []), ...leaves], more: op.more } }
    }
    case 'root': {
      const last = op.last ? { lastTs: 1_700_000_000_000, lastId: 'm0' } : {}
      return { holdings: { conversation: op.conversation, root: new Uint8Array(32), count: op.count, base: op.base, ...last } }
    }
    case 'want': return { want: { conversation: op.conversation, items: op.items } }
    case 'ack': {
      const base = op.from === 'sent' ? sender.progress.bytesSent : sender.progress.bytesAcked
      return { ack: { bytes: Math.max(0, base + op.delta) } }
    }
    case 'verified': return { verified: { messages: 1 } }
    case 'error': return { error: { code: 'PROTOCOL', message: 'no' } }
    case 'other': return mutateFrame(corpus.toReceiver[0], op.mut)
  }
}

/** Drives a sender with a hostile receiver: each op is one frame in, then polls until it waits. */
export async function runSenderCase (sender: SenderMachine, ops: SenderOp[], corpus: Corpus): Promise<MachineOutcome> {
  const out: MachineOutcome = { frames: 0, finished: false }
  const drain = async (): Promise<void> => {
    // Planning goes on in the background after a Holdings: let it run before asking for frames.
    await breathe()
    for (let polls = 0; ; polls++) {
      if (polls > MAX_POLLS) throw new InvariantError('sender keeps producing frames without acknowledgements')
      const f = await sender.next()
      if (f === undefined) return
      if (frameLength(f) > FUZZ_FRAME_CAP) throw new InvariantError(`sender produced a ${frameLength(f)}-byte frame`)
      out.frames++
    }
  }
  try {
    for (const f of sender.start()) decodeFrame(concat(f))
    for (const op of ops) {
      const body = concat(encodeFrame(senderFrame(op, sender, corpus)))
      out.frames++
      let frame: Frame
      try { frame = decodeFrame(body) } catch (err) { if (!isAllowedError(err)) throw err; out.error = err; break }
      await sender.onFrame(frame)
      await drain()
      if (sender.finished) break
    }
  } catch (err) {
    if (!isAllowedError(err)) throw err
    out.error = err
    if (sender.state !== 'failed') throw new InvariantError(`sender threw ${err.code} but is still in state ${sender.state}`)
  }
  out.finished = sender.finished
  return out
}

export function corpusBodies (c: Omit<Corpus, 'bodies'>): Uint8Array[] {
  return [...c.toReceiver, ...c.toSender, ...c.foreign, ...c.reconcile, ...c.reconcileHoldings].map(f => concat(encodeFrame(f)))
}

// ---- fixtures ---------------------------------------------------------------------------------------

type Store = HistorySource & HistorySink & { dir: string, close: () => void, writeMedia: SqliteLike['writeMedia'], putMessages: (ms: Message[]) => void, listMessages: () => Iterable<Message> }

export interface Fixture {
  source: Store
  other: Store
  corpus: Corpus
  /** Makes `target` hold what the reconciling transfer's receiver held: part of the source, an edit, a chat of its own. */
  fillPartial: (target: Store) => Promise<void>
}

/** Two seeded source stores (a fragmented message, media of several chunks, a missing file) and the corpus of their honest transfers. */
export async function makeFixture (open: () => Store, fill: (s: never, spec: object) => Promise<void>): Promise<Fixture> {
  const source = open()
  await fill(source as never, { conversations: 3, messagesPerConversation: 20, mediaSizes: [3000, 1500, 0], hugeMessageBytes: 3000 })
  const other = open()
  await fill(other as never, { conversations: 2, messagesPerConversation: 5, mediaSizes: [700] })
  const first = await honestTransfer(source, open())
  const foreign = await honestTransfer(other, open())
  const held = [...source.listMessages()].filter((m, i) => i % 3 !== 0)
  const conversations = (await source.conversations()).map(c => c.conversation)
  const named = new Set(held.flatMap(m => m.media ?? []))
  const records = (await source.media(undefined, 1000)).filter(r => named.has(r.sha256)).map(({ stored, ...r }) => r)
  const fillPartial = async (t: Store): Promise<void> => {
    // As a transfer cut short leaves it: the chats and the records of what arrived, then messages.
    await t.commit({ conversations, media: records })
    t.putMessages(held.map((m, i) => i === 1 ? { ...m, text: 'edited on the new phone' } : m))
    t.putMessages([{ conversation: 'c0', id: 'own', sender: 'me', ts: 1_700_000_000_500, kind: 'text', text: 'mine' }])
  }
  const partial = open()
  await fillPartial(partial)
  const reconciling = await honestTransfer(source, partial)
  for (const r of [first, foreign, reconciling]) if (r.receiver.state !== 'verified') throw new Error(`honest fixture transfer failed: receiver ${r.receiver.state} ${r.receiver.error?.message}, sender ${r.sender.state} ${r.sender.progress.bytesSent}/${r.sender.progress.bytesAcked}`)
  const reconcileHoldings = reconciling.toSender.filter(f => f.body === 'holdings')
  if (!reconciling.toReceiver.some(f => f.body === 'plan') || reconcileHoldings.length === 0) throw new Error('the reconciling fixture transfer made no plan')
  const c = { toReceiver: first.toReceiver, toSender: first.toSender, foreign: foreign.toReceiver, reconcile: reconciling.toReceiver, reconcileHoldings }
  return { source, other, corpus: { ...c, bodies: corpusBodies(c) }, fillPartial }
}

interface SqliteLike { writeMedia: (src: AsyncIterable<Uint8Array>) => Promise<{ sha256: string }> }
