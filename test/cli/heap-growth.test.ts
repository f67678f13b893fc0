import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

// A process that keeps what it allocates and runs five full collections. With --trace-gc-verbose, V8
// prints the growing factor it settled on after each one: "[HeapController] Limit: ... (F)". It starts
// from a factor of 1.5: V8's own judgement depends on how fast the machine runs at that moment (a
// slow allocator gets less than four, a loaded machine may get four anyway), a set one does not.
const PROGRAM = `
import { setFlagsFromString } from 'node:v8'
import { letOldGenerationGrow } from './src/cli/heap-growth.ts'
import { collectGarbage } from './src/cli/collect-garbage.ts'
setFlagsFromString('--heap-growing-percent=50')
if (process.argv.includes('grow')) letOldGenerationGrow()
setFlagsFromString('--trace-gc-verbose')
const keep = []
for (let round = 0; round < 5; round++) {
  for (let i = 0; i < 20000; i++) keep.push({ i })
  collectGarbage()
}
`

function factors (...args: string[]): number[] {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', PROGRAM, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 })
  expect(r.status, r.stderr).toBe(0)
  return [...r.stdout.matchAll(/\[HeapController\] Limit: .*\(([\d.]+)\)$/gm)].map(m => Number(m[1]))
}

describe('letOldGenerationGrow', () => {
  it('holds the old generation\'s growing factor at four, whatever it was before', () => {
    const before = factors()
    expect(before.length).toBeGreaterThanOrEqual(5)
    expect(before.every(f => f === 1.5)).toBe(true)
    const grown = factors('grow')
    expect(grown.length).toBeGreaterThanOrEqual(5)
    expect(grown.every(f => f === 4)).toBe(true)
  })
})
