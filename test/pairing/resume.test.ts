import { describe, expect, it } from 'vitest'
import { ErrorCode, type FerryError } from '../../src/errors.js'
import { CodeLifetime } from '../../src/pairing/attempts.js'
import { parseCode } from '../../src/pairing/code.js'
import { ReceiverHandshake, SenderHandshake, type PairingResult } from '../../src/pairing/handshake.js'
import { encodeAbort, encodeMessage, MsgType, type AbortReason } from '../../src/pairing/messages.js'
import { ResumeInitiator, ResumeResponder } from '../../src/pairing/resume.js'
import { hex, run } from './helpers.js'

const RECEIVER = '12D3KooWReceiverPeerIdForTestsOnlyAAAAAAAAAAAAAAAAAA'
const SENDER = '12D3KooWSenderPeerIdForTestsOnlyBBBBBBBBBBBBBBBBBBBB'
const MALLORY = '12D3KooWMalloryPeerIdForTestsOnlyCCCCCCCCCCCCCCCCCCC'

function pairOnce (): { receiver: PairingResult, sender: PairingResult } {
  const code = parseCode('555-1234-5678')
  const r = new ReceiverHandshake({ code, localPeerId: RECEIVER, remotePeerId: SENDER })
  const s = new SenderHandshake({ code, localPeerId: SENDER, remotePeerId: RECEIVER, lifetime: new CodeLifetime() })
  const out = run<PairingResult, PairingResult>(r.start(), r, s)
  return { receiver: out.receiver.result!, sender: out.sender.result! }
}

type Key = { sessionKey: Uint8Array }

function resume (receiverToken: Uint8Array, senderToken: Uint8Array, ids: { r?: [string, string], s?: [string, string] } = {}) {
  const [rl, rr] = ids.r ?? [RECEIVER, SENDER]
  const [sl, sr] = ids.s ?? [SENDER, RECEIVER]
  const i = new ResumeInitiator({ token: receiverToken, localPeerId: rl, remotePeerId: rr })
  const r = new ResumeResponder({ token: senderToken, localPeerId: sl, remotePeerId: sr })
  return { ...run<Key, Key>(i.start(), i, r), machines: { i, r } }
}

