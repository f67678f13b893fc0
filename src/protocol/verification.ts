import { ErrorCode, FerryError } from '../errors.js'
import type { LogItem } from '../journal/log-codec.js'
import type { HistorySink, MessagePosition } from '../store/history.js'
import { comparePositions, type Conversation, type Selection } from '../store/model.js'
import type { ferry } from '../wire/codec.js'
import { breathe, SLICE } from './breathe.js'
import { firstChangedHere } from './changed-here.js'
import { KeepingCutter } from './conversation-leaves.js'
import { equalBytes, toHex } from './digest.js'
import { ConversationRoot, LeafCutter, LeafHasher, type LeafSummary } from './leaves.js'
import { PAGE, pagesThrough, selectedPages } from './manifest.js'
import type { ListedItem } from './plan.js'
import { ListedKeys, WrittenKeys, type Keys } from './read-back-keys.js'
import { storedEncodings, type StoredEncodings } from './stored-encodings.js'
import { MessageDigests } from '../journal/message-digests.js'
import { writtenDigest } from './written-digest.js'

// Verification by read-back: once the sender says it is done, the receiver recomputes each
// conversation's digest from what its store reads back, never from the frames it received, and compares
// it with the sender's. A match proves the store holds exactly the old phone's part of the conversation,
// whatever else it holds, but for messages this phone changed later and kept (OwnVersions), and for
// leaves the sender kept out of the plan because this phone's base holds their digest (a KEPT leaf is
// digested as that digest, which only this phone's own journal can have given: plan.ts).

/** One leaf of a conversation's plan, as the receiver agreed it with the sender. */
export interface PlanEntry {
  kind: 'have' | 'need' | 'list' | 'kept'
  after?: MessagePosition
  last: MessagePosition
  count: number
  have?: number
  /** list: the listed messages (into ChatReceived.listed). */
  from?: number
  to?: number
  /** kept: the digest of the base this phone's journal holds, which the sender named. */
  digest?: Uint8Array
  /** kept: the keys of the old phone's messages in it, when the sender named them (until counted). */
  keys?: MessagePosition[]
}

/** What verification needs of a conversation the receiver took in. */
export interface ChatReceived {
  conversation: Conversation
  declared: number
  /** This phone held some of its messages inside the selection when the session began. */
  held: boolean
  /** This phone's leaves of it when the session began (when held). */
  mine?: LeafSummary[]
  /** The sender said this phone holds a prefix of its part: its last plan entry is the rest. */
  prefix?: boolean
  /** With `prefix`: this phone's last leaf as it held it when the plan came (reconciliation.ts openLeafOf). */
  openLeaf?: HeldMessage[]
  plan?: PlanEntry[]
  listed: ListedItem[]
}

/** A message this phone held, with its encoding as it was read. */
export interface HeldMessage extends MessagePosition {
  encoded: Uint8Array
}

export interface VerifiedChat { id: string, title: string, messages: number }

/**
 * The old phone's encodings of the messages this phone kept its own version of (own-versions.ts), by
 * `ownVersionKey`: a kept message counts as the old phone's in its digest, so a match proves the store
 * holds the old phone's part but for those, and each of those is still on this phone.
 */
export type OwnVersions = ReadonlyMap<string, Uint8Array>

export function ownVersionKey (conversation: string, m: MessagePosition): string {
  return `${conversation}\u0000${m.ts}\u0000${m.id}`
}

/** A conversation's root as read back, and how. */
interface ReadRoot {
  root: Pick<ConversationRoot, 'count' | 'digest' | 'leaves'>
  /** Everything stored in the sender's part was read, not only what the log says this session wrote. */
  whole: boolean
  /** A new conversation read whole: the leaves cut of it, kept for this phone when they match. */
  cutter?: KeepingCutter
  /** A kept version was digested as the old phone's. */
  substituted: boolean
}

