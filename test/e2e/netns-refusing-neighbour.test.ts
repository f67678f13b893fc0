// A neighbour that shows the code's first three digits and refuses the code at once, against real
// `ferry send` and `ferry receive` processes in the namespace testbed. Multicast is dropped, so the
// receiver finds phones by the sweep alone; the neighbour runs on the sender's machine and took the
// first discovery port before it, and the sweep asks the first port of every host before any other:
// the neighbour is found first every time. (The library's side: test/net/unproved-refusal.test.ts.)
import { randomInt } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { checkNetnsSupport, createTestbed, type Phone, type Testbed } from '../../scripts/lib/netns.js'
import { cleanupTempDirs, copyStore, errorCode, exportStore, FerryProcess, killAll, newStorePath, ROOT, seedStore } from './helpers/ferry-cli.js'
import { receiverArgs, senderArgs, spawnFerryIn } from './helpers/netns-ferry.js'
import { DISCOVERY_PORTS } from '../../src/net/probe.js'

const support = await checkNetnsSupport()
if (!support.ok) {
  if (process.env.CI === 'true') throw new Error(`netns tests cannot run: ${support.reason ?? ''}`)
  console.warn(`SKIP netns refusing-neighbour tests: ${support.reason ?? ''}`)
}

const NEIGHBOUR = fileURLToPath(new URL('./helpers/refusing-neighbour.ts', import.meta.url))
const newCode = (): string => `${randomInt(100, 1000)}-${randomInt(1000, 10000)}-${randomInt(1000, 10000)}`

