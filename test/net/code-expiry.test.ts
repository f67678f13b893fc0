import { describe, expect, it } from 'vitest'
import { stoppedAfterEach } from '../helpers/stopped.js'
import { createFerry, type Ferry } from '../../src/create-ferry.js'
import { ErrorCode, FerryError, isFerryError } from '../../src/errors.js'
import { CodeBudgets } from '../../src/journal/code-budgets.js'
import type { Journal } from '../../src/journal/journal.js'
import { NodeJournal } from '../../src/journal/node-journal.js'
import { ferry, type FerryEvent } from '../../src/net/ferry-service.js'
import { createFerryNode, type FerryNode } from '../../src/net/node.js'
import { CODE_TTL_MS, generateCode, generateQrKey, parseCode, type PairingCode } from '../../src/pairing/index.js'
import { beginPairing, rawNode } from '../e2e/helpers/raw-peer.js'
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
