// The resume token a pairing leaves on both phones is a key to the history: it must not outlive its use.
// Against real `ferry send` / `ferry receive` processes: a token unused for 24 hours resumes nothing on
// either side; a new pairing by code replaces the old one, so the phone paired before can neither come
// back for the history nor stop the new phone's transfer. And what a person does with a pairing: stop
// the new phone with Ctrl-C and start it again, or give up on a lost phone with ferry send --new.
import { randomBytes } from 'node:crypto'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { NodeJournal } from '../../src/journal/node-journal.js'
import { PairingRecords, TOKEN_TTL_MS, type PairingRecord } from '../../src/journal/pairing-records.js'
import { createFerryNode, type FerryNode } from '../../src/net/node.js'
import { PAIR_PROTOCOL } from '../../src/net/pair-stream.js'
import { TRANSFER_PROTOCOL } from '../../src/net/ferry-service.js'
import { loadOrCreatePeerKey } from '../../src/net/peer-key.js'
import { ResumeInitiator } from '../../src/pairing/index.js'
import { PROTOCOL_VERSION } from '../../src/protocol/options.js'
import { SqliteChatStore } from '../../src/store/sqlite-store.js'
import { decodeFrame, encodeFrame } from '../../src/wire/codec.js'
import { MAX_FRAME_BYTES } from '../../src/wire/framing.js'
import {
  cleanupTempDirs, copyStore, exportStore, ferryOk, inspect, killAll, newStorePath, seedStore, senderReady, startReceiver, startSender
} from './helpers/ferry-cli.js'
import { killFixture } from './helpers/kill-fixture.js'
import { hungUp, openStream, rawNode, tryTransfer } from './helpers/raw-peer.js'

const CODE = '738-4626-4338'
const HOUR = 60 * 60 * 1000

let tiny: string
const nodes: FerryNode[] = []

async function track (n: Promise<FerryNode>): Promise<FerryNode> {
  const node = await n
  nodes.push(node)
  return node
}

async function writeRecord (store: string, record: PairingRecord): Promise<void> {
  const journal = NodeJournal.open(store)
  try { await new PairingRecords(journal).save(record) } finally { await journal.close() }
}

/** Resumes with `token` the way `ferry receive` would; 'resumed', or the reason the sender refused. */
async function resumeByHand (node: FerryNode, addr: string, senderPeerId: string, token: Uint8Array): Promise<string> {
  const s = await openStream(node, addr, PAIR_PROTOCOL)
  // A copy: the machine wipes the token it is given once done.
  const m = new ResumeInitiator({ token: Uint8Array.from(token), localPeerId: node.peerId.toString(), remotePeerId: senderPeerId })
  await s.write(m.start().send)
  const answer = await s.next()
  if (answer === undefined) return 'hung up'
  const step = m.onMessage(answer)
  if (step.error !== undefined) return step.error.code
  await s.write(step.send)
  await s.duplex.close()
  return 'resumed'
}

/** Two phones that paired `hoursAgo` and have not been in touch since, with the records each kept. */
async function pairedBefore (hoursAgo: number): Promise<{ sender: string, receiver: string, receiverKey: PrivateKey, receiverId: string, token: Uint8Array }> {
  const sender = copyStore(tiny)
  const receiver = newStorePath()
  SqliteChatStore.open(receiver, { create: true }).close()
  const [s, r] = await Promise.all([loadOrCreatePeerKey(sender), loadOrCreatePeerKey(receiver)])
  const [senderId, receiverId] = [s, r].map(k => peerIdFromPrivateKey(k.privateKey).toString())
  const token = randomBytes(32)
  const at = Date.now() - hoursAgo * HOUR
  const common = { token: token.toString('hex'), nameplate: '738', addrs: [], createdAt: at - HOUR, lastUsedAt: at }
  await writeRecord(sender, { role: 'sender', peerId: receiverId, ...common })
  await writeRecord(receiver, { role: 'receiver', peerId: senderId, ...common })
  return { sender, receiver, receiverKey: r.privateKey, receiverId, token }
}

