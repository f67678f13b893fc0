import { ErrorCode, FerryError } from '../errors.js'
import { comparePositions } from '../store/model.js'
import type { MessagePosition } from '../store/history.js'
import { encodeFrame, ferry, type EncodedFrame } from '../wire/codec.js'
import { LEAF_DIGEST_BYTES, type LeafSummary } from './leaves.js'
import { equalBytes } from './digest.js'

// Setting the sender's leaves of a conversation against the receiver's (its Holdings): a leaf the
// receiver holds the same is skipped, one it holds nothing of goes whole, and of one it holds some of,
// the sender lists the messages (key and hash) so the receiver can ask for exactly those it lacks. A
// leaf whose digest is in the receiver's base (Holdings.base: the last verified transfer carried it as
// it is) is kept: whatever the receiver holds in its range is its owner's doing, and nothing of it goes.
// A kept leaf whose range the receiver holds some of goes with its messages' keys (no hash): what the
// receiver holds there may include messages this phone deleted since (moving never deletes) or that its
// app wrote there, so only the keys say how many of this phone's its owner deleted (messagesLeftDeleted).

export interface ListedItem {
  ts: number
  id: string
  /** First 8 bytes of the sha256 of the message's encoding. */
  hash: Uint8Array
}

export interface PlannedLeaf {
  kind: 'have' | 'need' | 'list' | 'kept'
  /** have: the receiver's leaf index. */
  have?: number
  /** Where a read of the leaf starts: the end of the leaf before it (undefined for the first). */
  after?: MessagePosition
  first: MessagePosition
  last: MessagePosition
  count: number
  /** list: the leaf's messages; kept, when `keys`: their keys, each with an empty hash. */
  items?: ListedItem[]
  /** kept: the receiver holds some of its range, so the keys of its messages go with it. */
  keys?: boolean
  /** kept: the leaf's digest, one of the receiver's base. */
  digest?: Uint8Array
}

/** The receiver's base of a conversation: digests of leaves the last verified transfer carried. */
export interface BaseDigests {
  has(digest: Uint8Array): boolean
  /** Every digest of the base, in hex, where known: tells a planner when no run is left to look for (kept-runs.ts). */
  readonly hexes?: ReadonlySet<string>
}

/**
 * The plan for one conversation: `mine` and `theirs` are both in order. A receiver's leaves that overlap
 * or run backwards were refused when they arrived (leafFromWire, checkHoldings).
 */
export function planConversation (mine: LeafSummary[], theirs: LeafSummary[], base?: BaseDigests): PlannedLeaf[] {
  const byLast = new Map<string, number>()
  theirs.forEach((l, i) => byLast.set(`${l.last.ts}\u0000${l.last.id}`, i))
  const plan: PlannedLeaf[] = []
  let after: MessagePosition | undefined
  for (const leaf of mine) {
    const r = byLast.get(`${leaf.last.ts}\u0000${leaf.last.id}`)
    const same = r !== undefined && theirs[r].count === leaf.count && comparePositions(theirs[r].first, leaf.first) === 0 &&
      equalBytes(theirs[r].digest, leaf.digest)
    const at = { after, first: leaf.first, last: leaf.last, count: leaf.count }
    if (same) plan.push({ kind: 'have', have: r, ...at })
    else if (base?.has(leaf.digest) === true) plan.push({ kind: 'kept', digest: leaf.digest, keys: holdsAfter(theirs, after, leaf.last), ...at })
    else if (!overlaps(theirs, leaf.first, leaf.last)) plan.push({ kind: 'need', ...at })
    else plan.push({ kind: 'list', ...at })
    after = leaf.last
  }
  return plan
}

/** True when a leaf of `leaves` (in order, not overlapping) holds a position in [first, last]. */
export function overlaps (leaves: Array<Pick<LeafSummary, 'first' | 'last'>>, first: MessagePosition, last: MessagePosition): boolean {
  let lo = 0
  let hi = leaves.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (comparePositions(leaves[mid].last, first) < 0) lo = mid + 1
    else hi = mid
  }
  return lo < leaves.length && comparePositions(leaves[lo].first, last) <= 0
}

