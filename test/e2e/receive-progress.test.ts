// `ferry receive` on a terminal: a transfer moves every message, then the media. One bar weighing both
// sat at 0% while thousands of messages came in (they weigh little beside a phone's videos), so the bar
// counts the messages until all are in, then the media's bytes, each bar moving only forward. A real
// sender and a real receiver on loopback, the receiver on a pseudo-terminal as a person runs it.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, copyStore, killAll, LOOPBACK, newStorePath, NO_MDNS, seedStore, senderReady, startSender } from './helpers/ferry-cli.js'
import { cannotRun } from '../helpers/cannot-run.js'
import { barRenders, noTerminal, onTerminal } from '../helpers/terminal.js'

const skip = cannotRun('the receive progress test', noTerminal)
const CODE = '161-8033-9887'

let source: string
beforeAll(async () => { source = await seedStore('tiny', 5) }, 60_000)
afterEach(async () => { await killAll() })
afterAll(() => cleanupTempDirs())

const percent = (render: string): number => Number(/ (\d+)% \|/.exec(render)?.[1])
const fraction = (render: string): [number, number] => {
  const m = / (\d+)\/(\d+) msgs \|/.exec(render)
  return [Number(m?.[1]), Number(m?.[2])]
}

describe('ferry receive on a terminal', () => {
  it.skipIf(skip)('shows the messages coming in, full once all are in, then the media', async () => {
    const sender = startSender(copyStore(source), { code: CODE })
    const ready = await senderReady(sender)
    const t = onTerminal(['receive', '--store', newStorePath(), NO_MDNS, '--listen', LOOPBACK, '--code', CODE, '--peer', ready.addr])
    try {
      expect(await t.closed, t.output()).toBe(0)
    } finally {
      if (t.child.exitCode === null) t.child.kill()
    }
    expect((await sender.waitExit(30_000)).code, sender.describe()).toBe(0)
    const output = t.output()
    const messages = barRenders(output, 'receiving messages')
    const media = barRenders(output, 'receiving media')
    expect(messages.length, output).toBeGreaterThan(0)
    // Its percentage is the messages'.
    for (const r of messages) {
      const [done, total] = fraction(r)
      expect(percent(r), r).toBe(Math.floor(done / total * 100))
    }
    const [, total] = fraction(messages[0])
    expect(total).toBe(300)
    expect(messages.at(-1)).toContain(`100% | ${total}/${total} msgs |`)
    expect(messages.map(percent)).toEqual(messages.map(percent).sort((a, b) => a - b))
    // Full before the line that says the chats can be opened; the media's bar after it, from its start.
    const said = output.indexOf(`all ${total} messages are in`)
    expect(said).toBeGreaterThan(output.lastIndexOf('receiving messages'))
    expect(media.length, output).toBeGreaterThan(0)
    expect(output.indexOf('receiving media')).toBeGreaterThan(said)
    expect(media.at(-1)).toContain('100% |')
    expect(output).toMatch(/Verified: 300 messages/)
  }, 60_000)
})
