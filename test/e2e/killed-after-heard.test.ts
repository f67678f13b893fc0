// The new phone's `ferry receive` killed in a second transfer just after the old phone heard Verified
// (it hung up, and its `ferry send` ended verified), before the new phone itself said verified. Started
// again without a code, the new phone must know that the old phone heard: there is nobody left to tell
// and nothing to resume, and it says so at once. It must not take the old phone, gone for good, for one
// that may still wait to hear, and wait out the time it gives such a phone: here that time (--timeout,
// FERRY_TEST_TELL_AGAIN_MS) is ten minutes, so a restart that waited would fail this test, not slow it.
// Real processes over TCP on loopback.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  cleanupTempDirs, copyStore, exportStore, inspect, killAll, newStorePath, senderReady, startReceiver, startSender
} from './helpers/ferry-cli.js'
import { killFixture, useFixturePhone, type KillFixtureShape } from './helpers/kill-fixture.js'

const SHAPE: KillFixtureShape = { messages: 400, textBytes: 300, mediaFiles: 2, mediaBytes: 300_000 }
const FIRST_CODE = '161-8033-9887'
const SECOND_CODE = '141-4213-5623'
const TEN_MINUTES_S = 600

describe('ferry receive killed after the old phone heard Verified', () => {
  let fixture: string
  beforeAll(async () => { fixture = await killFixture(SHAPE) }, 120_000)
  afterEach(async () => { await killAll() })
  afterAll(() => cleanupTempDirs())

  it('started again without a code, it says at once that the history is verified and leaves the old phone alone', async () => {
    // A first transfer, verified; then the old phone is used (new and edited messages, a new chat, a video).
    const store = copyStore(fixture)
    const target = newStorePath()
    const first = startSender(store, { code: FIRST_CODE, name: 'first sender' })
    const firstReceiver = startReceiver(target, { code: FIRST_CODE, peer: (await senderReady(first)).addr, extra: ['--no-sweep'], name: 'first receiver' })
    const [r1, s1] = await Promise.all([firstReceiver.waitExit(60_000), first.waitExit(60_000)])
    expect(r1.code, firstReceiver.describe()).toBe(0)
    expect(s1.code, first.describe()).toBe(0)
    await useFixturePhone(store, SHAPE, 40)

    // The second transfer, held once the old phone hung up after Verified.
    const sender = startSender(store, { code: SECOND_CODE })
    const ready = await senderReady(sender)
    const receiver = startReceiver(target, { code: SECOND_CODE, peer: ready.addr, extra: ['--no-sweep'], env: { FERRY_TEST_HOLD_HEARD: '1' } })
    await receiver.waitEvent('held', 60_000)
    expect((await sender.waitExit(30_000)).code, sender.describe()).toBe(0)
    const heard = await sender.waitEvent('verified')
    expect((heard.stats as { messagesHeld: number }).messagesHeld, 'a second transfer: the new phone held most of it').toBeGreaterThan(0)
    expect((await receiver.kill9()).signal).toBe('SIGKILL')
    expect(receiver.all('verified'), 'killed before it said verified').toEqual([])

    // Started again as a person would after the phone died: the same command, without the code.
    const again = startReceiver(target, {
      peer: ready.addr,
      name: 'receiver (again)',
      extra: ['--no-sweep', '--timeout', String(TEN_MINUTES_S)],
      env: { FERRY_TEST_TELL_AGAIN_MS: String(TEN_MINUTES_S * 1000) }
    })
    const exit = await again.waitExit(60_000)
    expect(again.all('interrupted'), `it does not look for the old phone: ${again.describe()}`).toEqual([])
    expect(exit.code, again.describe()).toBe(2)
    expect(again.stderr).toMatch(/^ferry: no pairing code \(the history received .+ is verified; there is nothing to resume\): pass --code .*\[BAD_INPUT\]$/m)

    // The new phone holds the old phone's whole history, verified, and neither phone keeps the pairing.
    const report = await inspect(target)
    expect(report.pairing).toBeUndefined()
    expect(report.transfers).toEqual([])
    expect((await inspect(store)).pairing).toBeUndefined()
    const received = await exportStore(target)
    expect(received === await exportStore(store), 'the new phone\'s export differs from the old phone\'s').toBe(true)
  }, 180_000)
})
