import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { HEADROOM_BYTES } from '../../src/memory/heap-growth.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

// A process that keeps what it allocates and runs five full collections. With --trace-gc-verbose, V8
// prints the growing factor it settled on after each one: "[HeapController] Limit: ... (F)". It starts
// from a factor of 1.5: V8's own judgement depends on how fast the machine runs at that moment (a
// slow allocator gets less than four, a loaded machine may get four anyway), a set one does not.
const PROGRAM = `
import { setFlagsFromString } from 'node:v8'
import { letOldGenerationGrow } from './src/memory/heap-growth.ts'
import { collectGarbage } from './src/memory/collect-garbage.ts'
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

// A process that keeps about 35 MB alive, from a growing factor of 1.25 (set, so not V8's judgement,
// and below what the headroom over it makes).
const HOLDING = `
import { setFlagsFromString } from 'node:v8'
import { collectGarbage } from './src/memory/collect-garbage.ts'
setFlagsFromString('--heap-growing-percent=25')
const keep = []
for (let i = 0; i < 400000; i++) keep.push({ i, s: 'x' + i })
`

// A receiver's media phase: what is alive at its start (about 35 MB here, kept to the end) and a fixed
// headroom over it set the factor for the collections that follow, until the read-back gives V8 its own
// judgement back.
const MEDIA = `
import { getHeapStatistics } from 'node:v8'
import { holdHeadroomForMedia, restoreOldGenerationGrowth } from './src/memory/heap-growth.ts'
${HOLDING}
collectGarbage()
setFlagsFromString('--trace-gc-verbose')
console.log('HOLD')
holdHeadroomForMedia()
console.log('ALIVE', getHeapStatistics().used_heap_size)
for (let round = 0; round < 3; round++) collectGarbage()
console.log('RESTORE')
restoreOldGenerationGrowth()
for (let round = 0; round < 3; round++) collectGarbage()
console.log(keep.length)
`

function limitFactors (text: string): number[] {
  return [...text.matchAll(/\[HeapController\] Limit: .*\(([\d.]+)\)$/gm)].map(m => Number(m[1]))
}

describe('holdHeadroomForMedia', () => {
  it('lets the old generation grow by a headroom over what is alive while media flows, then gives V8 its own factor back', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', MEDIA], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 })
    expect(r.status, r.stderr).toBe(0)
    const held = r.stdout.slice(r.stdout.indexOf('HOLD'), r.stdout.indexOf('RESTORE'))
    const alive = Number(/ALIVE (\d+)/.exec(r.stdout)?.[1])
    // The first collection learns what is alive; from the second on, the limit is that plus the headroom.
    const during = limitFactors(held).slice(1)
    expect(during.length).toBeGreaterThanOrEqual(4)
    const expected = 1 + Math.ceil(100 * HEADROOM_BYTES / alive) / 100
    for (const f of during) expect(f).toBeCloseTo(expected, 1)
    expect(expected).toBeGreaterThan(1.3)
    expect(expected).toBeLessThan(4)
    // Afterwards V8 judges for itself again (with nothing allocated between collections it grants its
    // most, four times): not the held factor.
    const after = limitFactors(r.stdout.slice(r.stdout.indexOf('RESTORE')))
    expect(after.length).toBeGreaterThanOrEqual(3)
    for (const f of after) expect(Math.abs(f - expected)).toBeGreaterThan(0.05)
  })
})

// A sender holding about 35 MB: fourfold until the first full collection is heard of, then the headroom
// over what each one left alive. The observer hears of a collection a turn of the event loop later.
// With 'done', its transfer then ends: the observer must stop holding the headroom.
const SENDER = `
import { setTimeout as sleep } from 'node:timers/promises'
import { letOldGenerationGrow, restoreOldGenerationGrowth } from './src/memory/heap-growth.ts'
${HOLDING}
letOldGenerationGrow()
setFlagsFromString('--trace-gc-verbose')
const collections = async () => {
  for (let round = 0; round < 4; round++) {
    collectGarbage()
    await sleep(50)
  }
}
await collections()
if (process.argv.includes('done')) {
  console.log('RESTORE')
  restoreOldGenerationGrowth()
  await collections()
}
console.log(keep.length)
`

describe('letOldGenerationGrow', () => {
  it('stops holding the headroom once the growth is restored', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', SENDER, 'done'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 })
    expect(r.status, r.stderr).toBe(0)
    const restore = r.stdout.indexOf('RESTORE')
    const held = limitFactors(r.stdout.slice(0, restore)).filter(f => f !== 4)
    expect(held.length).toBeGreaterThanOrEqual(1)
    const after = limitFactors(r.stdout.slice(restore))
    expect(after.length).toBeGreaterThanOrEqual(3)
    // The first collection after the restore may still carry the held factor; those after it are V8's.
    for (const f of after.slice(1)) expect(Math.abs(f - held[held.length - 1])).toBeGreaterThan(0.05)
  })


  it('grows fourfold until a full collection says what is alive, then by the headroom over it', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', SENDER], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 })
    expect(r.status, r.stderr).toBe(0)
    const limits = [...r.stdout.matchAll(/\[HeapController\] Limit: old size: (\d+) KB, .*\(([\d.]+)\)$/gm)].map(m => ({ oldKB: Number(m[1]), factor: Number(m[2]) }))
    expect(limits.length).toBeGreaterThanOrEqual(4)
    expect(limits[0].factor).toBe(4)
    const later = limits.filter(l => l.factor !== 4)
    expect(later.length).toBeGreaterThanOrEqual(2)
    for (const l of later) expect(l.factor).toBeCloseTo(1 + HEADROOM_BYTES / 1024 / l.oldKB, 1)
  })

  it('lets a small old generation grow fourfold, whatever the factor was before', () => {
    const before = factors()
    expect(before.length).toBeGreaterThanOrEqual(5)
    expect(before.every(f => f === 1.5)).toBe(true)
    const grown = factors('grow')
    expect(grown.length).toBeGreaterThanOrEqual(5)
    expect(grown.every(f => f === 4)).toBe(true)
  })
})
