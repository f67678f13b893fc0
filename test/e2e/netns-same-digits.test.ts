// Two transfers in one room whose codes share the first three digits, against real `ferry send` and
// `ferry receive` processes in the namespace testbed. Multicast is dropped, so the receiver finds phones
// by the sweep alone; the other transfer's old phone started first on the same machine and took the first
// discovery port, and the sweep asks the first port of every host before any other: it is found first
// every time. (The library's side: test/net/same-digits.test.ts.)
import { randomInt } from 'node:crypto'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { checkNetnsSupport, createTestbed, type Phone, type Testbed } from '../../scripts/lib/netns.js'
import { cleanupTempDirs, copyStore, errorCode, exportStore, type FerryProcess, killAll, newStorePath, seedStore } from './helpers/ferry-cli.js'
import { receiverArgs, senderArgs, spawnFerryIn } from './helpers/netns-ferry.js'
import { DISCOVERY_PORTS } from '../../src/net/probe.js'

const support = await checkNetnsSupport()
if (!support.ok) {
  if (process.env.CI === 'true') throw new Error(`netns tests cannot run: ${support.reason ?? ''}`)
  console.warn(`SKIP netns same-digits tests: ${support.reason ?? ''}`)
}

const digits = (n: number): string => String(randomInt(10 ** (n - 1), 10 ** n))

