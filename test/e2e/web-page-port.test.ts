// `ferry send --web` stopped and run again to resume: the browser keeps what it received, and the
// pairing it resumes by, in storage that belongs to the page's origin (the old phone's address and the
// page's port). So the page comes back on the port it had when the new phone paired. Loopback only,
// mDNS and the sweep off; the new phone here is `ferry receive` over TCP (the browser's side of it:
// test/browser/browser-phone.test.ts).
import { createServer } from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, copyStore, killAll, newStorePath, seedStore, senderReady, spawnFerry, startReceiver, startSender, type FerryProcess } from './helpers/ferry-cli.js'

const CODE = '577-2156-6490'
const LISTEN = '/ip4/127.0.0.1/udp/0/webrtc-direct,/ip4/127.0.0.1/tcp/0'
const WEB = ['--web', '--web-port', '0', '--no-sweep']

let source: string
beforeAll(async () => { source = await seedStore('tiny') }, 120_000)
afterEach(async () => { await killAll() })
afterAll(() => { cleanupTempDirs() })

/** An old phone serving the page on any free port, paired by a new phone and stopped with Ctrl-C mid-transfer. */
async function pairedAndStopped (): Promise<{ store: string, page: URL, receiver: FerryProcess }> {
  const store = copyStore(source)
  const sender = startSender(store, { listen: LISTEN, code: CODE, extra: WEB })
  const ready = await senderReady(sender)
  const page = new URL(String((await sender.waitEvent('code')).page))
  // Held before its read-back: the transfer is unfinished when the old phone stops.
  const receiver = startReceiver(newStorePath(), { code: CODE, peer: ready.addr, extra: ['--no-sweep'], env: { FERRY_TEST_HOLD_VERIFYING: '1' } })
  await receiver.waitEvent('manifest', 30_000)
  sender.child.kill('SIGINT')
  expect((await sender.waitExit()).code, sender.describe()).toBe(130)
  return { store, page, receiver }
}

describe('ferry send --web run again to resume', () => {
  it('serves the page on the port it had when the new phone paired', async () => {
    const { store, page, receiver } = await pairedAndStopped()
    const again = startSender(store, { listen: LISTEN, extra: WEB, name: 'sender again' })
    const resuming = await again.waitEvent('resuming')
    expect(new URL(String(resuming.page)).origin).toBe(page.origin)
    expect(again.all('page-moved')).toEqual([])
    expect((await fetch(page.origin)).status).toBe(200)
    receiver.child.kill('SIGUSR2')
    const [r, s] = await Promise.all([receiver.waitExit(60_000), again.waitExit(60_000)])
    expect(r.code, receiver.describe()).toBe(0)
    expect(s.code, again.describe()).toBe(0)
  }, 180_000)

  it('takes another free port when that one was taken meanwhile, and says the browser holds nothing there', async () => {
    const { store, page, receiver } = await pairedAndStopped()
    await receiver.kill9()
    const squatter = createServer()
    await new Promise<void>(resolve => squatter.listen(Number(page.port), '127.0.0.1', resolve))
    try {
      const again = startSender(store, { listen: LISTEN, extra: WEB, name: 'sender again' })
      const resuming = await again.waitEvent('resuming')
      const now = new URL(String(resuming.page))
      expect(now.port).not.toBe(page.port)
      expect(again.all('page-moved')).toMatchObject([{ was: page.origin + '/', page: now.href }])
      // Said in words too, without --json: it waits a second for the new phone and ends, having said it.
      again.child.kill('SIGINT')
      await again.waitExit()
      const words = spawnFerry(['send', '--store', store, '--no-mdns', '--listen', LISTEN, ...WEB, '--timeout', '1'], { name: 'sender in words' })
      expect((await words.waitExit()).code, words.describe()).toBe(1)
      expect(words.stderr).toContain(`The browser phone was served on port ${page.port} when the new phone paired, and that port is taken now`)
      expect(words.stderr).toContain(`free port ${page.port} and run ferry send again`)
    } finally {
      await new Promise(resolve => squatter.close(resolve))
    }
  }, 180_000)
})
