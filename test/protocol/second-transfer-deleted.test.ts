import { afterEach, describe, expect, it } from 'vitest'
import { cleanupTempDirs, fillStore, keystream, openStore } from '../helpers/stores.js'
import { closeJournals, journalOf, runTransfer, verifiedTransfer, type RunOptions, type RunResult } from '../helpers/transfer.js'
import { LEAF_BASES } from '../../src/journal/leaf-bases.js'
import { NAME_BASES } from '../../src/journal/name-bases.js'
import { endsLeaf, LEAF_MAX } from '../../src/protocol/leaves.js'
import { SqliteChatStore } from '../../src/store/sqlite-store.js'
import type { HistoryChange } from '../../src/store/history.js'
import type { Message } from '../../src/store/model.js'
import { ferry, type Frame } from '../../src/wire/codec.js'

// A chat or messages the new phone's owner deleted must stay deleted through every later transfer from
// the same old phone, unless the old phone changed them since (a new message brings a deleted chat back,
// as it does on one phone); verification must still prove the rest is the old phone's.

const OPTIONS = { batchBytes: 4096, chunkBytes: 16 * 1024, windowBytes: 64 * 1024 }
const PER_CHAT = 400

afterEach(async () => { await closeJournals(); cleanupTempDirs() })

interface Phones { source: SqliteChatStore, target: SqliteChatStore }

/** An old phone, and a new phone that verified a first transfer of its whole history. */
async function afterFirstTransfer (): Promise<Phones> {
  const source = openStore()
  await fillStore(source, { conversations: 3, messagesPerConversation: PER_CHAT, mediaSizes: [10_000] })
  const target = openStore()
  await verified(source, target)
  return { source, target }
}

async function verified (source: SqliteChatStore, target: SqliteChatStore, opts: RunOptions = {}): Promise<RunResult> {
  return await verifiedTransfer(source, target, { options: OPTIONS, ...opts })
}

const messagesOf = (store: SqliteChatStore, conversation: string): Message[] => [...store.listMessages({ conversations: [conversation] })]
const idsOf = (store: SqliteChatStore, conversation: string): string[] => messagesOf(store, conversation).map(m => m.id)

/** What the app does when its owner deletes messages or a whole chat: a change through the store port. */
async function remove (store: SqliteChatStore, conversation: string, ids: string[], chat = false): Promise<void> {
  const change: HistoryChange = { remove: { messages: ids.map(id => ({ conversation, id })) } }
  if (chat) (change.remove as NonNullable<HistoryChange['remove']>).conversations = [conversation]
  await store.commit(change)
}
const deleteChat = async (store: SqliteChatStore, conversation: string): Promise<void> => { await remove(store, conversation, idsOf(store, conversation), true) }

let added = 0
/** The old phone goes on being used: a message more in `conversation`, after all the others. */
function writeOnOldPhone (source: SqliteChatStore, conversation: string): string {
  const id = `later-${++added}`
  source.putMessages([{ conversation, id, sender: 'u1', ts: 1_900_000_000_000 + added, kind: 'text', text: 'written on the old phone since' }])
  return id
}

/** Indices of the messages of a conversation that end a leaf, but for its last message (whose leaf is open). */
function leafEnds (store: SqliteChatStore, conversation: string): number[] {
  const ms = messagesOf(store, conversation)
  return ms.flatMap((m, i) => i < ms.length - 1 && endsLeaf(m.ts, m.id) ? [i] : [])
}

async function leafBases (target: SqliteChatStore): Promise<Array<[string, string]>> {
  const out: Array<[string, string]> = []
  for await (const [k, v] of journalOf(target).list(LEAF_BASES)) out.push([k, Buffer.from(v).toString('hex')])
  return out
}

describe('a second transfer into a phone whose owner deleted a chat', () => {
  it('leaves it deleted, at the second transfer and the third, and verifies', async () => {
    const { source, target } = await afterFirstTransfer()
    await deleteChat(target, 'c0')
    for (let i = 0; i < 2; i++) {
      const later = writeOnOldPhone(source, 'c2')
      const run = await verified(source, target)
      expect(target.hasConversation('c0')).toBe(false)
      expect(idsOf(target, 'c0')).toEqual([])
      expect(idsOf(target, 'c2')).toContain(later)
      // Nothing of it moved: only what the old phone wrote since.
      expect(run.sender.progress.messagesSent).toBe(1)
      expect(run.receiver.progress.messagesReceived).toBe(1)
      expect(run.receiver.progress.chatsLeftDeleted).toBe(1)
      expect(run.receiver.progress.messagesLeftDeleted).toBe(PER_CHAT)
      // The summary lists what this phone holds: not the chat that stays deleted.
      expect(run.receiver.summary?.map(c => c.id)).not.toContain('c0')
      expect(run.receiver.summary?.find(c => c.id === 'c2')?.messages).toBe(idsOf(target, 'c2').length)
    }
    source.close()
    target.close()
  })

  it('brings it back with only what the old phone wrote in it since: the rest of the leaf it joined stays deleted', async () => {
    const { source, target } = await afterFirstTransfer()
    await deleteChat(target, 'c0')
    const later = writeOnOldPhone(source, 'c0')
    const run = await verified(source, target)
    expect(target.hasConversation('c0')).toBe(true)
    // The new message joined the old phone's last leaf; the part of it the first transfer verified is a
    // run of the base (kept-runs.ts), so only the new message comes, as on one phone.
    expect(idsOf(target, 'c0')).toEqual([later])
    expect(run.receiver.progress.messagesReceived).toBe(1)
    expect(run.receiver.progress.messagesLeftDeleted).toBe(PER_CHAT)
    expect(run.receiver.progress.chatsLeftDeleted).toBe(0)
    // The next transfer brings nothing of it back.
    const next = await verified(source, target)
    expect(next.sender.progress.messagesSent).toBe(0)
    expect(idsOf(target, 'c0')).toEqual([later])
    expect(next.receiver.progress.messagesLeftDeleted).toBe(PER_CHAT)
    source.close()
    target.close()
  })
})

