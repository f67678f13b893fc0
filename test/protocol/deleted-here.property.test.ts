import { fc } from '../helpers/property.js'
import { afterEach, describe, expect, it } from 'vitest'
import { cleanupTempDirs, openStore } from '../helpers/stores.js'
import { closeJournals, runTransfer } from '../helpers/transfer.js'
import { encodedMessage } from '../../src/protocol/leaves.js'
import type { Message, Selection } from '../../src/store/model.js'
import type { SqliteChatStore } from '../../src/store/sqlite-store.js'

// Moving again and again into a phone whose owner deletes there, with the old phone in use too and each
// transfer asking for another selection (time windows among them, whose bounds cut leaves). After
// every transfer: it verified; every message of the old phone's in the selection is on the new phone
// as the old phone has it, but for those the new phone's owner deleted (deleting a chat whole deletes
// what no window carried of it too), which may stay deleted; nothing
// else changed; the messages that arrived were sent, and of the others at most those that stay deleted
// (one in a leaf the old phone changed comes with the leaf); and `messagesLeftDeleted` is exactly how
// many of the selection's messages the new phone does not hold.

const OPTIONS = { batchBytes: 2048, chunkBytes: 8 * 1024, windowBytes: 32 * 1024 }
const CHATS = ['a', 'b']
const T0 = 1_700_000_000_000

type Step =
  | { t: 'append', chat: number, n: number, at: number }
  | { t: 'edit', chat: number, at: number, n: number }
  | { t: 'delete', chat: number, at: number, n: number }
  | { t: 'deleteHere', chat: number, at: number, n: number, whole: boolean }
  | { t: 'transfer', window: [number, number] | null, since: boolean }

const step: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: fc.record({ t: fc.constant('append' as const), chat: fc.nat({ max: CHATS.length - 1 }), n: fc.integer({ min: 1, max: 120 }), at: fc.nat({ max: 1000 }) }), weight: 3 },
  fc.record({ t: fc.constant('edit' as const), chat: fc.nat({ max: CHATS.length - 1 }), at: fc.nat({ max: 1000 }), n: fc.integer({ min: 1, max: 4 }) }),
  { arbitrary: fc.record({ t: fc.constant('delete' as const), chat: fc.nat({ max: CHATS.length - 1 }), at: fc.nat({ max: 1000 }), n: fc.integer({ min: 1, max: 4 }) }), weight: 2 },
  { arbitrary: fc.record({ t: fc.constant('deleteHere' as const), chat: fc.nat({ max: CHATS.length - 1 }), at: fc.nat({ max: 1000 }), n: fc.integer({ min: 1, max: 6 }), whole: fc.boolean() }), weight: 3 },
  { arbitrary: fc.record({
    t: fc.constant('transfer' as const),
    window: fc.option(fc.tuple(fc.nat({ max: 1000 }), fc.nat({ max: 1000 })).map(([a, b]) => [Math.min(a, b), Math.max(a, b) + 1] as [number, number]), { nil: null }),
    since: fc.boolean()
  }), weight: 3 }
)

const key = (m: { conversation: string, id: string }): string => `${m.conversation}\u0000${m.id}`
const same = (a: Message | undefined, b: Message): boolean => a !== undefined && Buffer.from(encodedMessage(a)).equals(Buffer.from(encodedMessage(b)))

afterEach(async () => { await closeJournals(); cleanupTempDirs() })

describe('what the new phone deleted, between transfers (property)', () => {
  it('stays out or comes back whole, is counted exactly, and nothing else is lost', async () => {
    await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 4, maxLength: 14 }), async steps => {
      const source = openStore()
      const target = openStore()
      try {
        await run(source, target, steps)
      } finally {
        source.close()
        target.close()
        await closeJournals()
      }
    }), {
      numRuns: 40,
      // Always among the runs: after a transfer the old phone deletes a message, the next leaves it here
      // (moving never deletes), then this phone's owner deletes one beside it, in the same run.
      examples: [[[
        { t: 'transfer', window: null, since: false },
        { t: 'delete', chat: 0, at: 330, n: 1 },
        { t: 'transfer', window: null, since: false },
        { t: 'deleteHere', chat: 0, at: 350, n: 1, whole: false },
        { t: 'transfer', window: null, since: false }
      ]], [[
        // A chat deleted whole after a window's transfer, then a wider one; one given to the old phone since
        // with an older date than the window's, inside what a whole transfer carried, comes.
        { t: 'transfer', window: [600, 601], since: true },
        { t: 'deleteHere', chat: 0, at: 0, n: 1, whole: true },
        { t: 'transfer', window: null, since: false },
        { t: 'append', chat: 0, n: 1, at: 0 },
        { t: 'transfer', window: null, since: false }
      ]], [[
        { t: 'transfer', window: null, since: false },
        { t: 'deleteHere', chat: 0, at: 0, n: 1, whole: true },
        { t: 'append', chat: 0, n: 1, at: 0 },
        { t: 'transfer', window: null, since: false }
      ]]]
    })
  }, 600_000)
})

