// The old phone's `ferry send` stopped with Ctrl-C mid-transfer and started again with the very same
// command line, as a person does from the shell's history: `--listen /ip4/127.0.0.1/tcp/0`, the
// README's line for two phones on one machine, with mDNS and the sweep off. The new phone redials the
// address it knows, so the restarted sender must listen there again, not on another free port.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  cleanupTempDirs, copyStore, exportStore, killAll, newStorePath, seedStore, senderReady, startReceiver, startSender
} from './helpers/ferry-cli.js'

const CODE = '577-2156-6490'

describe('ferry send stopped with Ctrl-C and run again with the same command line', () => {
  let source: string
  let sourceExport: string

  beforeAll(async () => {
    source = await seedStore('tiny')
    sourceExport = await exportStore(source)
  }, 120_000)
  afterEach(async () => { await killAll() })
  afterAll(() => cleanupTempDirs())

  it('listens where it did before, so the new phone resumes and both end verified', async () => {
    const store = copyStore(source)
    const target = newStorePath()
    // --timeout bounds how long the restarted sender waits for the new phone (a failure bound).
    const args = { listen: '/ip4/127.0.0.1/tcp/0', extra: ['--timeout', '60'] }
    const sender = startSender(store, { ...args, code: CODE })
    const ready = await senderReady(sender)
    // Held before its read-back: the old phone cannot have heard Verified when it is stopped.
    const receiver = startReceiver(target, { code: CODE, peer: ready.addr, extra: ['--no-sweep', '--timeout', '30'], env: { FERRY_TEST_HOLD_VERIFYING: '1' } })
    await receiver.waitEvent('manifest', 30_000)
    sender.child.kill('SIGINT')
    expect((await sender.waitExit()).code, sender.describe()).toBe(130)

    const again = startSender(store, { ...args, name: 'sender again' })
    const resuming = await again.waitEvent('resuming')
    expect(resuming.addrs, 'the same address as before').toEqual(sender.all('code')[0].addrs)
    receiver.child.kill('SIGUSR2')

    const [r, s] = await Promise.all([receiver.waitExit(60_000), again.waitExit(60_000)])
    expect(r.code, receiver.describe()).toBe(0)
    expect(s.code, again.describe()).toBe(0)
    expect((await receiver.waitEvent('verified')).unheard).toBeUndefined()
    expect(again.all('verified')).toHaveLength(1)
    expect(await exportStore(target)).toBe(sourceExport)
  }, 180_000)
})
