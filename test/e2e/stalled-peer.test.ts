import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { FerryNode } from '../../src/net/node.js'
import { TRANSFER_PROTOCOL } from '../../src/net/ferry-service.js'
import { PROTOCOL_VERSION } from '../../src/protocol/options.js'
import { SenderMachine } from '../../src/protocol/sender.js'
import { runSender } from '../../src/protocol/session.js'
import { SqliteChatStore } from '../../src/store/sqlite-store.js'
import { decodeFrame, encodeFrame, type Frame } from '../../src/wire/codec.js'
import type { ByteDuplex } from '../../src/wire/duplex.js'
import { MAX_FRAME_BYTES, prefix } from '../../src/wire/framing.js'
import { cleanupTempDirs, copyStore, errorCode, inspect, killAll, newStorePath, seedStore, senderReady, startReceiver, startSender } from './helpers/ferry-cli.js'
import { pairByHand } from './helpers/hostile-receiver.js'
import { startHostileSender, type HostileSender, type Serve } from './helpers/hostile-sender.js'
import { openStream, rawNode } from './helpers/raw-peer.js'

// A phone that pairs and then stalls (it sends nothing more, or a byte now and then, and answers
// libp2p's pings so the connection stays) must not keep the other phone waiting for ever: `ferry
// receive` ends with TRUNCATED, saying the other phone stopped answering and that what arrived is kept,
// and `ferry send` ends that session as a dropped link. The waits are shortened through the phones'
// test variables; nothing here depends on how long anything takes.

const RECEIVE_WAITS = { FERRY_TEST_STALL_MS: '500', FERRY_TEST_FIRST_DATA_MS: '1500' }
let seeded: string
let source: SqliteChatStore
const hostiles: HostileSender[] = []
const nodes: FerryNode[] = []

/**
 * A real sender that sends its first `free` bytes and then one byte every `everyMs`: in every session,
 * or (`onlyFirst`) in the first, later ones trickling from their first byte, so nothing new comes after it.
 */
function trickle (free: number, everyMs: number, { onlyFirst = false } = {}): Serve {
  let session = 0
  return async duplex => {
    const budget = session++ === 0 || !onlyFirst ? free : 0
    const machine = new SenderMachine({ source, options: { batchBytes: 8 * 1024, chunkBytes: 16 * 1024 } })
    let sent = 0
    const slow: ByteDuplex = {
      source: duplex.source,
      close: async () => { await duplex.close() },
      abort: (e: Error) => { duplex.abort(e) },
      write: async (chunks: Uint8Array[]) => {
        for (const c of chunks) {
          for (let i = 0; i < c.byteLength;) {
            const n = sent < budget ? Math.min(budget - sent, c.byteLength - i) : 1
            await duplex.write([c.subarray(i, i + n)])
            sent += n
            i += n
            // The liar's own pace, not a wait on anything the test needs.
            if (sent > budget) await new Promise(resolve => setTimeout(resolve, everyMs))
          }
        }
      }
    }
    await runSender(machine, slow)
  }
}

/** Reads whatever the receiver says and sends nothing, until the receiver drops the stream. */
const silent: Serve = async duplex => { for await (const _ of duplex.source) { /* ignored */ } }

async function receiveFrom (name: string, serve: Serve): Promise<{ exit: { code: number | null }, stderr: string, target: string, progress: number }> {
  const h = await startHostileSender('602-2140-7629', serve)
  hostiles.push(h)
  const target = newStorePath()
  const r = startReceiver(target, { code: '602-2140-7629', peer: h.addr, name, extra: ['--timeout', '3'], env: RECEIVE_WAITS })
  const exit = await r.waitExit(60_000)
  const progress = Math.max(0, ...r.all('progress').map(e => Number(e.messages)))
  return { exit, stderr: r.stderr, target, progress }
}

