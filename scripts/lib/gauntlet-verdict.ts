// How the gauntlet (scripts/gauntlet.ts) judges its parts: PASS only when every part ran and passed.
// A part or test that could not run here is "not run": listed, never counted as passed, and a failure
// under CI=true.

export interface FileCounts { passed: number, failed: number, skipped: number }

/** `known`: passing it.fails tests titled KNOWN WEAKNESS (a weakness recorded, not a case refused). */
export interface SuiteCounts extends FileCounts { known: string[], files: Record<string, FileCounts> }

export interface VitestJson { testResults?: Array<{ name: string, assertionResults: Array<{ status: string, title: string }> }> }

/** Counts of a vitest JSON report, per file (paths relative to `root`). Anything neither passed nor failed was not run. */
export function countSuite (report: VitestJson, root: string): SuiteCounts {
  const counts: SuiteCounts = { passed: 0, failed: 0, skipped: 0, known: [], files: {} }
  for (const file of report.testResults ?? []) {
    const f = { passed: 0, failed: 0, skipped: 0 }
    for (const t of file.assertionResults) {
      if (t.status === 'passed' && t.title.includes('KNOWN WEAKNESS')) counts.known.push(t.title.replace(/^KNOWN WEAKNESS:\s*/, ''))
      else if (t.status === 'passed') f.passed++
      else if (t.status === 'failed') f.failed++
      else f.skipped++
    }
    counts.files[file.name.replace(root, '')] = f
    counts.passed += f.passed
    counts.failed += f.failed
    counts.skipped += f.skipped
  }
  return counts
}

export interface SuiteOutcome {
  /** Listed suite files that are not in the repository (then vitest did not run). */
  missing: string[]
  /** vitest's exit code (null: killed by a signal); undefined when it did not run. */
  exitCode?: number | null
  /** undefined when vitest wrote no report. */
  counts?: SuiteCounts
  /** The `SKIP what: reason` lines the suites printed (test/helpers/cannot-run.ts). */
  skipReasons: string[]
}

export interface Judgement { failure?: string, notRun?: string }

export function judgeSuite (name: string, s: SuiteOutcome): Judgement {
  // A listed file that is not there would otherwise just not run: the gauntlet's list is wrong.
  if (s.missing.length > 0) return { failure: `${name}: suite files missing: ${s.missing.join(', ')}` }
  if (s.exitCode === undefined) return { failure: `${name}: vitest did not run` }
  const exit = `exit ${s.exitCode ?? 'signal'}`
  if (s.counts === undefined) return { failure: `${name}: vitest wrote no report (${exit})` }
  const j: Judgement = {}
  if (s.counts.failed > 0 || s.exitCode !== 0) j.failure = `${name}: ${s.counts.failed} failed (${exit})`
  const reasons = s.skipReasons.join('; ') || 'no reason printed'
  if (s.counts.skipped > 0) j.notRun = `${name}: ${s.counts.skipped} test(s) not run (${reasons})`
  else if (s.counts.passed + s.counts.failed + s.counts.known.length === 0) j.notRun = `${name}: no tests ran (${reasons})`
  return j
}

export interface Verdict { result: 'PASS' | 'FAIL' | 'NOT ALL RUN', exitCode: 0 | 1 | 3, failures: string[], notRun: string[] }

/** PASS (0) only with no failure and nothing not run; not run is FAIL (1) under CI=true, NOT ALL RUN (3) elsewhere. */
export function verdict (judgements: Judgement[], ci: boolean): Verdict {
  const failures = judgements.map(j => j.failure).filter((x): x is string => x !== undefined)
  const notRun = judgements.map(j => j.notRun).filter((x): x is string => x !== undefined)
  if (ci) failures.push(...notRun.map(x => `${x}; CI=true requires every part to run`))
  if (failures.length > 0) return { result: 'FAIL', exitCode: 1, failures, notRun }
  if (notRun.length > 0) return { result: 'NOT ALL RUN', exitCode: 3, failures, notRun }
  return { result: 'PASS', exitCode: 0, failures, notRun }
}
