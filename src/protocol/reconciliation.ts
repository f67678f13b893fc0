import type { Logger } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { ErrorCode, FerryError } from '../errors.js'
import { comparePositions, type Conversation, type Message, type Selection } from '../store/model.js'
import type { HistorySink, MessagePosition } from '../store/history.js'
import type { Journal, JournalOp } from '../journal/journal.js'
import { latestVerification, type TransferLog, type TransferRecord, type VerifiedFrom } from '../journal/transfer-log.js'
import { LeafBases } from '../journal/leaf-bases.js'
import { encodeFrame, ferry, type EncodedFrame } from '../wire/codec.js'
import { MAX_FRAME_BYTES } from '../wire/framing.js'
import { bitmapBytes, setBit } from './bitmap.js'
import { equalBytes } from './digest.js'
import { ConversationRoot, encodedMessage, LEAF_DIGEST_BYTES, LeafHasher, messageHash, type LeafSummary } from './leaves.js'
import { conversationLeaves } from './conversation-leaves.js'
import { inRange, pagesThrough, startOf } from './manifest.js'
import { leafToWire } from './plan.js'
import { wholeConversations } from './selection.js'
import { writeNames } from './name-writes.js'
import type { HeldMessage, PlanEntry } from './verification.js'
import { storedEncodings } from './stored-encodings.js'
import type { Expected, Incoming } from './incoming.js'

// The receiver's side of reconciliation (docs/architecture.md, step 4): which conversations this phone
// holds some of, their roots and leaves sent to the sender with the base of what the last verified
// transfer from the same old phone carried, the sender's plan taken and answered with what this phone
// wants, and what this transfer verified made the base of the next. The machine (receiver.ts) checks
// each frame against the session's state and hands the reconciliation's frames to it; what this phone
// holds, and so what is still to come, is settled here.

// The receiver's log: a plan is part of what a person following a receive (DEBUG=ferry:receiver) reads.
const log = logger('ferry:receiver')
/**
 * The most bytes of a prefix plan's last held leaf kept in memory until the end (openLeafOf): a leaf
 * holds LEAF_MAX messages at most, and a chat's latest ones are most often far fewer and short.
 */
const OPEN_LEAF_BYTES = 4 * 1024 * 1024

/** Progress counters the reconciliation keeps (the receiver's): what is held here, and what stays deleted. */
export interface PlanProgress {
  messages: number
  messagesHeld: number
  messagesLeftDeleted: number
  chatsLeftDeleted: number
}

export interface ReconciliationInit {
  sink: HistorySink
  journal: Journal
  /** The transfer's log, opened: a chat deleted here that comes back is logged to be undone. */
  log: TransferLog
  transfer: TransferRecord
  expected: Expected
  progress: PlanProgress
  /** Whether the bases recorded describe the store as it is (base-generation.ts); if not, none is read. */
  basesTrusted: boolean
  /** The person asked for everything back (ReceiverInit.restoreDeleted): no base is offered. */
  restoreDeleted: boolean
  /** TransferOptions.maxManifestEntries: a base offered holds no more digests than a manifest may hold entries. */
  maxManifestEntries: number
  /** Sends frames made in the background (the machine's `emit`, which the driver sets). */
  emit: (frames: EncodedFrame[]) => void
  /** Whether the session has ended: holdings still being read are then not sent. */
  ended: () => boolean
  /** Called once a plan counted what this phone holds of its conversation into `progress`. */
  counted: () => void
  /** Where a plan's line goes (the receiver's); `ferry:receiver` when none is given. */
  logger?: Logger
}

export class Reconciliation {
  private readonly sink: HistorySink
  private readonly log: TransferLog
  private readonly logger: Logger
  private readonly transfer: TransferRecord
  private readonly expected: Expected
  private readonly progress: PlanProgress
  private holdingsTask?: Promise<void>
  /** Plan entries and listed messages held, over every conversation: bounded as a manifest's entries are. */
  private planned = 0
  private verified?: VerifiedFrom

  private constructor (private readonly init: ReconciliationInit, private readonly leafBases: LeafBases) {
    this.sink = init.sink
    this.log = init.log
    this.logger = init.logger ?? log
    this.transfer = init.transfer
    this.expected = init.expected
    this.progress = init.progress
  }