describe('a chat deleted here after a transfer of a time window, at a wider transfer', () => {
  /**
   * An old phone, and a new phone that verified the last quarter of its history, then deleted c0 whole.
   * `first`: what the old phone did before that transfer.
   */
  async function afterWindowThenDeleted (first?: (source: SqliteChatStore, ms: Message[]) => void): Promise<Phones & { ms: Message[] }> {
    const source = openStore()
    await fillStore(source, { conversations: 3, messagesPerConversation: PER_CHAT, mediaSizes: [] })
    first?.(source, messagesOf(source, 'c0'))
    const target = openStore()
    const ms = messagesOf(source, 'c0')
    const since = ms[Math.floor(ms.length * 3 / 4)].ts
    await verified(source, target, { request: { since } })
    expect(idsOf(target, 'c0').length).toBeLessThan(PER_CHAT / 2)
    await deleteChat(target, 'c0')
    return { source, target, ms }
  }

  it('stays deleted with what the window left out, at the wider transfer and the next', async () => {
    const { source, target } = await afterWindowThenDeleted()
    for (let i = 0; i < 2; i++) {
      const run = await verified(source, target)
      expect(target.hasConversation('c0')).toBe(false)
      expect(idsOf(target, 'c0')).toEqual([])
      expect(run.receiver.progress.chatsLeftDeleted).toBe(1)
      expect(run.receiver.progress.messagesLeftDeleted).toBe(PER_CHAT)
      expect(run.receiver.summary?.map(c => c.id)).not.toContain('c0')
      // The other chats' older part arrives.
      expect(idsOf(target, 'c2')).toEqual(idsOf(source, 'c2'))
      if (i === 1) expect(run.sender.progress.messagesSent).toBe(0)
    }
    source.close()
    target.close()
  })

  it('comes back with only what the old phone added or edited since, before the window as after it', async () => {
    const { source, target, ms } = await afterWindowThenDeleted()
    const later = writeOnOldPhone(source, 'c0')
    // Edited there since, before the window the first transfer carried.
    const edited = { ...ms[10], kind: 'text' as const, text: 'edited on the old phone since', editedAt: 1_950_000_000_000 }
    delete edited.media
    source.putMessages([edited])
    const run = await verified(source, target)
    expect(target.hasConversation('c0')).toBe(true)
    expect(idsOf(target, 'c0')).toEqual([edited.id, later])
    expect(run.receiver.progress.chatsLeftDeleted).toBe(0)
    expect(run.receiver.progress.messagesLeftDeleted).toBe(PER_CHAT - 1)
    expect(run.receiver.summary?.find(c => c.id === 'c0')?.messages).toBe(2)
    const next = await verified(source, target)
    expect(idsOf(target, 'c0')).toEqual([edited.id, later])
    expect(next.sender.progress.messagesSent).toBe(0)
    source.close()
    target.close()
  })

  /** m10 of c0, outside the window, edited on the old phone at `editedAt` (its clock). */
  function editTenth (source: SqliteChatStore, ms: Message[], editedAt: number): Message {
    const edited = { ...ms[10], kind: 'text' as const, text: 'edited on the old phone', editedAt }
    delete edited.media
    source.putMessages([edited])
    return edited
  }

  it('stays deleted with a message the old phone edited before the window\'s transfer, after the chat\'s last message', async () => {
    // The chat was quiet; the edit came later, yet before the first transfer: the old phone held it so
    // when this phone's owner deleted the chat.
    const { source, target } = await afterWindowThenDeleted((source, ms) => { editTenth(source, ms, ms[ms.length - 1].ts + 60_000) })
    for (let i = 0; i < 2; i++) {
      const run = await verified(source, target)
      expect(target.hasConversation('c0')).toBe(false)
      expect(idsOf(target, 'c0')).toEqual([])
      expect(run.receiver.progress.chatsLeftDeleted).toBe(1)
      expect(run.receiver.progress.messagesLeftDeleted).toBe(PER_CHAT)
      expect(run.receiver.summary?.map(c => c.id)).not.toContain('c0')
      if (i === 1) expect(run.sender.progress.messagesSent).toBe(0)
    }
    source.close()
    target.close()
  })

  it('comes back with a message the old phone edited after the window\'s transfer, by its clock now', async () => {
    const { source, target, ms } = await afterWindowThenDeleted()
    // Later than the verification, which happened at or before this moment.
    const edited = editTenth(source, ms, Date.now() + 1)
    const run = await verified(source, target)
    expect(target.hasConversation('c0')).toBe(true)
    expect(idsOf(target, 'c0')).toEqual([edited.id])
    expect(messagesOf(target, 'c0')[0].editedAt).toBe(edited.editedAt)
    expect(run.receiver.progress.chatsLeftDeleted).toBe(0)
    expect(run.receiver.progress.messagesLeftDeleted).toBe(PER_CHAT - 1)
    const next = await verified(source, target)
    expect(next.sender.progress.messagesSent).toBe(0)
    expect(idsOf(target, 'c0')).toEqual([edited.id])
    source.close()
    target.close()
  })

  it('comes back whole with restoreDeleted', async () => {
    const { source, target } = await afterWindowThenDeleted()
    const run = await verified(source, target, { restoreDeleted: true })
    expect(idsOf(target, 'c0')).toEqual(idsOf(source, 'c0'))
    expect(run.receiver.progress.chatsLeftDeleted).toBe(0)
    expect(run.receiver.progress.messagesLeftDeleted).toBe(0)
    source.close()
    target.close()
  })

  /**
   * The shape the deleted-here property found: a whole transfer, then one up to a date inside a leaf of
   * c0 (the base then holds that leaf's start as a run too); the old phone deletes the message that ended
   * the leaf, which joins it to the next: the old phone's leaf there begins and ends with runs of the
   * base, and its middle is in none. Then c0 is deleted here.
   */
  async function endsInBaseMiddleChanged (): Promise<Phones & { ms: Message[], at: number, last: number }> {
    const source = openStore()
    await fillStore(source, { conversations: 3, messagesPerConversation: PER_CHAT, mediaSizes: [] })
    const target = openStore()
    await verified(source, target)
    const ends = leafEnds(source, 'c0')
    const j = ends.findIndex((end, k) => k > 0 && k + 1 < ends.length && end - ends[k - 1] >= 12 && ends[k + 1] - end < 24)
    expect(j).toBeGreaterThan(0)
    const last = ends[j]
    const at = ends[j - 1] + 5
    const ms = messagesOf(source, 'c0')
    await verified(source, target, { request: { until: ms[at].ts } })
    source.transaction(() => { source.deleteMessage('c0', ms[last].id) })
    await deleteChat(target, 'c0')
    return { source, target, ms, at, last }
  }

  it('stays deleted when the old phone changed a leaf of it since, and the same transfer again moves nothing', async () => {
    const { source, target, ms, last } = await endsInBaseMiddleChanged()
    const wide = await verified(source, target)
    expect(target.hasConversation('c0')).toBe(false)
    expect(wide.receiver.progress.chatsLeftDeleted).toBe(1)
    expect(wide.receiver.progress.messagesLeftDeleted).toBe(PER_CHAT - 1)
    // The changed leaf's middle went, to be kept out; what that transfer verified is now the base.
    expect(wide.sender.progress.messagesSent).toBeGreaterThan(0)
    for (let i = 0; i < 2; i++) {
      const again = await verified(source, target)
      expect(again.sender.progress.messagesSent).toBe(0)
      expect(target.hasConversation('c0')).toBe(false)
      expect(again.receiver.progress.chatsLeftDeleted).toBe(1)
      expect(again.receiver.progress.messagesLeftDeleted).toBe(PER_CHAT - 1)
    }
    expect(idsOf(source, 'c0')).toEqual(ms.map(m => m.id).filter(id => id !== ms[last].id))
    source.close()
    target.close()
  })

  for (const where of ['outside', 'inside'] as const) {
    it(`comes back with only a message of that leaf the old phone edited since ${where} the window, and the same transfer again moves nothing`, async () => {
      const { source, target, ms, at } = await endsInBaseMiddleChanged()
      const edited = { ...ms[where === 'outside' ? at + 2 : at - 2], kind: 'text' as const, text: 'edited on the old phone since', editedAt: 1_950_000_000_000 }
      delete edited.media
      source.putMessages([edited])
      const wide = await verified(source, target)
      expect(idsOf(target, 'c0')).toEqual([edited.id])
      expect(wide.receiver.progress.chatsLeftDeleted).toBe(0)
      expect(wide.receiver.progress.messagesLeftDeleted).toBe(PER_CHAT - 2)
      const again = await verified(source, target)
      expect(again.sender.progress.messagesSent).toBe(0)
      expect(idsOf(target, 'c0')).toEqual([edited.id])
      expect(again.receiver.progress.messagesLeftDeleted).toBe(PER_CHAT - 2)
      source.close()
      target.close()
    })
  }
})

