// After a resumed transfer both phones say what it moved, and say the same: the whole transfer, every
// session of it. The old phone's own last session found most of it on the new phone already; the new
// phone counts the transfer, and the old phone has its counts from the new phone's Verified. Real
// `ferry send` / `ferry receive` processes on loopback, the old phone killed mid-media and started
// again without the code, as a person whose phone died would.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  cleanupTempDirs, copyStore, inspect, killAll, LOOPBACK, newStorePath, NO_MDNS, seedStore, senderReady, spawnFerry, startSender, tcpPort
} from './helpers/ferry-cli.js'
import { until } from '../helpers/until.js'
import { formatBytes } from '../../src/format-bytes.js'

const CODE = '271-8281-8284'

let source: string
beforeAll(async () => { source = await seedStore('tiny', 7) }, 120_000)
afterEach(async () => { await killAll() })
afterAll(() => cleanupTempDirs())

/** The line a phone ends with: what the transfer moved ("N new messages, ..."). */
const summary = (stderr: string): string | undefined => /^\d[\d,]* new messages?, .*$/m.exec(stderr)?.[0]

describe('a transfer whose old phone was killed and started again', () => {
  it('ends with the same words on both phones: the whole transfer\'s counts', async () => {
    const store = copyStore(source)
    const target = newStorePath()
    // Paced, so that the kill lands in the media.
    const first = startSender(store, { code: CODE, extra: ['--max-rate', '0.5'] })
    const ready = await senderReady(first)
    // The new phone as a person runs it: lines, not JSON.
    const receiver = spawnFerry(['receive', '--store', target, NO_MDNS, '--no-sweep', '--listen', LOOPBACK, '--code', CODE, '--peer', ready.addr])
    await first.waitFor('the old phone part way into the media', e => e.event === 'progress' && (e.mediaBytes as number) > 0 && (e.mediaBytes as number) < (e.totalMediaBytes as number), 30_000)
    expect((await first.kill9()).signal).toBe('SIGKILL')
    await until('the new phone to see the link drop', () => receiver.stderr.includes('the link to the old phone dropped'), 20_000)
    const committed = await inspect(target)
    expect(committed.stats.messages).toBeGreaterThan(0)

    // Started again without the code, on the port it had: the new phone dials it with its resume token.
    const again = spawnFerry(['send', '--store', store, NO_MDNS, '--listen', `/ip4/127.0.0.1/tcp/${tcpPort(ready.addr)}`], { name: 'sender (restarted)' })
    const [r, s] = await Promise.all([receiver.waitExit(60_000), again.waitExit(60_000)])
    expect(r.code, receiver.describe()).toBe(0)
    expect(s.code, again.describe()).toBe(0)
    expect(again.stderr).toMatch(/reconnected to .* \(resume token\)/)

    const { stats } = await inspect(source)
    const whole = `${stats.messages.toLocaleString('en-US')} new messages, ${stats.mediaPresent.toLocaleString('en-US')} new media files (${formatBytes(stats.mediaBytesPresent)})` +
      (stats.mediaMissing === 0 ? '' : `, ${stats.mediaMissing} media files the old phone no longer has (their messages came without them)`)
    expect(summary(receiver.stderr), receiver.stderr).toBe(whole)
    expect(summary(again.stderr), again.stderr).toBe(whole)
  }, 120_000)
})
