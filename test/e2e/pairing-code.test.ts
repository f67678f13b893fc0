// Pairing between real processes on loopback: wrong codes, the code's three-attempt lifetime, a peer
// that never paired asking for the history, and a replayed handshake transcript.
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { NodeJournal } from '../../src/journal/node-journal.js'
import { PairingRecords } from '../../src/journal/pairing-records.js'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { FerryNode } from '../../src/net/node.js'
import { PAIR_PROTOCOL } from '../../src/net/pair-stream.js'
import { parseCode, ReceiverHandshake } from '../../src/pairing/index.js'
import { abortReason, decodeMessage, MsgType } from '../../src/pairing/messages.js'
import {
  cleanupTempDirs, copyStore, errorCode, exportStore, inspect, killAll, newStorePath, seedStore, senderReady, startReceiver,
  startSender, type FerryProcess
} from './helpers/ferry-cli.js'
import { hungUp, openStream, rawNode, tryTransfer } from './helpers/raw-peer.js'

const CODE = '271-8281-8284'
const WRONG = ['271-8281-8285', '271-0000-8284', '271-8281-0000']

let source: string
const nodes: FerryNode[] = []

async function node (): Promise<FerryNode> {
  const n = await rawNode()
  nodes.push(n)
  return n
}

/** A receiver that must fail: it exits 1 without ever pairing. Its store is checked by expectNoData. */
async function failedAttempt (sender: { addr: string }, code: string, name: string, extra: string[] = []): Promise<{ p: FerryProcess, code: string | undefined, store: string }> {
  const store = newStorePath()
  const p = startReceiver(store, { code, peer: sender.addr, name, extra })
  const exit = await p.waitExit(30_000)
  expect(exit.code, p.describe()).toBe(1)
  expect(p.all('paired'), 'a failed pairing must never report paired').toEqual([])
  expect(p.all('manifest')).toEqual([])
  // The reason, for people on stderr (`ferry: ... [CODE]`) and for scripts as the last JSON event.
  const reason = errorCode(p.stderr)
  expect(p.events.at(-1), p.describe()).toMatchObject({ event: 'error', code: reason })
  return { p, code: reason, store }
}

/** No data flowed: not a contact, a conversation, a message or a media record, and no transfer begun. */
async function expectNoData (stores: string[]): Promise<void> {
  for (const report of await Promise.all(stores.map(inspect))) {
    expect(report.stats).toMatchObject({ contacts: 0, conversations: 0, messages: 0, media: 0 })
    expect(report.transfers).toEqual([])
  }
}