describe('a chat deleted here of which the old phone sends no message', () => {
  /** A transfer after which c0 must still be deleted here, counted so, while c2's new message arrived. */
  async function staysDeleted (source: SqliteChatStore, target: SqliteChatStore, opts: RunOptions = {}): Promise<RunResult> {
    const later = writeOnOldPhone(source, 'c2')
    const run = await verified(source, target, opts)
    expect(target.hasConversation('c0')).toBe(false)
    expect(idsOf(target, 'c0')).toEqual([])
    expect(run.receiver.progress.chatsLeftDeleted).toBe(1)
    expect(run.receiver.summary?.map(c => c.id)).not.toContain('c0')
    if (opts.request?.conversations === undefined) expect(idsOf(target, 'c2')).toContain(later)
    return run
  }

  it('stays deleted when the old phone cleared it since, at the whole transfer and the next', async () => {
    const { source, target } = await afterFirstTransfer()
    await deleteChat(target, 'c0')
    // "Clear chat" there: the chat stays, its messages go. Moving never deletes, and the chat is not new.
    await remove(source, 'c0', idsOf(source, 'c0'))
    expect(source.hasConversation('c0')).toBe(true)
    // A chat made there since, as empty: this phone never held it, and it arrives.
    const c9 = { id: 'c9', kind: 'group' as const, title: 'New there', members: ['u1', 'me'] }
    source.putMetadata([], [c9], [])
    for (let i = 0; i < 2; i++) {
      const run = await staysDeleted(source, target)
      expect(target.listConversations().find(c => c.id === 'c9')).toEqual(c9)
      expect(run.receiver.summary?.find(c => c.id === 'c9')?.messages).toBe(0)
    }
    // A message written there since brings it back, with that message only, as on one phone.
    const later = writeOnOldPhone(source, 'c0')
    const back = await verified(source, target)
    expect(idsOf(target, 'c0')).toEqual([later])
    expect(back.receiver.progress.chatsLeftDeleted).toBe(0)
    source.close()
    target.close()
  })

  it('stays deleted at a transfer of a time window in which it has no message, and at the whole one after', async () => {
    const { source, target } = await afterFirstTransfer()
    await deleteChat(target, 'c0')
    await staysDeleted(source, target, { request: { since: 1_900_000_000_000 } })
    const whole = await staysDeleted(source, target)
    expect(whole.receiver.progress.messagesLeftDeleted).toBe(PER_CHAT)
    source.close()
    target.close()
  })

  it('stays deleted when it alone is selected, with nothing new in the window', async () => {
    const { source, target } = await afterFirstTransfer()
    await deleteChat(target, 'c0')
    const run = await staysDeleted(source, target, { request: { conversations: ['c0'], since: 1_900_000_000_000 } })
    expect(run.receiver.summary).toEqual([])
    source.close()
    target.close()
  })

  it('stays deleted when the old phone renamed it and changed its members since, as one with messages does', async () => {
    const { source, target } = await afterFirstTransfer()
    await deleteChat(target, 'c0')
    await remove(source, 'c0', idsOf(source, 'c0'))
    const c0 = source.listConversations().find(c => c.id === 'c0') as NonNullable<ReturnType<SqliteChatStore['listConversations']>[number]>
    source.putMetadata([], [{ ...c0, title: 'Renamed there', members: [...c0.members, 'u3'] }], [])
    await staysDeleted(source, target)
    source.close()
    target.close()
  })

  it('stays deleted when it was empty at the first transfer', async () => {
    const source = openStore()
    await fillStore(source, { conversations: 3, messagesPerConversation: 50, mediaSizes: [] })
    await remove(source, 'c0', idsOf(source, 'c0'))
    const target = openStore()
    await verified(source, target)
    expect(target.hasConversation('c0')).toBe(true)
    await target.commit({ remove: { conversations: ['c0'] } })
    await staysDeleted(source, target)
    source.close()
    target.close()
  })

  it('comes back, empty, with restoreDeleted, and stays deleted again once deleted again', async () => {
    const { source, target } = await afterFirstTransfer()
    await deleteChat(target, 'c0')
    await remove(source, 'c0', idsOf(source, 'c0'))
    const run = await verified(source, target, { restoreDeleted: true })
    expect(target.listConversations()).toEqual(source.listConversations())
    expect(run.receiver.progress.chatsLeftDeleted).toBe(0)
    await target.commit({ remove: { conversations: ['c0'] } })
    await staysDeleted(source, target)
    source.close()
    target.close()
  })

  it('from a journal whose name bases do not say which store: it comes back once, then a deletion sticks', async () => {
    const { source, target } = await afterFirstTransfer()
    // Bases as a Ferry that kept no store in a chat's base wrote them.
    const older = []
    for await (const [k, v] of journalOf(target).list(NAME_BASES)) {
      const b = JSON.parse(Buffer.from(v).toString('utf8')) as Record<string, unknown>
      delete b.store
      older.push({ key: k, value: new TextEncoder().encode(JSON.stringify(b)) })
    }
    await journalOf(target).write(older)
    await deleteChat(target, 'c0')
    await remove(source, 'c0', idsOf(source, 'c0'))
    const second = await verified(source, target)
    expect(target.hasConversation('c0')).toBe(true)
    expect(second.receiver.progress.chatsLeftDeleted).toBe(0)

    await target.commit({ remove: { conversations: ['c0'] } })
    await staysDeleted(source, target)
    source.close()
    target.close()
  })

  it('arrives into a store made again beside the same journal, which inherits no base', async () => {
    const { source, target } = await afterFirstTransfer()
    await deleteChat(target, 'c0')
    await remove(source, 'c0', idsOf(source, 'c0'))
    await staysDeleted(source, target)
    const fresh = openStore()
    const run = await verified(source, fresh, { journal: journalOf(target) })
    expect(fresh.hasConversation('c0')).toBe(true)
    expect(run.receiver.progress.chatsLeftDeleted).toBe(0)
    source.close()
    fresh.close()
    target.close()
  })
})