describe.skipIf(!support.ok)('ferry receive past a neighbour that refuses the code unchecked', () => {
  let tb: Testbed
  let source: string
  beforeAll(async () => {
    source = await seedStore('tiny', 7)
    tb = await createTestbed({ phones: 2 })
    for (const p of tb.phones) await tb.multicast(p, false)
  }, 120_000)
  // The neighbour is a FerryProcess too: killAll ends it with the ferry processes.
  afterEach(async () => { await killAll() })
  afterAll(async () => {
    await tb?.down()
    cleanupTempDirs()
  })

  /** The neighbour on `phone`'s machine, showing `code`'s nameplate; resolves once it answers the sweep. */
  async function neighbour (phone: Phone, code: string, reason = 'CODE_EXPIRED'): Promise<{ process: FerryProcess, peer: string }> {
    const args = [JSON.stringify({ nameplate: code.slice(0, 3), reason })]
    const child = tb.spawn(phone, [process.execPath, '--import', 'tsx', NEIGHBOUR, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env } })
    const p = new FerryProcess('neighbour', args, child)
    const ready = await p.waitEvent('ready', 30_000)
    expect(ready.discoveryPort, 'the neighbour holds the first discovery port').toBe(DISCOVERY_PORTS[0])
    return { process: p, peer: String(ready.peer) }
  }

  /** The old phone on `phone`'s machine beside the neighbour, offering `code` on the next discovery port. */
  async function oldPhone (phone: Phone, code: string): Promise<{ sender: FerryProcess, peer: string }> {
    const sender = spawnFerryIn(tb, phone, senderArgs(copyStore(source), { code, listen: false }), 'sender')
    const shown = await sender.waitEvent('code', 30_000)
    expect(shown.discoveryPort).toBe(DISCOVERY_PORTS[1])
    return { sender, peer: String(shown.peerId) }
  }

  /** Both phones ended well and the new phone's store, `target`, holds the old phone's history. */
  async function expectMoved (receiver: FerryProcess, old: { sender: FerryProcess }, target: string): Promise<void> {
    const rExit = await receiver.waitExit(120_000)
    expect(rExit.code, receiver.describe()).toBe(0)
    expect((await old.sender.waitExit(60_000)).code, old.sender.describe()).toBe(0)
    expect(await exportStore(target) === await exportStore(source)).toBe(true)
  }

  it('the neighbour is found first and refuses: the receiver says so, finds the old phone and verifies', async () => {
    const [p1, p2] = tb.phones
    const code = newCode()
    const fake = await neighbour(p1, code)
    const old = await oldPhone(p1, code)
    const target = newStorePath()
    const receiver = spawnFerryIn(tb, p2, receiverArgs(target, { code }), 'receiver')
    await expectMoved(receiver, old, target)
    // Found the neighbour, heard its refusal, said why it looks on, then found the old phone.
    expect(receiver.all('discovered').map(e => e.peer)).toEqual([fake.peer, old.peer])
    const interrupted = receiver.all('interrupted')
    expect(interrupted).toHaveLength(1)
    expect(interrupted[0]).toMatchObject({ code: 'CODE_EXPIRED', unproved: true })
    expect(String(interrupted[0].message)).toContain('refused the code before checking it')
    expect(String(interrupted[0].message)).toContain('the search goes on for the old phone')
    expect(fake.process.all('stream')).toHaveLength(1)
  }, 180_000)

  it('a neighbour found first that cuts every pairing before checking the code is left after three: the receiver finds the old phone and verifies', async () => {
    const [p1, p2] = tb.phones
    const code = newCode()
    const fake = await neighbour(p1, code, 'cut')
    const old = await oldPhone(p1, code)
    const target = newStorePath()
    // As a person runs it, without --json: what it says while it looks past the neighbour.
    const receiver = spawnFerryIn(tb, p2, ['receive', '--store', target, '--code', code], 'receiver')
    await expectMoved(receiver, old, target)
    const lines = receiver.stderr.split('\n')
    expect(lines, receiver.describe()).toContain(`Found ${fake.peer} by the sweep at ${p1.ip}`)
    // The first cuts are retried as a bad link's would be; the third has it say why it looks elsewhere,
    // and then the old phone is found.
    const lookingOn = lines.indexOf('a phone showing this code\'s first three digits dropped the link 3 times before the phones could check the code; ' +
      'no try was spent, and the search looks for another phone showing them (if none shows up, that phone is tried again: it may be the old phone on a bad link)...')
    expect(lookingOn, receiver.describe()).toBeGreaterThan(-1)
    expect(lines.indexOf(`Found ${old.peer} by the sweep at ${p1.ip}`), receiver.describe()).toBeGreaterThan(lookingOn)
    expect(fake.process.all('stream')).toHaveLength(3)
  }, 180_000)

  it('a neighbour found first whose address refuses every connection is left: the receiver says why, finds the old phone and verifies', async () => {
    const [p1, p2] = tb.phones
    const code = newCode()
    const fake = await neighbour(p1, code, 'unreachable')
    const old = await oldPhone(p1, code)
    const target = newStorePath()
    const receiver = spawnFerryIn(tb, p2, receiverArgs(target, { code }), 'receiver')
    await expectMoved(receiver, old, target)
    // Found the neighbour, could not reach it, said why it looks on, then found the old phone.
    expect(receiver.all('discovered').map(e => e.peer)).toEqual([fake.peer, old.peer])
    const interrupted = receiver.all('interrupted')
    expect(interrupted, receiver.describe()).toHaveLength(1)
    expect(interrupted[0]).toMatchObject({ code: 'NO_PEER', unreachable: true })
    expect(String(interrupted[0].message)).toContain(`a phone showing this code's first three digits cannot be reached: the old phone at ${p1.ip} refused the connection`)
    expect(String(interrupted[0].message)).toContain('the search looks for another phone showing them')
    expect(fake.process.all('stream')).toHaveLength(0)
  }, 180_000)

  it('with only the neighbour showing the digits, the receiver ends after its search with the refusal, said as unproved', async () => {
    const [p1, p2] = tb.phones
    const code = newCode()
    const fake = await neighbour(p1, code)
    // As a person runs it, without --json: what it prints while it looks on, and at the end.
    const receiver = spawnFerryIn(tb, p2, ['receive', '--store', newStorePath(), '--code', code, '--timeout', '8'], 'receiver')
    const exit = await receiver.waitExit(60_000)
    expect(exit.code, receiver.describe()).toBe(1)
    expect(errorCode(receiver.stderr), receiver.describe()).toBe('CODE_EXPIRED')
    const lines = receiver.stderr.split('\n')
    const refusedAt = lines.findIndex(l => l.startsWith('a phone showing this code\'s first three digits refused the code before checking it (it said: the code has expired'))
    expect(refusedAt, receiver.describe()).toBeGreaterThan(-1)
    expect(lines[refusedAt]).toContain('it proved nothing of the code, so the search goes on for the old phone...')
    // What the sweep sees after that would count the phone set aside as one "showing other codes".
    expect(lines.slice(refusedAt + 1).filter(l => !l.startsWith('ferry: ') && l !== ''), receiver.describe()).toEqual([])
    const end = lines.find(l => l.startsWith('ferry: '))
    expect(end).toContain('a phone showing this code\'s first three digits refused the code before checking it (it said: the code has expired')
    expect(end).toContain('no other phone nearby shows them')
    expect(end).toContain('someone nearby may be refusing in its place')
    expect(receiver.stderr).not.toContain(code)
    expect(fake.process.all('stream')).toHaveLength(1)
  }, 120_000)
})
