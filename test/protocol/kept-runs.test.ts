import { describe, expect, it } from 'vitest'
import { keptRuns, type PlannedRun, type RunReader } from '../../src/protocol/kept-runs.js'
import { encodedMessage, LeafHasher, type LeafSummary } from '../../src/protocol/leaves.js'
import { toHex } from '../../src/protocol/digest.js'
import type { BaseDigests, PlannedLeaf } from '../../src/protocol/plan.js'
import type { Message } from '../../src/store/model.js'

// The search for runs of the receiver's base inside leaves that go reads each such leaf again and
// digests its ends: a whole transfer of a long history would pay it for every leaf. It must read no leaf
// once no digest of the base is left that it could find, and still find every run there is.

const msg = (i: number): Message => ({ conversation: 'c', id: `m${String(i).padStart(5, '0')}`, sender: 'u', ts: 1_700_000_000_000 + i, kind: 'text', text: `message ${i}` })
const digestOf = (ms: Message[]): Uint8Array => {
  const h = new LeafHasher()
  for (const m of ms) h.add(encodedMessage(m))
  return h.digest()
}
const pos = (m: Message): { ts: number, id: string } => ({ ts: m.ts, id: m.id })

/** Leaves of `size` messages over messages 0..n-1, each planned as NEED. */
function leaves (n: number, size: number): { all: Message[], own: LeafSummary[], runs: PlannedRun[] } {
  const all = Array.from({ length: n }, (_, i) => msg(i))
  const own: LeafSummary[] = []
  const runs: PlannedRun[] = []
  for (let i = 0; i < n; i += size) {
    const ms = all.slice(i, i + size)
    const leaf = { first: pos(ms[0]), last: pos(ms[ms.length - 1]), count: ms.length, digest: digestOf(ms) }
    own.push(leaf)
    const entry: PlannedLeaf = { kind: 'need', after: i === 0 ? undefined : pos(all[i - 1]), first: leaf.first, last: leaf.last, count: leaf.count }
    runs.push({ entry, digest: leaf.digest })
  }
  return { all, own, runs }
}

function baseOf (digests: Uint8Array[]): BaseDigests {
  const hexes = new Set(digests.map(toHex))
  return { has: d => hexes.has(toHex(d)), hexes }
}

function reading (all: Message[]): { reader: RunReader, reads: string[] } {
  const reads: string[] = []
  const reader: RunReader = {
    since: false,
    until: false,
    messages: async function * (entry) {
      reads.push(entry.first.id)
      yield all.filter(m => m.id >= entry.first.id && m.id <= entry.last.id)
    }
  }
  return { reader, reads }
}

describe('the search for runs of the base in leaves that go', () => {
  it('reads no leaf when every digest of the base is one of this phone\'s whole leaves', async () => {
    const { all, own, runs } = leaves(640, 64)
    const { reader, reads } = reading(all)
    const out = await keptRuns(runs, [], baseOf([own[2].digest, own[7].digest]), reader, own)
    expect(reads).toEqual([])
    expect(out.map(r => r.entry.kind)).toEqual(runs.map(() => 'need'))
  })

  it('finds a run at a leaf\'s end, and reads no leaf after the last run the base names', async () => {
    const { all, own, runs } = leaves(640, 64)
    // The base holds the last 20 messages of leaf 3 (a window began there) and the first 10 of leaf 5.
    const tail = all.slice(3 * 64 + 44, 4 * 64)
    const head = all.slice(5 * 64, 5 * 64 + 10)
    const { reader, reads } = reading(all)
    const out = await keptRuns(runs, [], baseOf([digestOf(tail), digestOf(head), own[8].digest]), reader, own)
    const kept = out.filter(r => r.entry.kind === 'kept')
    expect(kept.map(r => [r.entry.first.id, r.entry.count])).toEqual([[tail[0].id, 20], [head[0].id, 10]])
    expect(out.reduce((n, r) => n + r.entry.count, 0)).toBe(640)
    expect(reads).toEqual([all[0], all[64], all[128], all[192], all[256], all[320]].map(m => m.id))
  })

  it('under a window, finds a whole leaf of the history at the end of a window\'s leaf cut elsewhere', async () => {
    // The whole history cut W1 by count (no key boundary), then W2; a window starting inside W1 cuts
    // from its own first message, so its first leaf E1 is W1's end and all of W2. The base holds W2.
    const all = Array.from({ length: 300 }, (_, i) => msg(i))
    const w1 = all.slice(0, 200)
    const w2 = all.slice(200)
    const summary = (ms: Message[]): LeafSummary => ({ first: pos(ms[0]), last: pos(ms[ms.length - 1]), count: ms.length, digest: digestOf(ms) })
    const e1 = all.slice(150)
    const own = [summary(e1)]
    const runs: PlannedRun[] = [{ entry: { kind: 'need', first: own[0].first, last: own[0].last, count: own[0].count }, digest: own[0].digest }]
    const { reader } = reading(all)
    reader.since = true
    reader.wholeLeaves = async () => [summary(w1), summary(w2)]
    const out = await keptRuns(runs, [], baseOf([summary(w2).digest]), reader, own)
    expect(out.map(r => [r.entry.kind, r.entry.first.id, r.entry.count])).toEqual([['need', e1[0].id, 50], ['kept', w2[0].id, 100]])
  })

  it('keeps what lies between two kept ends when the base holds it too, and sends it when not', async () => {
    // A leaf planned before as its first 10, its middle 30 and its last 24 (kept ends and a middle that
    // went): the base holds all three runs, and the same leaf again moves nothing.
    const { all, own, runs } = leaves(192, 64)
    const leaf = all.slice(64, 128)
    const [head, middle, tail] = [leaf.slice(0, 10), leaf.slice(10, 40), leaf.slice(40)]
    const kinds = async (digests: Uint8Array[]): Promise<Array<[string, number]>> =>
      (await keptRuns(runs, [], baseOf(digests), reading(all).reader, own)).slice(1, -1).map(r => [r.entry.kind, r.entry.count])
    expect(await kinds([digestOf(head), digestOf(middle), digestOf(tail)])).toEqual([['kept', 10], ['kept', 30], ['kept', 24]])
    expect(await kinds([digestOf(head), digestOf(tail)])).toEqual([['kept', 10], ['need', 30], ['kept', 24]])
  })

  it('searches every leaf when the base does not list its digests', async () => {
    const { all, own, runs } = leaves(256, 64)
    const { reader, reads } = reading(all)
    const tail = all.slice(3 * 64 + 50, 4 * 64)
    const hexes = new Set([toHex(digestOf(tail))])
    await keptRuns(runs, [], { has: d => hexes.has(toHex(d)) }, reader, own)
    expect(reads.length).toBe(4)
  })
})