/**
 * True when a leaf of `leaves` (in order, not overlapping) may hold a position in (after, last]: the
 * range a plan entry covers, gap before its first message included.
 */
export function holdsAfter (leaves: Array<Pick<LeafSummary, 'first' | 'last'>>, after: MessagePosition | undefined, last: MessagePosition): boolean {
  let lo = 0
  let hi = leaves.length
  while (after !== undefined && lo < hi) {
    const mid = (lo + hi) >>> 1
    if (comparePositions(leaves[mid].last, after) <= 0) lo = mid + 1
    else hi = mid
  }
  return lo < leaves.length && comparePositions(leaves[lo].first, last) <= 0
}

/** Checks a receiver's leaves: each in order, after the one before it. */
export function checkHoldings (leaves: LeafSummary[]): void {
  for (let i = 0; i < leaves.length; i++) {
    const l = leaves[i]
    if (comparePositions(l.first, l.last) > 0 || (i > 0 && comparePositions(leaves[i - 1].last, l.first) >= 0)) {
      throw new FerryError(ErrorCode.MALFORMED_FRAME, `Holdings leaf ${i} is out of order`)
    }
  }
}

export function leafToWire (l: LeafSummary): ferry.Leaf.$Properties {
  return { firstTs: l.first.ts, firstId: l.first.id, lastTs: l.last.ts, lastId: l.last.id, count: l.count, digest: l.digest }
}

const safe = (v: unknown, what: string): number => {
  const n = Number(v ?? 0)
  if (!Number.isSafeInteger(n)) throw new FerryError(ErrorCode.MALFORMED_FRAME, `${what} is not a safe integer`)
  return n
}

export function leafFromWire (w: ferry.Leaf): LeafSummary {
  const digest = w.digest ?? new Uint8Array(0)
  if (digest.byteLength !== LEAF_DIGEST_BYTES) throw new FerryError(ErrorCode.MALFORMED_FRAME, `a leaf digest must be ${LEAF_DIGEST_BYTES} bytes`)
  const count = w.count ?? 0
  if (count < 1) throw new FerryError(ErrorCode.MALFORMED_FRAME, 'a leaf holds no message')
  return {
    first: { ts: safe(w.firstTs, 'leaf first ts'), id: w.firstId ?? '' },
    last: { ts: safe(w.lastTs, 'leaf last ts'), id: w.lastId ?? '' },
    count,
    digest: digest.slice()
  }
}

/** A plan as Plan frames of about `frameBytes` each; the last has more = false. */
export function leafPlanToWire (conversation: number, plan: PlannedLeaf[], frameBytes: number): EncodedFrame[] {
  const frames: EncodedFrame[] = []
  let leaves: ferry.PlanLeaf.$Properties[] = []
  let size = 0
  const flush = (more: boolean): void => {
    frames.push(encodeFrame({ plan: { conversation, leaves, more } }))
    leaves = []
    size = 0
  }
  for (const l of plan) {
    let w: ferry.PlanLeaf.$Properties
    if (l.kind === 'have') {
      w = { kind: ferry.PlanLeaf.Kind.HAVE, have: l.have }
      size += 4
    } else if (l.kind === 'kept') {
      w = { kind: ferry.PlanLeaf.Kind.KEPT, lastTs: l.last.ts, lastId: l.last.id, count: l.count, digest: l.digest }
      size += 16 + LEAF_DIGEST_BYTES + l.last.id.length * 3
      if (l.items !== undefined) {
        w.items = l.items.map(i => ({ ts: i.ts, id: i.id }))
        for (const i of l.items) size += 16 + i.id.length * 3
      }
    } else {
      w = { kind: l.kind === 'need' ? ferry.PlanLeaf.Kind.NEED : ferry.PlanLeaf.Kind.LIST, lastTs: l.last.ts, lastId: l.last.id, count: l.count }
      size += 16 + l.last.id.length * 3
      if (l.kind === 'list') {
        w.items = (l.items ?? []).map(i => ({ ts: i.ts, id: i.id, hash: i.hash }))
        for (const i of l.items ?? []) size += 24 + i.id.length * 3
      }
    }
    leaves.push(w)
    if (size >= frameBytes) flush(true)
  }
  flush(false)
  return frames
}
