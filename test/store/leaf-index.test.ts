import { fc } from '../helpers/property.js'
import { afterEach, describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { join } from 'node:path'
import { cleanupTempDirs, openStore, tempDir } from '../helpers/stores.js'
import { conversationLeaves, LEAF_FORMAT } from '../../src/protocol/conversation-leaves.js'
import { LEAF_MAX, type LeafSummary } from '../../src/protocol/leaves.js'
import type { HistorySource, MessagePosition } from '../../src/store/history.js'
import type { Message } from '../../src/store/model.js'
import { SqliteChatStore } from '../../src/store/sqlite-store.js'

// The leaves a store keeps must always be the ones Ferry would cut from its messages now, whoever wrote
// them and however: a kept leaf that outlived a write would make the next transfer's digests lie, and
// the receiver refuse a transfer that was right. And keeping them must pay: a second read of an
// unchanged conversation reads at most its last, open leaf.

afterEach(() => { cleanupTempDirs() })

const T0 = 1_700_000_000_000
const msg = (conversation: string, i: number, ts: number, text = `m ${i}`): Message =>
  ({ conversation, id: `id-${i.toString(36)}`, sender: 'u', ts, kind: 'text', text })

/** Leaves with their digests as hex, to compare. */
async function leavesOf (reader: Pick<HistorySource, 'messages' | 'leafIndex'>, conversation: string): Promise<Array<Omit<LeafSummary, 'digest'> & { digest: string }>> {
  return (await conversationLeaves(reader, conversation, {})).map(l => ({ ...l, digest: Buffer.from(l.digest).toString('hex') }))
}

/** The store's reads, counted, without its index: what a cut from nothing sees. */
function counting (store: SqliteChatStore, withIndex: boolean): { reader: Pick<HistorySource, 'messages' | 'leafIndex'>, read: () => number } {
  let read = 0
  const reader = {
    leafIndex: withIndex ? store.leafIndex : undefined,
    async messages (conversation: string, after: MessagePosition | undefined, limit: number) {
      const page = await store.messages(conversation, after, limit)
      read += page.length
      return page
    }
  }
  return { reader, read: () => read }
}

type Op =
  | { t: 'append', n: number }
  | { t: 'insert', at: number, n: number }
  | { t: 'edit', pick: number, move: number | null }
  | { t: 'delete', pick: number }
  | { t: 'read' }

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ t: fc.constant('append' as const), n: fc.integer({ min: 1, max: 400 }) }),
  fc.record({ t: fc.constant('insert' as const), at: fc.nat({ max: 100_000 }), n: fc.integer({ min: 1, max: 20 }) }),
  fc.record({ t: fc.constant('edit' as const), pick: fc.nat(), move: fc.option(fc.nat({ max: 100_000 }), { nil: null }) }),
  fc.record({ t: fc.constant('delete' as const), pick: fc.nat() }),
  { arbitrary: fc.constant({ t: 'read' as const }), weight: 3 }
)

