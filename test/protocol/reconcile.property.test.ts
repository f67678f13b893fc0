import { fc } from '../helpers/property.js'
import { afterEach, describe, expect, it } from 'vitest'
import { cleanupTempDirs, openStore } from '../helpers/stores.js'
import { closeJournals, runTransfer } from '../helpers/transfer.js'
import { encodedMessage } from '../../src/protocol/leaves.js'
import type { Message, Selection } from '../../src/store/model.js'
import type { SqliteChatStore } from '../../src/store/sqlite-store.js'

// Moving twice, and more: between transfers the old phone changes (messages added anywhere in time,
// edited, deleted, new chats) and each transfer asks for another selection. After every transfer the
// new phone holds, for every message the old phone holds in the selection, exactly the old phone's
// version; everything else it held stays as it was (moving never deletes, and its own messages are never
// touched); and the sender sent exactly the messages the new phone lacked or held in another version.

const OPTIONS = { batchBytes: 2048, chunkBytes: 8 * 1024, windowBytes: 32 * 1024 }
const CHATS = ['a', 'b', 'c', 'shared', 'z']
const T0 = 1_700_000_000_000

type Step =
  | { t: 'append', chat: number, n: number, at: number }
  | { t: 'edit', pick: number, n: number, move: boolean }
  | { t: 'delete', pick: number, n: number }
  | { t: 'transfer', chats: boolean[] | null, window: [number, number] | null }

const step: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: fc.record({ t: fc.constant('append' as const), chat: fc.nat({ max: CHATS.length - 1 }), n: fc.integer({ min: 1, max: 60 }), at: fc.nat({ max: 1000 }) }), weight: 3 },
  fc.record({ t: fc.constant('edit' as const), pick: fc.nat(), n: fc.integer({ min: 1, max: 8 }), move: fc.boolean() }),
  fc.record({ t: fc.constant('delete' as const), pick: fc.nat(), n: fc.integer({ min: 1, max: 5 }) }),
  { arbitrary: fc.record({
    t: fc.constant('transfer' as const),
    chats: fc.option(fc.array(fc.boolean(), { minLength: CHATS.length, maxLength: CHATS.length }), { nil: null }),
    window: fc.option(fc.tuple(fc.nat({ max: 1000 }), fc.nat({ max: 1000 })).map(([a, b]) => [Math.min(a, b), Math.max(a, b) + 1] as [number, number]), { nil: null })
  }), weight: 2 }
)

const key = (m: { conversation: string, id: string }): string => `${m.conversation}\u0000${m.id}`
const same = (a: Message, b: Message): boolean => Buffer.from(encodedMessage(a)).equals(Buffer.from(encodedMessage(b)))

afterEach(async () => { await closeJournals(); cleanupTempDirs() })

describe('reconciliation between transfers (property)', () => {
  it('the new phone ends with the old phone\'s version of the selection, keeps all else, and only the difference moves', async () => {
    await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 3, maxLength: 12 }), async steps => {
      const source = openStore()
      const target = openStore()
      try {
        await run(source, target, steps)
      } finally {
        source.close()
        target.close()
        await closeJournals()
      }
    }), { numRuns: 25 })
  }, 300_000)
})

async function run (source: SqliteChatStore, target: SqliteChatStore, steps: Step[]): Promise<void> {
  source.putMetadata([{ id: 'u', name: 'U' }], CHATS.map(id => ({ id, kind: 'group' as const, title: id, members: ['u', 'me'] })), [])
  // The new phone is in use: a chat of its own, and messages of its own in a group both phones are in.
  target.putMetadata([], [{ id: 'own', kind: 'direct', title: 'own', members: ['me'] }, { id: 'shared', kind: 'group', title: 'shared', members: ['u', 'me'] }], [])
  const own: Message[] = [
    { conversation: 'own', id: 'o1', sender: 'me', ts: T0 + 5, kind: 'text', text: 'mine' },
    ...Array.from({ length: 20 }, (_, i): Message => ({ conversation: 'shared', id: `r${i}`, sender: 'me', ts: T0 + i * 37, kind: 'text', text: `new phone ${i}` }))
  ]
  target.putMessages(own)
  let serial = 0
  const all = (): Message[] => [...source.listMessages()]
  for (const s of steps) {
    if (s.t === 'append') {
      const chat = CHATS[s.chat]
      source.putMessages(Array.from({ length: s.n }, (_, i): Message => ({ conversation: chat, id: `m${serial++}`, sender: 'u', ts: T0 + s.at + i * 3, kind: 'text', text: `hello ${serial}` })))
    } else if (s.t === 'edit' || s.t === 'delete') {
      const ms = all()
      if (ms.length === 0) continue
      const picked = Array.from({ length: s.n }, (_, i) => ms[(s.pick + i * 7919) % ms.length])
      if (s.t === 'edit') source.putMessages(picked.map(m => ({ ...m, text: `edited ${serial++}`, ts: s.move ? m.ts + 1 : m.ts })))
      else source.transaction(() => { for (const m of picked) source.deleteMessage(m.conversation, m.id) })
    } else {
      const selection: Selection = {}
      if (s.chats !== null) selection.conversations = CHATS.filter((_, i) => s.chats?.[i] === true)
      if (s.window !== null) { selection.since = T0 + s.window[0]; selection.until = T0 + s.window[1] }
      if (selection.conversations?.length === 0) continue // nothing in common: refused, covered elsewhere
      const before = new Map([...target.listMessages()].map(m => [key(m), m]))
      const inSel = all().filter(m => (selection.conversations === undefined || selection.conversations.includes(m.conversation)) &&
        (selection.since === undefined || m.ts >= selection.since) && (selection.until === undefined || m.ts < selection.until))
      const lacking = inSel.filter(m => { const b = before.get(key(m)); return b === undefined || !same(b, m) })
      const r = await runTransfer(source, target, { options: OPTIONS, request: selection })
      expect(r.receiverError, JSON.stringify(selection)).toBeUndefined()
      expect(r.receiver.state).toBe('verified')
      // Exactly the difference moved, and the rest was known to be there.
      expect(r.sender.progress.messagesSent).toBe(lacking.length)
      expect(r.receiver.progress.messagesHeld).toBe(inSel.length - lacking.length)
      const after = new Map([...target.listMessages()].map(m => [key(m), m]))
      const wanted = new Map(inSel.map(m => [key(m), m]))
      for (const [k, m] of wanted) expect(after.get(k), `${k} after the transfer`).toEqual(m)
      for (const [k, m] of before) if (!wanted.has(k)) expect(after.get(k), `${k} untouched`).toEqual(m)
      for (const m of own) expect(after.get(key(m))).toEqual(m)
      expect(after.size).toBe(new Set([...before.keys(), ...wanted.keys()]).size)
    }
  }
}