  /** Reads the leaf bases of this (old phone, store) pair, and offers the sender those it may take. */
  static async open (init: ReconciliationInit): Promise<Reconciliation> {
    const r = new Reconciliation(init, await LeafBases.load(init.journal, init.expected.sourceId, init.sink.historyId, init.basesTrusted))
    r.offerBases()
    return r
  }

  /**
   * Picks the bases offered to the sender: only to one that plans against them (an older one would not
   * know what to do with them), not when the person asked for everything back, and only what fits the
   * first Holdings frame whole (a conversation whose base would not comes as if it had none: its
   * deleted leaves come back, nothing worse).
   */
  private offerBases (): void {
    const e = this.expected
    if (!e.plansBases || this.init.restoreDeleted) return
    const maxBytes = Math.min(MAX_FRAME_BYTES / 2, this.init.maxManifestEntries * LEAF_DIGEST_BYTES)
    for (const inc of e.conversations) {
      const base = this.leafBases.of(inc.conversation.id)
      if (base !== undefined && inc.declared > 0 && base.packed.byteLength <= maxBytes) inc.base = base
    }
  }

  /** Which conversations this phone holds some of (inside the selection, and at all). */
  async findHoldings (): Promise<Uint8Array> {
    const e = this.expected
    const held = new Uint8Array(bitmapBytes(e.conversations.length))
    const sel = e.selection
    for (const inc of e.conversations) {
      const first = await this.sink.messages(inc.conversation.id, undefined, 1)
      inc.occupied = first.length > 0
      if (inc.occupied) {
        const inSel = sel.since === undefined ? first : await this.sink.messages(inc.conversation.id, startOf(sel), 1)
        inc.held = inSel.length > 0 && inRange(sel, inSel[0].ts)
      }
      // Holding nothing where a base says the old phone's leaves were verified: its owner deleted them.
      if (inc.base !== undefined) inc.held = true
      if (inc.held) {
        setBit(held, inc.index)
        inc.expect = -1 // known once the plan is in
      }
    }
    return held
  }

  /**
   * Sends the holdings while data flows (sendHoldings); a failure to read them goes to `onError`, which
   * ends the session.
   */
  startHoldings (onError: (err: unknown) => void): void {
    this.holdingsTask = this.sendHoldings().catch(onError)
  }

  /**
   * Reads this phone's leaves of each held conversation and sends their root, while data flows
   * meanwhile; the leaves themselves go only if the sender asks (its root differs). With the root goes
   * the base, but for the digests of leaves this phone still holds: a sender's leaf with one of those
   * is held the same here anyway, so an unchanged or merely grown history sends none.
   */
  private async sendHoldings (): Promise<void> {
    const e = this.expected
    for (const inc of e.conversations) {
      if (!inc.held) continue
      const mine = await conversationLeaves(this.sink, inc.conversation.id, e.selection)
      inc.mine = mine
      if (this.init.ended()) return
      const root = new ConversationRoot()
      for (const l of mine) root.add(l)
      const unheld = inc.base?.without(mine.map(l => l.digest))
      const base = unheld === undefined || unheld.byteLength === 0 ? undefined : unheld
      if (mine.length === 0) {
        // Nothing here (only a base makes such a conversation held): no leaves follow, the sender plans.
        inc.leavesSent = true
        this.init.emit([encodeFrame({ holdings: { conversation: inc.index, root: root.digest(), count: 0, base } })])
        continue
      }
      const last = mine[mine.length - 1].last
      this.init.emit([encodeFrame({ holdings: { conversation: inc.index, root: root.digest(), count: root.count, lastTs: last.ts, lastId: last.id, base } })])
    }
  }

  /** This phone's leaves of a conversation, as Holdings frames: the sender asked for them. */
  private leavesFrames (inc: Incoming): EncodedFrame[] {
    const mine = inc.mine as LeafSummary[]
    inc.leavesSent = true
    const frames: EncodedFrame[] = []
    const step = 4096
    for (let i = 0; i < mine.length; i += step) {
      frames.push(encodeFrame({ holdings: { conversation: inc.index, leaves: mine.slice(i, i + step).map(leafToWire), more: i + step < mine.length } }))
    }
    return frames
  }

