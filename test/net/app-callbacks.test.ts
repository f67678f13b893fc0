// A receive takes functions of the app's beside onEvent: a `route` and a `search` it awaits for where
// to dial, hooks it awaits as the transfer runs, `freeBytes`. An app's bug in one of them must not
// pass for something else: thrown into the receive as it was, a route's read as a dropped link (the
// receive redialled for `retryForMs`, then said NO_PEER with "undefined" for a reason), a hook's as
// the store failing (STORE, the old phone told so), a search's as no other phone nearby. Each ends
// the receive at once with CANCELLED naming the function, its error the `cause`, what arrived kept
// for a receive without the code. Real libp2p nodes on loopback, real SQLite stores.
import { enable } from '@libp2p/logger'
import { describe, expect, it } from 'vitest'
import { ErrorCode } from '../../src/errors.js'
import { TriedCodes } from '../../src/journal/tried-codes.js'
import type { FerryEvent } from '../../src/net/transfer-events.js'
import { generateCode, parseCode } from '../../src/pairing/index.js'
import { startImpostor } from '../e2e/helpers/impostor.js'
import { failure, interruptions } from '../helpers/failure.js'
import { loggedPhones } from '../helpers/logged-phones.js'
import { stoppedAfterEach } from '../helpers/stopped.js'
import { fillStore } from '../helpers/stores.js'
import type { Ferry } from '../../src/create-ferry.js'

const listen = ['/ip4/127.0.0.1/tcp/0']
const MESSAGES = 40

describe('an app function a receive awaits', () => {
  const { phone, captureStderr, stopCapture } = loggedPhones(listen)
  const { nodes } = stoppedAfterEach()

  async function oldPhone (): Promise<Ferry> {
    const p = await phone('old')
    await fillStore(p.store, { conversations: 2, messagesPerConversation: MESSAGES / 2, mediaSizes: [2_000] })
    return p
  }

  it('a route that throws ends the receive with CANCELLED naming it, without redialling; the receive carries on once mended', async () => {
    const old = await oldPhone()
    const fresh = await phone('new')
    const code = generateCode()
    const offered = old.send({ code })
    const bug = new TypeError('cannot read properties of undefined (reading \'host\')')
    const events: FerryEvent[] = []
    const ended = await failure(fresh.receive({ addrs: old.addresses(), code, retryForMs: 60_000, onEvent: e => events.push(e), route: async () => { throw bug } }))
    expect(ended.code).toBe(ErrorCode.CANCELLED)
    expect(ended.message).toBe('the app\'s route rejected: cannot read properties of undefined (reading \'host\')')
    expect(ended.cause).toBe(bug)
    expect(interruptions(events), 'a route\'s bug is no dropped link to redial').toEqual([])
    // Nothing was dialled, so the code's try is not spent: the same code pairs once the app is mended.
    await expect(fresh.receive({ addrs: old.addresses(), code })).resolves.toMatchObject({ progress: { messages: MESSAGES } })
    await expect(offered).resolves.toMatchObject({ totalMessages: MESSAGES })
  })

  it('a hook that throws is not the store failing: CANCELLED naming it, and what arrived stays for a receive without the code', async () => {
    const old = await oldPhone()
    const fresh = await phone('new')
    const code = generateCode()
    const offered = old.send({ code })
    const bug = new Error('the pause screen is gone')
    const ended = await failure(fresh.receive({ addrs: old.addresses(), code, beforeVerifying: async () => { throw bug } }))
    expect(ended.code).toBe(ErrorCode.CANCELLED)
    expect(ended.message).toBe('the app\'s beforeVerifying hook rejected: the pause screen is gone')
    expect(ended.cause).toBe(bug)
    expect(fresh.store.stats().messages, 'what arrived stays').toBe(MESSAGES)
    // The old phone heard a cancel, not a broken store: its offer waits for the new phone to resume.
    await expect(fresh.receive({ addrs: old.addresses() })).resolves.toMatchObject({ progress: { messages: MESSAGES } })
    await expect(offered).resolves.toMatchObject({ totalMessages: MESSAGES })
    expect(fresh.store.stats()).toMatchObject({ messages: MESSAGES, mediaPresent: old.store.stats().mediaPresent })
  })

  it('a hook that throws once the old phone heard ends nothing: the receive resolves verified, and the error is logged', async () => {
    enable('new:ferry:service:error')
    const lines = captureStderr()
    const old = await oldPhone()
    const fresh = await phone('new')
    const code = generateCode()
    const offered = old.send({ code })
    const got = await fresh.receive({ addrs: old.addresses(), code, afterHeard: async () => { throw new Error('the done screen is not mounted') } })
    stopCapture()
    expect(got.progress.messages).toBe(MESSAGES)
    await expect(offered).resolves.toMatchObject({ totalMessages: MESSAGES })
    expect(lines.some(l => l.includes('new:ferry:service:error the app\'s afterHeard hook rejected: the done screen is not mounted (the transfer is verified all the same)'))).toBe(true)
  })

  it('a freeBytes that fails leaves the space unchecked, as a file system that cannot say: the transfer verifies, and the failure is logged', async () => {
    enable('new:ferry:receiver:error')
    const lines = captureStderr()
    const old = await oldPhone()
    const fresh = await phone('new')
    const code = generateCode()
    const offered = old.send({ code })
    const got = await fresh.receive({ addrs: old.addresses(), code, freeBytes: async () => { throw new Error('statfs: permission denied') } })
    stopCapture()
    expect(got.progress.messages).toBe(MESSAGES)
    await expect(offered).resolves.toMatchObject({ totalMessages: MESSAGES })
    expect(lines.some(l => l.includes('new:ferry:receiver:error freeBytes failed, the free space is not checked before the media: statfs: permission denied'))).toBe(true)
  })

  it('a search whose find throws is not "no other phone nearby": CANCELLED naming it, no try of the code spent', async () => {
    const code = parseCode('647-2093-5518')
    // A neighbour showing the code's first digits refuses it at once: the receive asks the search for another phone.
    const fake = await startImpostor('647-0000-0001', { refuseAtOnce: ErrorCode.CODE_EXPIRED })
    nodes.push(fake.node)
    const fresh = await phone('new')
    const bug = new RangeError('invalid subnet mask')
    const events: FerryEvent[] = []
    const ended = await failure(fresh.receive({ addrs: [fake.addr], code, onEvent: e => events.push(e), search: { find: async () => { throw bug } } }))
    expect(ended.code).toBe(ErrorCode.CANCELLED)
    expect(ended.message).toBe('the app\'s search.find rejected: invalid subnet mask')
    expect(ended.cause).toBe(bug)
    // The refusal was heard and said before the search was asked.
    expect(interruptions(events).map(e => e.details?.unproved)).toEqual([true])
    expect(await new TriedCodes(fresh.journal).load(code)).toBeUndefined()
  })
})
