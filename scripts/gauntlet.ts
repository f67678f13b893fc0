// The reliability and security gauntlet in one run (USAGE below).
import { spawn } from 'node:child_process'
import { createWriteStream, existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ChaosSummary } from './lib/chaos.js'
import { inCI } from './lib/ci.js'
import { countSuite, judgeSuite, verdict, type Judgement, type SuiteCounts, type SuiteOutcome, type VitestJson } from './lib/gauntlet-verdict.js'
import { numberOption, scriptArgs } from './lib/script-args.js'

const ROOT = fileURLToPath(new URL('../', import.meta.url))

const USAGE = `npm run gauntlet -- [--quick] [--rounds N] [--frames N] [--seed N]

The reliability and security gauntlet in one run: the Wi-Fi namespace suite, seeded chaos (kills, link
drops, loss bursts, address changes), the fuzzer, and the malicious-peer and resource-fault suites
(hostile senders and receivers over real libp2p, code guessing, strangers holding connections, stale
resume tokens, a full disk). Each part runs as its own
process with its output in a log file; the end is one table of figures.

  --quick       small counts (5 chaos rounds, 100000 fuzz frames): a check that every part runs
  --rounds N    chaos rounds (default 100)
  --frames N    fuzz frames (default 1000000)
  --seed N      seed of chaos and fuzz (default: random; printed, so a run can be replayed)

PASS means every part ran and passed. A part or test that could not run here (no root for network
namespaces, a missing tool) is listed as not run; under CI=true that is a failure.

Exit code: 0 every part ran and passed, 1 anything failed, lost or duplicated (or, under CI=true, did
not run), 2 bad usage, 3 nothing failed but some parts did not run here.`

const values = scriptArgs(USAGE, {
  quick: { type: 'boolean' },
  rounds: { type: 'string' },
  frames: { type: 'string' },
  seed: { type: 'string' }
})
const quick = values.quick === true
const rounds = numberOption(USAGE, 'rounds', values.rounds, quick ? 5 : 100, 1)
const frames = numberOption(USAGE, 'frames', values.frames, quick ? 100_000 : 1_000_000, 1)
const seed = String(numberOption(USAGE, 'seed', values.seed, Math.floor(Math.random() * 2 ** 31)))
const logs = mkdtempSync(join(tmpdir(), 'ferry-gauntlet-'))
const ci = inCI()

/** The suites each part runs (paths from the project root). */
const NETNS_SUITES = readdirSync(join(ROOT, 'test/e2e')).filter(f => /^netns-.*\.test\.ts$/.test(f)).map(f => `test/e2e/${f}`)
const HOSTILE_SUITES = [
  'test/e2e/hostile-sender.test.ts', 'test/e2e/hostile-receiver.test.ts', 'test/e2e/hostile-pairing.test.ts',
  'test/e2e/pairing-code.test.ts', 'test/protocol/hostile-sender.test.ts',
  // Strangers holding connection slots; the code's guesses across restarts; resume tokens that expire or were replaced.
  'test/e2e/hostile-slots.test.ts', 'test/e2e/code-budget.test.ts', 'test/e2e/resume-tokens.test.ts'
]
const RESOURCE_SUITES = ['test/e2e/disk-full.test.ts']

interface Run { code: number | null, ms: number, log: string }