describe('a second transfer into a phone whose owner deleted messages', () => {
  it('leaves them deleted while a new message of the same chat arrives', async () => {
    const { source, target } = await afterFirstTransfer()
    const ids = idsOf(target, 'c0')
    const gone = [ids[50], ids[51], ids[120]]
    await remove(target, 'c0', gone)
    for (let i = 0; i < 2; i++) {
      const later = writeOnOldPhone(source, 'c0')
      const run = await verified(source, target)
      const now = idsOf(target, 'c0')
      expect(now).toContain(later)
      for (const id of gone) expect(now).not.toContain(id)
      expect(now).toEqual(idsOf(source, 'c0').filter(id => !gone.includes(id)))
      expect(run.receiver.progress.messagesReceived).toBe(1)
      expect(run.receiver.progress.messagesLeftDeleted).toBe(3)
    }
    source.close()
    target.close()
  })

  it('counts exactly what stays deleted when the same run holds a message the old phone deleted', async () => {
    const { source, target } = await afterFirstTransfer()
    const ends = leafEnds(source, 'c0')
    // Two messages of one leaf, neither ending it: deleting either leaves the old phone's cut as it was.
    const leaf = idsOf(source, 'c0').slice(ends[1] + 1, ends[2] + 1)
    expect(leaf.length).toBeGreaterThan(4)
    const [deletedThere, deletedHere] = [leaf[1], leaf[3]]
    // Deleted on the old phone, then a transfer: moving never deletes, so this phone keeps it.
    await remove(source, 'c0', [deletedThere])
    await verified(source, target)
    expect(idsOf(target, 'c0')).toContain(deletedThere)
    // This phone's owner deletes another message of the same run, and the app writes one of its own there.
    await remove(target, 'c0', [deletedHere])
    const at = messagesOf(target, 'c0').find(m => m.id === leaf[4]) as Message
    target.putMessages([{ conversation: 'c0', id: `${at.id}-own`, sender: 'me', ts: at.ts, kind: 'text', text: 'written here' }])
    for (let i = 0; i < 2; i++) {
      const run = await verified(source, target)
      expect(idsOf(target, 'c0')).not.toContain(deletedHere)
      expect(idsOf(target, 'c0')).toContain(deletedThere)
      expect(run.receiver.progress.messagesLeftDeleted).toBe(1)
      expect(run.receiver.summary?.find(c => c.id === 'c0')?.messages).toBe(idsOf(source, 'c0').length - 1)
    }
    source.close()
    target.close()
  })

  it('refuses a sender whose kept leaf names fewer keys than it holds', async () => {
    const { source, target } = await afterFirstTransfer()
    await remove(target, 'c0', [idsOf(target, 'c0')[20]])
    writeOnOldPhone(source, 'c0')
    const short: NonNullable<RunOptions['tamper']> = f => f.body === 'plan'
      ? [{ plan: { ...(f.plan as ferry.Plan), leaves: (f.plan as ferry.Plan).leaves.map(l => l.kind === ferry.PlanLeaf.Kind.KEPT && (l.items ?? []).length > 0 ? { ...l, items: (l.items ?? []).slice(1) } : l) } }]
      : [f]
    const bad = await runTransfer(source, target, { options: OPTIONS, tamper: short })
    expect(bad.receiverError?.code).toBe('COUNT_MISMATCH')
    expect(bad.receiverError?.message).toMatch(/a kept leaf of c0 names/)
    const good = await verified(source, target)
    expect(good.receiver.progress.messagesLeftDeleted).toBe(1)
    source.close()
    target.close()
  })

  // The plan of c0 comes as parts of one-message leaves before the real one: the new phone would hold
  // them all, a hundred bytes of memory or so for each twenty on the wire, until the last.
  it.each<[string, number, number, string, RegExp]>([
    ['more messages than its chat declared', 50, 1000, 'COUNT_MISMATCH', /plan of c0 covers more than the \d+ messages the manifest declared/],
    ['more entries than a manifest may hold', 1, 300, 'TOO_LARGE', /plans exceed 200 entries/]
  ])('refuses a plan of %s as it comes, not once it ends', async (_what, count, leaves, code, message) => {
    const { source, target } = await afterFirstTransfer()
    // An edit on the old phone inside the chat: the old phone asks for this phone's leaves, then plans.
    const edited = messagesOf(source, 'c0')[100]
    source.putMessages([{ ...edited, kind: 'text', text: 'edited on the old phone', media: undefined }])
    const held = messagesOf(target, 'c0')
    let flooded = false
    const flood: NonNullable<RunOptions['tamper']> = f => {
      const p = f.plan as ferry.Plan | undefined
      if (f.body !== 'plan' || flooded || (p?.leaves ?? []).length === 0) return [f]
      flooded = true
      let ts = -1e15
      const parts = Array.from({ length: count }, () => ({ plan: { conversation: p?.conversation, more: true, leaves: Array.from({ length: leaves }, () => ({ kind: ferry.PlanLeaf.Kind.NEED, lastTs: ts++, lastId: 'x', count: 1 })) } }))
      return [...parts, f]
    }
    let parts = 0
    const options = code === 'TOO_LARGE' ? { ...OPTIONS, maxManifestEntries: 200 } : OPTIONS
    const bad = await runTransfer(source, target, { options, tamper: flood, onReceived: fr => { if (fr.body === 'plan' && (fr.plan as ferry.Plan).more === true) parts++ } })
    expect(bad.receiverError?.code).toBe(code)
    expect(bad.receiverError?.message).toMatch(message)
    // Refused at the first part that went over: the rest was never taken in.
    expect(parts).toBe(1)
    // What the first transfer verified is still here, and an honest transfer goes on from it.
    expect(messagesOf(target, 'c0')).toEqual(held)
    await verified(source, target)
    expect(messagesOf(target, 'c0')).toEqual(messagesOf(source, 'c0'))
    source.close()
    target.close()
  })

  it('leaves deleted a message that ended a leaf, and one in a leaf cut by its length', async () => {
    const source = openStore()
    await fillStore(source, { conversations: 1, messagesPerConversation: PER_CHAT, mediaSizes: [] })
    // c1: more messages than a leaf holds, none of whose keys cut one.
    const run: Message[] = []
    for (let k = 0; run.length < LEAF_MAX + 40; k++) {
      const m: Message = { conversation: 'c1', id: `x${k}`, sender: 'u1', ts: 1_750_000_000_000 + k, kind: 'text', text: `run ${k}` }
      if (!endsLeaf(m.ts, m.id)) run.push(m)
    }
    source.putMetadata([], [{ id: 'c1', kind: 'direct', title: 'Long', members: ['u1', 'me'] }], [])
    source.putMessages(run)
    const target = openStore()
    await verified(source, target)

    const ends = leafEnds(target, 'c0')
    expect(ends.length).toBeGreaterThan(2)
    const endOfLeaf = idsOf(target, 'c0')[ends[1]]
    const inLongLeaf = run[10].id
    await remove(target, 'c0', [endOfLeaf])
    await remove(target, 'c1', [inLongLeaf])
    const later = [writeOnOldPhone(source, 'c0'), writeOnOldPhone(source, 'c1')]
    const second = await verified(source, target)
    expect(idsOf(target, 'c0')).toEqual(idsOf(source, 'c0').filter(id => id !== endOfLeaf))
    expect(idsOf(target, 'c1')).toEqual(idsOf(source, 'c1').filter(id => id !== inLongLeaf))
    expect(second.receiver.progress.messagesReceived).toBe(2)
    expect(second.receiver.progress.messagesLeftDeleted).toBe(2)
    for (const id of later) expect([...idsOf(target, 'c0'), ...idsOf(target, 'c1')]).toContain(id)
    const third = await verified(source, target)
    expect(third.sender.progress.messagesSent).toBe(0)
    expect(idsOf(target, 'c0')).not.toContain(endOfLeaf)
    source.close()
    target.close()
  })
})

