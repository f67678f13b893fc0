// `ferry send` and `ferry receive` stopped with Ctrl-C mid-transfer and run again as a person does: the
// very same command line from the shell's history, or the line the stopped command printed. Two phones
// on one machine, as the README runs them: loopback (`--listen /ip4/127.0.0.1/tcp/0`), mDNS and the
// sweep off. The new phone redials the address it knows, and nothing may start discovery.
import { spawn, spawnSync } from 'node:child_process'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  cleanupTempDirs, copyStore, exportStore, inspect, killAll, LOOPBACK, newStorePath, ROOT, seedStore, senderReady, spawnFerry, startReceiver,
  startSender, tcpPort, type FerryProcess
} from './helpers/ferry-cli.js'
import { until } from '../helpers/until.js'

const CODE = '577-2156-6490'

// One old phone's history for every case: each copies it.
let source: string
let sourceExport: string

beforeAll(async () => {
  source = await seedStore('tiny')
  sourceExport = await exportStore(source)
}, 120_000)
afterEach(async () => { await killAll() })

describe('ferry send stopped with Ctrl-C and run again with the same command line', () => {
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

  // Run again as given (--listen tcp/0), or as a person runs it again (where it listens is the pairing's to say).
  const runsAgain: Array<[string, string | undefined]> = [
    ['with --listen tcp/0, takes another free port when its old one was taken meanwhile, rather than fail on a port it was not given', '/ip4/127.0.0.1/tcp/0'],
    ['without --listen, takes another free port when its old one was taken meanwhile', undefined]
  ]
  for (const [what, listen] of runsAgain) {
    it(`run again ${what}`, async () => {
      const store = copyStore(source)
      const sender = startSender(store, { listen, code: CODE })
      const ready = await senderReady(sender)
      const receiver = startReceiver(newStorePath(), { code: CODE, peer: ready.addr, extra: ['--no-sweep'], env: { FERRY_TEST_HOLD_VERIFYING: '1' } })
      await receiver.waitEvent('manifest', 30_000)
      sender.child.kill('SIGINT')
      expect((await sender.waitExit()).code, sender.describe()).toBe(130)
      await receiver.kill9()

      const squatter = createServer()
      await new Promise<void>(resolve => squatter.listen(tcpPort(ready.addr), '127.0.0.1', resolve))
      try {
        const again = listen !== undefined
          ? startSender(store, { listen, name: 'sender again' })
          : spawnFerry(['send', '--store', store, '--no-mdns', '--no-sweep', '--json'], { name: 'sender again' })
        const resuming = await again.waitEvent('resuming')
        const addr = (resuming.addrs as string[])[0]
        expect(addr).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\//)
        expect(tcpPort(addr)).not.toBe(tcpPort(ready.addr))
      } finally {
        await new Promise(resolve => squatter.close(resolve))
      }
    }, 120_000)
  }
})

describe('ferry send and ferry receive stopped with Ctrl-C say the line that carries on', () => {
  it('with the options the run needed (loopback, no mDNS, no sweep) and without the code; run, they finish the transfer', async () => {
    const store = copyStore(source)
    const target = newStorePath()
    const sender = spawnFerry(['send', '--store', store, '--no-mdns', '--listen', LOOPBACK, '--code', CODE], { name: 'sender' })
    await until('the sender listens', () => /Listening on \S+/.test(sender.stderr), 30_000)
    const addr = /Listening on (\S+)/.exec(sender.stderr)![1]
    // Held before its read-back, so the transfer is unfinished when both are stopped.
    const receiver = spawnFerry(['receive', '--store', target, '--no-mdns', '--no-sweep', '--listen', LOOPBACK, '--code', CODE, '--peer', addr],
      { name: 'receiver', env: { FERRY_TEST_HOLD_VERIFYING: '1' } })
    await until('the phones paired', () => receiver.stderr.includes('paired with'), 30_000)
    receiver.child.kill('SIGINT')
    sender.child.kill('SIGINT')
    expect((await receiver.waitExit()).code, receiver.describe()).toBe(130)
    expect((await sender.waitExit()).code, sender.describe()).toBe(130)

    const carryOn = (p: FerryProcess): string => {
      const line = /Run (ferry \S+ .*?) again/.exec(p.stderr)?.[1]
      if (line === undefined) throw new Error(`no line to carry on with:\n${p.describe()}`)
      return line
    }
    const sendLine = carryOn(sender)
    const receiveLine = carryOn(receiver)
    expect(sendLine).toBe(`ferry send --store ${store} --no-mdns --listen ${LOOPBACK}`)
    expect(receiveLine).toBe(`ferry receive --store ${target} --no-mdns --no-sweep --listen ${LOOPBACK} --peer ${addr}`)

    // Run as printed, by a shell, with the guard that fails any discovery outside a namespace.
    const ferryFn = `ferry () { node ${JSON.stringify(join(ROOT, 'bin', 'ferry.js'))} "$@"; }; `
    const env = { ...process.env, FERRY_MDNS_NETNS_ONLY: '1' }
    const again = spawn('bash', ['-c', ferryFn + sendLine], { env, stdio: 'ignore' })
    const sentAgain = new Promise<number | null>(resolve => again.on('close', resolve))
    const received = spawnSync('bash', ['-c', ferryFn + receiveLine], { env, encoding: 'utf8', timeout: 60_000 })
    expect(received.status, received.stderr).toBe(0)
    expect(await sentAgain).toBe(0)
    expect(await exportStore(target)).toBe(sourceExport)
  }, 180_000)
})