describe('resume tokens', () => {
  beforeAll(async () => { tiny = await seedStore('tiny') }, 60_000)
  afterEach(async () => {
    await killAll()
    await Promise.all(nodes.splice(0).map(async n => { await n.stop() }))
  })
  afterAll(() => cleanupTempDirs())

  it('a token unused for 24 hours resumes nothing on either phone; one used 23 hours ago still does', async () => {
    expect(TOKEN_TTL_MS).toBe(24 * HOUR)
    const stale = await pairedBefore(25)
    // The old phone does not wait for a phone that cannot come back: it says so and shows a new code.
    const sender = startSender(stale.sender)
    const ready = await senderReady(sender)
    expect(sender.events.map(e => e.event).slice(0, 2)).toEqual(['pairing-expired', 'code'])
    expect(sender.all('pairing-expired')[0].peer).toBe(stale.receiverId)
    // The new phone, asked to resume, finds nothing to resume with and says why.
    const receiver = startReceiver(stale.receiver, { peer: ready.addr })
    expect((await receiver.waitExit(20_000)).code, receiver.describe()).toBe(2)
    expect(receiver.stderr).toMatch(/^ferry: no pairing code \(the pairing with \S+ expired: unused for 24 hours\): pass --code .*\[BAD_INPUT\]$/m)
    expect(receiver.all('paired')).toEqual([])
    // And the token itself, proved by the phone that holds it, opens nothing.
    const holder = await track(createFerryNode({ privateKey: stale.receiverKey, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false }))
    expect(await resumeByHand(holder, ready.addr, ready.peerId, stale.token)).toBe('NOT_PAIRED')
    expect((await sender.waitEvent('pair-failed')).code).toBe('NOT_PAIRED')
    await hungUp(holder, ready.peerId)
    const t = await tryTransfer(holder, ready.addr)
    expect(t.frames.map(f => f.body)).toEqual(['error'])
    expect(sender.all('paired')).toEqual([])
    expect(sender.all('manifest')).toEqual([])

    const fresh = await pairedBefore(23)
    const s2 = startSender(fresh.sender, { name: 'sender (fresh pairing)' })
    const r2 = await senderReady(s2)
    const again = startReceiver(fresh.receiver, { peer: r2.addr, name: 'receiver (fresh pairing)' })
    expect((await again.waitEvent('paired')).mode).toBe('resume')
    const [re, se] = await Promise.all([again.waitExit(30_000), s2.waitExit(30_000)])
    expect(re.code, again.describe()).toBe(0)
    expect(se.code, s2.describe()).toBe(0)
    expect(await exportStore(fresh.receiver)).toBe(await exportStore(tiny))
  })

  it('Ctrl-C on the old phone while it shows its code exits 130 saying so, and nothing else', async () => {
    const sender = startSender(copyStore(tiny), { code: CODE })
    await senderReady(sender)
    sender.child.kill('SIGINT')
    const exit = await sender.waitExit(20_000)
    expect(exit.code, sender.describe()).toBe(130)
    expect(sender.events.at(-1)).toMatchObject({ event: 'stopped', signal: 'SIGINT' })
    expect(sender.all('error')).toEqual([])
    expect(sender.stderr).not.toMatch(/\[CANCELLED\]/)
  })

  it('Ctrl-C on the new phone exits 130 saying so; run again without the code, it carries on to verified, and then has nothing to resume', async () => {
    const fixture = await killFixture({ messages: 2000, textBytes: 400, mediaFiles: 2, mediaBytes: 1_000_000 })
    const store = copyStore(fixture)
    const sender = startSender(store, { code: CODE, extra: ['--max-rate', '0.5'] })
    const ready = await senderReady(sender)
    const target = newStorePath()
    const receiver = startReceiver(target, { code: CODE, peer: ready.addr })
    await receiver.waitEvent('progress', 20_000)
    receiver.child.kill('SIGINT')
    const exit = await receiver.waitExit(20_000)
    expect(exit.code, receiver.describe()).toBe(130)
    expect(receiver.events.at(-1)).toMatchObject({ event: 'stopped', signal: 'SIGINT' })
    expect(receiver.events.at(-1)?.message).toMatch(/again \(no code needed\) to carry on where it stopped/)
    expect(receiver.all('verified')).toEqual([])
    // What a person looks at before running it again: inspect shows the transfer as unfinished, with the
    // messages it holds of it and the phone it resumes with.
    const held = await inspect(target)
    expect(held.transfers).toHaveLength(1)
    expect(held.transfers[0].messages).toBe(held.stats.messages)
    expect(held.pairing).toMatchObject({ role: 'receiver', peer: ready.peerId })
    const shown = await ferryOk(['inspect', '--store', target])
    expect(shown).toContain('Unfinished incoming transfers (run the same receive again to resume):')
    expect(shown).toContain(`: all conversations; ${held.stats.messages} messages stored, not yet verified; last activity `)
    const again = startReceiver(target, { peer: ready.addr, name: 'receiver (again)' })
    expect((await again.waitEvent('paired', 30_000)).mode).toBe('resume')
    const [r, s] = await Promise.all([again.waitExit(60_000), sender.waitExit(60_000)])
    expect(r.code, again.describe()).toBe(0)
    expect(s.code, sender.describe()).toBe(0)
    expect(await exportStore(target)).toBe(await exportStore(fixture))
    expect((await inspect(target)).transfers).toEqual([])
    // Verified, there is nothing to carry on: run again without a code, it says so.
    const done = startReceiver(target, { peer: ready.addr, name: 'receiver (done)' })
    expect((await done.waitExit(20_000)).code, done.describe()).toBe(2)
    expect(done.stderr).toMatch(/^ferry: no pairing code \(the history received .+ is verified; there is nothing to resume\): pass --code .*\[BAD_INPUT\]$/m)
  })

  it('a sender whose phone was lost shows a fresh code with --new; without it, it waits for that phone', async () => {
    const lost = await pairedBefore(1)
    // Restarted as after a crash: it waits for the phone it paired with, and shows no code.
    const waiting = startSender(lost.sender, { extra: ['--timeout', '1'] })
    expect((await waiting.waitExit(20_000)).code, waiting.describe()).toBe(1)
    expect(waiting.events.map(e => e.event)).toEqual(['resuming', 'offering', 'error'])
    // Waiting for a phone paired before: no code, so no code's expiry either.
    expect(waiting.all('offering')[0].codeExpiresAt).toBeUndefined()
    expect(waiting.all('resuming')[0].peer).toBe(lost.receiverId)
    expect(waiting.all('code')).toEqual([])
    expect(waiting.events.at(-1)?.message).toBe(`no phone paired within 1 s (${lost.receiverId} did not come back; ferry send --new shows a code for another phone)`)

    // With --new it shows a fresh code, and another phone pairs with it and gets the history.
    const sender = startSender(lost.sender, { extra: ['--new'], name: 'sender (--new)' })
    const ready = await senderReady(sender)
    expect(sender.events[0].event).toBe('code')
    expect(ready.code).toMatch(/^\d{3}-\d{4}-\d{4}$/)
    const other = newStorePath('other-phone')
    const receiver = startReceiver(other, { code: ready.code, peer: ready.addr })
    expect((await receiver.waitEvent('paired')).mode).toBe('code')
    const [r, s] = await Promise.all([receiver.waitExit(30_000), sender.waitExit(30_000)])
    expect(r.code, receiver.describe()).toBe(0)
    expect(s.code, sender.describe()).toBe(0)
    expect(sender.all('paired').map(e => e.peer)).not.toContain(lost.receiverId)
    expect(await exportStore(other)).toBe(await exportStore(tiny))
    // The lost phone's token went with the new pairing: a restarted sender has nothing to resume.
    const after = startSender(lost.sender, { extra: ['--timeout', '1'], name: 'sender (after)' })
    expect((await after.waitExit(20_000)).code, after.describe()).toBe(1)
    expect(after.events[0].event).toBe('code')
  })

  it('a new pairing by code replaces the old one: the phone paired before can neither resume, nor pull the history, nor stop the transfer', async () => {
    // Big enough, and paced, that the new phone's transfer is under way while the old one tries.
    const fixture = await killFixture({ messages: 2000, textBytes: 400, mediaFiles: 2, mediaBytes: 1_000_000 })
    const store = copyStore(fixture)
    const before = await exportStore(fixture)
    const old = await track(rawNode())
    const token = randomBytes(32)
    const now = Date.now()
    await writeRecord(store, { role: 'sender', peerId: old.peerId.toString(), token: token.toString('hex'), nameplate: '738', addrs: [], createdAt: now, lastUsedAt: now })
    const sender = startSender(store, { code: CODE, extra: ['--max-rate', '0.5'] })
    const ready = await senderReady(sender)

    // Until another phone pairs, the phone paired before is the current one: it resumes, and its
    // transfer starts (it takes the manifest, then holds the session).
    expect(await resumeByHand(old, ready.addr, ready.peerId, token)).toBe('resumed')
    expect(await sender.waitEvent('paired')).toMatchObject({ peer: old.peerId.toString(), mode: 'resume' })
    const held = await openStream(old, ready.addr, TRANSFER_PROTOCOL, MAX_FRAME_BYTES)
    const hello = encodeFrame({ hello: { version: PROTOCOL_VERSION, agent: 'phone-paired-before' } })
    await held.write([Buffer.concat(hello)])
    const firstFrames = [decodeFrame((await held.next())!).body, decodeFrame((await held.next())!).body]
    expect(firstFrames).toEqual(['hello', 'manifest'])

    // The new phone pairs with the code: the old phone's session ends at once.
    const target = newStorePath()
    const receiver = startReceiver(target, { code: CODE, peer: ready.addr })
    expect(await receiver.waitEvent('paired')).toMatchObject({ mode: 'code', peer: ready.peerId })
    const ended = await held.rest(20_000)
    expect(ended.error?.message ?? '', 'the replaced session must end, not wait').not.toMatch(/no message within/)

    // The phone paired before: its token opens nothing, and it cannot pull or stop anything.
    expect(await resumeByHand(old, ready.addr, ready.peerId, token)).toBe('NOT_PAIRED')
    await hungUp(old, ready.peerId) // a failed pairing: the sender lets the connection go
    const pull = await tryTransfer(old, ready.addr)
    expect(pull.frames.map(f => f.body)).toEqual(['error'])
    expect(pull.frames[0].error?.code).toBe('NOT_PAIRED')
    // The new phone was mid-transfer meanwhile, and goes on to the end undisturbed.
    expect(receiver.exit, receiver.describe()).toBeUndefined()
    const [r, s] = await Promise.all([receiver.waitExit(60_000), sender.waitExit(60_000)])
    expect(r.code, receiver.describe()).toBe(0)
    expect(s.code, sender.describe()).toBe(0)
    expect(receiver.all('interrupted')).toEqual([])
    expect(sender.all('paired').map(e => e.mode)).toEqual(['resume', 'code'])
    expect(sender.all('paired')[0].peer).toBe(old.peerId.toString())
    expect(sender.all('paired')[1].peer).not.toBe(old.peerId.toString())
    expect(sender.all('pair-failed').map(e => e.code)).toEqual(['NOT_PAIRED'])
    expect(await exportStore(target)).toBe(before)
  }, 90_000)
})