export class Verification {
  private readonly stored: StoredEncodings
  /** While readBackAll reads: takes the digest of each message's encoding as read. */
  private collecting?: (digest: Uint8Array) => void
  /** The roots readBackAll read, by conversation. */
  private early?: Map<string, ReadRoot>
  /** The old phone's leaf digests of each verified conversation, in order: the next transfer's base. */
  readonly leaves = new Map<string, Uint8Array[]>()

  /**
   * `sessionItems`: the journal's log of what this session wrote, batch by batch in the order written;
   * read only for a conversation whose whole read-back does not match.
   */
  constructor (
    private readonly sink: HistorySink,
    private readonly selection: Selection,
    private readonly sessionItems: () => AsyncIterable<Iterable<LogItem>>,
    private readonly ownVersions: OwnVersions = new Map(),
    /**
     * The old phone's encodings of the messages this session kept out because this phone's owner deleted
     * them (a base held their digest, unchanged there since), by `ownVersionKey`: digested in their place.
     */
    private readonly leftOut: OwnVersions = new Map()
  ) {
    this.stored = storedEncodings(sink)
  }

  /**
   * How a read-back message of `conversation` is digested: as stored, or, where this phone kept its own
   * version, as the old phone sent it. `substituted` says whether that happened.
   */
  private encodingIn (conversation: string): { encodingOf: (m: MessagePosition) => Uint8Array, leftOut: (m: MessagePosition) => Uint8Array | undefined, substituted: () => boolean } {
    const { encodingOf } = this.stored
    let any = false
    const leftOut = (m: MessagePosition): Uint8Array | undefined => {
      if (this.leftOut.size === 0) return undefined
      const theirs = this.leftOut.get(ownVersionKey(conversation, m))
      if (theirs !== undefined) any = true
      return theirs
    }
    if (this.ownVersions.size === 0) return { encodingOf, leftOut, substituted: () => any }
    return {
      encodingOf: m => {
        const theirs = this.ownVersions.get(ownVersionKey(conversation, m))
        if (theirs === undefined) return encodingOf(m)
        any = true
        return theirs
      },
      leftOut,
      substituted: () => any
    }
  }

  /**
   * Reads back every conversation now, and keeps the roots for verify(): the receiver does this once
   * every message is here, before it says the chats are ready, so that what the person or the app does
   * to them from then on (a read mark, an edit, a deletion) is theirs and does not unverify the
   * transfer. A conversation whose read-back cannot match (a message of it changed or gone before then)
   * is left to verify(), which reads it again and explains the mismatch.
   */
  async readBackAll (chats: ChatReceived[], onRead?: (conversation: string, digests: MessageDigests) => Promise<void>): Promise<void> {
    const early = new Map<string, ReadRoot>()
    let log: WrittenKeys | undefined
    const written = (): WrittenKeys => (log ??= new WrittenKeys(this.sessionItems()))
    for (const inc of chats) {
      try {
        const collector = onRead === undefined ? undefined : MessageDigests.collector()
        this.collecting = collector?.add
        let read: ReadRoot
        try {
          read = await this.readRoot(inc, written)
        } finally {
          this.collecting = undefined
        }
        // What was read is the old phone's version of each message (a kept one digested as its): the
        // base this transfer's later sessions keep what the person does from now on by.
        if (collector !== undefined) await (onRead as NonNullable<typeof onRead>)(inc.conversation.id, collector.done())
        // Held until Done while the media go on: only what verify() needs. The leaves cut of the store
        // describe it as it is, whatever Done says, so they are kept now (a write since drops them).
        if (read.cutter !== undefined && !read.substituted) await read.cutter.keep()
        const { count, leaves } = read.root
        const digest = read.root.digest()
        early.set(inc.conversation.id, { ...read, root: { count, leaves, digest: () => digest }, cutter: undefined })
      } catch (err) {
        if (!(err instanceof FerryError) || (err.code !== ErrorCode.DIGEST_MISMATCH && err.code !== ErrorCode.COUNT_MISMATCH)) throw err
      }
    }
    this.early = early
  }

