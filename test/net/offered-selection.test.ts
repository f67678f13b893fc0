import { describe, expect, it } from 'vitest'
import { stoppedAfterEach } from '../helpers/stopped.js'
import { createFerry, type Ferry } from '../../src/create-ferry.js'
import { ErrorCode, isFerryError } from '../../src/errors.js'
import type { FerryEvent } from '../../src/net/ferry-service.js'
import { generateCode } from '../../src/pairing/index.js'
import type { Selection } from '../../src/store/model.js'
import { fillStore, tempDir } from '../helpers/stores.js'

// An app's send with a selection that cannot move as asked is refused before the offer shows: found only
// once a new phone paired, it spent the code on a failure, or moved nothing and called it verified.

const listen = ['/ip4/127.0.0.1/tcp/0']

describe('an offer of a selection that cannot move as asked', () => {
  const { phones } = stoppedAfterEach()

  async function phone (): Promise<Ferry> {
    const p = await createFerry(tempDir('offered-selection-'), { listen, memory: false })
    phones.push(p)
    return p
  }

  const refusals: Array<[string, Selection, RegExp]> = [
    ['ends before it starts', { since: 5, until: 1 }, /^the selection's start must be before its end$/],
    ['names a chat the phone does not hold', { conversations: ['c0', 'chat-typo'] }, /^this phone holds no conversation 'chat-typo' \(it holds c-😀, c0\)$/],
    ['holds no message', { since: 1e15 }, /^no message on this phone is in the selection \(.*\): nothing to send$/],
    ['names its chats in a string, not a list', { conversations: 'c0' as unknown as string[] }, /^the selection's conversations must be a list of conversation ids$/]
  ]

  it.each(refusals)('one that %s is BAD_INPUT before it offers, and its code still pairs a phone', async (_, selection, words) => {
    const old = await phone()
    const fresh = await phone()
    await fillStore(old.store, { conversations: 2, messagesPerConversation: 20, mediaSizes: [] })
    const code = generateCode()
    const heard: Array<FerryEvent['type']> = []
    await expect(old.send({ code, selection, onEvent: e => { heard.push(e.type) } }))
      .rejects.toSatisfy(e => isFerryError(e, ErrorCode.BAD_INPUT) && words.test(e.message))
    expect(heard).toEqual([])
    // Nothing of the code was used: offered again with a selection that moves, it pairs the new phone.
    const offered = old.send({ code, selection: { conversations: ['c0'] } })
    const got = await fresh.receive({ addrs: old.addresses(), code })
    expect(got.summary).toEqual([{ id: 'c0', title: 'Chat 0', messages: 20 }])
    await expect(offered).resolves.toMatchObject({ messages: 20 })
    expect(fresh.store.stats().messages).toBe(20)
  })
})
