import { describe, expect, it } from 'vitest'
import { ErrorCode, isFerryError } from '../../src/errors.js'
import { jsonValue, type Journal } from '../../src/journal/journal.js'
import { TRIED_CODE_KEPT_MS, TriedCodes } from '../../src/journal/tried-codes.js'
import { CODE_TTL_MS, parseCode, type PairingCode } from '../../src/pairing/index.js'
import { tempDir } from '../helpers/stores.js'
import { journalsClosedAfterEach } from '../helpers/stopped.js'

// The new phone's count of the tries of a code, as the journal keeps it. (Over real libp2p, against
// someone posing as the old phone: test/net/receiver-tries.test.ts.)

const CODE = parseCode('204-8816-3390')
const open = journalsClosedAfterEach()

describe('tried codes in the journal', () => {
  it('two tries at once both count, and neither can go past the third', async () => {
    const tried = new TriedCodes(open(tempDir()))
    await (await tried.begin(CODE)).charge()
    const a = await tried.begin(CODE)
    const b = await tried.begin(CODE)
    const c = await tried.begin(CODE)
    const results = await Promise.allSettled([a.charge(), b.charge(), c.charge()])
    expect(results.filter(r => r.status === 'fulfilled')).toHaveLength(2)
    const refused = results.find(r => r.status === 'rejected') as PromiseRejectedResult
    expect(isFerryError(refused.reason, ErrorCode.CODE_EXPIRED)).toBe(true)
    expect(await tried.load(CODE)).toMatchObject({ failed: 3 })
  })

  it('a damaged record refuses the code with a typed error, not a stack trace', async () => {
    const dir = tempDir()
    const j = open(dir)
    await j.write([{ key: TriedCodes.key(CODE), value: jsonValue({ failed: 'many' }) }])
    const err = await new TriedCodes(j).begin(CODE).then(() => undefined, (e: unknown) => e)
    expect(isFerryError(err, ErrorCode.STORE)).toBe(true)
    expect((err as Error).message).toBe('the journal\'s record of the tries of this pairing code is damaged; ask the old phone for a new code')
    expect(TriedCodes.key(CODE)).not.toContain('8816')
  })

  describe('records of codes no old phone pairs with any more go', () => {
    // Each code ever tried left a record for good. A code pairs ten minutes from when it was shown,
    // before it was tried here; once that (and the margin for a clock set right) is past, its record
    // guards nothing, and goes the next time a record is written or a pairing made.
    const codeNo = (i: number): PairingCode => parseCode(`501-${String(i).padStart(4, '0')}-7731`)
    const OLD = 200
    const day = 24 * 60 * 60 * 1000
    const now = Date.now()
    const recent = parseCode('501-9998-7731')
    const fresh = parseCode('501-9999-7731')

    /** A journal holding OLD codes tried a month ago, counted as they are, and one tried a minute short of the time kept. */
    async function journalWithOldCodes (): Promise<Journal> {
      const j = open(tempDir())
      let t = now - 30 * day
      const then = new TriedCodes(j, { now: () => t })
      for (let i = 0; i < OLD; i++, t++) await (await then.begin(codeNo(i))).charge()
      // Written as it stands, not through a try: a try now would already take the old ones away.
      await j.write([{ key: TriedCodes.key(recent), value: jsonValue({ failed: 1, lastAt: now - TRIED_CODE_KEPT_MS + 60_000 }) }])
      expect(await keys(j)).toHaveLength(OLD + 1)
      return j
    }

    async function keys (j: Journal): Promise<string[]> {
      const out: string[] = []
      for await (const [key] of j.list('tried-code/')) out.push(key)
      return out.sort()
    }

    it('as a new try is counted; a code tried within the time kept stays, as does the one tried now', async () => {
      const j = await journalWithOldCodes()
      const tried = new TriedCodes(j, { now: () => now })
      await (await tried.begin(fresh)).charge()
      expect(await keys(j)).toEqual([TriedCodes.key(recent), TriedCodes.key(fresh)].sort())
      expect(await tried.load(recent)).toMatchObject({ failed: 1 })
      expect(await tried.load(fresh)).toMatchObject({ failed: 1 })
      for (let i = 0; i < OLD; i++) expect(await tried.load(codeNo(i))).toBeUndefined()
      // What stays is what a code's life needs: the recent one goes too once that is past.
      await (await new TriedCodes(j, { now: () => now + 2 * 60_000 }).begin(fresh)).charge()
      expect(await keys(j)).toEqual([TriedCodes.key(fresh)])
      expect(TRIED_CODE_KEPT_MS).toBeGreaterThan(CODE_TTL_MS)
    })

    it('as a pairing is made, though the code it paired with had no record', async () => {
      const j = await journalWithOldCodes()
      await (await new TriedCodes(j, { now: () => now }).begin(fresh)).settle('paired')
      expect(await keys(j)).toEqual([TriedCodes.key(recent)])
    })

    it('a damaged record stays, refusing its code, while old ones around it go', async () => {
      const j = await journalWithOldCodes()
      const damaged = parseCode('501-9997-7731')
      await j.write([{ key: TriedCodes.key(damaged), value: jsonValue({ failed: 2 }) }])
      const tried = new TriedCodes(j, { now: () => now })
      await (await tried.begin(fresh)).charge()
      expect(await keys(j)).toEqual([TriedCodes.key(recent), TriedCodes.key(fresh), TriedCodes.key(damaged)].sort())
      await expect(tried.begin(damaged)).rejects.toSatisfy(e => isFerryError(e, ErrorCode.STORE))
    })
  })
})