  /** Drops what readBackAll read: the store took more of the transfer's messages since. */
  forgetReadBack (): void {
    this.early = undefined
  }

  /**
   * Compares each conversation's root with the sender's: the root readBackAll read, or one read now.
   * A root read back whole that does not match (the app stored a message of its own there meanwhile,
   * the count alike) is read again by the keys the log recorded.
   */
  async verify (chats: ChatReceived[], claimed: Map<string, ferry.ConversationDigest.$Properties>): Promise<VerifiedChat[]> {
    try {
      return await this.verifyAll(chats, claimed)
    } catch (err) {
      throw await this.explained(err)
    }
  }

  /**
   * A mismatch that messages changed on this phone explain (changed-here.ts) says so, under the same
   * code: the transfer is refused all the same (what it wrote cannot be shown to be the old phone's), but
   * neither person should think the old phone's history damaged, and the changes made here are kept
   * (the undo leaves them: transfer-log.ts).
   */
  private async explained (err: unknown): Promise<unknown> {
    if (!(err instanceof FerryError) || (err.code !== ErrorCode.DIGEST_MISMATCH && err.code !== ErrorCode.COUNT_MISMATCH)) return err
    let changed
    try {
      changed = await firstChangedHere(this.sink, this.sessionItems())
    } catch {
      return err // the mismatch stands as found; the refusal undoes what it can
    }
    if (changed === undefined) return err
    const { conversation, id, deleted } = changed
    return new FerryError(err.code,
      `messages this transfer wrote were changed or deleted on this phone while it ran (message ${id} of conversation ${conversation} was ${deleted ? 'deleted' : 'changed'}), ` +
      'or the store did not keep them as written: the transfer is not verified, and the changes made here are kept (receiving again moves the rest and verifies it)',
      { ...err.details, changedHere: true, conversation, messageId: id }, { cause: err })
  }

  private async verifyAll (chats: ChatReceived[], claimed: Map<string, ferry.ConversationDigest.$Properties>): Promise<VerifiedChat[]> {
    let log: WrittenKeys | undefined
    const written = (): WrittenKeys => (log ??= new WrittenKeys(this.sessionItems()))
    const summary: VerifiedChat[] = []
    for (const inc of chats) {
      const id = inc.conversation.id
      const c = claimed.get(id)
      if (c === undefined) throw new FerryError(ErrorCode.COUNT_MISMATCH, `Done does not cover conversation ${id}`)
      const matches = (r: ReadRoot['root']): boolean => r.count === Number(c.count) && r.count === inc.declared && equalBytes(r.digest(), c.digest ?? new Uint8Array(0))
      let read = this.early?.get(id) ?? await this.readRoot(inc, written)
      if (read.whole && !matches(read.root)) read = await this.byWrittenKeys(inc, written)
      // Leaves kept for this phone describe what it stores, never the old phone's versions.
      else if (read.cutter !== undefined && !read.substituted && matches(read.root)) await read.cutter.keep()
      const { root } = read
      if (root.count !== Number(c.count) || root.count !== inc.declared) {
        throw new FerryError(ErrorCode.COUNT_MISMATCH, `conversation ${id}: ${root.count} messages stored, sender sent ${Number(c.count)}, manifest declared ${inc.declared}`, { conversation: id })
      }
      const digest = root.digest()
      if (!equalBytes(digest, c.digest ?? new Uint8Array(0))) {
        throw new FerryError(ErrorCode.DIGEST_MISMATCH, `conversation ${id}: stored messages digest ${toHex(digest)} differs from the sender's`, { conversation: id })
      }
      summary.push({ id, title: inc.conversation.title, messages: root.count })
      this.leaves.set(id, root.leaves)
    }
    return summary
  }

