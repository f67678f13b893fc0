import { describe, expect, it } from 'vitest'
import { stoppedAfterEach } from '../helpers/stopped.js'
import { createFerry, type Ferry } from '../../src/create-ferry.js'
import { ErrorCode, FerryError, isFerryError } from '../../src/errors.js'
import { CodeBudgets } from '../../src/journal/code-budgets.js'
import type { Journal } from '../../src/journal/journal.js'
import { NodeJournal } from '../../src/journal/node-journal.js'
import { TriedCodes } from '../../src/journal/tried-codes.js'
import { ferry, type FerryEvent } from '../../src/net/ferry-service.js'
import { createFerryNode, type FerryNode } from '../../src/net/node.js'
import { PAIR_PROTOCOL, pairAsReceiver, pairAsSender } from '../../src/net/pair-stream.js'
import { streamToDuplex } from '../../src/net/stream-duplex.js'
import { CODE_TTL_MS, CodeLifetime, generateCode, generateQrKey, MAX_MESSAGE_BYTES, parseCode, type PairingCode } from '../../src/pairing/index.js'
import type { ByteDuplex } from '../../src/wire/duplex.js'
import { readFrames } from '../../src/wire/framing.js'
import { beginPairing, rawNode } from '../e2e/helpers/raw-peer.js'
import { multiaddr } from '@multiformats/multiaddr'
import { fillStore, openStore, tempDir } from '../helpers/stores.js'
import { until } from '../helpers/until.js'

// A code lives ten minutes from when it was first shown. An offer whose code can pair no phone any more
// (no phone paired, and it is too old, for the QR code too) must end, saying so, and not wait on for
// good showing a dead code: whether nobody tried it, or neighbours spent its typed guesses first. So
// must one whose code was used by a pairing this phone then failed to keep.
//
// The code's age comes from the journal, as it does for a sender restarted with the same code: a record
// saying it was first shown ten minutes less a few seconds ago (written through CodeBudgets with its
// clock set back, and with guesses spent as a real sender spends them).

const listen = ['/ip4/127.0.0.1/tcp/0']

/** Makes `code` one first shown long enough ago that it has `msLeft` to live, `spent` wrong guesses in. */
async function agedCode (journal: Journal, code: PairingCode, msLeft: number, spent = 0): Promise<number> {
  const { lifetime, durable } = await new CodeBudgets(journal, { now: () => Date.now() - (CODE_TTL_MS - msLeft) }).open(code)
  for (let i = 0; i < spent; i++) lifetime.begin().fail()
  await durable()
  return lifetime.expiresAt
}