  /**
   * Takes a Plan, the sender's answer to a conversation's holdings: answers with this phone's leaves
   * when the sender asks for them, with its Want once the plan is whole, and with nothing while more of
   * it is to come.
   */
  async onPlan (p: ferry.Plan): Promise<EncodedFrame[]> {
    const e = this.expected
    const inc = e.conversations[p.conversation ?? 0]
    if (inc === undefined || !inc.held || inc.planDone) throw new FerryError(ErrorCode.PROTOCOL, `unexpected Plan for conversation ${p.conversation ?? 0}`)
    if (inc.mine === undefined) await this.holdingsTask // the plan answers our holdings: they were sent
    const mine = inc.mine as LeafSummary[]
    const answer = p.answer ?? ferry.Plan.Answer.PLANNED
    if (answer !== ferry.Plan.Answer.PLANNED) {
      if (inc.leavesSent === true || (p.leaves.length > 0 && answer !== ferry.Plan.Answer.PREFIX)) throw new FerryError(ErrorCode.PROTOCOL, `unexpected Plan answer for conversation ${inc.conversation.id}`)
      if (answer === ferry.Plan.Answer.LEAVES) return this.leavesFrames(inc)
      if (answer !== ferry.Plan.Answer.SAME && answer !== ferry.Plan.Answer.PREFIX) throw new FerryError(ErrorCode.MALFORMED_FRAME, `unknown Plan answer ${String(answer)}`)
      // The sender's part is exactly what this phone holds (and, for a prefix, what follows): verify()
      // checks the roots against its Done.
      inc.plan = mine.map((l, have): PlanEntry => ({ kind: 'have', after: have === 0 ? undefined : mine[have - 1].last, last: l.last, count: l.count, have }))
      if (answer === ferry.Plan.Answer.PREFIX) {
        const mineLast = mine[mine.length - 1].last
        const w = p.leaves[0]
        const tail = { last: { ts: Number(w?.lastTs ?? 0), id: w?.lastId ?? '' }, count: w?.count ?? 0 }
        if (p.leaves.length !== 1 || w.kind !== ferry.PlanLeaf.Kind.NEED || !Number.isSafeInteger(tail.last.ts) || tail.count < 1 ||
          comparePositions(tail.last, mineLast) <= 0) {
          throw new FerryError(ErrorCode.PROTOCOL, `a prefix Plan for ${inc.conversation.id} must name one needed run after this phone's last message`)
        }
        inc.plan.push({ kind: 'need', after: mineLast, last: tail.last, count: tail.count })
        inc.prefix = true
        inc.openLeaf = await this.openLeafOf(inc, mine)
      }
      inc.planDone = true
      if (inc.plan.reduce((n, l) => n + l.count, 0) !== inc.declared) {
        throw new FerryError(ErrorCode.COUNT_MISMATCH, `the sender says this phone holds all of ${inc.conversation.id}, but it holds ${inc.plan.reduce((n, l) => n + l.count, 0)} messages of the ${inc.declared} declared`)
      }
      return await this.want(inc)
    }
    if (inc.leavesSent !== true) throw new FerryError(ErrorCode.PROTOCOL, `a Plan for conversation ${inc.conversation.id} before it asked for the leaves`)
    inc.plan ??= []
    // A plan is held whole until its last part, so it is bounded as it comes, not once it ends: its
    // leaves count one message at least, so they can never be more than the conversation declared, and
    // all plans together hold no more than a manifest may.
    const planned = (count: number, entries: number): void => {
      inc.plannedMessages = (inc.plannedMessages ?? 0) + count
      if (inc.plannedMessages > inc.declared) {
        throw new FerryError(ErrorCode.COUNT_MISMATCH, `the plan of ${inc.conversation.id} covers more than the ${inc.declared} messages the manifest declared`)
      }
      this.planned += entries
      if (this.planned > this.init.maxManifestEntries) {
        throw new FerryError(ErrorCode.TOO_LARGE, `the sender's plans exceed ${this.init.maxManifestEntries} entries`)
      }
    }
    for (const w of p.leaves) {
      const prev = inc.plan[inc.plan.length - 1]
      const after = prev?.last
      if (w.kind === ferry.PlanLeaf.Kind.HAVE) {
        const have = w.have ?? 0
        const leaf = mine[have]
        if (leaf === undefined || (after !== undefined && comparePositions(leaf.first, after) <= 0)) throw new FerryError(ErrorCode.PROTOCOL, `Plan names leaf ${have}, which this phone did not send`)
        planned(leaf.count, 1)
        inc.plan.push({ kind: 'have', after, last: leaf.last, count: leaf.count, have })
        continue
      }
      const last = { ts: Number(w.lastTs ?? 0), id: w.lastId ?? '' }
      const count = w.count ?? 0
      if (!Number.isSafeInteger(last.ts) || count < 1 || (after !== undefined && comparePositions(last, after) <= 0)) {
        throw new FerryError(ErrorCode.PROTOCOL, 'Plan leaves are out of order')
      }
      planned(count, w.kind === ferry.PlanLeaf.Kind.LIST ? 1 + count : 1)
      if (w.kind === ferry.PlanLeaf.Kind.KEPT) {
        // Only a digest of this phone's own base: the sender cannot make this phone take any other.
        const digest = w.digest ?? new Uint8Array(0)
        if (inc.base === undefined || digest.byteLength !== LEAF_DIGEST_BYTES || !inc.base.has(digest)) {
          throw new FerryError(ErrorCode.PROTOCOL, `Plan keeps a leaf of ${inc.conversation.id} that is not in this phone's base`)
        }
        inc.plan.push({ kind: 'kept', after, last, count, digest: digest.slice(), keys: keptKeys(inc.conversation.id, w, after, last, count) })
      } else if (w.kind === ferry.PlanLeaf.Kind.LIST) {
        const from = inc.listed.length
        let pos = after
        const items = w.items ?? []
        for (const it of items) {
          const item = { ts: Number(it.ts ?? 0), id: it.id ?? '', hash: it.hash ?? new Uint8Array(0) }
          if (!Number.isSafeInteger(item.ts) || item.hash.byteLength !== 8 || (pos !== undefined && comparePositions(item, pos) <= 0) || comparePositions(item, last) > 0) {
            throw new FerryError(ErrorCode.PROTOCOL, 'listed messages are out of order or outside their leaf')
          }
          pos = item
          inc.listed.push(item)
        }
        if (items.length !== count) throw new FerryError(ErrorCode.COUNT_MISMATCH, `a listed leaf of ${inc.conversation.id} lists ${items.length} messages for ${count}`)
        inc.plan.push({ kind: 'list', after, last, count, from, to: inc.listed.length })
      } else {
        inc.plan.push({ kind: 'need', after, last, count })
      }
    }
    if (p.more === true) return []
    inc.planDone = true
    if ((inc.plannedMessages ?? 0) !== inc.declared) {
      throw new FerryError(ErrorCode.COUNT_MISMATCH, `the plan of ${inc.conversation.id} covers ${inc.plannedMessages ?? 0} messages, the manifest ${inc.declared}`)
    }
    return this.want(inc)
  }

