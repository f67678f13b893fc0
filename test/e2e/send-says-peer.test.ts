// `ferry send --no-mdns --no-sweep` can be found by nothing: the line it prints for the new phone must
// name where it listens, or the person runs a receive that looks for it in vain. Run as printed (the
// code typed is given with --code here), that line receives the history.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, exportStore, killAll, LOOPBACK, newStorePath, runFerry, seedStore, spawnFerry } from './helpers/ferry-cli.js'
import { until } from '../helpers/until.js'

const CODE = '161-8033-9887'

let source: string

beforeAll(async () => { source = await seedStore('tiny', 7) }, 120_000)
afterEach(async () => { await killAll() })
afterAll(() => cleanupTempDirs())

describe('ferry send with discovery off', () => {
  it('tells the new phone the --peer to dial, and that line receives', async () => {
    const sender = spawnFerry(['send', '--store', source, '--no-mdns', '--no-sweep', '--listen', LOOPBACK, '--code', CODE], { name: 'sender' })
    await until('the sender to say what to run', () => sender.stderr.includes('and type the code') || sender.exit !== undefined, 30_000)
    const line = /On the new phone run: {2}(ferry receive .*?) {3}and type the code/.exec(sender.stderr)?.[1]
    expect(line, sender.stderr).toMatch(/^ferry receive --store <dir> --no-mdns --peer \/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3Koo\w+$/)
    const target = newStorePath()
    const received = await runFerry([...line!.split(' ').slice(1).map(w => w === '<dir>' ? target : w), '--code', CODE])
    expect(received.code, received.stderr).toBe(0)
    expect((await sender.waitExit()).code, sender.describe()).toBe(0)
    expect(await exportStore(target)).toBe(await exportStore(source))
  })
})