describe.skipIf(!support.ok)('ferry receive when another transfer nearby shows the same first three digits', () => {
  let tb: Testbed
  let source: string
  let theirSource: string
  beforeAll(async () => {
    source = await seedStore('tiny', 7)
    theirSource = await seedStore('tiny', 11)
    tb = await createTestbed({ phones: 3 })
    for (const p of tb.phones) await tb.multicast(p, false)
  }, 120_000)
  afterEach(async () => { await killAll() })
  afterAll(async () => {
    await tb?.down()
    cleanupTempDirs()
  })

  /** An old phone on `phone`'s machine offering `code`, on discovery port `slot`. */
  async function sender (phone: Phone, store: string, code: string, slot: number, port: number, name: string): Promise<{ process: FerryProcess, peer: string }> {
    const p = spawnFerryIn(tb, phone, senderArgs(copyStore(store), { code, port }), name)
    const shown = await p.waitEvent('code', 30_000)
    expect(shown.discoveryPort, `${name} holds discovery port ${slot}`).toBe(DISCOVERY_PORTS[slot])
    return { process: p, peer: String(shown.peerId) }
  }

  it('the other transfer\'s phone is found first: the receiver says why it looks on, pairs with the old phone and verifies; the other pair still pairs', async () => {
    const [p1, p2, p3] = tb.phones
    const prefix = digits(3)
    const theirCode = `${prefix}-${digits(4)}-${digits(4)}`
    const code = `${prefix}-${digits(4)}-${digits(4)}`
    const theirs = await sender(p1, theirSource, theirCode, 0, 4102, 'their-old-phone')
    const old = await sender(p1, source, code, 1, 4103, 'old-phone')
    const target = newStorePath()
    // As a person runs it, without --json: what it says as it looks past the other transfer's phone.
    const receiver = spawnFerryIn(tb, p2, ['receive', '--store', target, '--code', code], 'receiver')
    const exit = await receiver.waitExit(120_000)
    expect(exit.code, receiver.describe()).toBe(0)
    expect((await old.process.waitExit(60_000)).code, old.process.describe()).toBe(0)
    expect(await exportStore(target) === await exportStore(source)).toBe(true)
    const lines = receiver.stderr.split('\n')
    expect(lines, receiver.describe()).toContain(`Found ${theirs.peer} by the sweep at ${p1.ip}`)
    const lookingOn = lines.indexOf('the phone that answered does not hold this code, and that counted as one try (2 tries of it left here): the digits may be mistyped, ' +
      `or it is another transfer's phone showing the same first three digits (${prefix}), so the search looks for another phone showing them...`)
    expect(lookingOn, receiver.describe()).toBeGreaterThan(-1)
    expect(lines.indexOf(`Found ${old.peer} by the sweep at ${p1.ip}`), receiver.describe()).toBeGreaterThan(lookingOn)
    expect(receiver.stderr).not.toContain(code)

    // The other old phone counted one failed attempt, and still pairs its own new phone with its code.
    expect(theirs.process.all('pair-failed'), theirs.process.describe()).toHaveLength(1)
    const theirTarget = newStorePath()
    const theirReceiver = spawnFerryIn(tb, p3, receiverArgs(theirTarget, { code: theirCode }), 'their-receiver')
    expect((await theirReceiver.waitExit(120_000)).code, theirReceiver.describe()).toBe(0)
    expect((await theirs.process.waitExit(60_000)).code, theirs.process.describe()).toBe(0)
    expect(await exportStore(theirTarget) === await exportStore(theirSource)).toBe(true)
  }, 300_000)

  it('with mDNS as well, whichever phone is found first, the receive verifies with the old phone and the other hears one guess at most', async () => {
    const [p1, p2] = tb.phones
    for (const p of tb.phones) await tb.multicast(p, true)
    try {
      const prefix = digits(3)
      const theirs = await sender(p1, theirSource, `${prefix}-${digits(4)}-${digits(4)}`, 0, 4102, 'their-old-phone')
      const code = `${prefix}-${digits(4)}-${digits(4)}`
      const old = await sender(p1, source, code, 1, 4103, 'old-phone')
      const target = newStorePath()
      const receiver = spawnFerryIn(tb, p2, receiverArgs(target, { code }), 'receiver')
      expect((await receiver.waitExit(120_000)).code, receiver.describe()).toBe(0)
      expect((await old.process.waitExit(60_000)).code, old.process.describe()).toBe(0)
      expect(await exportStore(target) === await exportStore(source)).toBe(true)
      // Found first, the other transfer's phone is set aside after one try; found second, it is never asked.
      const lookedOn = receiver.all('interrupted').filter(e => e.code === 'WRONG_CODE')
      expect(lookedOn.length, receiver.describe()).toBeLessThanOrEqual(1)
      expect(theirs.process.all('pair-failed'), theirs.process.describe()).toHaveLength(lookedOn.length)
    } finally {
      for (const p of tb.phones) await tb.multicast(p, false)
    }
  }, 300_000)

  it('a mistyped code with two phones showing its digits: each is tried once, and the receiver says two phones show them and what names the old phone', async () => {
    const [p1, p2] = tb.phones
    const prefix = digits(3)
    const theirs = await sender(p1, theirSource, `${prefix}-${digits(4)}-${digits(4)}`, 0, 4102, 'their-old-phone')
    const old = await sender(p1, source, `${prefix}-${digits(4)}-${digits(4)}`, 1, 4103, 'old-phone')
    const typo = `${prefix}-${digits(4)}-${digits(4)}`
    const receiver = spawnFerryIn(tb, p2, ['receive', '--store', newStorePath(), '--code', typo], 'receiver')
    const exit = await receiver.waitExit(120_000)
    expect(exit.code, receiver.describe()).toBe(1)
    expect(errorCode(receiver.stderr), receiver.describe()).toBe('WRONG_CODE')
    const end = receiver.stderr.split('\n').find(l => l.startsWith('ferry: '))
    expect(end, receiver.describe()).toContain(`2 phones nearby show codes starting ${prefix}, and none of the 2 that checked this code holds it: ` +
      'the digits may be mistyped, or the old phone is not among them; 1 try of this code left on this phone. ' +
      'To pair with the old phone alone, pass its QR code (--qr, the ferry:// line its ferry send prints) or an address from its \'Listening on\' line (--peer)')
    expect(end).not.toContain('check the digits.')
    expect(theirs.process.all('pair-failed')).toHaveLength(1)
    expect(old.process.all('pair-failed')).toHaveLength(1)
  }, 300_000)
})
