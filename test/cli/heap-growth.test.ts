import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

// A process that keeps a little of what it allocates and allocates slowly, as a sender's old
// generation does, then runs five full collections. With --trace-gc-verbose, V8 prints the growing
// factor it settled on after each one: "[HeapController] Limit: old size: ... new limit: ... (F)".
const PROGRAM = `
import { setFlagsFromString } from 'node:v8'
import { setTimeout as sleep } from 'node:timers/promises'
import { letOldGenerationGrow } from './src/cli/heap-growth.ts'
import { collectGarbage } from './src/cli/collect-garbage.ts'
if (process.argv.includes('grow')) letOldGenerationGrow()
setFlagsFromString('--trace-gc-verbose')
const keep = []
for (let round = 0; round < 5; round++) {
  for (let i = 0; i < 20000; i++) keep.push({ i })
  await sleep(100) // the allocation rate V8 measures, not a wait for anything
  collectGarbage()
}
`

function factors (...args: string[]): number[] {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', PROGRAM, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 })
  expect(r.status, r.stderr).toBe(0)
  return [...r.stdout.matchAll(/\[HeapController\] Limit: .*\(([\d.]+)\)$/gm)].map(m => Number(m[1]))
}

describe('letOldGenerationGrow', () => {
  it('holds the old generation\'s growing factor at four, where V8 would judge a slow allocator a lower one', () => {
    const own = factors()
    expect(own.length).toBeGreaterThanOrEqual(5)
    // V8's own judgement after its first measurement: below four (what the sender's storm came from).
    expect(Math.min(...own.slice(1))).toBeLessThan(4)
    const grown = factors('grow')
    expect(grown.length).toBeGreaterThanOrEqual(5)
    expect(grown.every(f => f === 4)).toBe(true)
  })
})
