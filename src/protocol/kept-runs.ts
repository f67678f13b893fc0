import { comparePositions, type Message } from '../store/model.js'
import type { MessagePosition } from '../store/history.js'
import { encodedMessage, LEAF_DIGEST_BYTES, type LeafSummary } from './leaves.js'
import { createSha256, prefixDigests } from './sha256.js'
import { holdsAfter, overlaps, type BaseDigests, type PlannedLeaf } from './plan.js'
import { toHex } from './digest.js'

// The receiver's base holds digests of runs of the old phone's messages as a verified transfer carried
// them: whole leaves, and where a date selection's edge cut a leaf, the part of it inside the selection.
// A leaf of the sender's that no digest of the base names whole may still hold such a run unchanged,
// and then the receiver's owner deleted what it lacks there, as in a kept leaf. Two cases, found
// without any byte more on the wire than the runs' digests:
//
// - A transfer of the whole history, after one of a time window: the window's edge leaf is part of a
//   leaf of the whole. A run at either end of the leaf whose digest is in the base is kept (its
//   messages stay as the receiver has them); only the rest of the leaf is planned as usual.
// - A transfer of a time window, after one of the whole history: the window's first (or last) leaf is
//   part of a whole leaf. When that whole leaf's digest is in the base, the old phone did not change it
//   since, so nor the part inside the window: it is kept, digested as the whole leaf's digest.
//
// The first search also finds a leaf the old phone added messages to since (its last leaf grows with
// every message written there): the leaf the base holds is its prefix, kept, and only what is new goes.
//
// Either way, what the receiver accepts is a digest of its own base, as for any kept leaf: a sender
// gains nothing by naming one. The conversation's root is then over the runs as planned (a kept run's
// digest as the base holds it), and the base the transfer records is those runs, so the next transfer
// finds them the same way; so what is left between two kept ends is kept as well when its digest is in
// the base (the transfer that planned the leaf so recorded it), or it would go at every transfer. A run
// of the base inside a leaf, touching neither end (a window inside one leaf, then the whole history), is
// not looked for: its deletions come back, as in a leaf the old phone changed.

/** A plan entry, with the digest it adds to the conversation's root. */
export interface PlannedRun {
  entry: PlannedLeaf
  digest: Uint8Array
}

/** What the planner reads: a plan entry's messages, and the conversation's whole leaves (a window's). */
export interface RunReader {
  messages: (entry: PlannedLeaf) => AsyncIterable<Message[]>
  /** The leaves of the whole conversation, for a time window; undefined for the whole history. */
  wholeLeaves?: () => Promise<LeafSummary[]>
  /** Whether the selection has a lower bound (`since`), and an upper one (`until`). */
  since: boolean
  until: boolean
}

/**
 * The runs of a plan against the receiver's base: entries whose messages go (NEED, LIST) replaced by the
 * kept runs at their ends and what is left of them. `theirs`: the receiver's leaves; `own`: this
 * phone's leaves of the conversation (the selection's), all of them.
 *
 * A digest of one of these leaves names exactly its messages, and the leaves do not overlap, so it is no
 * proper part of another: where the base lists its digests, those the leaves do not name are the only
 * ones a search can find. Once each is found, or when there is none, no further leaf is searched (in a
 * second transfer of a history that only grew, the leaf that grew holds the one such digest).
 */
export async function keptRuns (runs: PlannedRun[], theirs: LeafSummary[], base: BaseDigests, reader: RunReader, own: readonly LeafSummary[] = []): Promise<PlannedRun[]> {
  const out: PlannedRun[] = []
  let whole: LeafSummary[] | undefined
  const open = base.hexes === undefined ? undefined : new Set(base.hexes)
  // Not the conversation's whole leaves under a window: a cut by count or size falls elsewhere when the
  // cutter starts at the window's first message, so a whole leaf can be the end of a window's leaf.
  for (const l of own) open?.delete(toHex(l.digest))
  for (let i = 0; i < runs.length; i++) {
    const run = runs[i]
    const e = run.entry
    if (e.kind === 'have' || e.kind === 'kept') { out.push(run); continue }
    const edge = (i === 0 && reader.since) || (i === runs.length - 1 && reader.until)
    if (edge && reader.wholeLeaves !== undefined) {
      whole ??= await reader.wholeLeaves()
      const within = containing(whole, e)
      if (within !== undefined && base.has(within.digest)) {
        out.push({ entry: keptEntry(e.after, e.first, e.last, e.count, within.digest, theirs), digest: within.digest })
        continue
      }
    }
    if (open !== undefined && open.size === 0) { out.push(run); continue }
    const messages: Message[] = []
    for await (const page of reader.messages(e)) for (const m of page) messages.push(m)
    const split = messages.length === e.count ? splitAtEnds(e, messages, base, theirs) : undefined
    if (split === undefined) out.push(run)
    else {
      for (const r of split) {
        out.push(r)
        if (r.entry.kind === 'kept') open?.delete(toHex(r.digest))
      }
    }
  }
  return out
}