function expectStalled (r: { exit: { code: number | null }, stderr: string }): void {
  expect(r.exit.code, r.stderr).not.toBe(0)
  expect(errorCode(r.stderr), r.stderr).toBe('TRUNCATED')
  expect(r.stderr).toMatch(/nothing from the other phone for [\d.]+ s: it stopped answering/)
  // The receive's words for a phone that went away: what arrived stays, and how to carry on.
  expect(r.stderr).toMatch(/What arrived is kept here: once ferry send runs again on the old phone, run ferry receive .* \(no code needed\) to carry on/)
}

beforeAll(async () => {
  seeded = await seedStore('tiny')
  source = SqliteChatStore.open(copyStore(seeded, 'liar-phone'))
}, 60_000)
afterAll(() => { source.close(); cleanupTempDirs() })

describe('ferry receive from an old phone that stalls after pairing', () => {
  afterEach(async () => { await killAll(); await Promise.all(hostiles.splice(0).map(async h => { await h.stop() })) })

  it('ends, TRUNCATED, when the old phone opens the transfer and sends nothing', async () => {
    expectStalled(await receiveFrom('silent', silent))
  }, 90_000)

  // Each session brings a Hello and part of the manifest: no step forward, or the receive would
  // reconnect for ever.
  it('ends when the old phone, each time it is reached, sends its Hello and trickles its manifest a byte at a time', async () => {
    expectStalled(await receiveFrom('trickle-early', trickle(200, 100)))
  }, 90_000)

  it('ends when the old phone trickles mid-transfer, and keeps the messages that arrived', async () => {
    const r = await receiveFrom('trickle-late', trickle(20_000, 100, { onlyFirst: true }))
    expectStalled(r)
    const total = (await inspect(seeded)).stats.messages
    const kept = (await inspect(r.target)).stats.messages
    expect(kept, 'the messages that arrived before the trickle').toBeGreaterThan(0)
    expect(kept).toBeGreaterThanOrEqual(r.progress)
    expect(kept).toBeLessThan(total)
  }, 90_000)
})

describe('ferry send to a new phone that stalls after pairing', () => {
  afterEach(async () => { await killAll(); await Promise.all(nodes.splice(0).map(async n => { await n.stop() })) })

  /** A paired new phone that says Hello (and Resume, when `resume`), then nothing: the sender's interruption. */
  async function stallSender (resume: boolean): Promise<Record<string, unknown>> {
    const code = '161-8033-9887'
    const sender = startSender(copyStore(seeded), { code, env: { FERRY_TEST_REPLY_MS: '1000' } })
    const ready = await senderReady(sender)
    const n = await rawNode()
    nodes.push(n)
    await pairByHand(n, ready.addr, ready.peerId, code)
    const s = await openStream(n, ready.addr, TRANSFER_PROTOCOL, MAX_FRAME_BYTES)
    const say = async (f: object): Promise<void> => { const e = encodeFrame(f as Frame); await s.duplex.write([prefix(e), ...e]) }
    await say({ hello: { version: PROTOCOL_VERSION, agent: 'stalling' } })
    if (resume) {
      for (;;) {
        const b = await s.next(20_000)
        if (b === undefined) throw new Error('the sender hung up before its manifest was whole')
        const f = decodeFrame(b)
        if (f.body === 'manifest' && f.manifest?.more !== true) break
      }
      await say({ resume: {} })
    }
    const e = await sender.waitFor('the interruption', x => x.event === 'interrupted', 30_000)
    expect(sender.exit, 'the offer goes on: the new phone may come back').toBeUndefined()
    return e
  }

  it('ends the session when the new phone says Hello and nothing more', async () => {
    const e = await stallSender(false)
    expect(e.code).toBe('TRUNCATED')
    expect(String(e.message)).toMatch(/nothing from the other phone for [\d.]+ s: it stopped answering/)
  }, 60_000)

  it('ends the session when the new phone sends Resume and never acknowledges', async () => {
    const e = await stallSender(true)
    expect(e.code).toBe('TRUNCATED')
    expect(String(e.message)).toMatch(/nothing from the other phone/)
  }, 60_000)
})
