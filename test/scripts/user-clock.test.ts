import { describe, expect, it } from 'vitest'
import { summariseLane, type LaneRun } from '../../scripts/bench/user-clock.js'

// The bench's summary of a lane: medians over its rounds, in whole milliseconds.

const run = (userMs: number, phases: Record<string, number>): LaneRun => ({ userMs, phases, cpuSec: { sender: 1, receiver: 1 }, peakRssMiB: { sender: 10, receiver: 10 } })

describe('summariseLane', () => {
  it('never reports a phase after the lane\'s end, whatever the rounding', () => {
    // The last process's exit is the lane's end: equal before rounding, equal after.
    const s = summariseLane([run(677.496, { codeMs: 12.3, senderExitMs: 677.496 })], 1e6)
    expect(s.userMs).toBe(677)
    expect(s.phasesMs).toEqual({ codeMs: 12, senderExitMs: 677 })
  })

  it('takes each phase\'s median over the rounds', () => {
    const s = summariseLane([run(900, { pairedMs: 300 }), run(1000, { pairedMs: 100 }), run(800, { pairedMs: 200.4 })], 1e6)
    expect(s.userMs).toBe(900)
    expect(s.phasesMs).toEqual({ pairedMs: 200 })
  })
})