describe('a second transfer of part of a chat', () => {
  it('keeps the base of the rest: messages deleted before its window stay deleted at the next whole transfer', async () => {
    const { source, target } = await afterFirstTransfer()
    const ms = messagesOf(target, 'c0')
    const gone = ms.slice(5, 8).map(m => m.id)
    await remove(target, 'c0', gone)
    // A transfer of the last part of the chats only: what it verifies joins the base, which keeps the rest.
    const since = ms[Math.floor(ms.length * 3 / 4)].ts
    await verified(source, target, { request: { since } })
    const later = writeOnOldPhone(source, 'c0')
    const whole = await verified(source, target)
    expect(idsOf(target, 'c0')).toEqual(idsOf(source, 'c0').filter(id => !gone.includes(id)))
    expect(idsOf(target, 'c0')).toContain(later)
    expect(whole.receiver.progress.messagesLeftDeleted).toBe(gone.length)
    source.close()
    target.close()
  })
})

describe('a message deleted in a run a date selection\'s edge cut out of a leaf', () => {
  /**
   * The index in c0 of a message some way into a leaf (at least 4 from either end), the first of its
   * timestamp, so that a `since` at its ts starts the window there; and the leaf's first and last index.
   */
  function insideLeaf (store: SqliteChatStore, k = 2): { at: number, first: number, last: number } {
    const ends = leafEnds(store, 'c0')
    for (let j = k; j < ends.length; j++) {
      const first = ends[j - 1] + 1
      const last = ends[j]
      if (last - first < 10) continue
      let at = first + 4
      if (at % 2 === 1) at++
      return { at, first, last }
    }
    throw new Error('no leaf long enough')
  }

  it('stays deleted at the next whole transfer after a first transfer of a time window', async () => {
    const source = openStore()
    await fillStore(source, { conversations: 3, messagesPerConversation: PER_CHAT, mediaSizes: [] })
    const target = openStore()
    const { at, last } = insideLeaf(source)
    const ms = messagesOf(source, 'c0')
    await verified(source, target, { request: { since: ms[at].ts } })
    expect(idsOf(target, 'c0')).toEqual(ms.slice(at).map(m => m.id))
    // Deleted in the part of its leaf the window held.
    const gone = ms[at + 2].id
    expect(at + 2).toBeLessThan(last)
    await remove(target, 'c0', [gone])
    for (let i = 0; i < 2; i++) {
      const whole = await verified(source, target)
      // Everything before the window arrives, the rest of the cut leaf's first part too; the deletion stays.
      expect(idsOf(target, 'c0')).toEqual(ms.map(m => m.id).filter(id => id !== gone))
      expect(whole.receiver.progress.messagesLeftDeleted).toBe(1)
      if (i === 1) expect(whole.sender.progress.messagesSent).toBe(0)
    }
    source.close()
    target.close()
  })

  it('stays deleted at the next whole transfer after a first transfer up to a date, deleted as the last one here', async () => {
    const source = openStore()
    await fillStore(source, { conversations: 3, messagesPerConversation: PER_CHAT, mediaSizes: [] })
    const target = openStore()
    const { at } = insideLeaf(source)
    const ms = messagesOf(source, 'c0')
    await verified(source, target, { request: { until: ms[at].ts } })
    expect(idsOf(target, 'c0')).toEqual(ms.slice(0, at).map(m => m.id))
    // The last message here: what this phone holds is then exactly the start of the old phone's history.
    const gone = ms[at - 1].id
    await remove(target, 'c0', [gone])
    const whole = await verified(source, target)
    expect(idsOf(target, 'c0')).toEqual(ms.map(m => m.id).filter(id => id !== gone))
    expect(whole.receiver.progress.messagesLeftDeleted).toBe(1)
    source.close()
    target.close()
  })

  it('stays deleted at a transfer of a time window after a whole transfer, and at the whole one after', async () => {
    const { source, target } = await afterFirstTransfer()
    const { at, last } = insideLeaf(source)
    const ms = messagesOf(source, 'c0')
    const gone = ms[at + 2].id
    expect(at + 2).toBeLessThan(last)
    await remove(target, 'c0', [gone])
    const later = writeOnOldPhone(source, 'c0')
    const window = await verified(source, target, { request: { since: ms[at].ts } })
    expect(idsOf(target, 'c0')).not.toContain(gone)
    expect(idsOf(target, 'c0')).toContain(later)
    expect(window.receiver.progress.messagesLeftDeleted).toBe(1)
    const whole = await verified(source, target)
    expect(idsOf(target, 'c0')).toEqual(idsOf(source, 'c0').filter(id => id !== gone))
    expect(whole.receiver.progress.messagesLeftDeleted).toBe(1)
    source.close()
    target.close()
  })
})

