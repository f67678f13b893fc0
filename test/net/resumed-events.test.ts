import { describe, expect, it } from 'vitest'
import { stoppedAfterEach } from '../helpers/stopped.js'
import { createFerry, type Ferry } from '../../src/create-ferry.js'
import { isFerryError } from '../../src/errors.js'
import type { FerryEvent } from '../../src/net/ferry-service.js'
import { generateCode } from '../../src/pairing/index.js'
import { fillStore, tempDir } from '../helpers/stores.js'

// The events each phone hears when the new phone cancels mid-transfer and resumes without the code, in
// the order docs/embedding.md lists them: an app drives its screens by them.

const listen = ['/ip4/127.0.0.1/tcp/0']

/** Event types in order, a run of `progress` as one (how many come depends on the batches). */
function sequence (events: FerryEvent[]): string[] {
  const out: string[] = []
  for (const e of events) {
    const name = e.type === 'paired' ? `paired:${e.mode}` : e.type
    if (name !== 'progress' || out.at(-1) !== 'progress') out.push(name)
  }
  return out
}

describe('a transfer the new phone cancels and resumes', () => {
  const { phones } = stoppedAfterEach()

  async function phone (): Promise<Ferry> {
    const p = await createFerry(tempDir('resumed-events-'), { listen, memory: false })
    phones.push(p)
    return p
  }

  it('the old phone hears interrupted, then paired again (resume) and the new session; the new phone pairs by resume', async () => {
    const old = await phone()
    const fresh = await phone()
    await fillStore(old.store, { conversations: 2, messagesPerConversation: 3000, mediaSizes: [] })
    const code = generateCode()
    const sent: FerryEvent[] = []
    let heardInterrupted!: () => void
    const interrupted = new Promise<void>(resolve => { heardInterrupted = resolve })
    const offered = old.send({ code, onEvent: e => { sent.push(e); if (e.type === 'interrupted') heardInterrupted() } })

    // Cancelled at its first progress: before it can have verified anything, so the old phone cannot finish.
    const cancel = new AbortController()
    const first: FerryEvent[] = []
    const cancelled = await fresh.receive({ addrs: old.addresses(), code, signal: cancel.signal, onEvent: e => { first.push(e); if (e.type === 'progress') cancel.abort() } })
      .then(() => undefined, (err: unknown) => err)
    expect(cancelled).toSatisfy(e => isFerryError(e, 'CANCELLED'))
    expect(sequence(first)).toEqual(['paired:code', 'manifest', 'progress'])
    await interrupted

    const second: FerryEvent[] = []
    const got = await fresh.receive({ addrs: old.addresses(), onEvent: e => { second.push(e) } })
    await expect(offered).resolves.toMatchObject({ totalMessages: 6000 })
    expect(got.progress.messages).toBe(6000)

    expect(sequence(sent)).toEqual(['offering', 'paired:code', 'manifest', 'progress', 'interrupted', 'paired:resume', 'manifest', 'progress', 'verified'])
    // The last progress may come after verifying (it counts what the read-back confirmed).
    expect(sequence(second).filter(t => t !== 'progress')).toEqual(['paired:resume', 'manifest', 'chats-ready', 'verifying', 'verified'])
    expect(sequence(second).slice(0, 3)).toEqual(['paired:resume', 'manifest', 'progress'])
  })
})
