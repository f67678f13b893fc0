import { describe, expect, it } from 'vitest'
import { stoppedAfterEach } from '../helpers/stopped.js'
import { createFerry, type Ferry } from '../../src/create-ferry.js'
import type { FerryEvent } from '../../src/net/ferry-service.js'
import { generateCode } from '../../src/pairing/index.js'
import { fillStore, tempDir } from '../helpers/stores.js'

// An app shows a transfer's rate from what the link carries: each progress event says the data bytes
// its session has moved, on both phones, and both count the same bytes.

const listen = ['/ip4/127.0.0.1/tcp/0']

describe('progress events count the bytes on the link', () => {
  const { phones } = stoppedAfterEach()

  async function phone (): Promise<Ferry> {
    const p = await createFerry(tempDir('session-bytes-'), { listen, memory: false })
    phones.push(p)
    return p
  }

  it('on the old phone and the new one, rising to the same total', async () => {
    const old = await phone()
    const media = [300_000, 700_000]
    await fillStore(old.store, { conversations: 3, messagesPerConversation: 400, mediaSizes: media })
    const fresh = await phone()
    const sent: number[] = []
    const received: number[] = []
    const counting = (into: number[]) => (e: FerryEvent): void => {
      if (e.type !== 'progress') return
      expect(e.progress.sessionBytes).toBeTypeOf('number')
      into.push(e.progress.sessionBytes as number)
    }
    const code = generateCode()
    const offered = old.send({ code, onEvent: counting(sent) })
    await fresh.receive({ addrs: old.addresses(), code, onEvent: counting(received) })
    await offered
    for (const counts of [sent, received]) {
      expect(counts.length).toBeGreaterThan(0)
      expect(counts).toEqual([...counts].sort((a, b) => a - b))
    }
    const total = Math.max(...received)
    expect(Math.max(...sent)).toBe(total)
    // Every media byte crossed the link, in frames of its own.
    expect(total).toBeGreaterThan(media[0] + media[1])
  })
})
