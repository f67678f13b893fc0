import { describe, expect, it } from 'vitest'
import { stoppedAfterEach } from '../helpers/stopped.js'
import { createFerry, type Ferry } from '../../src/create-ferry.js'
import type { FerryEvent, ReceiveResult } from '../../src/net/ferry-service.js'
import { generateCode } from '../../src/pairing/index.js'
import type { SqliteChatStore } from '../../src/store/sqlite-store.js'
import type { Message } from '../../src/store/model.js'
import { fillStore, tempDir } from '../helpers/stores.js'

// An app embedding Ferry (createFerry) goes on writing its phone's store while the phone sends, as any
// live messaging app does: a message arrives, the person deletes one, edits one. Over real libp2p on
// loopback into real SQLite stores, the new phone gets the history as it was when the transfer's
// manifest was made, verified, and the next transfer brings what changed.

const LOOPBACK = ['/ip4/127.0.0.1/tcp/0']
const { phones } = stoppedAfterEach()

async function phone (name: string): Promise<Ferry> {
  const p = await createFerry(tempDir(`in-use-${name}-`), { listen: LOOPBACK, memory: false })
  phones.push(p)
  return p
}

/** One transfer with a fresh code, from offer to verified; `onSendEvent` sees the old phone's events. */
async function move (old: Ferry, fresh: Ferry, onSendEvent?: (e: FerryEvent) => void): Promise<ReceiveResult> {
  const code = generateCode()
  const offered = old.send({ code, onEvent: onSendEvent })
  offered.catch(() => {})
  const result = await fresh.receive({ addrs: old.addresses(), code, retryForMs: 30_000 })
  await offered
  return result
}

const lines = (store: SqliteChatStore): string[] => [...store.listMessages()].map(m => JSON.stringify(m))
const text = (conversation: string, id: string, ts: number, body: string): Message => ({ conversation, id, sender: 'u1', ts, kind: 'text', text: body })

describe('an old phone in use while it sends', () => {
  it('sends its history as the manifest had it, verified, and the next transfer brings what changed', async () => {
    const old = await phone('old')
    await fillStore(old.store, { conversations: 4, messagesPerConversation: 2000, mediaSizes: [60_000, 40_000] })
    const fresh = await phone('new')
    const asManifested = lines(old.store)

    // As the new phone's answer to the manifest comes in, before any message is read: a message
    // arrives, one is stored among the old ones, one is deleted and one edited, in four chats.
    let wrote = false
    const first = await move(old, fresh, e => {
      if (e.type !== 'manifest' || wrote) return
      wrote = true
      old.store.putMessages([text('c3', 'live', 1_900_000_000_000, 'arrived while sending')])
      old.store.putMessages([text('c-😀', 'late', 1_700_000_000_500, 'arrived late, dated back')])
      old.store.deleteMessage('c2', 'm5')
      old.store.putMessages([text('c0', 'm8', 1_700_000_004_000, 'edited while it was being sent')])
    })
    expect(wrote).toBe(true)
    expect(first.progress.messages).toBe(asManifested.length)
    expect(lines(fresh.store)).toEqual(asManifested)

    // What changed comes next, and only that: the deleted message stays here (moving never deletes).
    const second = await move(old, fresh)
    expect(second.stats.messagesSent).toBe(3)
    const now = new Set(lines(old.store))
    const deleted = asManifested.filter(l => !now.has(l) && l.includes('"conversation":"c2"'))
    expect(deleted).toHaveLength(1)
    expect(lines(fresh.store).sort()).toEqual([...now, ...deleted].sort())
  }, 120_000)
})