  /**
   * This phone's last leaf of a conversation the sender holds more of (a prefix plan), as it holds it
   * now, encodings included: verification digests the leaf from these rather than from the store at the
   * end, so that the person reading, editing or deleting the chat's latest messages while the rest
   * arrives does not fail the transfer (what they changed stays theirs, as an own version or a deletion
   * does). Undefined, and read again at the end as before, when the leaf no longer reads as the one the
   * sender compared (the store changed since the holdings) or weighs more than OPEN_LEAF_BYTES.
   */
  private async openLeafOf (inc: Incoming, mine: LeafSummary[]): Promise<HeldMessage[] | undefined> {
    const open = mine[mine.length - 1]
    const after = mine.length > 1 ? mine[mine.length - 2].last : undefined
    const { pages, encodingOf } = storedEncodings(this.sink)
    const held: HeldMessage[] = []
    const hasher = new LeafHasher()
    let bytes = 0
    for await (const page of pagesThrough(pages, inc.conversation.id, this.expected.selection, after, open.last, open.count)) {
      for (const m of page) {
        // A copy: a store may hand out views of buffers it reuses.
        const encoded = encodingOf(m).slice()
        if ((bytes += encoded.byteLength) > OPEN_LEAF_BYTES) return undefined
        hasher.add(encoded)
        held.push({ ts: m.ts, id: m.id, encoded })
      }
    }
    return held.length === open.count && equalBytes(hasher.digest(), open.digest) ? held : undefined
  }