async function run (source: SqliteChatStore, target: SqliteChatStore, steps: Step[]): Promise<void> {
  source.putMetadata([{ id: 'u', name: 'U' }], CHATS.map(id => ({ id, kind: 'group' as const, title: id, members: ['u', 'me'] })), [])
  source.putMessages(CHATS.flatMap((chat, c) => Array.from({ length: 150 }, (_, i): Message => ({ conversation: chat, id: `s${c}-${i}`, sender: 'u', ts: T0 + i * 7, kind: 'text', text: `start ${i}` }))))
  let serial = 0
  /** Messages the new phone's owner deleted: each may stay deleted, or come back as the old phone has it. */
  const deletedHere = new Set<string>()
  /** The windows verified so far (null: the whole history), and the newest message of each chat they carried. */
  const verifiedWindows: Selection[] = []
  const lastCarried = new Map<string, number>()
  /**
   * Chats deleted whole here, with what had been carried of them then. Deleting a chat deletes what no
   * window carried too, as on one phone: a message of it outside every window verified before, dated
   * before the newest one carried, may stay deleted with it (nothing tells one the old phone held then
   * from one it was given later with an older date).
   */
  const deletedWhole = new Map<string, { windows: Selection[], upTo: number }>()
  const inWindow = (sel: Selection, ts: number): boolean => (sel.since === undefined || ts >= sel.since) && (sel.until === undefined || ts < sel.until)
  const wentWithChat = (m: Message): boolean => {
    const d = deletedWhole.get(m.conversation)
    return d !== undefined && m.ts <= d.upTo && !d.windows.some(w => inWindow(w, m.ts))
  }
  for (const s of steps) {
    if (s.t === 'append') {
      const chat = CHATS[s.chat]
      source.putMessages(Array.from({ length: s.n }, (_, i): Message => ({ conversation: chat, id: `m${serial++}`, sender: 'u', ts: T0 + s.at + i * 3, kind: 'text', text: `hello ${serial}` })))
    } else if (s.t === 'edit' || s.t === 'delete') {
      const picked = near(source, CHATS[s.chat], s.at, s.n)
      if (s.t === 'edit') source.putMessages(picked.map(m => ({ ...m, text: `edited ${serial++}` })))
      else source.transaction(() => { for (const m of picked) source.deleteMessage(m.conversation, m.id) })
    } else if (s.t === 'deleteHere') {
      const chat = CHATS[s.chat]
      const picked = s.whole ? [...target.listMessages({ conversations: [chat] })] : near(target, chat, s.at, s.n)
      for (const m of picked) deletedHere.add(key(m))
      if (s.whole) deletedWhole.set(chat, { windows: [...verifiedWindows], upTo: lastCarried.get(chat) ?? -Infinity })
      await target.commit({ remove: { messages: picked.map(m => ({ conversation: m.conversation, id: m.id })), conversations: s.whole ? [chat] : undefined } })
    } else {
      const selection: Selection = {}
      if (s.window !== null) {
        selection.since = T0 + s.window[0]
        if (!s.since) selection.until = T0 + s.window[1]
      }
      const before = new Map([...target.listMessages()].map(m => [key(m), m]))
      const inSel = [...source.listMessages()].filter(m => (selection.since === undefined || m.ts >= selection.since) && (selection.until === undefined || m.ts < selection.until))
      const r = await runTransfer(source, target, { options: OPTIONS, request: selection })
      const what = JSON.stringify(selection)
      expect(r.receiverError, what).toBeUndefined()
      expect(r.receiver.state).toBe('verified')
      const after = new Map([...target.listMessages()].map(m => [key(m), m]))
      const wanted = new Map(inSel.map(m => [key(m), m]))
      let absent = 0
      let arrived = 0
      for (const [k, m] of wanted) {
        const now = after.get(k)
        if (now === undefined) {
          expect(deletedHere.has(k) || wentWithChat(m), `${k} is missing after ${what}, and was not deleted here`).toBe(true)
          deletedHere.add(k)
          absent++
          continue
        }
        expect(now, `${k} after ${what}`).toEqual(m)
        if (!same(before.get(k), m)) arrived++
        deletedHere.delete(k)
      }
      for (const [k, m] of before) if (!wanted.has(k)) expect(after.get(k), `${k} untouched by ${what}`).toEqual(m)
      verifiedWindows.push(selection)
      for (const m of inSel) lastCarried.set(m.conversation, Math.max(lastCarried.get(m.conversation) ?? -Infinity, m.ts))
      expect(r.receiver.progress.messagesLeftDeleted, `left deleted by ${what}`).toBe(absent)
      // A message deleted here in a leaf the old phone changed is sent with the leaf, and stays out.
      expect(r.sender.progress.messagesSent, `sent by ${what}`).toBeGreaterThanOrEqual(arrived)
      expect(r.sender.progress.messagesSent, `sent by ${what}`).toBeLessThanOrEqual(arrived + absent)
      // The same again at once decides the same: nothing moves, as much stays deleted.
      const again = await runTransfer(source, target, { options: OPTIONS, request: selection })
      expect(again.receiver.state).toBe('verified')
      expect(again.sender.progress.messagesSent, `sent again by ${what}`).toBe(0)
      expect(again.receiver.progress.messagesLeftDeleted, `left deleted again by ${what}`).toBe(absent)
    }
  }
}

/** Up to `n` messages of a chat from the first at or after `at`, every other one. */
function near (store: SqliteChatStore, chat: string, at: number, n: number): Message[] {
  const ms = [...store.listMessages({ conversations: [chat] })]
  const from = ms.findIndex(m => m.ts >= T0 + at)
  if (from < 0) return []
  return ms.slice(from).filter((_, i) => i % 2 === 0).slice(0, n)
}
