import { logger } from '@libp2p/logger'
import type { HistorySource, KeptLeaves, LeafIndex } from '../store/history.js'
import { comparePositions, type Selection } from '../store/model.js'
import { breathe, SLICE } from './breathe.js'
import { LEAF_DIGEST_BYTES, LEAF_MAX, LEAF_SPAN, LeafCutter, type LeafSummary } from './leaves.js'
import { selectedPages } from './manifest.js'
import { wholeConversations } from './selection.js'
import { storedEncodings } from './stored-encodings.js'
import { PROTOCOL_VERSION } from './options.js'

// A conversation's leaves, from the store's LeafIndex where it keeps them and cut from its messages
// where it does not; whatever is cut is offered back to the index, so the next transfer reads only
// messages written since. Leaves are kept for whole conversations only: a time-bounded selection cuts
// its own range, which begins wherever the bound falls.

const log = logger('ferry:leaves')

/** Names how leaves are cut and digested: kept leaves of any other format are not used. */
export const LEAF_FORMAT = `ferry-leaves/${PROTOCOL_VERSION}/${LEAF_SPAN}/${LEAF_MAX}/${LEAF_DIGEST_BYTES}`

type Reader = Pick<HistorySource, 'messages' | 'messagesPerRead' | 'encodedMessages' | 'leafIndex'>

function indexFor (history: Reader, selection: Selection): LeafIndex | undefined {
  return wholeConversations(selection) ? history.leafIndex : undefined
}

/** The kept leaves, checked: a damaged index is read as an empty one, never trusted. */
async function kept (index: LeafIndex | undefined, conversation: string): Promise<KeptLeaves> {
  if (index === undefined) return { leaves: [], token: 0 }
  try {
    const k = await index.keptLeaves(conversation, LEAF_FORMAT)
    for (let i = 0; i < k.leaves.length; i++) {
      const l = k.leaves[i]
      if (l.count < 1 || l.digest.byteLength !== LEAF_DIGEST_BYTES || comparePositions(l.first, l.last) > 0 ||
        (i > 0 && comparePositions(k.leaves[i - 1].last, l.first) >= 0)) {
        log('the kept leaves of %s are out of order: cutting it again', conversation)
        return { leaves: [], token: k.token }
      }
    }
    return k
  } catch (err) {
    log.error('reading the kept leaves of %s: %s', conversation, (err as Error).message)
    return { leaves: [], token: 0 }
  }
}

async function keep (index: LeafIndex | undefined, conversation: string, token: number, leaves: LeafSummary[]): Promise<void> {
  if (index === undefined || leaves.length === 0) return
  try {
    await index.keepLeaves(conversation, LEAF_FORMAT, token, leaves)
  } catch (err) {
    // Only a cache: the transfer goes on, and the next one cuts again.
    log.error('keeping the leaves of %s: %s', conversation, (err as Error).message)
  }
}

/** A conversation's leaves over the selection, in order. */
export async function conversationLeaves (history: Reader, conversation: string, selection: Selection): Promise<LeafSummary[]> {
  const index = indexFor(history, selection)
  const k = await kept(index, conversation)
  const leaves: LeafSummary[] = k.leaves.slice()
  const cut: LeafSummary[] = []
  const cutter = new LeafCutter(l => cut.push(l))
  let n = 0
  // After kept leaves, what is left is mostly the open one: a few times LEAF_SPAN messages.
  const after = leaves.length > 0 ? leaves[leaves.length - 1].last : undefined
  const { pages, encodingOf } = storedEncodings(history)
  for await (const page of selectedPages(pages, conversation, selection, after, after === undefined ? undefined : 4 * LEAF_SPAN)) {
    for (const m of page) cutter.add(m.ts, m.id, encodingOf(m))
    if ((n += page.length) >= SLICE) { n = 0; await breathe() }
  }
  // The last leaf ends where the conversation does, not where the cut would: it is not kept.
  await keep(index, conversation, k.token, cut)
  cutter.finish()
  for (const l of cut) leaves.push(l)
  return leaves
}

/**
 * Cuts a conversation read whole, in order, for another purpose (sending it, reading it back), and
 * offers the leaves to the index at the end: `begin` before the first read, `finish` after the last,
 * then `keep` once the leaves are known to be worth keeping.
 */
export class KeepingCutter {
  private readonly cut: LeafSummary[] = []
  private readonly cutter = new LeafCutter(l => this.cut.push(l))
  private readonly index?: LeafIndex
  private token = 0
  /** Leaves a boundary ended: the last one ends where the conversation does, not where the cut would. */
  private complete = 0

  constructor (history: Reader, private readonly conversation: string, selection: Selection, private readonly onLeaf: (leaf: LeafSummary) => void) {
    this.index = indexFor(history, selection)
  }

  async begin (): Promise<void> {
    if (this.index !== undefined) this.token = (await kept(this.index, this.conversation)).token
  }

  add (ts: number, id: string, encoded: Uint8Array): void {
    this.cutter.add(ts, id, encoded)
  }

  /** Ends the cut: every leaf goes to `onLeaf`. */
  finish (): void {
    this.complete = this.cut.length
    this.cutter.finish()
    for (const l of this.cut) this.onLeaf(l)
  }

  /** Offers the finished cut's leaves to the index: only when everything of the conversation was fed. */
  async keep (): Promise<void> {
    await keep(this.index, this.conversation, this.token, this.cut.slice(0, this.complete))
  }
}