describe('the store\'s kept leaves', () => {
  it('are always what a cut from nothing gives, whatever was written, moved or deleted since (property)', async () => {
    await fc.assert(fc.asyncProperty(fc.array(op, { minLength: 2, maxLength: 14 }), async ops => {
      const store = openStore()
      try {
        store.putMetadata([{ id: 'u', name: 'U' }], [{ id: 'c', kind: 'group', title: 'c', members: ['u'] }, { id: 'd', kind: 'group', title: 'd', members: ['u'] }], [])
        let next = 0
        let last = 0
        for (const o of ops) {
          if (o.t === 'append') {
            store.putMessages(Array.from({ length: o.n }, () => msg('c', next++, T0 + (last += 1000))))
          } else if (o.t === 'insert') {
            store.putMessages(Array.from({ length: o.n }, (_, k) => msg('c', next++, T0 + o.at * 10 + k)))
          } else if (o.t === 'edit' || o.t === 'delete') {
            const all = await store.messages('c', undefined, 1_000_000)
            if (all.length === 0) continue
            const m = all[o.pick % all.length]
            if (o.t === 'delete') store.deleteMessage('c', m.id)
            // Through commit, as a transfer writes: the upsert replaces it, at its new time when it moved.
            else await store.commit({ messages: [{ ...m, text: `${m.text ?? ''} (edited)`, ts: o.move === null ? m.ts : T0 + o.move * 10 + 7 }] })
          } else {
            const kept = await leavesOf(counting(store, true).reader, 'c')
            const fresh = await leavesOf(counting(store, false).reader, 'c')
            expect(kept).toEqual(fresh)
          }
          // A neighbour conversation's writes never touch this one's leaves.
          store.putMessages([msg('d', next++, T0 + (last += 1000))])
        }
        const kept = await leavesOf(counting(store, true).reader, 'c')
        expect(kept).toEqual(await leavesOf(counting(store, false).reader, 'c'))
      } finally {
        store.close()
      }
    }), { numRuns: 40 })
  }, 120_000)

  it('let an unchanged conversation be read again without its messages, and an appended one from its last leaf', async () => {
    const store = openStore()
    try {
      store.putMetadata([{ id: 'u', name: 'U' }], [{ id: 'c', kind: 'group', title: 'c', members: ['u'] }], [])
      store.putMessages(Array.from({ length: 20_000 }, (_, i) => msg('c', i, T0 + i * 1000)))
      const first = counting(store, true)
      const leaves = await leavesOf(first.reader, 'c')
      expect(first.read()).toBe(20_000)
      expect(leaves.reduce((n, l) => n + l.count, 0)).toBe(20_000)

      const again = counting(store, true)
      expect(await leavesOf(again.reader, 'c')).toEqual(leaves)
      expect(again.read()).toBeLessThanOrEqual(LEAF_MAX)

      store.putMessages(Array.from({ length: 10 }, (_, i) => msg('c', 20_000 + i, T0 + (20_000 + i) * 1000)))
      const appended = counting(store, true)
      const after = await leavesOf(appended.reader, 'c')
      expect(after.reduce((n, l) => n + l.count, 0)).toBe(20_010)
      expect(appended.read()).toBeLessThanOrEqual(LEAF_MAX + 10)
      expect(after).toEqual(await leavesOf(counting(store, false).reader, 'c'))
      // Everything before the appended messages is the same leaves as before.
      expect(after.slice(0, leaves.length - 1)).toEqual(leaves.slice(0, -1))
    } finally {
      store.close()
    }
  })

  it('drop leaves a writer outside Ferry invalidates (the sqlite3 shell), and ignore leaves of another format', async () => {
    const dir = tempDir()
    let store = SqliteChatStore.open(dir, { create: true })
    store.putMetadata([{ id: 'u', name: 'U' }], [{ id: 'c', kind: 'group', title: 'c', members: ['u'] }], [])
    store.putMessages(Array.from({ length: 5000 }, (_, i) => msg('c', i, T0 + i * 1000)))
    const before = await leavesOf(counting(store, true).reader, 'c')
    store.close()

    const raw = new Database(join(dir, 'history.db'))
    raw.prepare("UPDATE messages SET text = 'changed behind its back' WHERE id = ?").run('id-' + (100).toString(36))
    raw.close()
    store = SqliteChatStore.open(dir)
    try {
      const after = await leavesOf(counting(store, true).reader, 'c')
      expect(after).toEqual(await leavesOf(counting(store, false).reader, 'c'))
      expect(after).not.toEqual(before)

      const { token } = await store.leafIndex.keptLeaves('c', LEAF_FORMAT)
      await store.leafIndex.keepLeaves('c', 'another-format', token, await conversationLeaves(store, 'c', {}))
      expect((await store.leafIndex.keptLeaves('c', LEAF_FORMAT)).leaves).toEqual([])
    } finally {
      store.close()
    }
  })

  it('are kept as a sending session cuts its snapshot, but not for a conversation written since it was taken', async () => {
    const store = openStore()
    try {
      store.putMetadata([{ id: 'u', name: 'U' }], ['quiet', 'busy'].map(id => ({ id, kind: 'group' as const, title: id, members: ['u'] })), [])
      for (const c of ['quiet', 'busy']) store.putMessages(Array.from({ length: 3000 }, (_, i) => msg(c, i, T0 + i * 1000)))
      const session = await store.snapshot()
      store.putMessages([msg('busy', 99_999, T0 + 5)]) // arrives while the phone sends
      for (const c of ['quiet', 'busy']) await conversationLeaves(session, c, {})
      await session.release()

      // The quiet chat's leaves were kept: read again, only its open leaf is read.
      const quiet = counting(store, true)
      expect(await leavesOf(quiet.reader, 'quiet')).toEqual(await leavesOf(counting(store, false).reader, 'quiet'))
      expect(quiet.read()).toBeLessThanOrEqual(LEAF_MAX)
      // The busy one's cut was of the history before its new message: none of it was kept.
      const busy = counting(store, true)
      expect(await leavesOf(busy.reader, 'busy')).toEqual(await leavesOf(counting(store, false).reader, 'busy'))
      expect(busy.read()).toBe(3001)
    } finally {
      store.close()
    }
  })

  it('are not kept when the conversation was written while they were cut', async () => {
    const store = openStore()
    try {
      store.putMetadata([{ id: 'u', name: 'U' }], [{ id: 'c', kind: 'group', title: 'c', members: ['u'] }], [])
      store.putMessages(Array.from({ length: 3000 }, (_, i) => msg('c', i, T0 + i * 1000)))
      const { token } = await store.leafIndex.keptLeaves('c', LEAF_FORMAT)
      const leaves = await conversationLeaves(counting(store, false).reader, 'c', {})
      store.putMessages([msg('c', 99_999, T0 + 5)])
      await store.leafIndex.keepLeaves('c', LEAF_FORMAT, token, leaves.slice(0, -1))
      expect((await store.leafIndex.keptLeaves('c', LEAF_FORMAT)).leaves).toEqual([])
    } finally {
      store.close()
    }
  })
})
