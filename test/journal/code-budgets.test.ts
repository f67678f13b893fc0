import { describe, expect, it } from 'vitest'
import { CodeBudgets } from '../../src/journal/code-budgets.js'
import { jsonValue } from '../../src/journal/journal.js'
import type { NodeJournal } from '../../src/journal/node-journal.js'
import { parseCode } from '../../src/pairing/index.js'
import { tempDir } from '../helpers/stores.js'
import { journalsClosedAfterEach } from '../helpers/stopped.js'

// A code's three guesses are kept in the journal: each run of the sender, closed and reopened here like
// a process restarting, carries on where the last one left the code.

const CODE = parseCode('123-4567-8901')
const open = journalsClosedAfterEach()

/** The journal of each folder's last run, which the next run's process ends before it opens its own. */
const lastRun = new Map<string, NodeJournal>()

/** A fresh journal handle on the store `dir`, as after a restart: the run before it ended. */
async function restarted (dir: string): Promise<NodeJournal> {
  await lastRun.get(dir)?.close()
  const j = open(dir)
  lastRun.set(dir, j)
  return j
}

/** One run of a sender: a fresh journal handle on the same store, as after a restart. */
async function run (dir: string, now: () => number = Date.now): Promise<Awaited<ReturnType<CodeBudgets['open']>>> {
  return await new CodeBudgets(await restarted(dir), { now }).open(CODE)
}

async function refused (dir: string, now: () => number = Date.now): Promise<{ message: string, details?: Record<string, unknown> }> {
  const err = await new CodeBudgets(await restarted(dir), { now }).open(CODE).then(() => undefined, (e: unknown) => e) as { code?: string, message: string, details?: Record<string, unknown> } | undefined
  expect(err?.code).toBe('CODE_EXPIRED')
  return err!
}

describe('code budgets in the journal', () => {
  it('three wrong attempts in total across restarts, then the code is refused for good', async () => {
    const dir = tempDir()
    const first = await run(dir)
    first.lifetime.begin().fail()
    first.lifetime.begin().fail()
    await first.durable()
    const second = await run(dir)
    expect(second.lifetime.remaining).toBe(1)
    second.lifetime.begin().fail()
    await second.durable()
    expect(second.lifetime.state).toBe('exhausted')
    const r = await refused(dir)
    expect(r.message).toBe('this pairing code had 3 pairing attempts that did not succeed; a code is good for one pairing: show a new one')
    expect(r.message).not.toContain('123-4567-8901')
  })

  it('an attempt in flight when the process died counts as spent', async () => {
    const dir = tempDir()
    const first = await run(dir)
    first.lifetime.begin() // PAKE_B may have left: the peer can test its guess
    await first.durable()
    // no settle: the process is gone
    expect((await run(dir)).lifetime.remaining).toBe(2)
  })

  it('a used code is refused, and a code keeps the expiry it got when first shown', async () => {
    const dir = tempDir()
    const used = await run(dir)
    used.lifetime.begin().succeed()
    await used.durable()
    expect((await refused(dir)).message).toMatch(/was already used to pair a phone \(that phone resumes without a code\)/)

    const other = tempDir()
    let now = 1_700_000_000_000
    const shown = await run(other, () => now)
    expect(shown.lifetime.expiresAt).toBe(now + 600_000)
    now += 300_000
    expect((await run(other, () => now)).lifetime.expiresAt).toBe(1_700_000_000_000 + 600_000)
    now += 300_000
    expect((await refused(other, () => now)).message).toMatch(/^this pairing code expired 2023-11-14T22:23:20\.000Z, ten minutes after it was first shown/)
  })

  it('offered again in the same process while attempts of the first offer are in flight: still three guesses in total', async () => {
    // FerryService opens the code's budget at each offer; an offer cancelled and made again with the
    // same code leaves the first offer's pairing streams running, on the lifetime it opened then.
    const budgets = new CodeBudgets(open(tempDir()))
    const first = await budgets.open(CODE)
    const a = first.lifetime.begin() // PAKE_B sent: two guesses testable
    const b = first.lifetime.begin()
    await first.durable()
    const second = await budgets.open(CODE)
    expect(second.lifetime.remaining).toBe(1)
    second.lifetime.begin().fail()
    await second.durable()
    // The first offer's guesses end (wrong, or the peers hang up) after the third was spent.
    a.fail()
    b.fail()
    await first.durable()
    await second.durable()
    await expect(budgets.open(CODE)).rejects.toMatchObject({ code: 'CODE_EXPIRED' })
    expect(await budgets.load(CODE)).toMatchObject({ charged: 3 })
  })

  it('a code used by an attempt of an earlier offer stays used, whatever the later offer writes', async () => {
    const budgets = new CodeBudgets(open(tempDir()))
    const first = await budgets.open(CODE)
    const a = first.lifetime.begin()
    await first.durable()
    const second = await budgets.open(CODE)
    a.succeed() // the first offer's attempt pairs a phone
    await first.durable()
    // Anything the second offer's lifetime reports next must not write the code back to unused.
    try { second.lifetime.begin().cancel() } catch {}
    await second.durable()
    expect(await budgets.load(CODE)).toMatchObject({ used: true })
    await expect(budgets.open(CODE)).rejects.toMatchObject({ code: 'CODE_EXPIRED' })
  })

  it('keys the record by a hash: the code is nowhere in the journal', async () => {
    const dir = tempDir()
    const j = open(dir)
    await (await new CodeBudgets(j).open(CODE)).durable()
    const entries: Array<[string, Uint8Array]> = []
    for await (const e of j.list('code/')) entries.push(e)
    expect(entries).toHaveLength(1)
    expect(entries[0][0]).toMatch(/^code\/[0-9a-f]{64}$/)
    const all = entries[0][0] + new TextDecoder().decode(entries[0][1])
    for (const digits of ['12345678901', '4567', '8901', '45678901']) expect(all).not.toContain(digits)
    // Another code has its own budget.
    expect(CodeBudgets.key(parseCode('123-4567-8902'))).not.toBe(entries[0][0])
  })

  it('a damaged record is a typed error that says what to do', async () => {
    const dir = tempDir()
    const j = open(dir)
    for (const value of [jsonValue({ charged: 'x' }), jsonValue(null), new TextEncoder().encode('{')]) {
      await j.write([{ key: CodeBudgets.key(CODE), value }])
      await expect(new CodeBudgets(j).open(CODE)).rejects.toMatchObject({ code: 'STORE', message: expect.stringContaining('use a new code') })
    }
  })
})
