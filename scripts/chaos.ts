// Seeded chaos on the Wi-Fi namespace testbed (USAGE below; the rounds themselves: scripts/lib/chaos.ts).
import { writeFileSync } from 'node:fs'
import { checkNetnsSupport } from './lib/netns.js'
import { CHAOS_KINDS, failed, runChaos, survived, type ChaosKind, type RoundResult } from './lib/chaos.js'
import { cleanupTempDirs } from '../test/helpers/stores.js'
import { numberOption, scriptArgs, usageError } from './lib/script-args.js'
import { inCI } from './lib/ci.js'

const USAGE = `npm run chaos -- [--rounds N] [--seed N] [--kinds K,K] [--rate MBIT] [--json FILE]

Every round a transfer between two phones on the Wi-Fi namespace testbed is interrupted at a seeded
point: SIGKILL of the receiver or the sender, the link dropping for a few seconds, a loss burst, or a new
IP address on one side. Both sides carry on (a killed one restarts with its resume token, no new code)
and the round must end verified with nothing lost or duplicated. Needs root (network namespaces).

  --rounds N    rounds to run (default 100)
  --seed N      seed of the run (default: random; printed, so a run can be replayed)
  --kinds K,K   only these interruptions: ${CHAOS_KINDS.join(', ')}
  --rate MBIT   the shaped link's rate in Mbit/s (default 24, 4 with --delta; with 0.1% loss)
  --delta N     interrupt a second transfer instead: the new phone holds a verified first one, and
                the old phone was used since (N messages added, inserted or edited, a new chat, a
                new video); faults are aimed at the difference
  --json FILE   also write the summary for \`npm run gauntlet\`

Exit code: 0 every round survived, 1 a round failed, lost or duplicated (or, under CI=true, network
namespaces are unavailable), 2 bad usage, 3 not run: network namespaces are unavailable here.`

const fmtBytes = (n: number): string => Math.abs(n) >= 1e6 ? `${(n / 1e6).toFixed(2)} MB` : Math.abs(n) >= 1e3 ? `${(n / 1e3).toFixed(1)} kB` : `${n} B`

function line (r: RoundResult, rounds: number): string {
  const head = `round ${String(r.round).padStart(String(rounds).length)}/${rounds}  ${r.kind.padEnd(13)} @${r.aim.toFixed(2)}`
  if (!r.injected && r.error === undefined) return `${head}  not injected (${r.detail !== '' ? r.detail : 'the transfer ended first'})  ${(r.ms / 1000).toFixed(1)} s`
  const verdict = survived(r) ? 'ok  ' : 'FAIL'
  const figures = r.injected
    ? `  resume ${r.resumeMs !== undefined ? `${r.resumeMs} ms` : '--'}, re-sent ${r.resentBytes !== undefined ? fmtBytes(r.resentBytes) : '--'}`
    : ''
  const lostDup = r.lost > 0 || r.duplicated > 0 ? `  LOST ${r.lost} DUPLICATED ${r.duplicated}` : ''
  return `${head}  ${verdict} ${r.detail}${figures}${lostDup}  ${(r.ms / 1000).toFixed(1)} s${r.error !== undefined ? `\n    ${r.error.split('\n').slice(0, 40).join('\n    ')}` : ''}`
}

async function main (): Promise<number> {
  const values = scriptArgs(USAGE, {
    rounds: { type: 'string' },
    seed: { type: 'string' },
    json: { type: 'string' },
    kinds: { type: 'string' },
    rate: { type: 'string' },
    delta: { type: 'string' }
  })
  const rounds = numberOption(USAGE, 'rounds', values.rounds, 100, 1)
  const seed = numberOption(USAGE, 'seed', values.seed, Math.floor(Math.random() * 2 ** 31))
  const rateMbit = values.rate !== undefined ? numberOption(USAGE, 'rate', values.rate, 0, 0.1, false) : undefined
  const delta = values.delta !== undefined ? numberOption(USAGE, 'delta', values.delta, 0, 1) : undefined
  const kinds = values.kinds?.split(',').map(k => k.trim()) as ChaosKind[] | undefined
  const unknown = kinds?.find(k => !(CHAOS_KINDS as readonly string[]).includes(k))
  if (unknown !== undefined) usageError(USAGE, `--kinds: no interruption is called ${JSON.stringify(unknown)}`)
  const support = await checkNetnsSupport()
  if (!support.ok) {
    if (inCI()) {
      process.stderr.write(`chaos: FAILED (CI=true requires every suite to run): ${support.reason ?? 'network namespaces unavailable'}\n`)
      return 1
    }
    process.stderr.write(`chaos: not run: ${support.reason ?? 'network namespaces unavailable'}\n`)
    return 3
  }
  const t0 = performance.now()
  const say = (s: string): void => { process.stdout.write(s + '\n') }
  say(`chaos: ${rounds} rounds, seed ${seed} (rerun with --seed ${seed})`)
  const { results, summary, setupMs } = await runChaos({
    rounds,
    seed,
    kinds,
    rateMbit,
    delta,
    log: say,
    onRound: r => { say(line(r, rounds)) }
  })
  const mins = (performance.now() - t0) / 60_000
  say('')
  say(`rounds                 ${summary.rounds} (seed ${seed}; ${mins.toFixed(1)} min, setup ${(setupMs / 1000).toFixed(0)} s)`)
  say(`interruptions injected ${summary.interruptions}`)
  if (summary.interruptions < summary.rounds) say(`not injected           ${summary.rounds - summary.interruptions} (the transfer ended before its fault; a lower --rate aims more of them)`)
  say(`survived               ${summary.survived}`)
  say(`messages lost          ${summary.lost}`)
  say(`messages duplicated    ${summary.duplicated}`)
  say(`bytes re-sent          median ${fmtBytes(summary.resentBytes.median)}, max ${fmtBytes(summary.resentBytes.max)} per interruption (vs a clean run)`)
  say(`time to resume         median ${summary.resumeMs.median} ms, max ${summary.resumeMs.max} ms (end of the fault to the next progress)`)
  for (const [k, v] of Object.entries(summary.byKind)) say(`  ${k.padEnd(14)} ${v.survived}/${v.injected} survived`)
  if (values.json !== undefined) writeFileSync(values.json, JSON.stringify(summary) + '\n')
  cleanupTempDirs()
  return failed(results) ? 1 : 0
}

main().then(code => { process.exitCode = code }, err => {
  process.stderr.write(`chaos: ${(err as Error).stack ?? String(err)}\n`)
  cleanupTempDirs()
  process.exitCode = 1
})
