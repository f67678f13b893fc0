// A hostile new phone over real libp2p against a real `ferry send`: a paired receiver that asks for
// conversations outside the sender's selection, or names media the selection does not reference, gets
// nothing outside the selection (asserted on the bytes it received); and a second receiver that tries
// to join a transfer in progress is refused while the first one completes verified.
// (A peer that never paired, and a replayed pairing transcript: test/e2e/pairing-code.test.ts.)
import { createHash } from 'node:crypto'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { FerryNode } from '../../src/net/node.js'
import { PAIR_PROTOCOL } from '../../src/net/pair-stream.js'
import { parseCode, ReceiverHandshake } from '../../src/pairing/index.js'
import { abortReason, decodeMessage, MsgType } from '../../src/pairing/messages.js'
import type { ferry } from '../../src/wire/codec.js'
import {
  cleanupTempDirs, copyStore, errorCode, exportStore, killAll, newStorePath, seedStore, senderReady, startReceiver, startSender,
  tcpPort
} from './helpers/ferry-cli.js'
import { haul, pairByHand } from './helpers/hostile-receiver.js'
import { killFixture } from './helpers/kill-fixture.js'
import { hungUp, openStream, rawNode, tryTransfer } from './helpers/raw-peer.js'
import { fingerprint } from './helpers/store-check.js'
import { ThrottleProxy } from './helpers/throttle-proxy.js'

const CODE = '161-8033-9887'
/** The same store offered again: a new code, since a code that paired can never be offered twice. */
const CODE2 = '161-8033-9888'
const OFFERED = ['c1', 'c3']

interface SourceLine { type: string, conversation?: string, id?: string, media?: string, sha256?: string, ts?: number }

let seeded: string
let lines: SourceLine[]
const nodes: FerryNode[] = []
const proxies: ThrottleProxy[] = []

