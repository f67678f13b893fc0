// `ferry send` shows a code that lives ten minutes from when it was first shown. When it expires with no
// phone paired, the QR code included, the sender must end then, saying so, and not wait on until its
// --timeout: whether nobody tried the code or neighbours spent its typed guesses first.
//
// The code's age comes from the store's journal, as for a sender restarted with the same code: a record
// saying it was first shown ten minutes less a few seconds ago (written through CodeBudgets with its
// clock set back, and with guesses spent as a real sender spends them).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { CodeBudgets } from '../../src/journal/code-budgets.js'
import { NodeJournal } from '../../src/journal/node-journal.js'
import type { FerryNode } from '../../src/net/node.js'
import { CODE_TTL_MS, parseCode } from '../../src/pairing/index.js'
import { cleanupTempDirs, copyStore, errorCode, killAll, seedStore, senderReady, startSender } from './helpers/ferry-cli.js'
import { beginPairing, rawNode } from './helpers/raw-peer.js'

const QUIET = '734-1020-5566'
const GUESSED = '735-1020-5566'
/** Long enough for a sender to start and take a guess; what the test waits, once, for both senders. */
const LEFT_MS = 8_000

/** The store's journal says `code` was first shown ten minutes less LEFT_MS ago, `spent` wrong guesses in. */
async function agedCode (store: string, code: string, spent = 0): Promise<void> {
  const journal = NodeJournal.open(store)
  try {
    const { lifetime, durable } = await new CodeBudgets(journal, { now: () => Date.now() - (CODE_TTL_MS - LEFT_MS) }).open(parseCode(code))
    for (let i = 0; i < spent; i++) lifetime.begin().fail()
    await durable()
  } finally {
    await journal.close()
  }
}

let source: string
const nodes: FerryNode[] = []

describe('a code that expires while ferry send shows it', () => {
  beforeAll(async () => { source = await seedStore('tiny') }, 60_000)
  afterEach(async () => {
    await killAll()
    await Promise.all(nodes.splice(0).map(async n => { await n.stop() }))
  })
  afterAll(() => cleanupTempDirs())

  it('ends the sender then, with or without its typed guesses spent: exit 1, CODE_EXPIRED, and what to do', async () => {
    const quietStore = copyStore(source, 'quiet')
    const guessedStore = copyStore(source, 'guessed')
    await agedCode(quietStore, QUIET)
    await agedCode(guessedStore, GUESSED, 2)
    const quiet = startSender(quietStore, { code: QUIET, name: 'sender (nobody tries its code)' })
    const guessed = startSender(guessedStore, { code: GUESSED, name: 'sender (its typed guesses spent)' })

    // The third wrong guess: typing is over, and the sender waits on for its QR code.
    const ready = await senderReady(guessed)
    const stranger = await rawNode()
    nodes.push(stranger)
    const { s, step } = await beginPairing(stranger, ready.addr, ready.peerId, parseCode('735-0000-0000'))
    expect(step.error?.code).toBe('WRONG_CODE')
    await s.write(step.send).catch(() => {})
    await guessed.waitEvent('typed-code-spent')
    expect(guessed.exit).toBeUndefined()

    for (const [p, code] of [[quiet, QUIET], [guessed, GUESSED]] as const) {
      expect((await p.waitExit(30_000)).code, p.describe()).toBe(1)
      expect(errorCode(p.stderr), p.describe()).toBe('CODE_EXPIRED')
      expect(p.stderr).toContain(`ferry: the code ${code} expired: ten minutes have passed since it was first shown, and no phone paired with it; run ferry send again without --code for a new one [CODE_EXPIRED]\n`)
      expect(p.events.at(-1)).toMatchObject({ event: 'error', code: 'CODE_EXPIRED' })
      expect(p.all('paired')).toEqual([])
    }
    expect(quiet.events.map(e => e.event).filter(e => e !== 'connection')).toEqual(['code', 'offering', 'error'])
    expect(guessed.events.map(e => e.event).filter(e => e !== 'connection')).toEqual(['code', 'offering', 'pair-failed', 'typed-code-spent', 'error'])
  })
})
