import { describe, expect, it } from 'vitest'
import { stoppedAfterEach } from '../helpers/stopped.js'
import { createFerry, type Ferry } from '../../src/create-ferry.js'
import type { FerryEvent, Progress, ReceiveOptions, ReceiveResult } from '../../src/net/ferry-service.js'
import { generateCode } from '../../src/pairing/index.js'
import { fillStore, keystream, tempDir } from '../helpers/stores.js'

// What an app shows while a history arrives: `progress.messages` of `progress.totalMessages`. The total
// is what this receive brings to the new phone, not the old phone's history: a selection already partly
// here, or a second transfer, moves far fewer.

const LOOPBACK = ['/ip4/127.0.0.1/tcp/0']
const { phones } = stoppedAfterEach()

async function phone (): Promise<Ferry> {
  const p = await createFerry(tempDir('progress-'), { listen: LOOPBACK })
  phones.push(p)
  return p
}

interface Received { result: ReceiveResult, shown: Progress[], gotMessages: number }

/** One receive from `old` into `fresh` over loopback: its result, the progress it showed, and what the new phone gained. */
async function receive (old: Ferry, fresh: Ferry, request?: ReceiveOptions['request']): Promise<Received> {
  const before = fresh.store.stats()
  const code = generateCode()
  const offered = old.send({ code })
  const shown: Progress[] = []
  const onEvent = (e: FerryEvent): void => { if (e.type === 'progress') shown.push(e.progress) }
  const result = await fresh.receive({ addrs: old.addresses(), code, request, onEvent })
  await offered
  return { result, shown, gotMessages: fresh.store.stats().messages - before.messages }
}

/** The progress a receive showed counts up to a total that is what the new phone got, and never past it. */
function expectBrought (r: Received): void {
  const { progress, stats } = r.result
  expect(progress).toMatchObject({ messages: r.gotMessages, totalMessages: r.gotMessages })
  // The media: the selection's on this phone, all of it once verified.
  expect(progress.mediaBytes).toBe(progress.totalMediaBytes)
  expect(stats.messagesSent).toBe(r.gotMessages)
  expect(r.shown.length).toBeGreaterThan(0)
  for (const p of r.shown) {
    expect(p.totalMessages).toBe(r.gotMessages)
    expect(p.messages).toBeLessThanOrEqual(p.totalMessages)
    expect(p.mediaBytes).toBeLessThanOrEqual(p.totalMediaBytes)
  }
  for (let i = 1; i < r.shown.length; i++) expect(r.shown[i].messages).toBeGreaterThanOrEqual(r.shown[i - 1].messages)
  expect(r.shown[r.shown.length - 1]).toEqual(progress)
}

describe('a receive\'s progress', () => {
  it('totals what a selection brings, and what a second transfer brings, not the old phone\'s history', async () => {
    const old = await phone()
    await fillStore(old.store, { conversations: 3, messagesPerConversation: 40, mediaSizes: [70_000, 300_000] })
    const fresh = await phone()

    // One chat of three: 40 messages and the one file they name.
    const one = await receive(old, fresh, { conversations: ['c0'] })
    expect(one.gotMessages).toBe(40)
    expectBrought(one)

    // Everything since a time: of the 60 messages in it, c0's 20 are here already.
    const since = await receive(old, fresh, { since: 1_700_000_010_000 })
    expect(since.gotMessages).toBe(40)
    expectBrought(since)

    // The old phone goes on: a second full transfer brings its new messages, and the 40 before the
    // selection's time, never the 127 it holds of those chats.
    const { sha256 } = await old.store.writeMedia(keystream('new-photo', 30_000))
    old.store.putMetadata([], [], [{ sha256, size: 30_000, mime: 'image/jpeg' }])
    old.store.putMessages(Array.from({ length: 7 }, (_, i) => ({
      conversation: 'c2', id: `late-${i}`, sender: 'u1', ts: 1_800_000_000_000 + i, kind: i === 0 ? 'image' as const : 'text' as const, ...(i === 0 ? { media: sha256 } : { text: `later ${i}` })
    })))
    const second = await receive(old, fresh)
    expect(second.gotMessages).toBe(47)
    expectBrought(second)

    // Nothing new: a transfer that brings nothing says so, rather than the history's size.
    const again = await receive(old, fresh)
    expect(again.gotMessages).toBe(0)
    expectBrought({ ...again, shown: again.shown.length === 0 ? [again.result.progress] : again.shown })
  }, 60_000)

  it('goes on where it stood after a dropped link, to the same total', async () => {
    const old = await phone()
    await fillStore(old.store, { conversations: 3, messagesPerConversation: 10_000, mediaSizes: [] })
    const fresh = await phone()
    const code = generateCode()
    const offered = old.send({ code })
    const shown: Progress[] = []
    let interrupted = 0
    let dropped = false
    const result = await fresh.receive({
      addrs: old.addresses(),
      code,
      onEvent: e => {
        if (e.type === 'progress') shown.push(e.progress)
        if (e.type === 'interrupted') interrupted++
      },
      // Part-way through the messages, the link goes under the new phone.
      beforeRead: async machine => {
        if (dropped || machine.progress.messagesReceived === 0) return
        dropped = true
        for (const c of fresh.node.getConnections()) c.abort(new Error('the link went'))
      }
    })
    await offered
    expect(interrupted).toBeGreaterThan(0)
    // The last session brought some of them (its stats), the first the rest.
    expect(result.stats.messagesSent).toBeGreaterThan(0)
    expect(result.stats.messagesSent).toBeLessThan(30_000)
    expect(fresh.store.stats().messages).toBe(30_000)
    expect(result.progress).toMatchObject({ messages: 30_000, totalMessages: 30_000 })
    for (const p of shown) expect(p.totalMessages).toBe(30_000)
    for (let i = 1; i < shown.length; i++) expect(shown[i].messages).toBeGreaterThanOrEqual(shown[i - 1].messages)
  }, 60_000)
})
