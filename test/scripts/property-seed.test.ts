// Property tests print their seed, and the seed replays them (test/helpers/property.ts).
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { fc, SEED } from '../helpers/property.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

/** The helper's first line in a fresh process with this environment. */
function printed (env: NodeJS.ProcessEnv): { status: number | null, stdout: string, stderr: string } {
  return spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', "await import('./test/helpers/property.ts')"],
    { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env } })
}

describe('the property tests\' seed', () => {
  it('is the one fast-check runs with: the same seed gives the same cases', () => {
    expect(fc.readConfigureGlobal().seed).toBe(SEED)
    const cases = (): number[] => {
      const seen: number[] = []
      fc.assert(fc.property(fc.nat(), n => { seen.push(n) }), { numRuns: 20 })
      return seen
    }
    expect(cases()).toEqual(cases())
  })

  it('is printed, random by default and taken from FERRY_FC_SEED to replay', () => {
    const [a, b] = [printed({ FERRY_FC_SEED: '' }), printed({ FERRY_FC_SEED: '' })]
    const seedOf = (out: string): string | undefined => /^fast-check seed (\d+) \(replay this file with FERRY_FC_SEED=\1\)$/m.exec(out)?.[1]
    // On stderr: a script's own output (a usage, a JSON report) stays clean on stdout.
    expect(seedOf(a.stderr), a.stderr).toMatch(/^\d+$/)
    expect(a.stdout).toBe('')
    expect(seedOf(a.stderr)).not.toBe(seedOf(b.stderr))
    expect(seedOf(printed({ FERRY_FC_SEED: '424242' }).stderr)).toBe('424242')
    const bad = printed({ FERRY_FC_SEED: 'soon' })
    expect(bad.status).not.toBe(0)
    expect(bad.stderr).toContain('FERRY_FC_SEED wants an integer, not "soon"')
  })
})
