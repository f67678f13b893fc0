import { describe, expect, it } from 'vitest'
import { stoppedAfterEach } from '../helpers/stopped.js'
import { createFerry, type Ferry } from '../../src/create-ferry.js'
import { ErrorCode, isFerryError } from '../../src/errors.js'
import { generateCode } from '../../src/pairing/index.js'
import { fillStore, putWithPlaces, tempDir } from '../helpers/stores.js'

// A phone receives one history at a time: a receive owns its journal while it runs (the transfer's undo
// log, partial files, the pairing record). A second receive begun meanwhile, from another phone, undid
// the first's unverified writes as its own transfer opened, and the first then failed as if the store
// were damaged. It is refused at once instead, touching nothing, and the first goes on to verify.

const listen = ['/ip4/127.0.0.1/tcp/0']

describe('two receives on one phone at once', () => {
  const { phones } = stoppedAfterEach()

  async function phone (name: string): Promise<Ferry> {
    const p = await createFerry(tempDir(`${name}-`), { listen, memory: false })
    phones.push(p)
    return p
  }

  it('the second is refused with STORE_BUSY naming the phone of the first, which verifies', async () => {
    const a = await phone('a')
    await fillStore(a.store, { conversations: 3, messagesPerConversation: 100, mediaSizes: [256 * 1024] })
    const x = await phone('x')
    putWithPlaces(x.store, Array.from({ length: 20 }, (_, i) => ({ conversation: 'x0', id: `x${i}`, sender: 'me', ts: 1_600_000_000_000 + i, kind: 'text' as const, text: `x ${i}` })))
    const n = await phone('n')
    const ca = generateCode()
    const cx = generateCode()
    const sentA = a.send({ code: ca })
    const sentX = x.send({ code: cx })
    // Begun once the first has its manifest: its transfer is open, nothing of it verified yet.
    let second: Promise<unknown> | undefined
    const first = await n.receive({
      addrs: a.addresses(),
      code: ca,
      onEvent: e => {
        if (e.type === 'manifest' && second === undefined) second = n.receive({ addrs: x.addresses(), code: cx }).then(() => 'verified', (err: unknown) => err)
      }
    })
    expect(first.progress.messages).toBe(300)
    await expect(sentA).resolves.toMatchObject({ totalMessages: 300 })
    const refused = await second
    expect(refused).toSatisfy(e => isFerryError(e, ErrorCode.STORE_BUSY))
    expect((refused as Error).message).toBe(`this phone is already receiving (from ${a.node.peerId.toString()}): one receive at a time writes its ` +
      'history; wait for that one to finish, or cancel it (its signal, or stop()), then receive again')
    expect(n.store.stats().messages).toBe(300)
    // The refusal dialled nothing and spent no try of X's code: once the first is done, it pairs.
    const fromX = await n.receive({ addrs: x.addresses(), code: cx })
    expect(fromX.progress.messages).toBe(20)
    await expect(sentX).resolves.toMatchObject({ totalMessages: 20 })
    expect(n.store.stats().messages).toBe(320)
  }, 120_000)
})
