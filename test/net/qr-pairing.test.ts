import { afterEach, describe, expect, it } from 'vitest'
import { createFerry, type Ferry } from '../../src/create-ferry.js'
import { ErrorCode, isFerryError } from '../../src/errors.js'
import type { FerryEvent } from '../../src/net/ferry-service.js'
import { PAIR_PROTOCOL } from '../../src/net/pair-stream.js'
import type { FerryNode } from '../../src/net/node.js'
import { buildQrPayload, generateCode, generateQrKey, parseCode, parseQrPayload, qrDialAddrs, ReceiverHandshake, type PairingCode } from '../../src/pairing/index.js'
import { openStream, rawNode } from '../e2e/helpers/raw-peer.js'
import { cleanupTempDirs, exportText, fillStore, tempDir } from '../helpers/stores.js'
import { until } from '../helpers/until.js'

// A neighbour on the LAN can burn a typed code: three wrong guesses end it. The QR code shown beside it
// carries a key no one can guess, so the phone that scans it still pairs and receives the history.

const listen = ['/ip4/127.0.0.1/tcp/0']

describe('pairing by the QR code, with a neighbour guessing', () => {
  const phones: Ferry[] = []
  const nodes: FerryNode[] = []
  afterEach(async () => {
    for (const p of phones.splice(0)) await p.stop().catch(() => {})
    for (const n of nodes.splice(0)) await Promise.resolve(n.stop()).catch(() => {})
    cleanupTempDirs()
  })

  /** A stranger's wrong guess, over a connection of its own, to its end. */
  async function guessWrong (addr: string, sender: string, code: PairingCode): Promise<string | undefined> {
    const stranger = await rawNode()
    nodes.push(stranger)
    const s = await openStream(stranger, addr, PAIR_PROTOCOL)
    const wrong = parseCode(`${code.nameplate}-${code.secret === '00000000' ? '00000001' : '00000000'}`)
    const hs = new ReceiverHandshake({ code: wrong, localPeerId: stranger.peerId.toString(), remotePeerId: sender })
    await s.write(hs.start().send)
    const step = hs.onMessage((await s.next())!)
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
