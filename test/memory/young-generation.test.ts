import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { YOUNG_GENERATION_BYTES } from '../../src/memory/young-generation.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

// A process that allocates as a phone does (short-lived objects, some surviving a scavenge or two), in
// turns of the event loop, with a worker thread started half-way (as the store's checkpoint thread is),
// and prints its young generation's size at the end.
const PROGRAM = `
import { Worker } from 'node:worker_threads'
import { getHeapSpaceStatistics } from 'node:v8'
import { setImmediate as turn } from 'node:timers/promises'
import { holdYoungGeneration } from './src/memory/young-generation.ts'
if (process.argv.includes('hold')) holdYoungGeneration()
let keep = []
const churn = async () => {
  for (let round = 0; round < 200; round++) {
    for (let i = 0; i < 20000; i++) { keep.push({ i, a: [i] }); if (keep.length > 50000) keep = keep.slice(25000) }
    await turn()
  }
}
await churn()
const worker = new Worker('setTimeout(() => {}, 200)', { eval: true })
const exited = new Promise(resolve => worker.once('exit', resolve))
await new Promise(resolve => worker.once('online', resolve))
await churn()
await exited
console.log('YOUNG', getHeapSpaceStatistics().find(s => s.space_name === 'new_space').space_size)
`

function youngBytes (...args: string[]): number {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', PROGRAM, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 })
  expect(r.status, r.stderr).toBe(0)
  return Number(/YOUNG (\d+)/.exec(r.stdout)?.[1])
}

describe('holdYoungGeneration', () => {
  it('keeps the young generation at its size through a busy process and a worker thread starting', () => {
    // Without the hold, V8 grows it past the size held.
    expect(youngBytes()).toBeGreaterThan(YOUNG_GENERATION_BYTES)
    expect(youngBytes('hold')).toBe(YOUNG_GENERATION_BYTES)
  })
})
