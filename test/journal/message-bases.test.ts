import { afterEach, describe, expect, it } from 'vitest'
import { NodeJournal } from '../../src/journal/node-journal.js'
import { MessageBases, MESSAGE_BASES, PENDING_MESSAGE_BASES } from '../../src/journal/message-bases.js'
import { MessageDigests } from '../../src/journal/message-digests.js'
import { READ_BACK_BASES, ReadBackBases } from '../../src/journal/read-back-bases.js'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'

// A verified transfer's read-back bases join its pair's message bases at the next receive (settle),
// one conversation a write: a kill at any point leaves the next settle to finish, and nothing is lost
// or taken twice.

const journals: NodeJournal[] = []
afterEach(async () => {
  for (const j of journals.splice(0)) await j.close()
  cleanupTempDirs()
})

/** The 8-byte digest standing for the number `v`. */
const d = (v: number): Uint8Array => { const b = new Uint8Array(8); new DataView(b.buffer).setUint32(4, v); return b }
const digests = (...values: number[]): MessageDigests => {
  const c = MessageDigests.collector()
  for (const v of values) c.add(d(v))
  return c.done()
}
const count = async (j: NodeJournal, prefix: string): Promise<number> => { let n = 0; for await (const _ of j.list(prefix)) n++; return n }

describe('message bases taken over from verified transfers', () => {
  it('join what the pair held, per conversation, and the read-back bases and the mark go', async () => {
    const dir = tempDir()
    const j = NodeJournal.open(dir)
    journals.push(j)
    const pair = MessageBases.forPair(j, 'old-phone', 'this-store')
    for (const [tid, chats] of [['aa', { c0: [1, 2], c1: [7] }], ['bb', { c0: [2, 3] }]] as const) {
      const readBacks = new ReadBackBases(j, tid)
      for (const [c, v] of Object.entries(chats)) await j.write(await readBacks.record(c, digests(...v)))
      await j.write(pair.adopt(tid))
    }
    expect(await count(j, PENDING_MESSAGE_BASES)).toBe(2)
    await MessageBases.settle(j)
    const c0 = await pair.of('c0')
    expect([1, 2, 3, 4].map(v => c0.has(d(v)))).toEqual([true, true, true, false])
    expect((await pair.of('c1')).has(d(7))).toBe(true)
    expect(await count(j, READ_BACK_BASES)).toBe(0)
    expect(await count(j, PENDING_MESSAGE_BASES)).toBe(0)
    // Settled again (nothing waits): nothing changes.
    const before = await count(j, MESSAGE_BASES)
    await MessageBases.settle(j)
    expect(await count(j, MESSAGE_BASES)).toBe(before)
  })

  it('a settle cut short after its conversations\' writes is finished by the next, nothing taken twice', async () => {
    const dir = tempDir()
    const j = NodeJournal.open(dir)
    journals.push(j)
    const pair = MessageBases.forPair(j, 'old-phone', 'this-store')
    await j.write(await new ReadBackBases(j, 'aa').record('c0', digests(5, 6)))
    await j.write(pair.adopt('aa'))
    await MessageBases.settle(j)
    // As a kill leaves it after the base took c0 and before the read-back bases and the mark went.
    await j.write(await new ReadBackBases(j, 'aa').record('c0', digests(5, 6)))
    await j.write(pair.adopt('aa'))
    await MessageBases.settle(j)
    const c0 = await pair.of('c0')
    expect(c0.size).toBe(2)
    expect(c0.has(d(5)) && c0.has(d(6))).toBe(true)
    expect(await count(j, READ_BACK_BASES)).toBe(0)
    expect(await count(j, PENDING_MESSAGE_BASES)).toBe(0)
  })

  it('a store whose generation no longer matches reads no base, and the next verification drops them', async () => {
    const dir = tempDir()
    const j = NodeJournal.open(dir)
    journals.push(j)
    const readBacks = new ReadBackBases(j, 'aa')
    await j.write(await readBacks.record('c0', digests(1)))
    await j.write(MessageBases.forPair(j, 'old-phone', 'this-store').adopt('aa'))
    await MessageBases.settle(j)
    const stale = MessageBases.forPair(j, 'old-phone', 'this-store', false)
    expect((await stale.of('c0')).size).toBe(0)
    await j.write(stale.adopt('bb'))
    expect((await MessageBases.forPair(j, 'old-phone', 'this-store').of('c0')).size).toBe(0)
  })
})
