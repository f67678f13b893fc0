import { describe, expect, it } from 'vitest'
import { stoppedAfterEach } from '../helpers/stopped.js'
import { createFerry, type Ferry } from '../../src/create-ferry.js'
import type { FerryEvent } from '../../src/net/ferry-service.js'
import type { TransferStats } from '../../src/net/transfer-events.js'
import type { ReceiverMachine } from '../../src/protocol/receiver.js'
import { generateCode } from '../../src/pairing/index.js'
import type { Message } from '../../src/store/model.js'
import { exportText, fillStore, keystream, tempDir } from '../helpers/stores.js'

// What a receive reports it did (ReceiveResult.stats, the verified event's), for an app to show the
// person: the whole transfer, however many sessions a dropped link made of it. What an earlier session
// brought was brought by the transfer, not held before it; what a later transfer brings is its own.

const listen = ['/ip4/127.0.0.1/tcp/0']
const CONVERSATIONS = 2
const PER_CONVERSATION = 1500
/** A file of many chunks, to be cut inside, and two small ones. */
const MEDIA_SIZES = [3_000_000, 40_000, 70_000]
/** The last message of one chat, of many fragments: a cut lands while it comes, the rest here. */
const HUGE_MESSAGE = 3_000_000
const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0)

describe('a receive\'s stats', () => {
  const { phones } = stoppedAfterEach()

  async function phone (): Promise<Ferry> {
    const p = await createFerry(tempDir('stats-'), { listen, memory: false })
    phones.push(p)
    return p
  }

  /**
   * Receives from `old`, hanging up once at each point `cuts` names as it is reached (before a read of
   * the transfer stream): the receive reconnects and resumes. Resolves with its stats and the sessions
   * it took.
   */
  async function receiveCut (fresh: Ferry, old: Ferry, cuts: Array<(m: ReceiverMachine) => boolean>): Promise<{ stats: TransferStats, interrupted: number, cutAt: Array<{ messages: number, mediaBytes: number }> }> {
    const code = generateCode()
    let sent: TransferStats | undefined
    const offered = old.send({ code, onEvent: e => { if (e.type === 'verified') sent = e.stats } })
    const left = [...cuts]
    const cutAt: Array<{ messages: number, mediaBytes: number }> = []
    let interrupted = 0
    let verified: TransferStats | undefined
    const { stats } = await fresh.receive({
      addrs: old.addresses(),
      code,
      onEvent: (e: FerryEvent) => {
        if (e.type === 'interrupted') interrupted++
        if (e.type === 'verified') verified = e.stats
      },
      beforeRead: async machine => {
        if (left.length === 0 || !left[0](machine)) return
        left.shift()
        cutAt.push({ messages: machine.progress.messages, mediaBytes: machine.progress.mediaBytes })
        await fresh.node.hangUp(old.node.peerId)
      }
    })
    await offered
    expect(left, 'every cut was reached').toEqual([])
    expect(verified).toEqual(stats)
    // The old phone says the same of the transfer, however many sessions it took.
    const { messagesSent, messagesHeld, mediaFilesSent, mediaBytesSent, mediaFilesHeld } = stats
    expect(sent).toEqual({ messagesSent, messagesHeld, mediaFilesSent, mediaBytesSent, mediaFilesHeld })
    return { stats, interrupted, cutAt }
  }

  /** Part way through the messages: some are in, some to come. */
  const inMessages = (m: ReceiverMachine): boolean => m.progress.messages > 0 && m.progress.messages < m.progress.totalMessages
  /** Inside the media: some of the files' bytes came in this session, some are to come. */
  const inMedia = (m: ReceiverMachine): boolean => m.state === 'media' && m.progress.mediaBytesReceived > 0 && m.progress.mediaBytes < m.progress.totalMediaBytes

  it('count the whole transfer after cuts in its messages and in its media, and a second transfer only what it brought', async () => {
    const old = await phone()
    await fillStore(old.store, { conversations: CONVERSATIONS, messagesPerConversation: PER_CONVERSATION, mediaSizes: MEDIA_SIZES, hugeMessageBytes: HUGE_MESSAGE })
    const fresh = await phone()
    const total = CONVERSATIONS * PER_CONVERSATION + 1

    const first = await receiveCut(fresh, old, [inMessages, inMedia])
    expect(first.interrupted).toBeGreaterThanOrEqual(2)
    // The first cut left messages on this phone, and the second media: the sessions after them found
    // those here, brought by this transfer all the same.
    expect(first.cutAt[0].messages).toBeGreaterThan(0)
    expect(first.cutAt[1].mediaBytes).toBeGreaterThan(0)
    expect(first.stats).toMatchObject({ messagesSent: total, messagesHeld: 0, mediaFilesSent: MEDIA_SIZES.length, mediaBytesSent: sum(MEDIA_SIZES), mediaFilesHeld: 0 })
    expect(first.stats.lastSessionOnly).toBeUndefined()
    expect(await exportText(fresh.store)).toBe(await exportText(old.store))

    // The old phone goes on: five messages and a photo of many chunks. The next transfer, cut inside the
    // photo, brings those and counts the rest as here before it.
    const photo = 1_500_000
    const { sha256 } = await old.store.writeMedia(keystream('later photo', photo))
    old.store.putMetadata([], [], [{ sha256, size: photo, mime: 'image/jpeg' }])
    const later: Message[] = Array.from({ length: 5 }, (_, i) => ({
      conversation: 'c0', id: `later-${i}`, sender: 'u1', ts: 1_800_000_000_000 + i, kind: i === 0 ? 'image' : 'text', ...(i === 0 ? { media: sha256 } : { text: `later ${i}` })
    }))
    old.store.putMessages(later)
    const second = await receiveCut(fresh, old, [inMedia])
    expect(second.interrupted).toBeGreaterThanOrEqual(1)
    expect(second.stats).toMatchObject({ messagesSent: later.length, messagesHeld: total, mediaFilesSent: 1, mediaBytesSent: photo, mediaFilesHeld: MEDIA_SIZES.length })
    expect(await exportText(fresh.store)).toBe(await exportText(old.store))
  })

  it('count the files the old phone no longer has, which the messages naming them came without', async () => {
    const old = await phone()
    await fillStore(old.store, { conversations: 1, messagesPerConversation: 12, mediaSizes: [50_000] })
    // A photo and a voice note whose records (and messages) the old phone keeps, their bytes gone.
    const gone = [{ sha256: 'ab'.repeat(32), size: 1234, mime: 'image/jpeg' }, { sha256: 'cd'.repeat(32), size: 5678, mime: 'audio/ogg' }]
    old.store.putMetadata([], [], gone)
    old.store.putMessages(gone.map((m, i) => ({ conversation: 'c0', id: `gone-${i}`, sender: 'u1', ts: 1_800_000_000_000 + i, kind: 'image', media: m.sha256 })))
    const fresh = await phone()

    const first = await receiveCut(fresh, old, [])
    expect(first.stats).toMatchObject({ messagesSent: 14, mediaFilesSent: 1, mediaBytesSent: 50_000, mediaFilesMissing: 2 })
    // Still gone there, and not here either: the next transfer says so again, and brings nothing.
    const second = await receiveCut(fresh, old, [])
    expect(second.stats).toMatchObject({ messagesSent: 0, messagesHeld: 14, mediaFilesSent: 0, mediaFilesHeld: 1, mediaFilesMissing: 2 })
    expect(await exportText(fresh.store)).toBe(await exportText(old.store))
  })
})
