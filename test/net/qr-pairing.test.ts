import { describe, expect, it } from 'vitest'
import { stoppedAfterEach } from '../helpers/stopped.js'
import { createFerry, type Ferry } from '../../src/create-ferry.js'
import { ErrorCode, isFerryError } from '../../src/errors.js'
import type { FerryEvent } from '../../src/net/ferry-service.js'
import { PAIR_PROTOCOL } from '../../src/net/pair-stream.js'
import { MsgType } from '../../src/pairing/messages.js'
import type { FerryNode } from '../../src/net/node.js'
import { buildQrPayload, generateCode, generateQrKey, parseCode, parseQrPayload, qrDialAddrs, ReceiverHandshake, type PairingCode } from '../../src/pairing/index.js'
import type { Libp2p } from '@libp2p/interface'
import { beginPairing, hostNode, openStream, rawNode } from '../e2e/helpers/raw-peer.js'
import { exportText, fillStore, tempDir } from '../helpers/stores.js'
import { until } from '../helpers/until.js'

// A neighbour on the LAN can burn a typed code: three wrong guesses end it. The QR code shown beside it
// carries a key no one can guess, so the phone that scans it still pairs and receives the history.

const listen = ['/ip4/127.0.0.1/tcp/0']

describe('pairing by the QR code, with a neighbour guessing', () => {
  const { phones, nodes } = stoppedAfterEach<FerryNode | Libp2p>()

  /** A stranger's wrong guess, over a connection of its own, to its end. */
  async function guessWrong (addr: string, sender: string, code: PairingCode): Promise<string | undefined> {
    const stranger = await rawNode()
    nodes.push(stranger)
    const wrong = parseCode(`${code.nameplate}-${code.secret === '00000000' ? '00000001' : '00000000'}`)
    const { s, step } = await beginPairing(stranger, addr, sender, wrong)
    await s.write(step.send).catch(() => {})
    await s.rest().catch(() => {})
    return step.error?.code
  }

  async function phonesWithHistory (): Promise<{ old: Ferry, code: PairingCode, qr: string, events: FerryEvent[], offered: Promise<unknown> }> {
    const old = await createFerry(tempDir('qr-old-'), { listen, memory: false })
    phones.push(old)
    await fillStore(old.store, { conversations: 2, messagesPerConversation: 30, mediaSizes: [40_000] })
    const code = generateCode()
    const key = generateQrKey()
    const qr = buildQrPayload({ code, key, peerId: old.node.peerId.toString(), addrs: old.addresses().map(String) })
    const events: FerryEvent[] = []
    const offered = old.send({ code, qrKey: key, onEvent: e => { events.push(e) } })
    offered.catch(() => {})
    return { old, code, qr, events, offered }
  }

  it('three wrong guesses end typing, and the phone that scans still pairs and receives', async () => {
    const { old, code, qr, events, offered } = await phonesWithHistory()
    const addr = old.addresses()[0].toString()
    for (let i = 0; i < 3; i++) expect(await guessWrong(addr, old.node.peerId.toString(), code)).toBe(ErrorCode.WRONG_CODE)
    await until('the sender to say typing is spent', () => events.some(e => e.type === 'typed-code-spent'), 10_000)

    // The right code typed no longer pairs...
    const typing = await createFerry(tempDir('qr-typed-'), { listen, memory: false })
    phones.push(typing)
    await expect(typing.receive({ addrs: old.addresses(), code })).rejects.toSatisfy(e => isFerryError(e, ErrorCode.CODE_EXPIRED))

    // ...but the phone that scans the QR code does, and the history moves whole.
    const scanning = await createFerry(tempDir('qr-scanned-'), { listen, memory: false })
    phones.push(scanning)
    const scanned = parseQrPayload(qr)
    const got = await scanning.receive({ addrs: qrDialAddrs(scanned), code: scanned.code, qrKey: scanned.key })
    expect(got.progress.messages).toBe(60)
    await expect(offered).resolves.toBeDefined()
    expect(await exportText(scanning.store)).toBe(await exportText(old.store))
    expect(events.filter(e => e.type === 'typed-code-spent')).toHaveLength(1)
  })

  it('strangers holding scans with made-up keys in every connection slot do not keep the scanning phone out', async () => {
    // The slots protect a connection while its pairing runs, and only the code's three charged guesses
    // bounded how many could run. A scan is not charged, so a scan that anyone can begin would let eight
    // strangers (two each from four addresses) hold every slot for the whole pairing timeout and turn the
    // phone that scans away at the door: the very neighbour the QR key is there to defeat.
    const { old, code, qr, offered } = await phonesWithHistory()
    const addr = old.addresses()[0].toString()
    const sender = old.node.peerId.toString()
    const answers: Array<number | undefined> = []
    for (let i = 0; i < 8; i++) {
      const n = await hostNode(`127.0.0.${70 + (i >> 1)}`)
      nodes.push(n)
      const s = await openStream(n, addr, PAIR_PROTOCOL)
      // Even the right digits: a stranger who read the code off the screen still lacks the QR's key.
      const hs = new ReceiverHandshake({ code, qrKey: generateQrKey(), localPeerId: n.peerId.toString(), remotePeerId: sender })
      await s.write(hs.start().send)
      // Whatever the answer, the stranger says nothing more and keeps its stream open.
      answers.push((await s.next().catch(() => undefined))?.[1])
    }
    // Refused at once, before the sender spends a scalar multiplication on a key it can check for free.
    expect(answers).toEqual(Array(8).fill(MsgType.ABORT))
    const scanning = await createFerry(tempDir('qr-crowded-'), { listen, memory: false })
    phones.push(scanning)
    const scanned = parseQrPayload(qr)
    const got = await scanning.receive({ addrs: qrDialAddrs(scanned), code: scanned.code, qrKey: scanned.key, retryForMs: 10_000 })
    expect(got.progress.messages).toBe(60)
    await expect(offered).resolves.toBeDefined()
  })

  it('without a QR key the third wrong guess ends the offer, as before', async () => {
    const old = await createFerry(tempDir('qr-none-'), { listen, memory: false })
    phones.push(old)
    await fillStore(old.store, { conversations: 1, messagesPerConversation: 5, mediaSizes: [] })
    const code = generateCode()
    const offered = old.send({ code })
    offered.catch(() => {})
    for (let i = 0; i < 3; i++) await guessWrong(old.addresses()[0].toString(), old.node.peerId.toString(), code)
    await expect(offered).rejects.toSatisfy(e => isFerryError(e, ErrorCode.CODE_EXPIRED))
  })
})
