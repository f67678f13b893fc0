import { describe, expect, it } from 'vitest'
import { stoppedAfterEach } from '../helpers/stopped.js'
import { createFerry } from '../../src/create-ferry.js'
import { ErrorCode, isFerryError } from '../../src/errors.js'
import { PairingRecords } from '../../src/journal/pairing-records.js'
import type { FerryEvent } from '../../src/net/ferry-service.js'
import type { FerryNode } from '../../src/net/node.js'
import { generateCode } from '../../src/pairing/index.js'
import { abortReason, decodeMessage, MsgType } from '../../src/pairing/messages.js'
import { beginPairing, rawNode, tryTransfer } from '../e2e/helpers/raw-peer.js'
import { fillStore, tempDir } from '../helpers/stores.js'
import { until } from '../helpers/until.js'

// A code pairs one phone. Someone who saw the code (over a shoulder, on a shared screen) and begins
// pairing with it before the right phone confirms must not be able to finish afterwards: the code is
// used by then, and finishing would replace the right phone's pairing, stop its transfer and hand the
// history to the other phone.

const listen = ['/ip4/127.0.0.1/tcp/0']

describe('one code, one phone', () => {
  const { phones, nodes } = stoppedAfterEach<FerryNode>()

  it('a second phone that began with the code before the first confirmed is refused when it confirms', async () => {
    const old = await createFerry(tempDir('one-code-old-'), { listen, memory: false })
    phones.push(old)
    // Media, and a capped rate, so the right phone's transfer is still running when the other confirms.
    await fillStore(old.store, { conversations: 2, messagesPerConversation: 20, mediaSizes: [3 * 1024 * 1024] })
    const fresh = await createFerry(tempDir('one-code-new-'), { listen, memory: false })
    phones.push(fresh)
    const code = generateCode()
    const events: FerryEvent[] = []
    const offered = old.send({ code, maxBytesPerSecond: 1024 * 1024, onEvent: e => { events.push(e) } })
    offered.catch(() => {})
    const addr = old.addresses()[0].toString()

    // The other phone begins with the code and holds its confirmation.
    const other = await rawNode()
    nodes.push(other)
    const { s, step: held, hs } = await beginPairing(other, addr, old.node.peerId.toString(), code)
    expect(held.send.map(m => m[1])).toEqual([MsgType.CONFIRM_A])

    // The right phone pairs with the same code, and its transfer begins.
    const received = fresh.receive({ addrs: old.addresses(), code })
    received.catch(() => {})
    await until('the right phone\'s transfer to begin', () => events.some(e => e.type === 'manifest'), 20_000)

    // Now the other phone confirms: the code is used, so it is told CODE_EXPIRED and pairs with nothing.
    await s.write(held.send)
    const reply = await s.rest()
    expect(reply.messages.map(m => abortReason(decodeMessage(m, [])))).toEqual([ErrorCode.CODE_EXPIRED])
    // That refusal is its verdict: the phone knows it did not pair, and why.
    const verdict = hs.onMessage(reply.messages[0])
    expect(verdict.result).toBeUndefined()
    expect(verdict.error?.message).toMatch(/this code has already paired another phone/)
    const pulled = await tryTransfer(other, addr)
    expect(pulled.frames.map(f => f.body)).toEqual(['error'])
    expect(pulled.frames[0].error?.code).toBe(ErrorCode.NOT_PAIRED)

    // The right phone's transfer goes on to verified, uninterrupted.
    await expect(received).resolves.toBeDefined()
    await expect(offered).resolves.toBeDefined()
    expect(events.filter(e => e.type === 'paired').map(e => e.type === 'paired' ? e.peer : '')).toEqual([fresh.node.peerId.toString()])
    expect(events.filter(e => e.type === 'interrupted')).toEqual([])
  })

  it('an offer cancelled while a phone is pairing pairs no one', async () => {
    // The person showing the code stops the offer (they saw someone else type it, say). A phone whose
    // attempt began before that must not end up paired: its pairing record would let it resume, and be
    // served the history, the next time this phone offers without a code.
    const old = await createFerry(tempDir('one-code-cancel-'), { listen, memory: false })
    phones.push(old)
    await fillStore(old.store, { conversations: 1, messagesPerConversation: 5, mediaSizes: [] })
    const code = generateCode()
    const cancel = new AbortController()
    const offered = old.send({ code, signal: cancel.signal })
    offered.catch(() => {})
    const addr = old.addresses()[0].toString()

    const other = await rawNode()
    nodes.push(other)
    const { s, step: held } = await beginPairing(other, addr, old.node.peerId.toString(), code)
    expect(held.send.map(m => m[1])).toEqual([MsgType.CONFIRM_A])

    cancel.abort()
    await expect(offered).rejects.toSatisfy(e => isFerryError(e, ErrorCode.CANCELLED))
    // It confirms after the cancel (the stream may already be gone: then it cannot).
    await s.write(held.send).catch(() => {})
    await s.rest()

    expect(await new PairingRecords(old.journal).load()).toBeUndefined()
    await expect(old.send({})).rejects.toSatisfy(e => isFerryError(e, ErrorCode.BAD_INPUT))
  })
})

// (decodeMessage with [] still accepts an ABORT: it is acceptable in every state.)