describe('an offer whose code can pair no phone any more', () => {
  const { phones, nodes } = stoppedAfterEach<FerryNode>()

  async function oldPhone (): Promise<Ferry> {
    const old = await createFerry(tempDir('expiry-old-'), { listen, memory: false })
    phones.push(old)
    await fillStore(old.store, { conversations: 1, messagesPerConversation: 5, mediaSizes: [] })
    return old
  }

  it('ends with CODE_EXPIRED when the code is ten minutes old, though nobody tried it', async () => {
    const old = await oldPhone()
    const code = generateCode()
    const expiresAt = await agedCode(old.journal, code, 3_000)
    const events: FerryEvent[] = []
    const ended = await old.send({ code, qrKey: generateQrKey(), onEvent: e => { events.push(e) } }).then(() => undefined, (err: FerryError) => err)
    expect(ended?.code).toBe(ErrorCode.CODE_EXPIRED)
    expect(ended?.details).toEqual({ state: 'expired' })
    expect(ended?.message).toMatch(/^the pairing code expired unused/)
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt)
    // The offer said when the code would stop pairing: the time the journal carried, not ten minutes on.
    expect(events.map(e => e.type)).toEqual(['offering'])
    expect(events[0]).toMatchObject({ type: 'offering', codeExpiresAt: expiresAt })

    // A phone that comes with the code now is told the code is dead, not left to retry.
    const late = await createFerry(tempDir('expiry-late-'), { listen, memory: false })
    phones.push(late)
    await expect(late.receive({ addrs: old.addresses(), code })).rejects.toSatisfy(e => isFerryError(e, ErrorCode.CODE_EXPIRED))
  })

  it('ends with CODE_EXPIRED when the code is ten minutes old after typing it was spent, as the QR code then pairs no phone either', async () => {
    const old = await oldPhone()
    const code = generateCode()
    const expiresAt = await agedCode(old.journal, code, 4_000, 2)
    const events: FerryEvent[] = []
    const offered = old.send({ code, qrKey: generateQrKey(), onEvent: e => { events.push(e) } }).then(() => undefined, (err: FerryError) => err)

    // The third wrong guess: typing is over, the QR code still pairs, and the offer goes on for it...
    const stranger = await rawNode()
    nodes.push(stranger)
    const wrong = parseCode(`${code.nameplate}-${code.secret === '00000000' ? '00000001' : '00000000'}`)
    const { s, step } = await beginPairing(stranger, old.addresses()[0].toString(), old.node.peerId.toString(), wrong)
    expect(step.error?.code).toBe(ErrorCode.WRONG_CODE)
    await s.write(step.send).catch(() => {})
    await until('the old phone to say typing is spent', () => events.some(e => e.type === 'typed-code-spent'), 10_000)

    // ...until the code is too old for the QR code too: then it ends, saying why.
    const ended = await offered
    expect(ended?.code).toBe(ErrorCode.CODE_EXPIRED)
    expect(ended?.details).toEqual({ state: 'expired' })
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt)
    expect(events.map(e => e.type)).toEqual(['offering', 'pair-failed', 'typed-code-spent'])
  })

  it('ends, saying why, when its code paired a phone whose pairing this phone could not keep', async () => {
    // The code is used, so no other phone can pair with it, and no pairing is held to resume: an offer
    // that waited on would wait for nothing, and `ferry send` with a code has no timeout of its own.
    const dir = tempDir('expiry-full-')
    const store = openStore(dir)
    await fillStore(store, { conversations: 1, messagesPerConversation: 5, mediaSizes: [] })
    const disk = NodeJournal.open(dir)
    const full = new FerryError(ErrorCode.STORE_FULL, 'journal: the disk is full')
    const journal = new Proxy(disk, {
      get (target, key, receiver) {
        if (key === 'write') {
          return async (...args: Parameters<Journal['write']>) => {
            // The disk fills as the code's use is written.
            if (args[0].some(op => 'key' in op && new TextDecoder().decode(op.value ?? new Uint8Array()).includes('"used":true'))) throw full
            await target.write(...args)
          }
        }
        const v = Reflect.get(target, key, receiver)
        return typeof v === 'function' ? v.bind(target) : v
      }
    })
    const node = await createFerryNode({ dir, listen, services: { ferry: ferry({ history: store, journal }) } })
    const phone = await rawNode()
    nodes.push(phone)
    try {
      const code = generateCode()
      const offered = node.services.ferry.offer({ code, qrKey: generateQrKey() }).then(() => undefined, (err: FerryError) => err)
      const { s, step } = await beginPairing(phone, node.getMultiaddrs()[0].toString(), node.peerId.toString(), code)
      await s.write(step.send)
      await s.rest()
      expect(await offered).toBe(full)
    } finally {
      await node.stop()
      await disk.close()
      store.close()
    }
  })
})

/**
 * The old phone's side of pairing on a bare node, with its code's clock in the test's hands (`clock.t`):
 * the service keeps the wall clock, and waiting ten minutes is no test. It pairs as the service does
 * (pairAsSender, one lifetime for every stream); the stream numbered `dropAt` it cuts once the new
 * phone's PAKE_A is in, moving the clock past the code's expiry first: the code dies while the link is
 * down. `beforePakeB` runs as its PAKE_B is about to leave.
 */
async function oldPhoneWithClock (code: PairingCode, opts: { dropAt?: number, beforePakeB?: () => void } = {}): Promise<{
  node: FerryNode, addr: string, lifetime: CodeLifetime, clock: { t: number }, streams: () => number
}> {
  const clock = { t: 1_000_000 }
  const lifetime = new CodeLifetime({ now: () => clock.t })
  const node = await rawNode()
  const addr = `${node.getMultiaddrs().map(String).find(a => a.startsWith('/ip4/127.0.0.1/'))}`
  let streams = 0
  await node.handle(PAIR_PROTOCOL, (stream, connection) => {
    const n = ++streams
    const duplex = streamToDuplex(stream)
    if (n === opts.dropAt) {
      void (async () => {
        await readFrames(duplex.source, MAX_MESSAGE_BYTES)[Symbol.asyncIterator]().next()
        clock.t = lifetime.expiresAt
        duplex.abort(new Error('the link drops'))
      })().catch(() => {})
      return
    }
    let writes = 0
    const watched: ByteDuplex = {
      source: duplex.source,
      write: async chunks => {
        if (++writes === 1) opts.beforePakeB?.()
        await duplex.write(chunks)
      },
      close: async () => { await duplex.close() },
      abort: err => { duplex.abort(err) }
    }
    void pairAsSender(watched, { localPeerId: node.peerId.toString(), remotePeerId: connection.remotePeer.toString() },
      { code, lifetime, tokens: new Map() }).catch(() => {})
  })
  return { node, addr, lifetime, clock, streams: () => streams }
}