// A `kill` (SIGTERM, as a service manager or `timeout` sends) is a stop like Ctrl-C, not an end with
// nothing said: each phone says how to carry on, exits 143, and what it holds stays for the run again.
describe('ferry send and ferry receive stopped with SIGTERM mid-transfer', () => {
  it('exit 143 and say so; the new phone keeps what arrived, the old one stays whole, and run again they finish', async () => {
    const store = copyStore(source)
    const target = newStorePath()
    const sender = startSender(store, { code: CODE, extra: ['--timeout', '60'] })
    const ready = await senderReady(sender)
    // Held once everything has arrived, before its read-back: the transfer is unfinished when stopped.
    const receiver = startReceiver(target, { code: CODE, peer: ready.addr, extra: ['--no-sweep', '--timeout', '30'], env: { FERRY_TEST_HOLD_VERIFYING: '1' } })
    const verifying = await receiver.waitEvent('verifying', 30_000)
    receiver.child.kill('SIGTERM')
    expect(await receiver.waitExit(), receiver.describe()).toEqual({ code: 143, signal: null })
    expect(receiver.all('stopped')).toHaveLength(1)
    expect(receiver.all('stopped')[0]).toMatchObject({ signal: 'SIGTERM' })
    expect(receiver.all('stopped')[0].message).toMatch(/^Stopped\. Run ferry receive .* again \(no code needed\) to carry on where it stopped\.$/)
    expect((await inspect(target)).stats.messages, 'what arrived stays').toBe(verifying.messages)

    sender.child.kill('SIGTERM')
    expect(await sender.waitExit(), sender.describe()).toEqual({ code: 143, signal: null })
    expect(sender.all('stopped')).toHaveLength(1)
    expect(sender.all('stopped')[0]).toMatchObject({ signal: 'SIGTERM' })
    expect(sender.all('stopped')[0].message).toMatch(/again to carry on: a phone already paired reconnects without a code\.$/)
    expect(await exportStore(store), 'the old phone whole').toBe(sourceExport)

    const again = startSender(store, { name: 'sender again', extra: ['--timeout', '60'] })
    const back = await senderReady(again)
    const resumed = startReceiver(target, { peer: back.addr, name: 'receiver again', extra: ['--no-sweep', '--timeout', '30'] })
    const [r, s] = await Promise.all([resumed.waitExit(60_000), again.waitExit(60_000)])
    expect(r.code, resumed.describe()).toBe(0)
    expect(s.code, again.describe()).toBe(0)
    expect(await exportStore(target)).toBe(sourceExport)
  }, 180_000)
})

describe('ferry send stopped with SIGHUP, its terminal gone', () => {
  it('tidies up without failing on the writes nobody reads, exits 129 and leaves the store whole', async () => {
    const store = copyStore(source)
    // For a person (no --json): its stop is said on stderr, as to a terminal.
    const sender = spawnFerry(['send', '--store', store, '--no-mdns', '--listen', LOOPBACK, '--code', CODE], { name: 'sender' })
    // Its last line before it waits for a phone: nothing more is written until the stop.
    await until('the sender offers its code', () => sender.stderr.includes('The code pairs a phone until'), 30_000)
    // The terminal closed: what the sender writes to stdout or stderr from now on fails (EPIPE, as EIO on a
    // terminal), while it still has its phone to close.
    sender.child.stdout?.destroy()
    sender.child.stderr?.destroy()
    sender.child.kill('SIGHUP')
    expect(await sender.waitExit()).toEqual({ code: 129, signal: null })
    expect(await exportStore(store)).toBe(sourceExport)
  }, 60_000)
})

afterAll(() => cleanupTempDirs())
