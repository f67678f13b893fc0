import { describe, expect, it } from 'vitest'
import { ErrorCode, isFerryError } from '../../src/errors.js'
import { jsonValue, type Journal } from '../../src/journal/journal.js'
import { TRIED_CODES_KEPT, TriedCodes } from '../../src/journal/tried-codes.js'
import { parseCode, type PairingCode } from '../../src/pairing/index.js'
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

  describe('only the latest records are kept, by the order they were written in', () => {
    // Each code ever tried left a record for good. The journal keeps the TRIED_CODES_KEPT written last,
    // ordered by its own count of writes, never by the clock: a new phone's clock jumps by years when
    // the network sets it right, and a record of minutes ago must not look old (nor an old one new).
    const N = TRIED_CODES_KEPT
    const codeNo = (i: number): PairingCode => parseCode(`501-${String(i).padStart(4, '0')}-7731`)
    const spent = parseCode('204-8816-3390')
    const year = 365 * 24 * 60 * 60 * 1000

    async function keys (j: Journal): Promise<string[]> {
      const out: string[] = []
      for await (const [key] of j.list('tried-code/')) out.push(key)
      return out.sort()
    }

    const keysOf = (codes: PairingCode[]): string[] => codes.map(c => TriedCodes.key(c)).sort()
    const range = (from: number, to: number): PairingCode[] => Array.from({ length: to - from }, (_, i) => codeNo(from + i))

    /** Spends the three tries of `code`, as an impostor answering each `ferry receive` would. */
    async function spend (tried: TriedCodes, code: PairingCode): Promise<void> {
      for (let i = 0; i < 3; i++) await (await tried.begin(code)).charge()
      await expect(tried.check(code)).rejects.toSatisfy(e => isFerryError(e, ErrorCode.CODE_EXPIRED))
    }

    /** Records as they were written before the journal kept the order of writes: no seq. */
    async function writeUnordered (j: Journal, codes: PairingCode[], lastAt: (i: number) => number): Promise<void> {
      await j.write(codes.map((c, i) => ({ key: TriedCodes.key(c), value: jsonValue({ failed: 1, lastAt: lastAt(i) }) })))
    }

    it('as tries are counted, the oldest written goes; a spent code stays refused while among the latest', async () => {
      const j = open(tempDir())
      const tried = new TriedCodes(j)
      await spend(tried, spent)
      for (const c of range(0, N - 1)) await (await tried.begin(c)).charge()
      expect(await keys(j)).toEqual(keysOf([spent, ...range(0, N - 1)]))
      await expect(tried.begin(spent)).rejects.toSatisfy(e => isFerryError(e, ErrorCode.CODE_EXPIRED))
      // One more code typed: the spent one is the oldest written, and goes.
      await (await tried.begin(codeNo(N - 1))).charge()
      expect(await tried.load(spent)).toBeUndefined()
      expect(await keys(j)).toEqual(keysOf(range(0, N)))
      // A code tried again is written again, so it is the latest, and the next oldest goes instead.
      await (await tried.begin(codeNo(0))).charge()
      await (await tried.begin(codeNo(N))).charge()
      expect(await keys(j)).toEqual(keysOf([codeNo(0), ...range(2, N + 1)]))
      expect(await tried.load(codeNo(0))).toMatchObject({ failed: 2 })
    })

    it('as a pairing is made, though the code it paired with had no record', async () => {
      const j = open(tempDir())
      const now = Date.now()
      await writeUnordered(j, range(0, N + 10), i => now - i * 60_000)
      await (await new TriedCodes(j).begin(spent)).settle('paired')
      // Written before the order was kept: their time is all there is to go by among them.
      expect(await keys(j)).toEqual(keysOf(range(0, N)))
    })

    it('records written before the journal kept the order of writes go before any written since, whatever their time', async () => {
      const j = open(tempDir())
      const old = 10
      const now = Date.now()
      // Stamped by a clock ten years ahead: by time they would outlast everything written now.
      await writeUnordered(j, range(0, old), i => now + 10 * year + i)
      const tried = new TriedCodes(j, { now: () => now })
      for (const c of range(old, N)) await (await tried.begin(c)).charge()
      expect(await keys(j)).toEqual(keysOf(range(0, N)))
      await (await tried.begin(codeNo(N))).charge()
      // The earliest by its time goes first among them.
      expect(await keys(j)).toEqual(keysOf(range(1, N + 1)))
      for (const c of range(N + 1, N + old)) await (await tried.begin(c)).charge()
      expect(await keys(j)).toEqual(keysOf(range(old, N + old)))
    })

    it('a clock set years forward or back prunes nothing among the latest', async () => {
      const j = open(tempDir())
      const real = Date.now()
      let clock = real - 5 * year // a new phone booted with a stale date
      const tried = new TriedCodes(j, { now: () => clock })
      await spend(tried, spent)
      // The network sets the clock right a minute later: the code still pairs on the old phone.
      clock = real + 60_000
      await (await tried.begin(codeNo(0))).charge()
      await expect(tried.check(spent)).rejects.toSatisfy(e => isFerryError(e, ErrorCode.CODE_EXPIRED))
      const jumps = [10 * year, -20 * year, 3 * year, -year]
      for (const [i, c] of range(1, N - 1).entries()) {
        clock = real + jumps[i % jumps.length]
        await (await tried.begin(c)).charge()
      }
      expect(await keys(j)).toEqual(keysOf([spent, ...range(0, N - 1)]))
      await expect(tried.begin(spent)).rejects.toSatisfy(e => isFerryError(e, ErrorCode.CODE_EXPIRED))
      for (const c of range(0, N - 1)) expect(await tried.load(c)).toMatchObject({ failed: 1 })
    })

    it('a damaged record stays, refusing its code, and takes no place among the latest', async () => {
      const j = open(tempDir())
      const damaged = range(1000, 1000 + N)
      const forms = [new TextEncoder().encode('{"failed":'), jsonValue({ failed: 'many', lastAt: 1 }), jsonValue({ failed: 2 }), jsonValue({ failed: 1, lastAt: 1, seq: -1 })]
      await j.write(damaged.map((c, i) => ({ key: TriedCodes.key(c), value: forms[i % forms.length] })))
      const tried = new TriedCodes(j)
      await spend(tried, spent)
      // Were the damaged ones counted, they would push out the spent code's record at once.
      for (const c of range(0, N - 1)) await (await tried.begin(c)).charge()
      await expect(tried.begin(spent)).rejects.toSatisfy(e => isFerryError(e, ErrorCode.CODE_EXPIRED))
      await (await tried.begin(codeNo(N - 1))).charge()
      expect(await keys(j)).toEqual(keysOf([...damaged, ...range(0, N)]))
      for (const c of damaged) await expect(tried.begin(c)).rejects.toSatisfy(e => isFerryError(e, ErrorCode.STORE))
    })
  })
})
