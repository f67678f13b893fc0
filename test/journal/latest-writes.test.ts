import { describe, expect, it } from 'vitest'
import { placeWrite, type Placed } from '../../src/journal/latest-writes.js'

// The one rule by which the tried codes (Node) and the spent codes (the browser phone) keep only their
// latest records: the order of writes, never the clock.

const year = 365 * 24 * 60 * 60 * 1000
const placed = (n: number, seq: (i: number) => number, lastAt?: (i: number) => number): Placed[] =>
  Array.from({ length: n }, (_, i) => ({ key: `k${String(i).padStart(3, '0')}`, seq: seq(i), lastAt: lastAt?.(i) }))

describe('keeping the latest written records', () => {
  it('stamps a write later than every record, its own earlier write included', () => {
    expect(placeWrite([], 4, { stays: true }).seq).toBe(1)
    expect(placeWrite(placed(3, i => [7, 2, 5][i]), 4, { seq: 9, stays: true }).seq).toBe(10)
    expect(placeWrite(placed(3, i => [7, 2, 5][i]), 4, { seq: 1, stays: true }).seq).toBe(8)
  })

  it('drops the earliest written beyond the kept number, leaving room for the one written when it stays', () => {
    const others = placed(5, i => i + 1)
    expect(placeWrite(others, 5, { stays: true }).drop).toEqual(['k000'])
    expect(placeWrite(others, 5, { stays: false }).drop).toEqual([])
    expect(placeWrite(others, 3, { stays: true }).drop.sort()).toEqual(['k000', 'k001', 'k002'])
    expect(placeWrite(others, 0, { stays: true }).drop).toHaveLength(5)
  })

  it('goes by the order of writes whatever the clock said when each was written', () => {
    // Written in order k000..k004 by a clock that jumped years back and forth between writes.
    const jumps = [10 * year, -20 * year, 3 * year, -year, 0]
    const others = placed(5, i => i + 1, i => Date.now() + jumps[i])
    expect(placeWrite(others, 3, { stays: true }).drop.sort()).toEqual(['k000', 'k001', 'k002'])
  })

  it('drops records from before the order was kept first, the earliest by their time, then by key', () => {
    const unordered = placed(3, () => 0, i => [300, 100, 100][i])
    const ordered = [{ key: 'new', seq: 1, lastAt: 0 }]
    expect(placeWrite([...unordered, ...ordered], 3, { stays: true }).drop).toEqual(['k001', 'k002'])
    expect(placeWrite([...unordered, ...ordered], 4, { stays: true }).drop).toEqual(['k002'])
  })
})