  /** Answers a plan's listed messages: those this phone lacks, or holds in another version. */
  private async want (inc: Incoming): Promise<EncodedFrame[]> {
    const e = this.expected
    const bits = new Uint8Array(bitmapBytes(inc.listed.length))
    let expect = 0
    let held = 0
    let kept = 0
    for (const leaf of inc.plan as PlanEntry[]) {
      if (leaf.kind === 'have') { held += leaf.count; continue }
      if (leaf.kind === 'need') { expect += leaf.count; continue }
      if (leaf.kind === 'kept') {
        // What is here of it counts as held; the rest its owner deleted. Where the sender named the
        // leaf's keys, only those count: this phone may hold a message there the old phone deleted since,
        // or one the app wrote. Without them (an older sender, or one that saw nothing here in the range),
        // whatever is here counts.
        let here = 0
        const keys = leaf.keys === undefined ? undefined : new Set(leaf.keys.map(k => `${k.ts}\u0000${k.id}`))
        if (inc.occupied) {
          for await (const page of this.range(inc.conversation.id, e.selection, leaf.after, leaf.last, leaf.count)) {
            here += keys === undefined ? page.length : page.filter(m => keys.has(`${m.ts}\u0000${m.id}`)).length
          }
        }
        leaf.keys = undefined // counted: not kept for the rest of the session
        const deleted = Math.max(0, leaf.count - here)
        this.progress.messagesLeftDeleted += deleted
        inc.messagesLeftDeleted = (inc.messagesLeftDeleted ?? 0) + deleted
        kept += deleted
        held += leaf.count - deleted
        continue
      }
      const mineHere = new Map<string, Uint8Array>()
      for await (const page of this.range(inc.conversation.id, e.selection, leaf.after, leaf.last, leaf.count)) {
        for (const m of page) mineHere.set(`${m.ts}\u0000${m.id}`, messageHash(encodedMessage(m)))
      }
      for (let i = leaf.from as number; i < (leaf.to as number); i++) {
        const it = inc.listed[i]
        const h = mineHere.get(`${it.ts}\u0000${it.id}`)
        if (h !== undefined && equalBytes(h, it.hash)) held++
        else { setBit(bits, i); expect++ }
      }
    }
    inc.wanted = bits
    inc.expect = expect
    this.logger('plan of %s: %d leaves (%d the same), %d messages to come, %d held, %d deleted here stay deleted', inc.conversation.id, (inc.plan as PlanEntry[]).length,
      (inc.plan as PlanEntry[]).filter(l => l.kind === 'have').length, expect, held, kept)
    if (inc.deferred !== undefined) await this.planDeferred(inc)
    this.progress.messages += held + kept
    this.progress.messagesHeld += held
    this.init.counted()
    if (inc.listed.length === 0) return []
    return [encodeFrame({ want: { conversation: inc.index, items: bits } })]
  }

  /**
   * A chat deleted here comes back only with a message of it the old phone added or changed since the
   * last transfer (as on one phone); all kept, it stays deleted. Otherwise the chat is made when such a
   * message comes (makeDeferred), and `heldUpTo` says which of the others went with the chat: those no
   * base holds, outside every selection verified from the old phone, before the last message the plan
   * kept (message-base.ts heldWhenChatDeleted).
   */
  private async planDeferred (inc: Incoming): Promise<void> {
    const plan = inc.plan as PlanEntry[]
    if (plan.every(l => l.kind === 'kept')) {
      inc.deferred = undefined
      this.progress.chatsLeftDeleted++
      inc.chatLeftDeleted = true
      return
    }
    inc.deletedHere = true
    const kept = plan.findLast(l => l.kind === 'kept')?.last
    if (kept === undefined) return
    const id = inc.conversation.id
    const verified = await this.verifiedFrom()
    inc.heldUpTo = {
      kept,
      covered: verified.selections.filter(sel => sel.conversations === undefined || sel.conversations.includes(id)),
      verifiedAt: verified.lastAt
    }
  }

  /**
   * What was verified from this old phone (TransferLog.verifiedFrom), read once a session: this
   * transfer's selection too where it was verified before and is received again.
   */
  private async verifiedFrom (): Promise<VerifiedFrom> {
    if (this.verified === undefined) {
      const verified = await this.log.verifiedFrom(this.expected.sourceId)
      if (this.transfer.verifiedAt !== undefined) verified.selections.push(this.transfer.selection)
      verified.lastAt = latestVerification(verified.lastAt, this.transfer)
      this.verified = verified
    }
    return this.verified
  }

