// Many peers guessing the code at once, over real libp2p against a real `ferry send`: the code allows
// three guesses in total, across all peers and counting the ones in flight, not three per peer. A
// guess that hangs up after seeing the sender's answer still counts. The honest phone typing the right
// code meanwhile is told clearly, and so is the old phone's user once the code is dead.
// (Sequential wrong codes, replayed transcripts, unpaired transfer requests: pairing-code.test.ts.)
import { existsSync } from 'node:fs'
import { multiaddr } from '@multiformats/multiaddr'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Libp2p } from '@libp2p/interface'
import { PAIR_PROTOCOL } from '../../src/net/pair-stream.js'
import { parseCode, ReceiverHandshake } from '../../src/pairing/index.js'
import { abortReason, decodeMessage, MsgType } from '../../src/pairing/messages.js'
import {
  cleanupTempDirs, copyStore, errorCode, exportStore, killAll, newStorePath, seedStore, senderReady, startReceiver, startSender
} from './helpers/ferry-cli.js'
import { hostNode, openStream } from './helpers/raw-peer.js'
import { fingerprint } from './helpers/store-check.js'

const CODE = '577-2156-6490'
const ATTACKERS = 5

let seeded: string
const nodes: Libp2p[] = []

describe('many peers trying codes at once', () => {
  beforeAll(async () => { seeded = await seedStore('tiny') }, 60_000)
  afterEach(async () => {
    await killAll()
    await Promise.all(nodes.splice(0).map(async n => { await n.stop() }))
  })
  afterAll(() => cleanupTempDirs())

  it(`${ATTACKERS} peers guessing concurrently get three guesses in total; the honest phone and the old phone's user are told why`, async () => {
    const store = copyStore(seeded)
    const before = await fingerprint(store)
    const sender = startSender(store, { code: CODE })
    const ready = await senderReady(sender)
    const attackers: Libp2p[] = []
    for (let i = 0; i < ATTACKERS; i++) {
      // Each from its own address: the sender keeps only a couple of unpaired connections per address.
      const n = await hostNode(`127.0.0.${40 + i}`)
      nodes.push(n)
      // Connected first (the node admits only a few connections mid-handshake), then all guess at once.
      await n.dial(multiaddr(ready.addr))
      attackers.push(n)
    }
    const guesses = await Promise.all(attackers.map(async (n, i) => {
      const wrong = `577-${String(1000 + i).padStart(4, '0')}-0000`
      const s = await openStream(n, ready.addr, PAIR_PROTOCOL)
      const hs = new ReceiverHandshake({ code: parseCode(wrong), localPeerId: n.peerId.toString(), remotePeerId: ready.peerId })
      await s.write(hs.start().send)
      const raw = await s.next()
      return { s, hs, raw, answer: raw === undefined ? undefined : decodeMessage(raw, [MsgType.PAKE_B]) }
    }))
    // Exactly three were charged an attempt and answered; every other one was refused before any
    // keyed message, so it could test nothing.
    const answered = guesses.filter(g => g.answer?.type === MsgType.PAKE_B)
    const refused = guesses.filter(g => g.answer?.type === MsgType.ABORT)
    expect(answered).toHaveLength(3)
    expect(refused).toHaveLength(ATTACKERS - 3)
    for (const r of refused) expect(abortReason(r.answer!)).toBe('CODE_EXPIRED')

    // The honest phone types the right code while the three guesses are in flight: refused, clearly.
    const honestStore = newStorePath()
    const honest = startReceiver(honestStore, { code: CODE, peer: ready.addr, name: 'honest receiver' })
    expect((await honest.waitExit(30_000)).code, honest.describe()).toBe(1)
    expect(errorCode(honest.stderr)).toBe('CODE_EXPIRED')
    expect(honest.stderr).toMatch(/refused the code as expired: .*After wrong tries its QR code \(--qr\) still pairs/)
    expect(honest.all('paired')).toEqual([])

    // Two guesses are played out to the wrong confirmation; the third hangs up having seen the answer.
    for (const [i, g] of answered.entries()) {
      if (i < 2) {
        // What a receiver holding the wrong code answers (its confirmation, or its own abort).
        await g.s.write(g.hs.onMessage(g.raw!).send).catch(() => {})
        const reply = (await g.s.rest()).messages.map(m => decodeMessage(m, []))
        expect(reply.every(m => m.type === MsgType.ABORT)).toBe(true)
      } else {
        g.s.duplex.abort(new Error('attacker vanishes after the answer'))
      }
    }
    // Three failures in total end typing the code, however many peers tried; the offer goes on for its
    // QR code, and the old phone's user is told so.
    await sender.waitEvent('typed-code-spent')
    expect(sender.exit).toBeUndefined()
    const failed = sender.all('pair-failed').map(e => e.code as string)
    expect(failed.filter(c => c !== 'CODE_EXPIRED')).toHaveLength(3)
    expect(failed.filter(c => c === 'WRONG_CODE').length).toBeGreaterThanOrEqual(2)
    expect(sender.all('paired')).toEqual([])
    // Nothing reached the honest phone, and it spent no try: the store its receive made is taken back.
    expect(existsSync(honestStore)).toBe(false)
    expect(await fingerprint(store)).toEqual(before)

    // The honest phone scans the QR code instead: its key is no guess any neighbour can spend.
    const target = newStorePath()
    const scanning = startReceiver(target, { qr: ready.qr, name: 'honest receiver (scans the QR code)' })
    const [r, s] = await Promise.all([scanning.waitExit(30_000), sender.waitExit(30_000)])
    expect(r.code, scanning.describe()).toBe(0)
    expect(s.code, sender.describe()).toBe(0)
    expect(await exportStore(target)).toBe(await exportStore(store))
  }, 90_000)
})