describe('what stays deleted', () => {
  it('all comes back with restoreDeleted, and stays deleted again once deleted again', async () => {
    const { source, target } = await afterFirstTransfer()
    await deleteChat(target, 'c0')
    await remove(target, 'c2', [idsOf(target, 'c2')[30]])
    const run = await verified(source, target, { restoreDeleted: true })
    expect(target.listConversations()).toEqual(source.listConversations())
    for (const c of ['c0', 'c2']) expect(messagesOf(target, c)).toEqual(messagesOf(source, c))
    expect(run.receiver.progress.messagesLeftDeleted).toBe(0)
    expect(run.receiver.progress.chatsLeftDeleted).toBe(0)

    await deleteChat(target, 'c0')
    const next = await verified(source, target)
    expect(target.hasConversation('c0')).toBe(false)
    expect(next.receiver.progress.chatsLeftDeleted).toBe(1)
    source.close()
    target.close()
  })

  it('comes from another old phone, which has no base here', async () => {
    const { source, target } = await afterFirstTransfer()
    await deleteChat(target, 'c0')
    await verified(source, target)
    expect(target.hasConversation('c0')).toBe(false)
    // Another phone with a chat of the same id, whose messages are the first phone's first ones: the
    // same leaves, but nothing says this phone's owner deleted them after that phone's transfer.
    const other = openStore()
    await fillStore(other, { conversations: 1, messagesPerConversation: 100, mediaSizes: [] })
    const run = await verified(other, target)
    expect(messagesOf(target, 'c0')).toEqual(messagesOf(other, 'c0'))
    expect(target.hasConversation('c0')).toBe(true)
    expect(run.receiver.progress.messagesLeftDeleted).toBe(0)
    source.close()
    other.close()
    target.close()
  })

  it('comes from an older sender, which does not plan against a base, and verifies', async () => {
    const { source, target } = await afterFirstTransfer()
    await deleteChat(target, 'c0')
    await verified(source, target)
    expect(target.hasConversation('c0')).toBe(false)
    const older: NonNullable<RunOptions['tamper']> = f => f.body === 'manifest' ? [{ manifest: { ...(f.manifest as ferry.Manifest), plansBases: false } }] : [f]
    let bases = 0
    const run = await verified(source, target, { tamper: older, onReceived: f => { if (f.body === 'plan' && (f.plan as ferry.Plan).leaves.some(l => l.kind === ferry.PlanLeaf.Kind.KEPT)) bases++ } })
    expect(bases).toBe(0)
    expect(messagesOf(target, 'c0')).toEqual(messagesOf(source, 'c0'))
    expect(run.receiver.progress.messagesLeftDeleted).toBe(0)
    source.close()
    target.close()
  })

  it('comes into a store made again beside the same journal, which inherits no base', async () => {
    const { source, target } = await afterFirstTransfer()
    await deleteChat(target, 'c0')
    await verified(source, target)
    expect(target.hasConversation('c0')).toBe(false)
    // The app wiped its store and made a new, empty one; Ferry's journal is the same.
    const fresh = openStore()
    const run = await verified(source, fresh, { journal: journalOf(target) })
    for (const c of ['c0', 'c-😀', 'c2']) expect(messagesOf(fresh, c)).toEqual(messagesOf(source, c))
    expect(run.receiver.progress.messagesLeftDeleted).toBe(0)
    source.close()
    fresh.close()
    target.close()
  })
})

describe('a second transfer that is refused or cut short, into a phone whose owner deleted', () => {
  const lie: NonNullable<RunOptions['tamper']> = f => f.body === 'done'
    ? [{ done: { ...(f.done as ferry.Done), conversations: (f.done as ferry.Done).conversations.map(c => ({ ...c, digest: new Uint8Array(32) })) } }]
    : [f]

  it('leaves the base as it was: what it brought and took back still comes, and the deleted chat stays deleted', async () => {
    const { source, target } = await afterFirstTransfer()
    await deleteChat(target, 'c0')
    const before = await leafBases(target)
    expect(before.length).toBeGreaterThan(0)
    const later = writeOnOldPhone(source, 'c2')

    const bad = await runTransfer(source, target, { options: OPTIONS, tamper: lie })
    expect(bad.receiverError?.code).toBe('DIGEST_MISMATCH')
    expect(idsOf(target, 'c2')).not.toContain(later)
    expect(await leafBases(target)).toEqual(before)
    let seen = 0
    const cut = await runTransfer(source, target, { options: OPTIONS, onReceived: f => { if (f.body === 'done' && ++seen === 1) throw new Error('killed') } })
    expect(cut.receiver.state).not.toBe('verified')
    expect(await leafBases(target)).toEqual(before)

    // Had either moved the base, the old phone's changed leaf of c2 would count as verified, and stay out.
    await verified(source, target)
    expect(idsOf(target, 'c2')).toEqual(idsOf(source, 'c2'))
    expect(target.hasConversation('c0')).toBe(false)
    source.close()
    target.close()
  })

  it('takes back the deleted chat it made again for a new message, and the next transfer decides the same', async () => {
    const { source, target } = await afterFirstTransfer()
    await deleteChat(target, 'c0')
    const later = writeOnOldPhone(source, 'c0')
    const bad = await runTransfer(source, target, { options: OPTIONS, tamper: lie })
    expect(bad.receiverError?.code).toBe('DIGEST_MISMATCH')
    expect(target.hasConversation('c0')).toBe(false)
    expect(idsOf(target, 'c0')).toEqual([])
    await verified(source, target)
    expect(target.hasConversation('c0')).toBe(true)
    expect(idsOf(target, 'c0')).toContain(later)
    expect(idsOf(target, 'c0').length).toBeLessThan(PER_CHAT)
    source.close()
    target.close()
  })
})

describe('verification of a conversation with leaves kept as the new phone has them', () => {
  /** After a first transfer: messages of an early leaf of c0 deleted here, one written there after. */
  async function deletedAndWritten (): Promise<Phones & { gone: string[], later: string }> {
    const phones = await afterFirstTransfer()
    const gone = idsOf(phones.target, 'c0').slice(10, 14)
    await remove(phones.target, 'c0', gone)
    return { ...phones, gone, later: writeOnOldPhone(phones.source, 'c0') }
  }

  it('refuses a message altered on the way elsewhere in the conversation, and the next transfer keeps the deletion', async () => {
    const { source, target, gone, later } = await deletedAndWritten()
    const before = await leafBases(target)
    const alter: NonNullable<RunOptions['tamper']> = f => f.body === 'batch'
      ? [{ batch: { messages: (f.batch as ferry.MessageBatch).messages.map(m => m.id === later ? { ...m, text: 'not what the old phone wrote' } : m) } }]
      : [f]
    const bad = await runTransfer(source, target, { options: OPTIONS, tamper: alter })
    expect(bad.receiverError?.code).toBe('DIGEST_MISMATCH')
    expect(idsOf(target, 'c0')).not.toContain(later)
    expect(await leafBases(target)).toEqual(before)

    const good = await verified(source, target)
    expect(good.receiver.progress.messagesLeftDeleted).toBe(gone.length)
    expect(idsOf(target, 'c0')).toEqual(idsOf(source, 'c0').filter(id => !gone.includes(id)))
    source.close()
    target.close()
  })

  it('refuses a message sent into a leaf it kept, before writing it: the deleted message does not come back', async () => {
    const { source, target, gone, later } = await deletedAndWritten()
    const deleted = messagesOf(source, 'c0').find(m => m.id === gone[0]) as Message
    let written = false
    // The sender slips a message the owner deleted here in front of the one it was asked for.
    const slip: NonNullable<RunOptions['tamper']> = f => {
      if (f.body !== 'batch') return [f]
      const messages = (f.batch as ferry.MessageBatch).messages
      const at = messages.findIndex(m => m.id === later)
      if (at < 0) return [f]
      return [{ batch: { messages: [...messages.slice(0, at), { ...messages[at], id: deleted.id, ts: deleted.ts, text: deleted.text }, ...messages.slice(at)] } }]
    }
    const bad = await runTransfer(source, target, {
      options: OPTIONS,
      tamper: slip,
      onReceived: f => { if (f.body === 'batch' && idsOf(target, 'c0').includes(deleted.id)) written = true }
    })
    expect(bad.receiverError?.code).toBe('PROTOCOL')
    expect(bad.receiverError?.message).toMatch(/was not asked for/)
    expect(written).toBe(false)
    expect(idsOf(target, 'c0')).not.toContain(deleted.id)
    source.close()
    target.close()
  })

  it('refuses a sender that keeps out a leaf whose digest this phone never verified', async () => {
    const { source, target, gone, later } = await deletedAndWritten()
    // The sender turns its needed leaf into a kept one, naming a digest of its own.
    const forge: NonNullable<RunOptions['tamper']> = f => {
      if (f.body !== 'plan') return [f]
      const p = f.plan as ferry.Plan
      return [{ plan: { ...p, leaves: p.leaves.map(l => l.kind === ferry.PlanLeaf.Kind.LIST || l.kind === ferry.PlanLeaf.Kind.NEED ? { ...l, kind: ferry.PlanLeaf.Kind.KEPT, items: [], digest: new Uint8Array(16).fill(7) } : l) } }]
    }
    const bad = await runTransfer(source, target, { options: OPTIONS, tamper: forge })
    expect(bad.receiverError?.code).toBe('PROTOCOL')
    expect(idsOf(target, 'c0')).not.toContain(later)
    const good = await verified(source, target)
    expect(good.receiver.progress.messagesLeftDeleted).toBe(gone.length)
    expect(idsOf(target, 'c0')).toContain(later)
    source.close()
    target.close()
  })

  it('fails when this phone\'s store loses a message it was sent, whatever the leaves kept', async () => {
    const { source, target, later } = await deletedAndWritten()
    // A damaged store: it takes every change but drops the old phone's new message.
    const damaged = new Proxy(target, {
      get (t, k) {
        if (k === 'commit') {
          return async (change: HistoryChange) => {
            const messages = change.messages?.filter(m => m.id !== later)
            await t.commit({ ...change, messages, encoded: undefined })
          }
        }
        const v = Reflect.get(t, k, t)
        return typeof v === 'function' ? v.bind(t) : v
      }
    })
    const bad = await runTransfer(source, damaged, { options: OPTIONS, journal: journalOf(target) })
    expect(bad.receiverError?.code).toBe('COUNT_MISMATCH')
    expect(bad.receiver.progress.messagesLeftDeleted).toBeGreaterThan(0)
    source.close()
    target.close()
  })
})

