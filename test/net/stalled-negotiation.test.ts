// libp2p bounds a stream's protocol negotiation only when it is given no signal of its own, and a
// receive always gives one (to cancel it): a phone that completes the connection and never echoes the
// protocol would hold the receive for good. The old phone itself can do that once (a stream lost on a
// bad link, its echo never sent): the receive must give that stream up and carry on. Real libp2p nodes
// on loopback. (A typed code's pairing stream: test/net/cutting-neighbour.test.ts.)
import type { Stream } from '@libp2p/interface'
import { describe, expect, it } from 'vitest'
import { createFerry, type Ferry } from '../../src/create-ferry.js'
import { TRANSFER_PROTOCOL } from '../../src/net/receive-transfer.js'
import type { FerryEvent } from '../../src/net/transfer-events.js'
import { parseCode } from '../../src/pairing/index.js'
import { echoes } from '../helpers/mss-echo.js'
import { stoppedAfterEach } from '../helpers/stopped.js'
import { exportText, fillStore, tempDir } from '../helpers/stores.js'

const listen = ['/ip4/127.0.0.1/tcp/0']
const CODE = parseCode('274-6183-5092')


describe('a stream whose protocol is never agreed does not hold the receive', () => {
  const { phones } = stoppedAfterEach()

  async function phoneAt (prefix: string): Promise<Ferry> {
    const p = await createFerry(tempDir(prefix), { listen, memory: false })
    phones.push(p)
    return p
  }

  it('the old phone\'s first transfer stream is never agreed: the receive gives it up, resumes and verifies', async () => {
    const old = await phoneAt('negotiate-old-')
    await fillStore(old.store, { conversations: 1, messagesPerConversation: 12, mediaSizes: [] })
    // The old phone's first transfer stream: everything it sends there, its echo of the protocol
    // first, is lost.
    let lost = 0
    old.node.addEventListener('connection:open', evt => {
      const muxer = (evt.detail as unknown as { muxer: EventTarget }).muxer
      muxer.addEventListener('stream', (e: Event) => {
        const stream = (e as CustomEvent<Stream>).detail
        const send = stream.send.bind(stream)
        let swallowing = false
        stream.send = data => {
          if (!swallowing && lost === 0 && echoes(data.subarray(), TRANSFER_PROTOCOL)) {
            swallowing = true
            lost++
          }
          return swallowing ? true : send(data)
        }
      })
    })
    const offered = old.send({ code: CODE })
    offered.catch(() => {})
    const phone = await phoneAt('negotiate-new-')
    const events: FerryEvent[] = []
    const got = await phone.receive({ addrs: old.addresses(), code: CODE, retryForMs: 30_000, onEvent: e => events.push(e) })
    expect(got.progress.messages).toBe(12)
    await expect(offered).resolves.toBeDefined()
    expect(await exportText(phone.store)).toBe(await exportText(old.store))
    expect(lost).toBe(1)
    const interrupted = events.flatMap(e => e.type === 'interrupted' ? [e.error] : [])
    expect(interrupted.map(e => e.message)).toEqual([expect.stringContaining('the other phone did not take the transfer stream within 10 s')])
    expect(interrupted[0].details).toMatchObject({ timedOut: true })
  })
})
