import type { HistorySink } from '../store/history.js'
import type { Journal, JournalOp } from '../journal/journal.js'
import { LeafBases } from '../journal/leaf-bases.js'
import { encodeFrame, type EncodedFrame } from '../wire/codec.js'
import { MAX_FRAME_BYTES } from '../wire/framing.js'
import { bitmapBytes, setBit } from './bitmap.js'
import { ConversationRoot, LEAF_DIGEST_BYTES, type LeafSummary } from './leaves.js'
import { conversationLeaves } from './conversation-leaves.js'
import { inRange, startOf } from './manifest.js'
import { leafToWire } from './plan.js'
import { wholeConversations } from './selection.js'
import type { Expected, Incoming } from './incoming.js'

// The receiver's side of reconciliation (docs/architecture.md, step 4): which conversations this phone
// holds some of, their roots and leaves sent to the sender with the base of what the last verified
// transfer from the same old phone carried, the sender's plan taken and answered with what this phone
// wants, and what this transfer verified made the base of the next. The machine (receiver.ts) checks
// each frame against the session's state and hands the reconciliation's frames to it; what this phone
// holds, and so what is still to come, is settled here.

export interface ReconciliationInit {
  sink: HistorySink
  journal: Journal
  expected: Expected
  /** The person asked for everything back (ReceiverInit.restoreDeleted): no base is offered. */
  restoreDeleted: boolean
  /** TransferOptions.maxManifestEntries: a base offered is no larger than a manifest may be. */
  maxManifestEntries: number
  /** Sends frames made in the background (the machine's `emit`, which the driver sets). */
  emit: (frames: EncodedFrame[]) => void
  /** Whether the session has ended: holdings still being read are then not sent. */
  ended: () => boolean
}

export class Reconciliation {
  private holdingsTask?: Promise<void>

  private constructor (private readonly init: ReconciliationInit, private readonly leafBases: LeafBases) {}

  /** Reads the leaf bases of this (old phone, store) pair, and offers the sender those it may take. */
  static async open (init: ReconciliationInit): Promise<Reconciliation> {
    const r = new Reconciliation(init, await LeafBases.load(init.journal, init.expected.sourceId, init.sink.historyId))
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
    const e = this.init.expected
    if (!e.plansBases || this.init.restoreDeleted) return
    const maxBytes = Math.min(MAX_FRAME_BYTES / 2, this.init.maxManifestEntries * LEAF_DIGEST_BYTES)
    for (const inc of e.conversations) {
      const base = this.leafBases.of(inc.conversation.id)
      if (base !== undefined && inc.declared > 0 && base.packed.byteLength <= maxBytes) inc.base = base
    }
  }

  /** Which conversations this phone holds some of (inside the selection, and at all). */
  async findHoldings (): Promise<Uint8Array> {
    const e = this.init.expected
    const held = new Uint8Array(bitmapBytes(e.conversations.length))
    const sel = e.selection
    for (const inc of e.conversations) {
      const first = await this.init.sink.messages(inc.conversation.id, undefined, 1)
      inc.occupied = first.length > 0
      if (inc.occupied) {
        const inSel = sel.since === undefined ? first : await this.init.sink.messages(inc.conversation.id, startOf(sel), 1)
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

  /** Once the holdings are sent, or their reading failed. */
  async holdingsSent (): Promise<void> {
    await this.holdingsTask
  }

  /**
   * Reads this phone's leaves of each held conversation and sends their root, while data flows
   * meanwhile; the leaves themselves go only if the sender asks (its root differs). With the root goes
   * the base, but for the digests of leaves this phone still holds: a sender's leaf with one of those
   * is held the same here anyway, so an unchanged or merely grown history sends none.
   */
  private async sendHoldings (): Promise<void> {
    const e = this.init.expected
    for (const inc of e.conversations) {
      if (!inc.held) continue
      const mine = await conversationLeaves(this.init.sink, inc.conversation.id, e.selection)
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
  leavesFrames (inc: Incoming): EncodedFrame[] {
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
   * What this transfer verified of the old phone's leaves (Verification.leaves) becomes the base of the
   * next (leaf-bases.ts).
   */
  leafBaseOps (verified: ReadonlyMap<string, Uint8Array[]>): JournalOp[] {
    const whole = wholeConversations(this.init.expected.selection)
    const ops: JournalOp[] = []
    for (const [id, digests] of verified) for (const op of this.leafBases.record(id, digests, whole)) ops.push(op)
    return ops
  }
}
