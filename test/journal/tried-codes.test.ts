import { describe, expect, it } from 'vitest'
import { ErrorCode, isFerryError } from '../../src/errors.js'
import { jsonValue } from '../../src/journal/journal.js'
import { TriedCodes } from '../../src/journal/tried-codes.js'
import { parseCode } from '../../src/pairing/index.js'
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
})