// Media: a person deletes a chat (often to free space), and the app removes its photos with it (a
// record no message refers to goes, with its file). They must stay out too, unless a message that
// arrives refers to one: then it must come, or that message would point at nothing.

const PHOTOS = 4

/**
 * An old phone whose chats c0 and c2 each begin with PHOTOS photos of their own (before every other
 * message: in the chat's first leaf), and a new phone that verified a first transfer of it.
 */
async function withPhotos (): Promise<Phones & { photos: Map<string, string[]> }> {
  const source = openStore()
  await fillStore(source, { conversations: 3, messagesPerConversation: PER_CHAT, mediaSizes: [] })
  const photos = new Map<string, string[]>()
  for (const c of ['c0', 'c2']) {
    const shas: string[] = []
    for (let k = 0; k < PHOTOS; k++) {
      const { sha256 } = await source.writeMedia(keystream(`${c}-photo-${k}`, 6_000 + k))
      source.putMetadata([], [], [{ sha256, size: 6_000 + k, mime: 'image/jpeg' }])
      source.putMessages([{ conversation: c, id: `p${k}`, sender: 'u1', ts: 1_600_000_000_000 + k, kind: 'image', media: sha256 }])
      shas.push(sha256)
    }
    photos.set(c, shas)
  }
  const target = openStore()
  await verified(source, target)
  for (const shas of photos.values()) for (const sha of shas) expect(target.hasMediaFile(sha)).toBe(true)
  return { source, target, photos }
}

/** What the app does when its owner deletes a chat: its messages, the chat, and the photos only it showed. */
async function deleteChatAndPhotos (store: SqliteChatStore, conversation: string, photos: string[]): Promise<void> {
  await store.commit({ remove: { messages: idsOf(store, conversation).map(id => ({ conversation, id })), conversations: [conversation], media: photos } })
}

/** `ferry inspect`'s consistency: every record has its file, every message's media has both. */
async function expectConsistent (store: SqliteChatStore): Promise<void> {
  const records = await store.media(undefined, 100_000)
  for (const r of records) expect(r.stored, `record ${r.sha256} without its file`).toBe(true)
  for (const c of store.listConversations()) {
    for (const m of messagesOf(store, c.id)) {
      if (m.media === undefined) continue
      expect(store.hasMediaRecord(m.media), `${c.id}/${m.id} points at a missing record`).toBe(true)
      expect(store.hasMediaFile(m.media), `${c.id}/${m.id} points at a missing file`).toBe(true)
    }
  }
}

const referred = (store: SqliteChatStore, sha: string): boolean => store.listConversations().some(c => messagesOf(store, c.id).some(m => m.media === sha))

/** The old phone writes, after all the others, a message in `conversation` that shows `sha256`. */
function photoOnOldPhone (source: SqliteChatStore, conversation: string, sha256: string): string {
  const id = `later-${++added}`
  source.putMessages([{ conversation, id, sender: 'u1', ts: 1_900_000_000_000 + added, kind: 'image', media: sha256 }])
  return id
}

