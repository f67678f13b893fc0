// A code's three guesses belong to the code, not to one run of `ferry send`: a sender restarted with the
// same code (after a crash, or after the code died) carries on from what the store remembers, so an
// attacker gets three guesses in total however often the old phone's user starts again. And the code
// can be handed over without putting it on a command line, where every local user can read it.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  cleanupTempDirs, copyStore, errorCode, exportStore, killAll, newStorePath, seedStore, senderReady, startReceiver, startSender,
  tempDir, type FerryProcess
} from './helpers/ferry-cli.js'
import { CODE_TTL_MS } from '../../src/pairing/index.js'

const CODE = '466-2718-2818'
const WRONG = ['466-0000-0001', '466-0000-0002', '466-0000-0003']

let source: string

/** A receiver with a wrong code: it fails with WRONG_CODE, and the sender records the failure. */
async function wrongGuess (sender: FerryProcess, addr: string, code: string, nth: number): Promise<void> {
  const p = startReceiver(newStorePath(), { code, peer: addr, name: `guess ${code}` })
  expect((await p.waitExit(30_000)).code, p.describe()).toBe(1)
  expect(errorCode(p.stderr)).toBe('WRONG_CODE')
  expect((await sender.waitNth('pair-failed', nth)).code).toBe('WRONG_CODE')
}

/** A sender that must refuse the code at once: exit 1, CODE_EXPIRED, and the code never shown. */
async function refusedAtOnce (store: string, name: string): Promise<string> {
  const p = startSender(store, { code: CODE, name })
  expect((await p.waitExit(20_000)).code, p.describe()).toBe(1)
  expect(errorCode(p.stderr), p.describe()).toBe('CODE_EXPIRED')
  expect(p.all('code')).toEqual([])
  expect(p.events.map(e => e.event)).toEqual(['error'])
  return p.stderr.trim()
}

describe('the guess budget outlives the process', () => {
  beforeAll(async () => { source = await seedStore('tiny') }, 60_000)
  afterEach(async () => { await killAll() })
  afterAll(() => cleanupTempDirs())

  it('three wrong guesses in total across a crash and a restart; then the code is refused for good', async () => {
    const store = copyStore(source)
    // Run 1: two wrong guesses, then the old phone dies (SIGKILL: nothing is saved on the way out).
    const started = Date.now()
    const first = startSender(store, { code: CODE, name: 'sender (run 1)' })
    const one = await senderReady(first)
    // The sender says until when its code pairs: ten minutes from now.
    const expiresAt = (await first.waitEvent('offering')).codeExpiresAt as number
    expect(expiresAt).toBeGreaterThanOrEqual(started + CODE_TTL_MS)
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + CODE_TTL_MS)
    await wrongGuess(first, one.addr, WRONG[0], 1)
    await wrongGuess(first, one.addr, WRONG[1], 2)
    await first.kill9()
    // Run 2, same code: one guess is left, and the first wrong one ends the code.
    const second = startSender(store, { code: CODE, name: 'sender (run 2)' })
    const two = await senderReady(second)
    // A restart gives the code no more time: it says the first run's expiry again.
    expect((await second.waitEvent('offering')).codeExpiresAt).toBe(expiresAt)
    await wrongGuess(second, two.addr, WRONG[2], 1)
    // Typing the code is over; the offer waits on for its QR code (whose key no one can guess).
    await second.waitEvent('typed-code-spent')
    expect(second.all('pair-failed')).toHaveLength(1)
    await second.kill9()
    // Run 3, same code: refused before it is shown, with the reason.
    const line = await refusedAtOnce(store, 'sender (run 3)')
    expect(line).toBe('ferry: the code 466-2718-2818 had 3 pairing attempts that did not succeed; a code is good for one pairing: start again without --code for a new one [CODE_EXPIRED]')
    process.stderr.write(`code-budget: guesses spent across 3 runs: 2 + 1 + 0 = 3; run 3: ${line}\n`)
    // A new code is a new budget.
    const fresh = startSender(store, { code: '466-2718-2819', name: 'sender (new code)' })
    await senderReady(fresh)
  })

  it('a code that paired a phone cannot be offered again', async () => {
    const store = copyStore(source)
    const sender = startSender(store, { code: CODE })
    const ready = await senderReady(sender)
    const receiver = startReceiver(newStorePath(), { code: CODE, peer: ready.addr })
    const [r, s] = await Promise.all([receiver.waitExit(30_000), sender.waitExit(30_000)])
    expect(r.code, receiver.describe()).toBe(0)
    expect(s.code, sender.describe()).toBe(0)
    expect(await refusedAtOnce(store, 'sender (same code again)')).toMatch(/the code 466-2718-2818 was already used to pair a phone/)
  })

  it('takes the code from a file or stdin, so it is never on a command line', async () => {
    const store = copyStore(source)
    const file = join(tempDir(), 'code.txt')
    writeFileSync(file, `${CODE}\n`, { mode: 0o600 })
    const sender = startSender(store, { extra: ['--code-file', file] })
    const ready = await senderReady(sender)
    expect(ready.code).toBe(CODE)
    const target = newStorePath()
    const receiver = startReceiver(target, { peer: ready.addr, extra: ['--code', '-'], input: `${CODE}\n` })
    // What `ps` shows of both: no code.
    for (const p of [sender, receiver]) {
      const cmdline = readFileSync(`/proc/${p.child.pid!}/cmdline`, 'utf8').split('\0').join(' ')
      expect(cmdline).toContain('--store')
      expect(cmdline).not.toContain(CODE.slice(4))
    }
    const [r, s] = await Promise.all([receiver.waitExit(30_000), sender.waitExit(30_000)])
    expect(r.code, receiver.describe()).toBe(0)
    expect(s.code, sender.describe()).toBe(0)
    expect(receiver.all('paired')[0]).toMatchObject({ mode: 'code' })
    expect(await exportStore(target)).toBe(await exportStore(source))

    // Bad input is told as such (exit 2), never a stack trace.
    const missing = startSender(copyStore(source), { extra: ['--code-file', join(tempDir(), 'nope.txt')], name: 'no file' })
    expect((await missing.waitExit(20_000)).code).toBe(2)
    expect(missing.stderr).toMatch(/^ferry: cannot read the code file (.*nope\.txt): \1 does not exist \[BAD_INPUT\]$/m)
    const empty = startReceiver(newStorePath(), { peer: ready.addr, extra: ['--code', '-'], input: '', name: 'empty stdin' })
    expect((await empty.waitExit(20_000)).code).toBe(2)
    expect(empty.stderr).toMatch(/^ferry: stdin holds no code on its first line \[BAD_INPUT\]$/m)
    const both = startSender(copyStore(source), { code: CODE, extra: ['--code-file', file], name: 'both' })
    expect((await both.waitExit(20_000)).code).toBe(2)
    expect(both.stderr).toMatch(/give the code once/)
  })
})
