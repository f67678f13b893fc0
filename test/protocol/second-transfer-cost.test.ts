import { afterEach, describe, expect, it } from 'vitest'
import { cleanupTempDirs, exportText, openStore } from '../helpers/stores.js'
import { closeJournals, runTransfer } from '../helpers/transfer.js'
import type { HistorySource } from '../../src/store/history.js'
import type { Message } from '../../src/store/model.js'
import type { SqliteChatStore } from '../../src/store/sqlite-store.js'
import type { Frame } from '../../src/wire/codec.js'

// What a second transfer costs: only the difference moves, in both directions. The first transfer's
// bytes are the yardstick; an unchanged history must cost a sliver of them, an old phone used since
// (messages appended to some chats, a new chat) exactly its new messages and no list of what the new
// phone holds, and edits in the middle of a chat the edited messages and the listing of their leaves.
// The same holds whether or not the stores keep their leaves (then everything is read again).

const OPTIONS = { batchBytes: 16 * 1024, chunkBytes: 64 * 1024, windowBytes: 256 * 1024 }
const CHATS = 12
const PER_CHAT = 1500
const T0 = 1_700_000_000_000

afterEach(async () => { await closeJournals(); cleanupTempDirs() })

const text = (i: number): string => `message ${i}, as long as an ordinary message is, more or less`

function seed (store: SqliteChatStore): void {
  store.putMetadata([{ id: 'u', name: 'U' }], Array.from({ length: CHATS }, (_, c) => ({ id: `c${c}`, kind: 'group' as const, title: `chat ${c}`, members: ['u', 'me'] })), [])
  const messages: Message[] = []
  for (let c = 0; c < CHATS; c++) {
    for (let i = 0; i < PER_CHAT; i++) messages.push({ conversation: `c${c}`, id: `m${c}-${i}`, sender: i % 3 === 0 ? 'me' : 'u', ts: T0 + i * 60_000 + c, kind: 'text', text: text(i) })
  }
  store.putMessages(messages)
}

/** The store as a source or sink that keeps no leaves: every held conversation is read whole. */
function withoutIndex<T extends Omit<HistorySource, 'snapshot'> & { snapshot?: () => Promise<object> }> (store: T): T {
  return new Proxy(store, {
    get: (t, p) => {
      if (p === 'leafIndex') return undefined
      // What a session reads, it reads from the snapshot: no leaves there either.
      if (p === 'snapshot' && t.snapshot !== undefined) return async () => withoutIndex(await (t.snapshot as () => Promise<Omit<HistorySource, 'snapshot'>>)())
      const v = Reflect.get(t, p, t) as unknown
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v
    }
  })
}

/** Counts the frames the receiver sends: which kinds, and how many leaves they carried. */
function receiverFrames (): { onReceived: (f: Frame) => void, seen: Map<string, number> } {
  const seen = new Map<string, number>()
  return { seen, onReceived: f => { seen.set(f.body as string, (seen.get(f.body as string) ?? 0) + 1) } }
}

for (const kept of [true, false]) {
  describe(`a second transfer, ${kept ? 'with' : 'without'} the leaves kept`, () => {
    async function phones (): Promise<{ source: SqliteChatStore, target: SqliteChatStore, firstBytes: number, run: () => ReturnType<typeof runTransfer> }> {
      const source = openStore()
      seed(source)
      const target = openStore()
      const src = kept ? source : withoutIndex(source)
      const dst = kept ? target : withoutIndex(target)
      const first = await runTransfer(src, dst, { options: OPTIONS })
      expect(first.receiverError).toBeUndefined()
      expect(first.sender.progress.messagesSent).toBe(CHATS * PER_CHAT)
      return { source, target, firstBytes: first.bytesAtoB + first.bytesBtoA, run: async () => await runTransfer(src, dst, { options: OPTIONS }) }
    }

    it('of an unchanged history moves no message and under 1% of the first one\'s bytes, both ways', async () => {
      const { source, target, firstBytes, run } = await phones()
      const second = await run()
      expect(second.receiverError).toBeUndefined()
      expect(second.receiver.state).toBe('verified')
      expect(second.sender.progress.messagesSent).toBe(0)
      expect(second.receiver.progress.messagesHeld).toBe(CHATS * PER_CHAT)
      expect(second.bytesAtoB + second.bytesBtoA).toBeLessThan(firstBytes / 100)
      expect(await exportText(target)).toBe(await exportText(source))
    })

    it('after the old phone was used (appends to some chats, a new chat) moves exactly the new messages, and the new phone lists none of its leaves', async () => {
      const { source, target, firstBytes } = await phones()
      source.putMetadata([], [{ id: 'new-chat', kind: 'direct', title: 'new', members: ['u', 'me'] }], [])
      const added: Message[] = []
      for (let c = 0; c < CHATS; c += 3) {
        for (let i = 0; i < 7 + c; i++) added.push({ conversation: `c${c}`, id: `late${c}-${i}`, sender: 'u', ts: T0 + (PER_CHAT + i) * 60_000, kind: 'text', text: `later ${i}` })
      }
      for (let i = 0; i < 5; i++) added.push({ conversation: 'new-chat', id: `n${i}`, sender: 'u', ts: T0 + i, kind: 'text', text: `new ${i}` })
      source.putMessages(added)

      const frames = receiverFrames()
      const second = await runTransfer(kept ? source : withoutIndex(source), kept ? target : withoutIndex(target), { options: OPTIONS, onReceived: frames.onReceived })
      expect(second.receiverError).toBeUndefined()
      expect(second.sender.progress.messagesSent).toBe(added.length)
      expect(second.receiver.progress.messagesHeld).toBe(CHATS * PER_CHAT)
      // No leaf list and no listed messages: the chats that grew were answered as a held prefix.
      const plans = frames.seen.get('plan') ?? 0
      expect(plans).toBe(CHATS)
      expect(second.bytesBtoA).toBeLessThan(CHATS * 200)
      expect(second.bytesAtoB + second.bytesBtoA).toBeLessThan(firstBytes / 100 + added.length * 200)
      expect(await exportText(target)).toBe(await exportText(source))
    })

    it('after edits in the middle of chats moves the edited messages, and the old phone\'s version wins', async () => {
      const { source, target, firstBytes, run } = await phones()
      const edited: Message[] = []
      for (let c = 1; c < CHATS; c += 4) {
        const m = (await source.messages(`c${c}`, undefined, PER_CHAT))[PER_CHAT / 2]
        edited.push({ ...m, text: `${m.text ?? ''} (edited)` })
      }
      source.putMessages(edited)
      const second = await run()
      expect(second.receiverError).toBeUndefined()
      expect(second.sender.progress.messagesSent).toBe(edited.length)
      expect(second.receiver.progress.messagesHeld).toBe(CHATS * PER_CHAT - edited.length)
      // The leaves of every chat that changed went, and those chats' plans: still a sliver of the first.
      expect(second.bytesAtoB + second.bytesBtoA).toBeLessThan(firstBytes / 10)
      expect(await exportText(target)).toBe(await exportText(source))
    })
  })
}