async function node (): Promise<FerryNode> {
  const n = await rawNode()
  nodes.push(n)
  return n
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const messagesOf = (convs: string[]): SourceLine[] => lines.filter(l => l.type === 'message' && convs.includes(l.conversation as string))
const mediaOf = (convs: string[]): Set<string> => new Set(messagesOf(convs).map(l => l.media).filter((m): m is string => m !== undefined))

/** Every media file the haul holds hashes to a file referenced by the `allowed` conversations. */
function expectOnlyMediaOf (media: Map<number, Uint8Array>, manifest: ferry.Manifest[], allowed: string[]): Set<string> {
  const listed = manifest.flatMap(p => p.media)
  const refs = mediaOf(allowed)
  const got = new Set<string>()
  for (const [i, bytes] of media) {
    const h = sha(bytes)
    expect(h, `media ${i} as received`).toBe(listed[i]?.sha256)
    expect(refs.has(h), `media ${h} is not referenced by ${allowed.join(',')}`).toBe(true)
    got.add(h)
  }
  return got
}

describe('a hostile receiver over libp2p against a real `ferry send`', () => {
  beforeAll(async () => {
    seeded = await seedStore('tiny')
    lines = (await exportStore(seeded)).trim().split('\n').map(l => JSON.parse(l) as SourceLine)
    // The fixture must have something to leak: media referenced only outside the offer.
    const outside = [...mediaOf(['c2', 'c4'])].filter(m => !mediaOf(OFFERED).has(m))
    expect(outside.length).toBeGreaterThan(0)
  }, 60_000)
  afterEach(async () => {
    await killAll()
    await Promise.all(nodes.splice(0).map(async n => { await n.stop() }))
    await Promise.all(proxies.splice(0).map(async p => { await p.close() }))
  })
  afterAll(() => cleanupTempDirs())

  it('asking for conversations outside the offer, or naming media the offer does not reference, yields nothing outside it; nothing in common is said so', async () => {
    const store = copyStore(seeded)
    const before = await fingerprint(store)
    const sender = startSender(store, { code: CODE, extra: ['--chats', OFFERED.join(',')] })
    const ready = await senderReady(sender)
    const thief = await node()
    await pairByHand(thief, ready.addr, ready.peerId, CODE)
    expect((await sender.waitEvent('paired')).peer).toBe(thief.peerId.toString())

    // 2. Half inside, half outside, and a wider time range than offered: exactly the inside half.
    const mixed = await haul(thief, ready.addr, { request: { conversations: ['c1', 'c2'], sinceMs: 0 } })
    expect(mixed.error).toBeUndefined()
    expect(mixed.manifest.flatMap(p => p.conversations).map(c => c.id)).toEqual(['c1'])
    expect(mixed.messages.map(m => `${m.conversation}/${m.id}`)).toEqual(messagesOf(['c1']).map(l => `${l.conversation}/${l.id}`))
    expect(mixed.fragments).toEqual([])
    const got = expectOnlyMediaOf(mixed.media, mixed.manifest, ['c1'])
    expect(got).toEqual(mediaOf(['c1']))

    // 3. A Resume that claims to hold a partial file the manifest does not list (another chat's media):
    //    the sender refuses it, says why, and sends no data at all.
    const forged = await haul(thief, ready.addr, {
      request: { conversations: ['c3'] },
      resume: m => ({ partial: [{ index: m.flatMap(p => p.media).length + 3, offset: 1 }] })
    })
    expect(forged.error?.code).toBe('PROTOCOL')
    expect(forged.dataBytes).toBe(0)
    const exit = await sender.waitExit(20_000)
    expect(exit.code, sender.describe()).toBe(1)
    expect(errorCode(sender.stderr)).toBe('PROTOCOL')
    expect(sender.all('verified')).toEqual([])
    expect(await fingerprint(store)).toEqual(before)

    // 1. Only conversations the sender did not offer: told so in words, not one byte of history.
    const again = startSender(store, { code: CODE2, extra: ['--chats', OFFERED.join(',')] })
    const ready2 = await senderReady(again)
    const thief2 = await node()
    await pairByHand(thief2, ready2.addr, ready2.peerId, CODE2)
    const outside = await haul(thief2, ready2.addr, { request: { conversations: ['c2', 'c4'] } })
    expect(outside.error?.code).toBe('SELECTION')
    expect(outside.error?.message).toMatch(/offers chats c1, c3.*asked for chats c2, c4/)
    expect(outside.manifest).toEqual([])
    expect(outside.messages).toEqual([])
    expect(outside.dataBytes).toBe(0)
    expect((await again.waitExit(20_000)).code).toBe(1)
    expect(errorCode(again.stderr)).toBe('SELECTION')
    expect(await fingerprint(store)).toEqual(before)
  }, 90_000)

  it('a second receiver cannot join a transfer in progress; the first completes verified', async () => {
    // Big enough that the paced transfer is surely under way, and held still, while the intruders try.
    const fixture = await killFixture({ messages: 3000, textBytes: 400, mediaFiles: 2, mediaBytes: 1_000_000 })
    const sourceExport = await exportStore(fixture)
    const store = copyStore(fixture)
    const before = await fingerprint(store)
    const sender = startSender(store, { code: CODE })
    const ready = await senderReady(sender)
    const proxy = await ThrottleProxy.start(tcpPort(ready.addr), 2_000_000)
    proxies.push(proxy)
    const target = newStorePath()
    const first = startReceiver(target, { code: CODE, peer: proxy.addr(ready.peerId), name: 'first receiver' })
    const manifest = await first.waitEvent('manifest', 30_000)
    await first.waitFor('progress under way', e => e.event === 'progress' && (e.messages as number) > 0 && (e.mediaBytes as number) < (manifest.totalMediaBytes as number))
    proxy.pause()

    // a. The right code from another phone: the code is used up.
    const intruder = await node()
    const s = await openStream(intruder, ready.addr, PAIR_PROTOCOL)
    const hs = new ReceiverHandshake({ code: parseCode(CODE), localPeerId: intruder.peerId.toString(), remotePeerId: ready.peerId })
    await s.write(hs.start().send)
    const { messages, error } = await s.rest()
    expect(messages.map(m => decodeMessage(m, []).type), error?.message).toEqual([MsgType.ABORT])
    expect(abortReason(decodeMessage(messages[0], []))).toBe('CODE_EXPIRED')
    // b. The sender hung up on it; back on a new connection, straight to the transfer protocol: not paired.
    await hungUp(intruder, ready.peerId)
    const t = await tryTransfer(intruder, ready.addr)
    expect(t.frames.map(f => f.body)).toEqual(['error'])
    expect(t.frames[0].error?.code).toBe('NOT_PAIRED')
    // c. A real `ferry receive` with the right code: a clear refusal, nothing stored.
    const second = startReceiver(newStorePath(), { code: CODE, peer: ready.addr, name: 'second receiver' })
    expect((await second.waitExit(30_000)).code, second.describe()).toBe(1)
    expect(errorCode(second.stderr)).toBe('CODE_EXPIRED')
    expect(second.stderr).toMatch(/the old phone refused the code as expired: another phone used it/)
    // The first transfer was held still all along: it is still in progress, not yet verified.
    expect(first.all('verified')).toEqual([])
    expect(sender.all('paired').map(e => e.peer)).toHaveLength(1)

    proxy.resume()
    const [r, snd] = await Promise.all([first.waitExit(60_000), sender.waitExit(60_000)])
    expect(r.code, first.describe()).toBe(0)
    expect(snd.code, sender.describe()).toBe(0)
    expect(await exportStore(target)).toBe(sourceExport)
    expect(await fingerprint(store)).toEqual(before)
  }, 90_000)
})