  /**
   * A conversation's root: what follows the leaves this phone held the same read back whole where
   * that can be the sender's part (its count is), else by the keys the log recorded.
   */
  private async readRoot (inc: ChatReceived, written: () => WrittenKeys): Promise<ReadRoot> {
    if (!inc.held) {
      const whole = await this.rootOfNew(inc)
      if (whole.root.count === inc.declared) return { ...whole, whole: true }
      return await this.byWrittenKeys(inc, written)
    }
    if (inc.prefix === true) {
      const root = await this.rootOfPrefix(inc)
      if (root.count === inc.declared) return { root, whole: true, substituted: false }
      return await this.byWrittenKeys(inc, written)
    }
    return { root: await this.rootOfPlan(inc, written()), whole: false, substituted: false }
  }

  /** The root of what this session wrote after the leaves this phone held, read back by the log's keys. */
  private async byWrittenKeys (inc: ChatReceived, written: () => WrittenKeys): Promise<ReadRoot> {
    if (inc.held) return { root: inc.prefix === true ? await this.rootOfPrefix(inc, written()) : await this.rootOfPlan(inc, written()), whole: false, substituted: false }
    return { root: (await this.rootOfNew(inc, written())).root, whole: false, substituted: false }
  }

  /**
   * The root of a conversation this phone held nothing of in the selection: every stored message there,
   * or those of `written`. Its leaves are the conversation's own when the cut was fed everything in it.
   */
  private async rootOfNew (inc: ChatReceived, written?: WrittenKeys): Promise<{ root: ConversationRoot, cutter: KeepingCutter, substituted: boolean }> {
    const root = new ConversationRoot()
    const cutter = new KeepingCutter(this.sink, inc.conversation.id, this.selection, l => root.add(l))
    await cutter.begin()
    const substituted = await this.readBack(inc, undefined, undefined, written?.of(inc.conversation.id), (m, enc) => cutter.add(m.ts, m.id, enc))
    cutter.finish()
    return { root, cutter, substituted }
  }

  /** The root of a conversation whose leaves were compared: those held the same, the rest read back. */
  private async rootOfPlan (inc: ChatReceived, written: WrittenKeys): Promise<ConversationRoot> {
    const id = inc.conversation.id
    const root = new ConversationRoot()
    for (const leaf of inc.plan as PlanEntry[]) {
      if (leaf.kind === 'have') { root.add((inc.mine as LeafSummary[])[leaf.have as number]); continue }
      if (leaf.kind === 'kept') { root.add({ count: leaf.count, digest: leaf.digest as Uint8Array }); continue }
      const keys = leaf.kind === 'need' ? written.of(id, leaf.after, leaf.last) : new ListedKeys(inc.listed, leaf.from as number, leaf.to as number)
      const hasher = new LeafHasher()
      await this.readBack(inc, leaf.after, leaf.last, keys, (_m, enc) => hasher.add(enc), leaf.count)
      if (hasher.count !== leaf.count) {
        throw new FerryError(ErrorCode.COUNT_MISMATCH, `conversation ${id}: ${hasher.count} messages stored of a leaf of ${leaf.count}`, { conversation: id })
      }
      root.add({ count: hasher.count, digest: hasher.digest() })
    }
    return root
  }

