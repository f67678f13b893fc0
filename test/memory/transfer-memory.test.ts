import { describe, expect, it } from 'vitest'
import { stoppedAfterEach } from '../helpers/stopped.js'
import { createFerry, type Ferry } from '../../src/create-ferry.js'
import { isFerryError } from '../../src/errors.js'
import type { FerryEvent, TransferMemory, TransferTurns } from '../../src/net/ferry-service.js'
import { generateCode } from '../../src/pairing/index.js'
import { MEDIA_WORTH_HEADROOM, TransferCollector, type Collector } from '../../src/memory/transfer-memory.js'
import { fillStore, tempDir } from '../helpers/stores.js'
import { until } from '../helpers/until.js'

const MiB = 1024 * 1024
const at = 0

/** A collector that only writes down what it was asked, in order. */
function recording (): { collector: Collector, asked: string[] } {
  const asked: string[] = []
  const collector: Collector = {
    startScavenging: () => { asked.push('scavenge'); return () => { asked.push('stop scavenging') } },
    growForSending: () => { asked.push('grow for sending') },
    growForMedia: () => { asked.push('grow for media') },
    restoreGrowth: () => { asked.push('restore') },
    collect: () => { asked.push('collect') }
  }
  return { collector, asked }
}

/** A receiver's turns up to `chats-ready`, with `media` bytes announced and none yet arrived there. */
function receiving (turns: TransferTurns, media: number): void {
  turns.onEvent({ at, type: 'paired', peer: 'p', mode: 'code' })
  turns.onEvent({ at, type: 'manifest', totalMessages: 10, totalMediaBytes: media, conversations: 1 })
  turns.onEvent({ at, type: 'progress', progress: { messages: 10, totalMessages: 10, mediaBytes: 0, totalMediaBytes: media } })
  turns.readingBack?.()
  turns.onEvent({ at, type: 'chats-ready', messages: 10 })
}

describe('TransferCollector', () => {
  it('scavenges for a sender from its start to its end, with room for the old generation throughout', () => {
    const { collector, asked } = recording()
    const turns = new TransferCollector(collector).begin('sender')
    turns.onEvent({ at, type: 'verifying', messages: 1, mediaFiles: 1 }) // a receiver's turn, not a sender's
    expect(asked).toEqual(['scavenge', 'grow for sending'])
    turns.end()
    expect(asked).toEqual(['scavenge', 'grow for sending', 'restore', 'stop scavenging'])
  })

  it('gives a receiver room from chats-ready to verifying when enough media is still to come, and collects as it reads back', () => {
    const { collector, asked } = recording()
    const turns = new TransferCollector(collector).begin('receiver')
    receiving(turns, MEDIA_WORTH_HEADROOM)
    expect(asked).toEqual(['scavenge', 'collect', 'grow for media'])
    turns.onEvent({ at, type: 'verifying', messages: 10, mediaFiles: 3 })
    expect(asked).toEqual(['scavenge', 'collect', 'grow for media', 'restore', 'collect'])
    turns.end()
    expect(asked.slice(5)).toEqual(['stop scavenging'])
  })

  it('leaves a receiver with little media to come to V8, but still collects before the read-back', () => {
    const { collector, asked } = recording()
    const turns = new TransferCollector(collector).begin('receiver')
    receiving(turns, MEDIA_WORTH_HEADROOM - 1)
    turns.onEvent({ at, type: 'verifying', messages: 10, mediaFiles: 3 })
    turns.end()
    expect(asked).toEqual(['scavenge', 'collect', 'collect', 'stop scavenging'])
  })

  it('counts what already arrived: a resumed receiver with little left gets no room', () => {
    const { collector, asked } = recording()
    const turns = new TransferCollector(collector).begin('receiver')
    turns.onEvent({ at, type: 'manifest', totalMessages: 10, totalMediaBytes: 500 * MiB, conversations: 1 })
    turns.onEvent({ at, type: 'progress', progress: { messages: 10, totalMessages: 10, mediaBytes: 490 * MiB, totalMediaBytes: 500 * MiB } })
    turns.onEvent({ at, type: 'chats-ready', messages: 10 })
    expect(asked).toEqual(['scavenge'])
    turns.end()
  })

  it('gives the old generation back to V8 only once no transfer of the process moves media, and scavenges until the last ends', () => {
    const { collector, asked } = recording()
    const memory = new TransferCollector(collector)
    const sender = memory.begin('sender')
    const receiver = memory.begin('receiver')
    receiving(receiver, 200 * MiB)
    // One start of scavenging and of growth for both.
    expect(asked).toEqual(['scavenge', 'grow for sending', 'collect'])
    receiver.onEvent({ at, type: 'verifying', messages: 10, mediaFiles: 3 })
    expect(asked).toEqual(['scavenge', 'grow for sending', 'collect', 'collect']) // the sender still sends
    receiver.end()
    expect(asked).toHaveLength(4)
    sender.end()
    expect(asked).toEqual(['scavenge', 'grow for sending', 'collect', 'collect', 'restore', 'stop scavenging'])

    // And the other way round: the receiver grows first, the sender ends first.
    asked.length = 0
    const r2 = memory.begin('receiver')
    receiving(r2, 200 * MiB)
    const s2 = memory.begin('sender')
    s2.end()
    expect(asked).toEqual(['scavenge', 'collect', 'grow for media'])
    r2.end() // failed before verifying: its room goes with it
    expect(asked).toEqual(['scavenge', 'collect', 'grow for media', 'restore', 'stop scavenging'])
  })

  it('ends a transfer once, and ignores its events after the end', () => {
    const { collector, asked } = recording()
    const memory = new TransferCollector(collector)
    const a = memory.begin('receiver')
    const b = memory.begin('receiver')
    a.end()
    a.end()
    receiving(a, 500 * MiB)
    expect(asked).toEqual(['scavenge']) // b still runs
    b.end()
    expect(asked).toEqual(['scavenge', 'stop scavenging'])
  })
})

