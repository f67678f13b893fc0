// What `ferry receive` reports a transfer did when its process was killed and started again: the
// whole transfer, not the session after the restart, which finds everything the killed one brought
// already here. Real `ferry send` / `ferry receive` processes on loopback.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  cleanupTempDirs, copyStore, exportStore, inspect, killAll, newStorePath, seedStore, senderReady, startReceiver, startSender
} from './helpers/ferry-cli.js'

const CODE = '603-2254-7108'

let source: string

beforeAll(async () => { source = await seedStore('tiny') }, 120_000)
afterEach(async () => { await killAll() })
afterAll(() => cleanupTempDirs())

describe('ferry receive killed and started again', () => {
  it('counts what the killed process brought as sent, once, and nothing as already here', async () => {
    const store = copyStore(source)
    const target = newStorePath()
    const sender = startSender(store, { code: CODE, extra: ['--timeout', '60'] })
    const ready = await senderReady(sender)
    // Held once everything has arrived, before the read-back: killed there, the new phone holds the
    // whole history and has verified none of it.
    const receiver = startReceiver(target, { code: CODE, peer: ready.addr, extra: ['--no-sweep'], env: { FERRY_TEST_HOLD_VERIFYING: '1' } })
    await receiver.waitEvent('verifying', 30_000)
    const senderMark = sender.events.length
    expect((await receiver.kill9()).signal).toBe('SIGKILL')
    await sender.waitEvent('interrupted', 20_000, senderMark)

    const again = startReceiver(target, { name: 'receiver (restarted)' }) // no --code, no --peer: its pairing record
    const [r, s] = await Promise.all([again.waitExit(60_000), sender.waitExit(60_000)])
    expect(r.code, again.describe()).toBe(0)
    expect(s.code, sender.describe()).toBe(0)
    const { stats: held } = await inspect(source)
    const verified = await again.waitEvent('verified')
    expect(verified.stats).toMatchObject({
      messagesSent: held.messages,
      messagesHeld: 0,
      mediaFilesSent: held.mediaPresent,
      mediaBytesSent: held.mediaBytesPresent,
      mediaFilesHeld: 0,
      mediaFilesMissing: held.mediaMissing
    })
    expect((verified.stats as { lastSessionOnly?: boolean }).lastSessionOnly).toBeUndefined()
    expect(await exportStore(target)).toBe(await exportStore(source))
  }, 180_000)
})