  /** Makes again a chat deleted here, a message of which comes: logged to be undone, as any write. */
  async makeDeferred (inc: Incoming): Promise<void> {
    const c = inc.deferred as Conversation
    inc.deferred = undefined
    await writeNames(this.sink, this.log, this.transfer, [], [c], { contacts: new Map(), conversations: new Map() })
  }

  /** A chat deleted here of which no message came: it stays deleted, and is counted so. */
  leftDeletedAtEnd (): void {
    for (const inc of this.expected.conversations) {
      if (inc.deferred === undefined || inc.chatLeftDeleted === true) continue
      inc.deferred = undefined
      this.progress.chatsLeftDeleted++
      inc.chatLeftDeleted = true
    }
  }

  /** A conversation's stored messages in (after, last], in order, a page at a time; `expect` of them, about. */
  private range (conversation: string, sel: Selection, after: MessagePosition | undefined, last: MessagePosition, expect: number): AsyncGenerator<Message[]> {
    return pagesThrough(this.sink, conversation, sel, after, last, expect)
  }

  /**
   * What this transfer verified of the old phone's leaves (Verification.leaves) becomes the base of the
   * next (leaf-bases.ts). `missingOnly` (a restore): only for the conversations that have none. A
   * backup's leaves are the old phone's as they were, maybe before the last transfer from it: made the
   * base, they would take a message that transfer brought, and this phone's owner deleted since, for one
   * the old phone wrote since, and the next transfer would bring it back.
   */
  leafBaseOps (verified: ReadonlyMap<string, Uint8Array[]>, missingOnly = false): JournalOp[] {
    const whole = wholeConversations(this.expected.selection)
    const ops: JournalOp[] = this.leafBases.dropStale()
    for (const [id, digests] of verified) {
      if (missingOnly && this.leafBases.of(id) !== undefined) continue
      for (const op of this.leafBases.record(id, digests, whole)) ops.push(op)
    }
    return ops
  }
}

/**
 * The keys a KEPT plan leaf names (none from an older sender, or when this phone held nothing in its
 * range), checked as a listed leaf's are: in order, inside the leaf, as many as it holds.
 */
function keptKeys (conversation: string, w: ferry.PlanLeaf.$Properties, after: MessagePosition | undefined, last: MessagePosition, count: number): MessagePosition[] | undefined {
  const items = w.items ?? []
  if (items.length === 0) return undefined
  if (items.length !== count) throw new FerryError(ErrorCode.COUNT_MISMATCH, `a kept leaf of ${conversation} names ${items.length} messages for ${count}`)
  const keys: MessagePosition[] = []
  let pos = after
  for (const it of items) {
    const key = { ts: Number(it.ts ?? 0), id: it.id ?? '' }
    if (!Number.isSafeInteger(key.ts) || (pos !== undefined && comparePositions(key, pos) <= 0) || comparePositions(key, last) > 0) {
      throw new FerryError(ErrorCode.PROTOCOL, 'the keys of a kept leaf are out of order or outside it')
    }
    keys.push(key)
    pos = key
  }
  return keys
}

/**
 * Whether the plan of a held conversation asked for `m`, the next of its messages that came (admitted in
 * order): moves `inc.entry` on to the plan entry `m` falls in.
 */
export function askedFor (inc: Incoming, m: MessagePosition): boolean {
  const plan = inc.plan as PlanEntry[]
  while (inc.entry < plan.length && comparePositions(m, plan[inc.entry].last) > 0) inc.entry++
  const leaf = plan[inc.entry]
  if (leaf?.kind === 'need') return true
  if (leaf?.kind !== 'list') return false
  const listed = listedIndex(inc, leaf, m)
  return listed >= 0 && isSet(inc.wanted, listed)
}

function listedIndex (inc: Incoming, leaf: PlanEntry, m: MessagePosition): number {
  let lo = leaf.from as number
  let hi = (leaf.to as number) - 1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    const c = comparePositions(inc.listed[mid], m)
    if (c === 0) return mid
    if (c < 0) lo = mid + 1
    else hi = mid - 1
  }
  return -1
}

function isSet (bits: Uint8Array | undefined, i: number): boolean {
  return bits !== undefined && (bits[i >> 3] & (1 << (i & 7))) !== 0
}