describe('a new phone trying the code as it expires', () => {
  const { phones, nodes } = stoppedAfterEach<FerryNode>()
  const code = parseCode('638-2210-4457')
  const wrong = parseCode('638-2210-4458')

  it('hears from the old phone that the code expired, which costs it no try of the code', async () => {
    // One wrong try first, counted; then the right code, whose link drops after its PAKE_A as the code
    // turns ten minutes old. The receive dials again by itself and meets a dead code: it must say the
    // old phone's code expired (not that this phone tried it too often, nor that another phone used
    // it), stop there rather than retry, and count no try, as nothing keyed from the code came back.
    const old = await oldPhoneWithClock(code, { dropAt: 2 })
    nodes.push(old.node)
    const phone = await createFerry(tempDir('expiry-new-'), { listen, memory: false })
    phones.push(phone)
    const first = await phone.receive({ addrs: [old.addr], code: wrong }).then(() => undefined, (e: FerryError) => e)
    expect(first?.code).toBe(ErrorCode.WRONG_CODE)
    expect(await new TriedCodes(phone.journal).load(wrong)).toMatchObject({ failed: 1 })

    const events: FerryEvent[] = []
    const refused = await phone.receive({ addrs: [old.addr], code, onEvent: e => { events.push(e) } }).then(() => undefined, (e: FerryError) => e)
    expect(refused?.code).toBe(ErrorCode.CODE_EXPIRED)
    // Said before any PAKE_B, so nothing of the code was checked: `unproved` (with the address given,
    // there is no other phone to look for, and the refusal ends the receive).
    expect(refused?.details).toEqual({ from: 'sender', unproved: true })
    expect(refused?.message).toMatch(/^pairing: the code has expired \(already used by another phone, three wrong tries, or ten minutes old\)/)
    expect(old.lifetime.state).toBe('expired')
    // Dialled again once after the drop, and not after the refusal.
    expect(old.streams()).toBe(3)
    expect(events.filter(e => e.type === 'interrupted')).toHaveLength(1)
    // Neither the dropped link nor the refusal tested a guess: no try of the code is counted.
    expect(await new TriedCodes(phone.journal).load(code)).toBeUndefined()
    expect(await new TriedCodes(phone.journal).load(wrong)).toMatchObject({ failed: 1 })
  })

  it('pairs when the code expires during an attempt the old phone had begun', async () => {
    // The old phone checks the code's age when an attempt begins, and charged this one then: a code
    // that turns ten minutes old under it still pairs the phone that holds it, and that phone's count
    // of the code's tries is cleared, as for any pairing.
    const old = await oldPhoneWithClock(code, { beforePakeB: () => { old.clock.t = old.lifetime.expiresAt } })
    nodes.push(old.node)
    const me = await rawNode()
    nodes.push(me)
    const journal = NodeJournal.open(tempDir('expiry-attempt-'))
    try {
      const tried = new TriedCodes(journal)
      await (await tried.begin(code)).charge() // an earlier try, against someone else
      const stream = await me.dialProtocol(multiaddr(old.addr), PAIR_PROTOCOL)
      const outcome = await pairAsReceiver(streamToDuplex(stream), { localPeerId: me.peerId.toString(), remotePeerId: old.node.peerId.toString() },
        { code, tries: await tried.begin(code) })
      expect(outcome.mode).toBe('code')
      expect(outcome.unconfirmed).toBeUndefined()
      expect(old.lifetime.state).toBe('used')
      expect(old.lifetime.msLeft).toBe(0)
      expect(await tried.load(code)).toBeUndefined()
    } finally {
      await journal.close()
    }
  })
})
