// A `ferry receive` whose old phone vanished mid-transfer (killed, its battery out) gives up after
// --timeout. What arrived stays in its store, paired, so the person must hear that, and how to carry on:
// the line it prints, run once `ferry send` runs again there, finishes the transfer. Real processes; the
// receiver reaches the sender through a pacing relay so the kill lands in the media on any machine.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  cleanupTempDirs, copyStore, errorCode, exportStore, inspect, killAll, newStorePath, runFerry, seedStore, senderReady,
  startReceiver, startSender, tcpPort
} from './helpers/ferry-cli.js'
import { ThrottleProxy } from './helpers/throttle-proxy.js'

const CODE = '271-8281-8284'
/** The tiny profile's 1.5 MB of media then takes a few seconds, with progress every 0.5 s. */
const BYTES_PER_SEC = 300_000

let source: string
let sourceExport: string
const proxies: ThrottleProxy[] = []

beforeAll(async () => {
  source = await seedStore('tiny', 5)
  sourceExport = await exportStore(source)
}, 120_000)
afterEach(async () => {
  await killAll()
  for (const p of proxies.splice(0)) await p.close()
})
afterAll(() => cleanupTempDirs())

describe('a receive that gives up on an old phone gone mid-transfer', () => {
  it('says what arrived is kept and the command that carries on, and that command does', async () => {
    const store = copyStore(source)
    const target = newStorePath()
    const sender = startSender(store, { code: CODE })
    const ready = await senderReady(sender)
    const proxy = await ThrottleProxy.start(tcpPort(ready.addr), BYTES_PER_SEC)
    proxies.push(proxy)
    const receiver = startReceiver(target, { code: CODE, peer: proxy.addr(ready.peerId), extra: ['--timeout', '2'] })
    const manifest = await receiver.waitEvent('manifest', 30_000)
    const total = manifest.totalMediaBytes as number
    await receiver.waitFor('progress into the media', e => e.event === 'progress' && (e.mediaBytes as number) > 0 && (e.mediaBytes as number) < total, 30_000)
    await sender.kill9()

    const gaveUp = await receiver.waitExit(60_000)
    expect(gaveUp.code, receiver.describe()).toBe(1)
    expect(errorCode(receiver.stderr), receiver.stderr).toBe('NO_PEER')
    const carryOn = /What arrived is kept here: once ferry send runs again on the old phone, run (ferry receive --store .*) \(no code needed\) to carry on \[NO_PEER\]$/m.exec(receiver.stderr)
    expect(carryOn, receiver.stderr).not.toBeNull()
    const line = carryOn![1]
    expect(line).not.toContain(CODE)
    // It is so: the messages are here, and the media part-way.
    const held = await inspect(target)
    expect(held.stats.messages).toBeGreaterThan(0)
    expect(held.stats.mediaBytesPresent + held.partialMedia.reduce((n, p) => n + p.length, 0)).toBeLessThan(total)

    // The old phone runs again (no code: it waits for the phone it paired with), then the line said.
    const again = startSender(store)
    await senderReady(again)
    const words = line.split(' ').slice(1)
    expect(words.every(w => !/['"\\]/.test(w)), line).toBe(true)
    const resumed = await runFerry(words, 60_000)
    expect(resumed.code, resumed.stderr).toBe(0)
    expect((await again.waitExit(30_000)).code, again.describe()).toBe(0)
    expect(await exportStore(target)).toBe(sourceExport)
  })
})
