// npm run chaos -- [--rounds 100] [--seed N] [--json FILE] [--kinds a,b] [--rate MBIT]
//
// Seeded chaos on the Wi-Fi namespace testbed (see scripts/lib/chaos.ts): every round a transfer is
// interrupted at a seeded point by SIGKILL of the receiver or the sender, the link dropping for a few
// seconds, a loss burst or a new IP address on one side; both sides carry on (killed ones restarted with
// the resume token, no new code) and the round must end verified with nothing lost or duplicated.
// Prints a line per round and a summary; --json FILE writes the summary for `npm run gauntlet`.
// Exit code 1 if any round failed, lost or duplicated; 2 on bad usage; 3 when namespaces are unavailable.
import { writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { checkNetnsSupport } from './lib/netns.js'
import { CHAOS_KINDS, failed, runChaos, survived, type ChaosKind, type RoundResult } from './lib/chaos.js'
import { cleanupTempDirs } from '../test/helpers/stores.js'

const fmtBytes = (n: number): string => Math.abs(n) >= 1e6 ? `${(n / 1e6).toFixed(2)} MB` : Math.abs(n) >= 1e3 ? `${(n / 1e3).toFixed(1)} kB` : `${n} B`

function line (r: RoundResult, rounds: number): string {
  const head = `round ${String(r.round).padStart(String(rounds).length)}/${rounds}  ${r.kind.padEnd(13)} @${r.aim.toFixed(2)}`
  if (!r.injected && r.error === undefined) return `${head}  not injected (the transfer ended first)  ${(r.ms / 1000).toFixed(1)} s`
  const verdict = survived(r) ? 'ok  ' : 'FAIL'
  const figures = r.injected
    ? `  resume ${r.resumeMs !== undefined ? `${r.resumeMs} ms` : '--'}, re-sent ${r.resentBytes !== undefined ? fmtBytes(r.resentBytes) : '--'}`
    : ''
  const lostDup = r.lost > 0 || r.duplicated > 0 ? `  LOST ${r.lost} DUPLICATED ${r.duplicated}` : ''
  return `${head}  ${verdict} ${r.detail}${figures}${lostDup}  ${(r.ms / 1000).toFixed(1)} s${r.error !== undefined ? `\n    ${r.error.split('\n').slice(0, 12).join('\n    ')}` : ''}`
}

async function main (): Promise<number> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '100' },
      seed: { type: 'string' },
      json: { type: 'string' },
      kinds: { type: 'string' },
      rate: { type: 'string' }
    }
  })
  const rounds = Number(values.rounds)
  const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31)
  const kinds = values.kinds?.split(',').map(k => k.trim()) as ChaosKind[] | undefined
  if (!Number.isInteger(rounds) || rounds < 1 || !Number.isInteger(seed) ||
    (kinds !== undefined && kinds.some(k => !(CHAOS_KINDS as readonly string[]).includes(k)))) {
    process.stderr.write(`usage: chaos.ts [--rounds N] [--seed N] [--json FILE] [--kinds ${CHAOS_KINDS.join(',')}] [--rate MBIT]\n`)
    return 2
  }
  const support = await checkNetnsSupport()
  if (!support.ok) {
    process.stderr.write(`chaos: skipped, network namespaces are unavailable: ${support.reason ?? ''}\n`)
    return 3
  }
  const t0 = performance.now()
  const say = (s: string): void => { process.stdout.write(s + '\n') }
  say(`chaos: ${rounds} rounds, seed ${seed} (rerun with --seed ${seed})`)
  const { results, summary, setupMs } = await runChaos({
    rounds,
    seed,
    kinds,
    rateMbit: values.rate !== undefined ? Number(values.rate) : undefined,
    log: say,
    onRound: r => { say(line(r, rounds)) }
  })
  const mins = (performance.now() - t0) / 60_000
  say('')
  say(`rounds                 ${summary.rounds} (seed ${seed}; ${mins.toFixed(1)} min, setup ${(setupMs / 1000).toFixed(0)} s)`)
  say(`interruptions injected ${summary.interruptions}`)
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
