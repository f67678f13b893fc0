// The gauntlet's PASS needs every part to have run (scripts/lib/gauntlet-verdict.ts): a part or test
// that did not run is listed as not run, never passed, and fails the run under CI=true.
import { describe, expect, it } from 'vitest'
import { countSuite, judgeSuite, verdict, type SuiteCounts, type VitestJson } from '../../scripts/lib/gauntlet-verdict.js'

const ROOT = '/repo/'
const report = (...files: Array<[string, string[]]>): VitestJson => ({
  testResults: files.map(([name, statuses]) => ({ name: `${ROOT}${name}`, assertionResults: statuses.map((status, i) => ({ status, title: `t${i}` })) }))
})
const ran = (counts: SuiteCounts, skipReasons: string[] = []): Parameters<typeof judgeSuite>[1] => ({ missing: [], exitCode: 0, counts, skipReasons })

describe('the gauntlet\'s verdict', () => {
  it('counts per file; skipped, todo and pending tests are not run, and a KNOWN WEAKNESS is neither', () => {
    const r = report(['test/e2e/netns-wifi.test.ts', ['passed', 'skipped', 'todo']], ['test/e2e/disk-full.test.ts', ['passed', 'failed', 'pending']])
    r.testResults![0].assertionResults.push({ status: 'passed', title: 'KNOWN WEAKNESS: a flood of pairings' })
    const c = countSuite(r, ROOT)
    expect(c).toMatchObject({ passed: 2, failed: 1, skipped: 3, known: ['a flood of pairings'] })
    expect(c.files).toEqual({ 'test/e2e/netns-wifi.test.ts': { passed: 1, failed: 0, skipped: 2 }, 'test/e2e/disk-full.test.ts': { passed: 1, failed: 1, skipped: 1 } })
  })

  it('PASS only when every part ran and passed', () => {
    const all = countSuite(report(['a.test.ts', ['passed', 'passed']]), ROOT)
    const v = verdict([judgeSuite('namespace suite', ran(all)), {}], true)
    expect(v).toEqual({ result: 'PASS', exitCode: 0, failures: [], notRun: [] })
  })

  it('a skipped test is not run, with the reason the suite printed: NOT ALL RUN (exit 3) on a laptop, FAIL under CI=true', () => {
    const some = countSuite(report(['test/e2e/netns-wifi.test.ts', ['passed', 'skipped', 'skipped']]), ROOT)
    const j = judgeSuite('namespace suite', ran(some, ['the Wi-Fi namespace tests: needs root']))
    expect(j).toEqual({ notRun: 'namespace suite: 2 test(s) not run (the Wi-Fi namespace tests: needs root)' })
    expect(verdict([j], false)).toMatchObject({ result: 'NOT ALL RUN', exitCode: 3, failures: [] })
    const ci = verdict([j], true)
    expect(ci).toMatchObject({ result: 'FAIL', exitCode: 1 })
    expect(ci.failures).toEqual(['namespace suite: 2 test(s) not run (the Wi-Fi namespace tests: needs root); CI=true requires every part to run'])
  })

  it('a suite that ran no test at all is not run either', () => {
    expect(judgeSuite('resource faults', ran(countSuite(report(['d.test.ts', []]), ROOT))).notRun).toBe('resource faults: no tests ran (no reason printed)')
    expect(judgeSuite('resource faults', ran(countSuite({}, ROOT))).notRun).toMatch(/no tests ran/)
  })

  it('failures: a failed test, a non-zero exit with every test passed, no report, missing suite files', () => {
    const ok = countSuite(report(['a.test.ts', ['passed']]), ROOT)
    expect(judgeSuite('hostile', ran(countSuite(report(['a.test.ts', ['passed', 'failed']]), ROOT))).failure).toBe('hostile: 1 failed (exit 0)')
    // A file that failed to load (as under CI=true when a suite cannot run) reports no test, but exits 1.
    expect(judgeSuite('hostile', { ...ran(ok), exitCode: 1 }).failure).toBe('hostile: 0 failed (exit 1)')
    expect(judgeSuite('hostile', { missing: [], exitCode: null, skipReasons: [] }).failure).toBe('hostile: vitest wrote no report (exit signal)')
    expect(judgeSuite('hostile', { missing: ['test/e2e/gone.test.ts'], skipReasons: [] }).failure).toBe('hostile: suite files missing: test/e2e/gone.test.ts')
    expect(verdict([{ failure: 'x' }, { notRun: 'y' }], false)).toEqual({ result: 'FAIL', exitCode: 1, failures: ['x'], notRun: ['y'] })
  })
})