async function run (name: string, argv: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const log = join(logs, `${name}.log`)
  const out = createWriteStream(log)
  process.stderr.write(`gauntlet: ${name}: ${argv.join(' ')}  (log: ${log})\n`)
  const t0 = performance.now()
  const child = spawn(argv[0], argv.slice(1), { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  child.stdout.pipe(out, { end: false })
  child.stderr.pipe(out, { end: false })
  const code = await new Promise<number | null>(resolve => child.on('close', c => resolve(c)))
  out.end()
  const ms = Math.round(performance.now() - t0)
  process.stderr.write(`gauntlet: ${name}: exit ${code ?? 'signal'} in ${(ms / 1000).toFixed(1)} s\n`)
  return { code, ms, log }
}

const tail = (r: Run, n = 25): string => readFileSync(r.log, 'utf8').trimEnd().split('\n').slice(-n).join('\n')
/** The lines of a failed run's log that say what failed (they may be far from its end). */
const failedLines = (r: Run, n = 15): string => readFileSync(r.log, 'utf8').split('\n').filter(l => /FAIL|×|Error:/.test(l)).slice(0, n).join('\n')

// ---- vitest suites ----

interface SuiteRun extends SuiteOutcome { run?: Run }

async function vitest (name: string, files: string[], env: NodeJS.ProcessEnv = {}): Promise<SuiteRun> {
  const missing = files.filter(f => !existsSync(join(ROOT, f)))
  if (missing.length > 0) return { missing, skipReasons: [] }
  const json = join(logs, `${name}.json`)
  const r = await run(name, [process.execPath, join(ROOT, 'node_modules/vitest/vitest.mjs'), 'run', ...files,
    '--reporter=default', '--reporter=json', `--outputFile.json=${json}`], env)
  // Why the suites skipped what they skipped: the `SKIP what: reason` lines they print (vitest may colour them).
  const plain = readFileSync(r.log, 'utf8').replace(/\x1b\[[0-9;]*m/g, '')
  const skipReasons = [...new Set(plain.split('\n').map(l => /^SKIP (.*)$/.exec(l.trim())?.[1]).filter((l): l is string => l !== undefined))]
  const counts = existsSync(json) ? countSuite(JSON.parse(readFileSync(json, 'utf8')) as VitestJson, ROOT) : undefined
  return { run: r, exitCode: r.code, counts, missing, skipReasons }
}

// ---- chaos and fuzz ----

interface FuzzSummary { frames: number, cases: number, distinctErrors: number, errors: Record<string, number>, crashes: number, firstCrash?: { reproduce: string } }

async function chaos (): Promise<{ run?: Run, summary?: ChaosSummary, note: string }> {
  if (!existsSync(join(ROOT, 'scripts/chaos.ts'))) return { note: 'failed: scripts/chaos.ts is missing' }
  const json = join(logs, 'chaos.json')
  const r = await run('chaos', [process.execPath, '--import', 'tsx', join(ROOT, 'scripts/chaos.ts'), '--rounds', String(rounds), '--seed', seed, '--json', json])
  if (r.code === 3) return { run: r, note: tail(r, 1).replace(/^chaos: /, '') }
  if (!existsSync(json)) return { run: r, note: 'failed: no JSON summary written' }
  return { run: r, summary: JSON.parse(readFileSync(json, 'utf8')) as ChaosSummary, note: `seed ${seed}` }
}

async function fuzz (): Promise<{ run: Run, summary?: FuzzSummary }> {
  const json = join(logs, 'fuzz.json')
  const r = await run('fuzz', [process.execPath, '--import', 'tsx', join(ROOT, 'scripts/fuzz.ts'), '--frames', String(frames), '--seed', seed, '--json', json])
  return { run: r, summary: existsSync(json) ? JSON.parse(readFileSync(json, 'utf8')) as FuzzSummary : undefined }
}

// ---- the run ----

const started = performance.now()
const netns = await vitest('netns', NETNS_SUITES)
const chaosResult = await chaos()
const fuzzResult = await fuzz()
const hostile = await vitest('hostile', HOSTILE_SUITES, quick ? {} : { FERRY_FLOOD_MB: '512' })
const resource = await vitest('resource', RESOURCE_SUITES)

const judgements: Judgement[] = [judgeSuite('namespace suite', netns), judgeSuite('malicious peers', hostile), judgeSuite('resource faults', resource)]
const c = chaosResult.summary
if (chaosResult.run === undefined) judgements.push({ failure: `chaos: ${chaosResult.note}` })
else if (chaosResult.run.code === 3) judgements.push({ notRun: `chaos: ${chaosResult.note}` })
else if (chaosResult.run.code !== 0) judgements.push({ failure: `chaos: exit ${chaosResult.run.code ?? 'signal'}` })
if (c !== undefined && (c.lost > 0 || c.duplicated > 0 || c.survived < c.interruptions)) judgements.push({ failure: `chaos: ${c.interruptions - c.survived} not survived, ${c.lost} lost, ${c.duplicated} duplicated` })
const f = fuzzResult.summary
if (f === undefined) judgements.push({ failure: `fuzz: no JSON summary (exit ${fuzzResult.run.code ?? 'signal'})` })
else if (f.crashes > 0) judgements.push({ failure: `fuzz: ${f.crashes} crashes (${f.firstCrash?.reproduce ?? ''})` })
const { result, exitCode, failures, notRun } = verdict(judgements, ci)

const diskFaults = resource.counts?.passed ?? 0
const diskTotal = (resource.counts?.passed ?? 0) + (resource.counts?.failed ?? 0)
const hostileTotal = (hostile.counts?.passed ?? 0) + (hostile.counts?.failed ?? 0)
const n = (x: number | undefined): string => x === undefined ? '--' : x.toLocaleString('en-US')
const mb = (x: number): string => x >= 1e6 ? `${(x / 1e6).toFixed(2)} MB` : `${(x / 1e3).toFixed(1)} kB`
const perFile = (s?: SuiteCounts): string => s === undefined ? 'no report' : Object.entries(s.files).map(([file, x]) => `${file.replace(/^\/?test\//, '').replace('.test.ts', '')} ${x.passed}/${x.passed + x.failed}${x.skipped > 0 ? ` (${x.skipped} NOT RUN)` : ''}`).join(', ')

const rows: Array<[string, string, string]> = [
  ['namespace tests passed', netns.counts === undefined ? '--' : `${netns.counts.passed}/${netns.counts.passed + netns.counts.failed}`, netns.counts?.skipped !== undefined && netns.counts.skipped > 0 ? `${netns.counts.skipped} NOT RUN (${perFile(netns.counts)})` : 'Wi-Fi testbed: bridge, tbf, loss, delay relay, mDNS'],
  ['chaos rounds', c === undefined ? '--' : n(c.rounds), c !== undefined && c.interruptions < c.rounds ? `${chaosResult.note}; ${c.rounds - c.interruptions} ended before their fault landed` : chaosResult.note],
  ['faults injected', n((c?.interruptions ?? 0) + diskTotal), `${n(c?.interruptions)} chaos interruptions + ${diskTotal} disk full`],
  ['  survived (verified after)', n((c?.survived ?? 0) + diskFaults), 'resumed without a new code, verified'],
  ['  messages lost', c === undefined ? '--' : n(c.lost), 'must be 0'],
  ['  messages duplicated', c === undefined ? '--' : n(c.duplicated), 'must be 0'],
  ['  bytes re-sent / interruption', c === undefined ? '--' : `${mb(c.resentBytes.median)} median`, c === undefined ? '' : `${mb(c.resentBytes.max)} max`],
  ['  time to resume', c === undefined ? '--' : `${n(c.resumeMs.median)} ms median`, c === undefined ? '' : `${n(c.resumeMs.max)} ms max`],
  ['fuzz frames', n(f?.frames), f === undefined ? 'no summary' : `${n(f.cases)} cases, seed ${seed}`],
  ['  distinct errors', n(f?.distinctErrors), f === undefined ? '' : Object.entries(f.errors).map(([k, v]) => `${k} ${v}`).join(', ')],
  ['  crashes', n(f?.crashes), f?.firstCrash?.reproduce ?? 'every rejection a typed error'],
  ['hostile cases refused', hostile.counts === undefined ? '--' : `${hostile.counts.passed}/${hostileTotal}`, perFile(hostile.counts)],
  ['known weaknesses (it.fails)', n((hostile.counts?.known.length ?? 0) + (resource.counts?.known.length ?? 0)), [...(hostile.counts?.known ?? []), ...(resource.counts?.known ?? [])].join('; ') || 'none recorded'],
  ['resource faults survived', resource.counts === undefined ? '--' : `${diskFaults}/${diskTotal}`, perFile(resource.counts)],
  ['result', result, `${((performance.now() - started) / 1000).toFixed(0)} s${quick ? ', --quick' : ''}; logs in ${logs}`]
]

const w0 = Math.max(...rows.map(r => r[0].length))
const w1 = Math.max(...rows.map(r => r[1].length))
const rule = `+-${'-'.repeat(w0)}-+-${'-'.repeat(w1)}-+`
console.log(`\nFerry gauntlet${quick ? ' (quick)' : ''}`)
console.log(rule)
for (const [a, b, note] of rows) console.log(`| ${a.padEnd(w0)} | ${b.padStart(w1)} | ${note}`)
console.log(rule)
if (notRun.length > 0 && !ci) {
  console.log('\nNot run here (PASS needs every part to run; under CI=true this fails):')
  for (const x of notRun) console.log(`  - ${x}`)
}
if (failures.length > 0) {
  console.log('\nFailed:')
  for (const x of failures) console.log(`  - ${x}`)
  for (const [name, r] of [['namespace suite', netns.run], ['chaos', chaosResult.run], ['fuzz', fuzzResult.run], ['malicious peers', hostile.run], ['resource faults', resource.run]] as Array<[string, Run | undefined]>) {
    if (r !== undefined && r.code !== 0 && !(r === chaosResult.run && r.code === 3)) console.log(`\n--- ${name} (from ${r.log}) ---\n${failedLines(r)}\n...\n${tail(r, 12)}`)
  }
}
process.exit(exitCode)
