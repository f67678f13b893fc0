import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isFerryError } from '../../src/errors.js'
import { PROTOCOL_VERSION } from '../../src/protocol/options.js'
import { ReceiverMachine } from '../../src/protocol/receiver.js'
import { SenderMachine } from '../../src/protocol/sender.js'
import { runReceiver, runSender } from '../../src/protocol/session.js'
import type { SqliteChatStore } from '../../src/store/sqlite-store.js'
import { decodeFrame, encodeFrame, type Frame } from '../../src/wire/codec.js'
import type { ByteDuplex } from '../../src/wire/duplex.js'
import { FrameWriter, readFrames } from '../../src/wire/framing.js'
import { memoryPipe } from '../../src/wire/memory-duplex.js'
import { cleanupTempDirs, exportText, fillStore, openStore } from '../helpers/stores.js'
import { closeJournals, journalOf } from '../helpers/transfer.js'

// A sender waits on its receiver at several points (its Hello, its Resume, acks while the window is full,
// Verified). A receiver that stops answering must end the session (TRUNCATED, as a dropped link) rather
// than hold the old phone for ever; a receiver that is only busy (reading the history back to verify it)
// must not: it repeats its last Ack while it works, and the sender takes that as a sign of life.

const REPLY_MS = 400
let source: SqliteChatStore
beforeAll(async () => {
  source = openStore()
  await fillStore(source, { conversations: 2, messagesPerConversation: 300, mediaSizes: [200_000] })
})
afterAll(async () => { source.close(); await closeJournals(); cleanupTempDirs() })

/** A receiver that says Hello, then `then` (given each of the sender's frames), and never anything more. */
async function mute (duplex: ByteDuplex, then: (f: Frame, say: (f: object) => Promise<void>) => Promise<void> = async () => {}): Promise<void> {
  const writer = new FrameWriter(duplex)
  const say = async (f: object): Promise<void> => { await writer.push(encodeFrame(f as Frame)); await writer.flush() }
  await say({ hello: { version: PROTOCOL_VERSION, agent: 'mute' } })
  try {
    for await (const body of readFrames(duplex.source)) await then(decodeFrame(body), say)
  } catch {}
}

async function stalledSession (then?: Parameters<typeof mute>[1]): Promise<unknown> {
  const pipe = memoryPipe()
  const sender = new SenderMachine({ source, options: { windowBytes: 32 * 1024, batchBytes: 8 * 1024, chunkBytes: 16 * 1024 } })
  void mute(pipe.b, then)
  return await runSender(sender, pipe.a, { replyMs: REPLY_MS }).then(() => undefined, (err: unknown) => err)
}

describe('a sender waiting on a receiver that stopped answering', () => {
  it('ends the session when the receiver says Hello and nothing more', async () => {
    const err = await stalledSession()
    expect(isFerryError(err, 'TRUNCATED'), String(err)).toBe(true)
    expect((err as Error).message).toMatch(/nothing from the other phone for .* s: it stopped answering/)
    expect((err as { details?: { timedOut?: boolean } }).details?.timedOut).toBe(true)
  })

  it('ends the session when the receiver sends Resume and never acknowledges the data', async () => {
    let data = 0
    const err = await stalledSession(async (f, say) => {
      if (f.body === 'manifest' && f.manifest?.more !== true) await say({ resume: {} })
      if (f.body === 'batch' || f.body === 'chunk') data++
    })
    expect(data, 'the sender sent data, up to its window').toBeGreaterThan(0)
    expect(isFerryError(err, 'TRUNCATED'), String(err)).toBe(true)
    expect((err as Error).message).toMatch(/nothing from the other phone/)
  })
})

describe('a receiver busy with its own work', () => {
  it('keeps a waiting sender from taking it for gone while it verifies, and the transfer completes', async () => {
    const keepAliveMs = 50
    const target = openStore()
    const pipe = memoryPipe()
    const sender = new SenderMachine({ source })
    const receiver = new ReceiverMachine({ sink: target, journal: journalOf(target) })
    // Held at the verification until the receiver has said enough that, without it, the sender's
    // REPLY_MS would have run out several times over (each repeat comes keepAliveMs after the last word).
    const enough = Math.ceil(REPLY_MS / keepAliveMs) * 3
    let writes = 0
    let holding = false
    let release!: () => void
    const released = new Promise<void>(resolve => { release = resolve })
    receiver.onVerifying = async () => { holding = true; await released }
    const counted: ByteDuplex = {
      ...pipe.b,
      write: async chunks => {
        if (holding && ++writes >= enough) release()
        await pipe.b.write(chunks)
      }
    }
    const sent = runSender(sender, pipe.a, { replyMs: REPLY_MS })
    const received = runReceiver(receiver, counted, { keepAliveMs })
    // The sender giving up first fails the test here, with its error.
    await Promise.race([released, sent])
    await Promise.all([sent, received])
    expect(writes).toBeGreaterThanOrEqual(enough)
    expect(sender.state).toBe('verified')
    expect(await exportText(target)).toBe(await exportText(source))
    target.close()
  }, 30_000)
})