/** The whole leaf that holds all of `e`, if one does. */
function containing (whole: LeafSummary[], e: PlannedLeaf): LeafSummary | undefined {
  let lo = 0
  let hi = whole.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (comparePositions(whole[mid].last, e.last) < 0) lo = mid + 1
    else hi = mid
  }
  const l = whole[lo]
  return l !== undefined && comparePositions(l.first, e.first) <= 0 ? l : undefined
}

function keptEntry (after: MessagePosition | undefined, first: MessagePosition, last: MessagePosition, count: number, digest: Uint8Array, theirs: LeafSummary[]): PlannedLeaf {
  return { kind: 'kept', digest, keys: holdsAfter(theirs, after, last), after, first, last, count }
}

/**
 * A leaf's messages framed as LeafHasher digests them (length, then encoding), in one buffer, with where
 * each message's frame begins. The suffixes of a leaf share no hash state, so their search digests up to
 * n^2 / 2 messages: as one update over a part of the buffer each, not two small updates a message, which
 * cost several times the hashing itself. The prefixes share one hash carried along (prefixDigests).
 */
interface Framed {
  bytes: Uint8Array
  /** at[i]: where message i's frame begins; at[n]: the buffer's length. */
  at: number[]
}

function framed (encodings: Uint8Array[]): Framed {
  let total = 0
  for (const enc of encodings) total += 4 + enc.byteLength
  const bytes = new Uint8Array(total)
  const view = new DataView(bytes.buffer)
  const at = [0]
  let off = 0
  for (const enc of encodings) {
    view.setUint32(off, enc.byteLength)
    bytes.set(enc, off + 4)
    off += 4 + enc.byteLength
    at.push(off)
  }
  return { bytes, at }
}

/** The leaf digest of messages [from, to): the same bytes as a LeafHasher fed them one by one. */
function runDigest (f: Framed, from: number, to: number): Uint8Array {
  const h = createSha256()
  h.update(f.bytes.subarray(f.at[from], f.at[to]))
  return h.digest().subarray(0, LEAF_DIGEST_BYTES)
}

/**
 * The leaf split into its longest suffix the base holds, the longest prefix before it the base holds,
 * and what is between them (kept when the base holds it too, else planned as the leaf was: listed where
 * the receiver holds some of it); undefined when no end is in the base.
 */
function splitAtEnds (e: PlannedLeaf, messages: Message[], base: BaseDigests, theirs: LeafSummary[]): PlannedRun[] | undefined {
  const n = messages.length
  const f = framed(messages.map(encodedMessage))
  let suffix = 0
  let suffixDigest: Uint8Array | undefined
  for (let from = 1; from < n && suffixDigest === undefined; from++) {
    const d = runDigest(f, from, n)
    if (base.has(d)) { suffix = n - from; suffixDigest = d }
  }
  let prefix = 0
  let prefixDigest: Uint8Array | undefined
  const longest = n - suffix - (suffix === 0 ? 1 : 0)
  // Every prefix's digest in one pass; the longest the base holds is kept.
  const prefixes = longest > 0 ? prefixDigests(f.bytes, f.at.slice(1, longest + 1)) : []
  for (let to = longest; to > 0 && prefixDigest === undefined; to--) {
    const d = prefixes[to - 1].subarray(0, LEAF_DIGEST_BYTES)
    if (base.has(d)) { prefix = to; prefixDigest = d }
  }
  if (suffixDigest === undefined && prefixDigest === undefined) return undefined
  const key = (m: Message): MessagePosition => ({ ts: m.ts, id: m.id })
  const out: PlannedRun[] = []
  let after = e.after
  if (prefixDigest !== undefined) {
    const last = key(messages[prefix - 1])
    out.push({ entry: keptEntry(after, key(messages[0]), last, prefix, prefixDigest, theirs), digest: prefixDigest })
    after = last
  }
  const middle = n - prefix - suffix
  if (middle > 0) {
    const first = key(messages[prefix])
    const last = key(messages[n - suffix - 1])
    const digest = runDigest(f, prefix, n - suffix)
    // A run between two kept ends that a verified transfer recorded as planned then is unchanged too:
    // without this, what was kept out of it (deleted here) would be sent at every transfer.
    if (base.has(digest)) out.push({ entry: keptEntry(after, first, last, middle, digest, theirs), digest })
    else out.push({ entry: { kind: overlaps(theirs, first, last) ? 'list' : 'need', after, first, last, count: middle }, digest })
    after = last
  }
  if (suffixDigest !== undefined) {
    out.push({ entry: keptEntry(after, key(messages[n - suffix]), e.last, suffix, suffixDigest, theirs), digest: suffixDigest })
  }
  return out
}