  /**
   * The root of a conversation this phone held a prefix of: its leaves before its last one as they
   * were, then, cut again as the sender cut them, its last leaf's messages (all the sender's: its root
   * said so; as held when the plan came, where they were kept) and the messages stored after them (all,
   * or those of `written`), read back.
   */
  private async rootOfPrefix (inc: ChatReceived, written?: WrittenKeys): Promise<ConversationRoot> {
    const id = inc.conversation.id
    const root = new ConversationRoot()
    const mine = inc.mine as LeafSummary[]
    const open = mine[mine.length - 1]
    const after = mine.length > 1 ? mine[mine.length - 2].last : undefined
    for (let i = 0; i < mine.length - 1; i++) root.add(mine[i])
    const cutter = new LeafCutter(l => root.add(l))
    let held = 0
    if (inc.openLeaf !== undefined) {
      for (const m of inc.openLeaf) cutter.add(m.ts, m.id, m.encoded)
      held = inc.openLeaf.length
    } else {
      const { encodingOf } = this.stored
      for await (const page of this.through(id, after, open.last, open.count)) {
        for (const m of page) cutter.add(m.ts, m.id, encodingOf(m))
        held += page.length
      }
    }
    if (held !== open.count) {
      throw new FerryError(ErrorCode.COUNT_MISMATCH, `conversation ${id}: ${held} messages stored of a leaf of ${open.count}`, { conversation: id })
    }
    await this.readBack(inc, open.last, undefined, written?.of(id, open.last), (m, enc) => cutter.add(m.ts, m.id, enc))
    cutter.finish()
    return root
  }

  /**
   * Reads back the stored messages in (after, last], all of them or those whose keys are `keys` (in
   * order), handing each with its encoding to `take`. A key the store does not hold is a message lost:
   * COUNT_MISMATCH. True when a kept version was digested as the old phone's.
   */
  private async readBack (inc: ChatReceived, after: MessagePosition | undefined, last: MessagePosition | undefined,
    keys: Keys | undefined, take: (m: MessagePosition, encoded: Uint8Array) => void, expect = PAGE): Promise<boolean> {
    let n = 0
    const { pages } = this.stored
    const { encodingOf, leftOut, substituted } = this.encodingIn(inc.conversation.id)
    const collecting = this.collecting
    // One kept out, or kept as this phone's, was not brought by this transfer: the read-back's base is
    // only of what it brought (read-back-bases.ts), and those are decided again by their own rule.
    const notBrought = take
    if (collecting !== undefined) {
      const conversation = inc.conversation.id
      const own = this.ownVersions.size === 0 ? undefined : this.ownVersions
      take = (m, enc) => {
        if (own === undefined || !own.has(ownVersionKey(conversation, m))) collecting(writtenDigest(enc))
        notBrought(m, enc)
      }
    }
    const stored = last === undefined ? selectedPages(pages, inc.conversation.id, this.selection, after, PAGE, keys === undefined) : this.through(inc.conversation.id, after, last, expect)
    if (keys === undefined) {
      for await (const page of stored) {
        for (const m of page) take(m, encodingOf(m))
        if ((n += page.length) >= SLICE) { n = 0; await breathe() }
      }
      return substituted()
    }
    let key = await keys.next()
    // A key this phone keeps out (deleted here) is digested as the old phone's, where it would stand.
    const keptOut = async (before?: MessagePosition): Promise<void> => {
      for (;;) {
        if (key === undefined || (before !== undefined && comparePositions(before, key) <= 0)) return
        const theirs = leftOut(key)
        if (theirs === undefined) return
        notBrought(key, theirs)
        const k = keys.next()
        key = k instanceof Promise ? await k : k
      }
    }
    reading: for await (const page of stored) {
      for (const m of page) {
        if (key === undefined) break reading
        if (comparePositions(m, key) > 0) await keptOut(m)
        if (key === undefined) break reading
        const c = comparePositions(m, key)
        if (c < 0) continue // the phone's own message, not the sender's
        if (c > 0) break reading
        take(m, encodingOf(m))
        const k = keys.next()
        key = k instanceof Promise ? await k : k
        if (++n % SLICE === 0) await breathe()
      }
    }
    await keptOut()
    if (key !== undefined) {
      throw new FerryError(ErrorCode.COUNT_MISMATCH, `conversation ${inc.conversation.id}: message ${key.id} is not on this phone after it was stored`, { conversation: inc.conversation.id })
    }
    return substituted()
  }

  private through (conversation: string, after: MessagePosition | undefined, last: MessagePosition, expect: number): AsyncGenerator<MessagePosition[]> {
    return pagesThrough(this.stored.pages, conversation, this.selection, after, last, expect)
  }
}