describe('pairing with real processes', () => {
  beforeAll(async () => { source = await seedStore('tiny') }, 60_000)
  afterEach(async () => {
    await killAll()
    await Promise.all(nodes.splice(0).map(async n => { await n.stop() }))
  })
  afterAll(() => cleanupTempDirs())

  it('a wrong code fails on both phones with WRONG_CODE and moves no data', async () => {
    const sender = startSender(copyStore(source), { code: CODE })
    const ready = await senderReady(sender)
    const { p, code, store } = await failedAttempt(ready, WRONG[0], 'receiver (wrong code)')
    expect(code).toBe('WRONG_CODE')
    await expectNoData([store])
    expect(p.stderr).toMatch(/^ferry: the code does not match the old phone's: check the digits\. 2 tries of this code left here; the QR code \(--qr\) cannot be mistyped \[WRONG_CODE\]$/m)
    const failed = await sender.waitEvent('pair-failed')
    expect(failed.code).toBe('WRONG_CODE')
    // One wrong guess does not end the code: the sender is still offering, and nothing was sent.
    expect(sender.exit).toBeUndefined()
    expect(sender.all('manifest')).toEqual([])
    expect(sender.all('paired')).toEqual([])
  })

  it('the third wrong attempt ends typing the code; its QR code still pairs, so guessing neighbours cannot block it', async () => {
    const sender = startSender(copyStore(source), { code: CODE })
    const ready = await senderReady(sender)
    const stores: string[] = []
    for (const [i, wrong] of WRONG.entries()) {
      const { code, store } = await failedAttempt(ready, wrong, `receiver ${i + 1} (wrong code)`)
      stores.push(store)
      expect(code).toBe('WRONG_CODE')
      expect((await sender.waitNth('pair-failed', i + 1)).code).toBe('WRONG_CODE')
    }
    // Three failures in total end typing the code; the offer goes on for its QR code, and says so.
    await sender.waitEvent('typed-code-spent')
    expect(sender.exit).toBeUndefined()
    expect(sender.all('paired')).toEqual([])
    // The right code, typed, is refused now, with the reason.
    const fourth = await failedAttempt(ready, CODE, 'receiver 4 (right code, typed)')
    expect(fourth.code).toBe('CODE_EXPIRED')
    await expectNoData(stores)
    // Refused before the code was checked, the fourth spent no try: nothing is left of its run.
    expect(existsSync(fourth.store)).toBe(false)
    // The QR code the sender shows pairs, and the history moves.
    const target = newStorePath()
    const scanning = startReceiver(target, { qr: ready.qr, name: 'receiver 5 (scans the QR code)' })
    const [r, s] = await Promise.all([scanning.waitExit(30_000), sender.waitExit(30_000)])
    expect(r.code, scanning.describe()).toBe(0)
    expect(s.code, sender.describe()).toBe(0)
    expect(await exportStore(target)).toBe(await exportStore(source))
  })


  it('a sender that outlives its dead code (it waits for an earlier pairing) answers the right code with CODE_EXPIRED', async () => {
    // This phone paired before with another phone that has not finished yet: it keeps waiting for that
    // one after the new code dies, so a late right code reaches it and is told why it is refused.
    const store = copyStore(source)
    const other = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const journal = NodeJournal.open(store)
    await new PairingRecords(journal).save({ role: 'sender', peerId: other, token: randomBytes(32).toString('hex'), nameplate: '271', addrs: [], createdAt: Date.now() })
    await journal.close()
    const sender = startSender(store, { code: CODE })
    const ready = await senderReady(sender)
    const stores: string[] = []
    for (const [i, wrong] of WRONG.entries()) {
      const attempt = await failedAttempt(ready, wrong, `receiver ${i + 1} (wrong code)`)
      stores.push(attempt.store)
      expect(attempt.code).toBe('WRONG_CODE')
      expect((await sender.waitNth('pair-failed', i + 1)).code).toBe('WRONG_CODE')
    }
    const fourth = await failedAttempt(ready, CODE, 'receiver 4 (right code, too late)')
    expect(fourth.code).toBe('CODE_EXPIRED')
    expect(fourth.p.stderr).toMatch(/the old phone refused the code as expired: another phone used it, it was tried three times wrongly, or it is more than ten minutes old/)
    expect((await sender.waitNth('pair-failed', 4)).code).toBe('CODE_EXPIRED')
    expect(sender.exit).toBeUndefined() // still waiting for the phone it paired with before
    expect(sender.all('paired')).toEqual([])
    await expectNoData(stores)
    // Refused before the code was checked, the fourth spent no try: nothing is left of its run.
    expect(existsSync(fourth.store)).toBe(false)
  })

  it('a node that never paired gets NOT_PAIRED on /ferry/transfer/1.0.0 and no manifest, before and after another peer paired', async () => {
    const sender = startSender(copyStore(source), { code: CODE })
    const ready = await senderReady(sender)
    const intruder = await node()

    const before = await tryTransfer(intruder, ready.addr)
    expect(before.frames.map(f => f.body)).toEqual(['error'])
    expect(before.frames[0].error?.code).toBe('NOT_PAIRED')

    // An honest phone pairs (by hand, through the handshake machine); the intruder still gets nothing,
    // while the paired phone, asking the same way, does get the manifest.
    const phone = await node()
    const pair = await openStream(phone, ready.addr, PAIR_PROTOCOL)
    const hs = new ReceiverHandshake({ code: parseCode(CODE), localPeerId: phone.peerId.toString(), remotePeerId: ready.peerId })
    await pair.write(hs.start().send)
    const step = hs.onMessage((await pair.next())!)
    expect(step.error).toBeUndefined()
    await pair.write(step.send)
    expect(hs.onMessage((await pair.next())!).result).toBeDefined() // the sender's verdict: PAIRED
    await pair.duplex.close()
    const paired = await sender.waitEvent('paired')
    expect(paired.peer).toBe(phone.peerId.toString())

    const after = await tryTransfer(intruder, ready.addr)
    expect(after.frames.map(f => f.body)).toEqual(['error'])
    expect(after.frames[0].error?.code).toBe('NOT_PAIRED')
    expect(sender.all('manifest')).toEqual([])

    const control = await tryTransfer(phone, ready.addr)
    expect(control.frames.map(f => f.body)).toContain('manifest')
  })

  it('a recorded pairing transcript replayed from another peer against a fresh sender with the same code does not pair', async () => {
    // Record: drive the receiver's side of a successful pairing by hand and keep every message it sent.
    const first = startSender(copyStore(source), { code: CODE, name: 'sender 1' })
    const one = await senderReady(first)
    const recorder = await node()
    const s1 = await openStream(recorder, one.addr, PAIR_PROTOCOL)
    const hs = new ReceiverHandshake({ code: parseCode(CODE), localPeerId: recorder.peerId.toString(), remotePeerId: one.peerId })
    const transcript: Uint8Array[] = []
    const start = hs.start()
    transcript.push(...start.send)
    await s1.write(start.send)
    const step = hs.onMessage((await s1.next())!)
    expect(step.error).toBeUndefined()
    transcript.push(...step.send)
    await s1.write(step.send)
    expect(hs.onMessage((await s1.next())!).result).toBeDefined()
    await s1.duplex.close()
    expect((await first.waitEvent('paired')).peer).toBe(recorder.peerId.toString())
    expect(transcript.map(m => m[1])).toEqual([MsgType.PAKE_A, MsgType.CONFIRM_A])

    // Replay the same bytes against a fresh sender showing the same code, from two other identities:
    // another node, and (for good measure) the recording node itself.
    const second = startSender(copyStore(source), { code: CODE, name: 'sender 2' })
    const two = await senderReady(second)
    expect(two.peerId).not.toBe(one.peerId)
    const replayers = [await node(), recorder]
    for (const [i, replayer] of replayers.entries()) {
      const s = await openStream(replayer, two.addr, PAIR_PROTOCOL)
      await s.write([transcript[0]])
      const answer = await s.next()
      // The sender answers the replayed PAKE_A with a fresh share; the old confirmation cannot match it.
      expect(answer?.[1]).toBe(MsgType.PAKE_B)
      await s.write([transcript[1]])
      const { messages } = await s.rest()
      const aborts = messages.map(m => decodeMessage(m, []))
      expect(aborts.map(m => m.type)).toEqual([MsgType.ABORT])
      expect(abortReason(aborts[0])).toBe('WRONG_CODE')
      expect((await second.waitNth('pair-failed', i + 1)).code).toBe('WRONG_CODE')
      // The sender hangs up on a failed pairing; asked again on a new connection, the replayer is not
      // let in to the history.
      await hungUp(replayer, two.peerId)
      const t = await tryTransfer(replayer, two.addr)
      expect(t.frames.map(f => f.body)).toEqual(['error'])
      expect(t.frames[0].error?.code).toBe('NOT_PAIRED')
    }
    expect(second.all('paired')).toEqual([])
    expect(second.all('manifest')).toEqual([])

    // The code had one attempt left: the honest phone that knows it still pairs and gets everything.
    const target = newStorePath()
    const honest = startReceiver(target, { code: CODE, peer: two.addr })
    const [rExit, sExit] = await Promise.all([honest.waitExit(30_000), second.waitExit(30_000)])
    expect(rExit.code, honest.describe()).toBe(0)
    expect(sExit.code, second.describe()).toBe(0)
    expect(await exportStore(target)).toBe(await exportStore(source))
  })
})