/** A TransferMemory that writes down what the service told it, per transfer. */
function listening (): { memory: TransferMemory, transfers: Array<{ role: string, events: string[], ends: number }> } {
  const transfers: Array<{ role: string, events: string[], ends: number }> = []
  return {
    transfers,
    memory: {
      begin: role => {
        const t = { role, events: [] as string[], ends: 0 }
        transfers.push(t)
        return { onEvent: (e: FerryEvent) => { t.events.push(e.type) }, readingBack: () => { t.events.push('(reading back)') }, end: () => { t.ends++ } }
      }
    }
  }
}

describe('the Ferry service and its memory', () => {
  const { phones } = stoppedAfterEach()

  async function phone (memory: TransferMemory): Promise<Ferry> {
    const p = await createFerry(tempDir('memory-'), { listen: ['/ip4/127.0.0.1/tcp/0'], memory })
    phones.push(p)
    return p
  }

  it('tells it of each transfer from start to end, with every event the app hears, on both phones', async () => {
    const { memory, transfers } = listening()
    const old = await phone(memory)
    await fillStore(old.store, { conversations: 2, messagesPerConversation: 30, mediaSizes: [50_000] })
    const fresh = await phone(memory)
    const code = generateCode()
    const heard: string[] = []
    const offered = old.send({ code })
    await fresh.receive({ addrs: old.addresses(), code, onEvent: e => heard.push(e.type) })
    await offered
    expect(transfers.map(t => t.role).sort()).toEqual(['receiver', 'sender'])
    const sending = transfers.find(t => t.role === 'sender') as typeof transfers[number]
    const receiving = transfers.find(t => t.role === 'receiver') as typeof transfers[number]
    // Every event the app hears, and the read-back's start just before chats-ready.
    expect(receiving.events.filter(e => e !== '(reading back)')).toEqual(heard)
    expect(receiving.events).toEqual(expect.arrayContaining(['paired', 'manifest', 'chats-ready', 'verifying', 'verified']))
    const ready = receiving.events.indexOf('chats-ready')
    expect(receiving.events.filter(e => e === '(reading back)')).toHaveLength(1)
    expect(receiving.events.indexOf('(reading back)')).toBeLessThan(ready)
    expect(receiving.events.indexOf('(reading back)')).toBeGreaterThan(receiving.events.indexOf('manifest'))
    expect(sending.events).toEqual(expect.arrayContaining(['paired', 'verified']))
    for (const t of transfers) expect(t.ends).toBe(1)
  })

  it('is told the end of a receive that failed and of an offer that was cancelled', async () => {
    const { memory, transfers } = listening()
    const old = await phone(memory)
    await fillStore(old.store, { conversations: 1, messagesPerConversation: 5, mediaSizes: [] })
    const fresh = await phone(memory)
    const stop = new AbortController()
    const offered = old.send({ code: generateCode(), signal: stop.signal })
    // Another code: the old phone refuses it, and the new phone gives up (a wrong code is not retried).
    await expect(fresh.receive({ addrs: old.addresses(), code: generateCode(), retryForMs: 0 })).rejects.toSatisfy(err => isFerryError(err))
    expect(transfers.find(t => t.role === 'receiver')?.ends).toBe(1)
    expect(transfers.find(t => t.role === 'sender')?.ends).toBe(0) // the offer stays open for the right code
    stop.abort()
    await expect(offered).rejects.toSatisfy(err => isFerryError(err, 'CANCELLED'))
    expect(transfers.find(t => t.role === 'sender')?.ends).toBe(1)
  })

  it('is told the end of an offer still open when its phone stops, once', async () => {
    const { memory, transfers } = listening()
    const old = await phone(memory)
    await fillStore(old.store, { conversations: 1, messagesPerConversation: 5, mediaSizes: [] })
    const cancel = new AbortController()
    const offered = old.send({ code: generateCode(), signal: cancel.signal }) // nobody comes
    await until('the offer to begin', () => transfers.length === 1)
    expect(transfers[0].ends).toBe(0)
    await old.stop()
    expect(transfers[0].ends).toBe(1)
    // The app cancels the offer afterwards: its end has been told already.
    cancel.abort()
    await expect(offered).rejects.toSatisfy(err => isFerryError(err, 'CANCELLED'))
    expect(transfers[0].ends).toBe(1)
  })
})