describe('resume-token re-authentication', () => {
  it('the right peers with the right token reconnect, with a fresh session key each time', () => {
    const { receiver, sender } = pairOnce()
    const one = resume(receiver.resumeToken, sender.resumeToken)
    expect(one.receiver.error).toBeUndefined()
    expect(one.sender.error).toBeUndefined()
    expect(hex(one.receiver.result!.sessionKey)).toBe(hex(one.sender.result!.sessionKey))
    expect(one.wire.map((m) => m.dir)).toEqual(['r>s', 's>r', 'r>s'])
    const two = resume(receiver.resumeToken, sender.resumeToken)
    expect(hex(two.receiver.result!.sessionKey)).not.toBe(hex(one.receiver.result!.sessionKey))
    expect(hex(one.receiver.result!.sessionKey)).not.toBe(hex(receiver.sessionKey))
    // The caller's token is not consumed or wiped by a run.
    expect(hex(receiver.resumeToken)).toBe(hex(sender.resumeToken))
  })

  it('a token handed over as a Node Buffer is not wiped either (Buffer.slice is a view, not a copy)', () => {
    const { receiver, sender } = pairOnce()
    const asBuffers = [Buffer.from(receiver.resumeToken), Buffer.from(sender.resumeToken)]
    for (let i = 0; i < 2; i++) {
      const run = resume(asBuffers[0], asBuffers[1])
      expect(run.receiver.error).toBeUndefined()
      expect(run.sender.error).toBeUndefined()
    }
    expect(hex(asBuffers[0])).toBe(hex(receiver.resumeToken))
    expect(hex(asBuffers[1])).toBe(hex(sender.resumeToken))
  })

  it('a wrong token fails on both sides with NOT_PAIRED', () => {
    const { receiver } = pairOnce()
    const other = pairOnce()
    const r = resume(receiver.resumeToken, other.sender.resumeToken)
    expect(r.receiver.error?.code).toBe(ErrorCode.NOT_PAIRED)
    expect(r.sender.error?.code).toBe(ErrorCode.NOT_PAIRED)
    expect(r.receiver.result).toBeUndefined()
    expect(r.sender.result).toBeUndefined()
  })

  it('swapped or foreign peer ids fail', () => {
    const { receiver, sender } = pairOnce()
    // The receiver binds the ids in the other role order.
    const swapped = resume(receiver.resumeToken, sender.resumeToken, { r: [SENDER, RECEIVER] })
    expect(swapped.receiver.error?.code).toBe(ErrorCode.NOT_PAIRED)
    // A relay: each side sees Mallory's peer id.
    const relayed = resume(receiver.resumeToken, sender.resumeToken, { r: [RECEIVER, MALLORY], s: [SENDER, MALLORY] })
    expect(relayed.receiver.error?.code).toBe(ErrorCode.NOT_PAIRED)
    expect(relayed.sender.error?.code).toBe(ErrorCode.NOT_PAIRED)
  })

  it('replayed messages from an observed run get nowhere', () => {
    const { receiver, sender } = pairOnce()
    const seen = resume(receiver.resumeToken, sender.resumeToken)
    const [resumeA, resumeB, confirm] = seen.wire.map((m) => m.bytes)

    // Replaying the receiver's side to the sender: a fresh nonce_R makes the old confirmation useless.
    const responder = new ResumeResponder({ token: sender.resumeToken, localPeerId: SENDER, remotePeerId: RECEIVER })
    const answer = responder.onMessage(resumeA)
    expect(hex(answer.send[0])).not.toBe(hex(resumeB))
    const replay = responder.onMessage(confirm)
    expect(replay.error?.code).toBe(ErrorCode.NOT_PAIRED)
    expect(replay.result).toBeUndefined()

    // Replaying the sender's side to the receiver: a fresh nonce_I makes the old tag useless.
    const initiator = new ResumeInitiator({ token: receiver.resumeToken, localPeerId: RECEIVER, remotePeerId: SENDER })
    initiator.start()
    const back = initiator.onMessage(resumeB)
    expect(back.error?.code).toBe(ErrorCode.NOT_PAIRED)
    expect(back.send.length).toBe(1) // ABORT(NOT_PAIRED)
    expect(back.result).toBeUndefined()
  })

  it('refuses malformed and out-of-order messages and bad options', () => {
    const token = new Uint8Array(32).fill(7)
    const responder = new ResumeResponder({ token, localPeerId: SENDER, remotePeerId: RECEIVER })
    expect(responder.onMessage(encodeMessage(MsgType.RESUME_CONFIRM, new Uint8Array(32))).error?.code).toBe(ErrorCode.PROTOCOL)
    const r2 = new ResumeResponder({ token, localPeerId: SENDER, remotePeerId: RECEIVER })
    expect(r2.onMessage(encodeMessage(MsgType.RESUME_A, new Uint8Array(31))).error?.code).toBe(ErrorCode.PROTOCOL)
    expect(() => new ResumeInitiator({ token: new Uint8Array(16), localPeerId: RECEIVER, remotePeerId: SENDER })).toThrow(/32 bytes/)
    expect(() => new ResumeInitiator({ token, localPeerId: RECEIVER, remotePeerId: RECEIVER })).toThrow(/own peer id/)
  })

  it('an old phone that refuses the resume is said as the new phone\'s person knows it, naming who refused', () => {
    const refused = (reason: AbortReason): FerryError => {
      const i = new ResumeInitiator({ token: new Uint8Array(32).fill(7), localPeerId: RECEIVER, remotePeerId: SENDER })
      i.start()
      const step = i.onMessage(encodeAbort(reason))
      expect(step.send).toEqual([]) // the other phone already said it gave up
      return step.error!
    }
    // It stopped sending: what arrived stays, and the same pairing carries on once it offers again.
    expect(refused(ErrorCode.CANCELLED)).toMatchObject({
      code: ErrorCode.CANCELLED,
      message: 'the old phone stopped sending its history. What arrived is kept here: receive again (no new code is needed) once it offers its history again',
      details: { from: 'sender' }
    })
    // Started again, it has not offered yet: a receive tries it again.
    expect(refused(ErrorCode.NO_PEER)).toMatchObject({ code: ErrorCode.NO_PEER, details: { from: 'sender', notOffering: true } })
    expect(refused(ErrorCode.NOT_PAIRED)).toMatchObject({ code: ErrorCode.NOT_PAIRED, message: expect.stringMatching(/pair again with a new code/) })
    // A new phone that gives up is named as the new phone on the old one.
    const r = new ResumeResponder({ token: new Uint8Array(32).fill(7), localPeerId: SENDER, remotePeerId: RECEIVER })
    expect(r.onMessage(encodeAbort(ErrorCode.CANCELLED)).error).toMatchObject({ code: ErrorCode.CANCELLED, message: 'resume: the new phone gave up (CANCELLED)', details: { from: 'receiver' } })
  })
})