describe('the media of what the new phone deleted', () => {
  it('stay deleted with their chat, at the second transfer and the third, and the store stays consistent', async () => {
    const { source, target, photos } = await withPhotos()
    const gone = photos.get('c0') as string[]
    await deleteChatAndPhotos(target, 'c0', gone)
    for (const sha of gone) expect(target.hasMediaRecord(sha)).toBe(false)
    for (let i = 0; i < 2; i++) {
      writeOnOldPhone(source, 'c2')
      const run = await verified(source, target)
      for (const sha of gone) {
        expect(target.hasMediaRecord(sha)).toBe(false)
        expect(target.hasMediaFile(sha)).toBe(false)
      }
      await expectConsistent(target)
      expect(run.sender.progress.mediaFilesSent).toBe(0)
      expect(run.receiver.progress.mediaFilesReceived).toBe(0)
      expect(run.receiver.progress.mediaLeftDeleted).toBe(PHOTOS)
      expect(run.receiver.progress.chatsLeftDeleted).toBe(1)
      // Counted as what this phone holds: c2's photos, not c0's.
      expect(run.receiver.progress.totalMediaFiles).toBe(PHOTOS)
      expect(run.receiver.summary?.map(c => c.id)).not.toContain('c0')
    }
    source.close()
    target.close()
  })

  it('come with a message the old phone wrote since that refers to one, and the rest stay deleted', async () => {
    const { source, target, photos } = await withPhotos()
    const gone = photos.get('c0') as string[]
    await deleteChatAndPhotos(target, 'c0', gone)
    const later = photoOnOldPhone(source, 'c0', gone[1])
    const run = await verified(source, target)
    expect(idsOf(target, 'c0')).toContain(later)
    expect(target.hasMediaFile(gone[1])).toBe(true)
    await expectConsistent(target)
    // A photo comes only when a message here refers to it (the leaves that came may hold more of them).
    let left = 0
    for (const sha of gone) {
      expect(target.hasMediaRecord(sha)).toBe(referred(target, sha))
      if (!referred(target, sha)) left++
    }
    expect(left).toBeGreaterThan(0)
    expect(run.receiver.progress.mediaLeftDeleted).toBe(left)
    expect(run.receiver.progress.mediaFilesReceived).toBe(PHOTOS - left)
    // The next transfer brings nothing more.
    const next = await verified(source, target)
    expect(next.sender.progress.mediaFilesSent).toBe(0)
    expect(next.receiver.progress.mediaLeftDeleted).toBe(left)
    await expectConsistent(target)
    source.close()
    target.close()
  })

  it('stay deleted when one photo was deleted with its message, while the chat stays', async () => {
    const { source, target, photos } = await withPhotos()
    const photo = (photos.get('c2') as string[])[2]
    await target.commit({ remove: { messages: [{ conversation: 'c2', id: 'p2' }], media: [photo] } })
    for (let i = 0; i < 2; i++) {
      const run = await verified(source, target)
      expect(idsOf(target, 'c2')).not.toContain('p2')
      expect(target.hasMediaRecord(photo)).toBe(false)
      expect(run.receiver.progress.mediaLeftDeleted).toBe(1)
      expect(run.receiver.progress.messagesLeftDeleted).toBe(1)
      expect(run.receiver.summary?.find(c => c.id === 'c2')?.messages).toBe(idsOf(target, 'c2').length)
      await expectConsistent(target)
    }
    source.close()
    target.close()
  })

  it('stay deleted when the old phone changed the leaf of the message that showed one', async () => {
    const { source, target, photos } = await withPhotos()
    const photo = (photos.get('c2') as string[])[2]
    await target.commit({ remove: { messages: [{ conversation: 'c2', id: 'p2' }], media: [photo] } })
    // Between p1 and p2 (which ends its leaf), so p2's leaf comes again with p2 in it, and the sender
    // sends the photo p2 shows.
    source.putMessages([{ conversation: 'c2', id: 'p1b', sender: 'u1', ts: 1_600_000_000_001, kind: 'text', text: 'written beside it since' }])
    const run = await verified(source, target)
    expect(run.sender.progress.mediaFilesSent).toBe(1)
    expect(idsOf(target, 'c2')).toContain('p1b')
    expect(idsOf(target, 'c2')).not.toContain('p2')
    expect(target.hasMediaRecord(photo)).toBe(false)
    expect(target.hasMediaFile(photo)).toBe(false)
    expect(run.receiver.progress.mediaLeftDeleted).toBe(1)
    await expectConsistent(target)
    source.close()
    target.close()
  })

  it('all come back with restoreDeleted, and stay deleted again once deleted again', async () => {
    const { source, target, photos } = await withPhotos()
    const gone = photos.get('c0') as string[]
    await deleteChatAndPhotos(target, 'c0', gone)
    await verified(source, target)
    const run = await verified(source, target, { restoreDeleted: true })
    expect(messagesOf(target, 'c0')).toEqual(messagesOf(source, 'c0'))
    for (const sha of gone) expect(target.hasMediaFile(sha)).toBe(true)
    expect(run.receiver.progress.mediaFilesReceived).toBe(PHOTOS)
    expect(run.receiver.progress.mediaLeftDeleted).toBe(0)
    await expectConsistent(target)
    await deleteChatAndPhotos(target, 'c0', gone)
    const again = await verified(source, target)
    expect(again.receiver.progress.mediaLeftDeleted).toBe(PHOTOS)
    for (const sha of gone) expect(target.hasMediaRecord(sha)).toBe(false)
    source.close()
    target.close()
  })

  it('stay deleted when a sender sends them all the same, as an older one does', async () => {
    const { source, target, photos } = await withPhotos()
    const gone = photos.get('c0') as string[]
    await deleteChatAndPhotos(target, 'c0', gone)
    // An older sender does not know Resume.media_left_deleted: it sends every file the receiver lacks.
    const older = (f: Frame): Frame => {
      if (f.body === 'resume') (f.resume as ferry.Resume).mediaLeftDeleted = new Uint8Array(0)
      return f
    }
    const run = await verified(source, target, { senderHears: older })
    expect(run.receiver.progress.mediaFilesReceived).toBe(PHOTOS)
    // No message here shows them: taken, checked, and dropped, so the space freed stays free.
    for (const sha of gone) {
      expect(target.hasMediaRecord(sha)).toBe(false)
      expect(target.hasMediaFile(sha)).toBe(false)
    }
    expect(run.receiver.progress.mediaLeftDeleted).toBe(PHOTOS)
    await expectConsistent(target)
    source.close()
    target.close()
  })

  it('come with a message that needs one even when the session is cut before the file came', async () => {
    const { source, target, photos } = await withPhotos()
    const gone = photos.get('c0') as string[]
    await deleteChatAndPhotos(target, 'c0', gone)
    const later = photoOnOldPhone(source, 'c0', gone[1])
    const cut = await runTransfer(source, target, { options: OPTIONS, onReceived: f => { if (f.body === 'chunk') throw new Error('killed') } })
    expect(cut.receiver.state).not.toBe('verified')
    // The message is here before its file: the file's record came with it, so a later session wants it.
    expect(idsOf(target, 'c0')).toContain(later)
    expect(target.hasMediaRecord(gone[1])).toBe(true)
    await verified(source, target)
    expect(idsOf(target, 'c0')).toContain(later)
    expect(target.hasMediaFile(gone[1])).toBe(true)
    // The photos no message here needs stayed out all along.
    for (const sha of gone) expect(target.hasMediaRecord(sha)).toBe(referred(target, sha))
    await expectConsistent(target)
    source.close()
    target.close()
  })

  it('refuses a sender that leaves out a file a message it sent refers to, and the next transfer brings it', async () => {
    const { source, target, photos } = await withPhotos()
    const gone = photos.get('c0') as string[]
    await deleteChatAndPhotos(target, 'c0', gone)
    const later = photoOnOldPhone(source, 'c0', gone[1])
    // It sends the message, and keeps the file out as if this phone's owner had deleted it.
    const run = await runTransfer(source, target, { options: OPTIONS, tamper: f => f.body === 'chunk' ? [] : [f] })
    expect(run.receiverError?.code).toBe('COUNT_MISMATCH')
    expect(run.receiverError?.message).toMatch(/refers to/)
    // Taken back whole: no message pointing at nothing, no record without its file.
    expect(idsOf(target, 'c0')).not.toContain(later)
    expect(target.hasMediaRecord(gone[1])).toBe(false)
    await expectConsistent(target)
    await verified(source, target)
    expect(idsOf(target, 'c0')).toContain(later)
    expect(target.hasMediaFile(gone[1])).toBe(true)
    await expectConsistent(target)
    source.close()
    target.close()
  })
})
