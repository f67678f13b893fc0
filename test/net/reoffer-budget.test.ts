import { describe, expect, it } from 'vitest'
import { stoppedAfterEach } from '../helpers/stopped.js'
import { createFerry, type Ferry } from '../../src/create-ferry.js'
import { ErrorCode, isFerryError } from '../../src/errors.js'
import { CodeBudgets } from '../../src/journal/code-budgets.js'
import { PAIR_PROTOCOL } from '../../src/net/pair-stream.js'
import type { Libp2p } from '@libp2p/interface'
import { parseCode, ReceiverHandshake, type PairingCode } from '../../src/pairing/index.js'
import { decodeMessage, encodeMessage, MsgType } from '../../src/pairing/messages.js'
import { hostNode, openStream, type FramedStream } from '../e2e/helpers/raw-peer.js'
import { fillStore, tempDir } from '../helpers/stores.js'

// An app may cancel an offer and offer the same code again (the code's budget is in the journal for
// that). The guesses the first offer's peers could test stay spent: three in total across both.

const listen = ['/ip4/127.0.0.1/tcp/0']
const CODE = parseCode('381-5402-7719')

describe('a code offered again in the same process', () => {
  const { phones, nodes } = stoppedAfterEach<Libp2p>()

  /** A guess with a wrong code that has read the sender's PAKE_B (so it could test it) and holds. */
  async function guess (old: Ferry, wrong: PairingCode): Promise<{ s: FramedStream, answer: number }> {
    // Each from its own host: the sender keeps only a couple of unpaired connections per address.
    const n = await hostNode(`127.0.0.${60 + nodes.length}`)
    nodes.push(n)
    const s = await openStream(n, old.addresses()[0].toString(), PAIR_PROTOCOL)
    const hs = new ReceiverHandshake({ code: wrong, localPeerId: n.peerId.toString(), remotePeerId: old.node.peerId.toString() })
    await s.write(hs.start().send)
    const reply = await s.next()
    return { s, answer: decodeMessage(reply!, [MsgType.PAKE_B]).type }
  }

  /** Ends a held guess with a bogus confirmation: the sender counts it as failed. */
  async function giveUp (g: { s: FramedStream }): Promise<void> {
    await g.s.write([encodeMessage(MsgType.CONFIRM_A, new Uint8Array(64))])
    await g.s.rest()
  }

  it('three guesses in total across the two offers', async () => {
    const old = await createFerry(tempDir('reoffer-'), { listen, memory: false })
    phones.push(old)
    await fillStore(old.store, { conversations: 1, messagesPerConversation: 5, mediaSizes: [] })

    const cancel = new AbortController()
    const first = old.send({ code: CODE, signal: cancel.signal })
    first.catch(() => {})
    const g1 = await guess(old, parseCode('381-0000-0001'))
    const g2 = await guess(old, parseCode('381-0000-0002'))
    expect([g1.answer, g2.answer]).toEqual([MsgType.PAKE_B, MsgType.PAKE_B])
    cancel.abort()
    await expect(first).rejects.toSatisfy(e => isFerryError(e, ErrorCode.CANCELLED))
    // The cancel cuts their streams; each could test its guess, so each counts as spent.
    await g1.s.rest()
    await g2.s.rest()

    // Offered again: one guess is left, and it is used.
    const second = old.send({ code: CODE })
    second.catch(() => {})
    const g3 = await guess(old, parseCode('381-0000-0003'))
    expect(g3.answer).toBe(MsgType.PAKE_B)
    await giveUp(g3)
    await expect(second).rejects.toSatisfy(e => isFerryError(e, ErrorCode.CODE_EXPIRED))

    // Three guesses were tested: the code is dead for good.
    expect(await new CodeBudgets(old.journal).load(CODE)).toMatchObject({ charged: 3, used: false })
    const third = old.send({ code: CODE })
    third.catch(() => {})
    await expect(third).rejects.toSatisfy(e => isFerryError(e, ErrorCode.CODE_EXPIRED))
  })
})
