import { enable } from '@libp2p/logger'
import { describe, expect, it } from 'vitest'
import { loggedPhones } from '../helpers/logged-phones.js'
import { until } from '../helpers/until.js'
import { generateCode } from '../../src/pairing/index.js'
import { fillStore } from '../helpers/stores.js'

// An app's onEvent that fails on `verified` comes after the transfer is done: it ends nothing (a
// CANCELLED there would tell the app a verified history failed, and it would move it again), and is
// not swallowed either: each phone logs it as an error, under its own logger, whenever it fails.

const listen = ['/ip4/127.0.0.1/tcp/0']

describe('an onEvent handler that fails on verified', () => {
  const { phone, captureStderr, stopCapture } = loggedPhones(listen)

  it('throwing, or rejecting after the transfer resolved: both phones resolve verified, and each logs the error', async () => {
    enable('old:ferry:service:error,new:ferry:service:error')
    const lines = captureStderr()
    const old = await phone('old')
    const fresh = await phone('new')
    await fillStore(old.store, { conversations: 2, messagesPerConversation: 30, mediaSizes: [] })
    const code = generateCode()
    const offered = old.send({ code, onEvent: e => { if (e.type === 'verified') throw new Error('the done screen is not mounted') } })
    // The new phone's handler fails only once the receive has resolved: however late, it is heard.
    let received!: () => void
    const resolved = new Promise<void>(resolve => { received = resolve })
    const got = await fresh.receive({
      addrs: old.addresses(),
      code,
      onEvent: async e => {
        if (e.type !== 'verified') return
        await resolved
        throw new Error('the backup of the new history failed')
      }
    })
    received()
    expect(got.progress.messages).toBe(60)
    await expect(offered).resolves.toMatchObject({ messages: 60, totalMessages: 60 })
    expect(fresh.store.stats().messages).toBe(60)

    const said = (phoneName: string, how: string, why: string): boolean => lines.some(l =>
      l.includes(`${phoneName}:ferry:service:error the app's onEvent handler ${how} on 'verified': ${why} (the transfer is verified all the same)`))
    await until('the new phone to log its handler\'s late rejection', () => said('new', 'rejected', 'the backup of the new history failed'))
    expect(said('old', 'threw', 'the done screen is not mounted')).toBe(true)
    stopCapture()
    // The code paired a phone and the offer ended verified: a phone that comes with it hears it was used.
    const late = await phone('late')
    await expect(late.receive({ addrs: old.addresses(), code })).rejects.toMatchObject({ code: 'CODE_EXPIRED' })
  })
})
