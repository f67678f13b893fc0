// The sender's search for kept runs (src/protocol/kept-runs.ts) on its own: leaves that go against a base
// that holds none of their runs, so every suffix and prefix is digested, as a whole transfer after a
// `--since` one does for each leaf outside the window. Leaf sizes follow the cutter's (a leaf ends with
// chance 1/LEAF_SPAN a message, at most LEAF_MAX). Benchmark, not test: figures are printed, never asserted.
// To compare with another tree, copy this file into it and run it there.
import '../../src/polyfill.js'
import { keptRuns, type PlannedRun } from '../../src/protocol/kept-runs.js'
import { LEAF_MAX, LEAF_SPAN } from '../../src/protocol/leaves.js'
import type { PlannedLeaf } from '../../src/protocol/plan.js'
import type { Message } from '../../src/store/model.js'
import { numberOption, scriptArgs } from '../lib/script-args.js'

const USAGE = `npx tsx scripts/bench/kept-runs.ts [--leaves N] [--runs N]

Plans N leaves (sizes as the cutter makes them, seeded) that go against a base holding none of their runs,
and prints the time keptRuns takes each run (CPU of the sender's planning, nothing on the wire).

  --leaves N   leaves to plan (default 2000)
  --runs N     runs (default 3)`

const values = scriptArgs(USAGE, { leaves: { type: 'string' }, runs: { type: 'string' } })
const leaves = numberOption(USAGE, 'leaves', values.leaves, 2000, 1)
const rounds = numberOption(USAGE, 'runs', values.runs, 3, 1)

let x = 12345
const rand = (): number => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return (x >>> 0) / 2 ** 32 }
let next = 0
const runs: PlannedRun[] = []
const pages = new Map<PlannedLeaf, Message[]>()
for (let l = 0; l < leaves; l++) {
  let n = 1
  while (rand() >= 1 / LEAF_SPAN && n < LEAF_MAX) n++
  const messages = Array.from({ length: n }, (): Message => {
    const i = next++
    return { conversation: 'c', id: `m-${i}`, sender: 'me', ts: 1_600_000_000_000 + i, kind: 'text', text: `message number ${i} with some words in it, as a chat has` }
  })
  const entry: PlannedLeaf = { kind: 'need', first: { ts: messages[0].ts, id: messages[0].id }, last: { ts: messages[n - 1].ts, id: messages[n - 1].id }, count: n }
  pages.set(entry, messages)
  runs.push({ entry, digest: new Uint8Array(16) })
}
const reader = {
  messages: async function * (e: PlannedLeaf): AsyncIterable<Message[]> { yield pages.get(e) as Message[] },
  since: false,
  until: false
}
for (let r = 0; r < rounds; r++) {
  const t = performance.now()
  await keptRuns(runs, [], { has: () => false }, reader)
  console.log(`kept runs of ${leaves} leaves (${next} messages), none in the base: ${(performance.now() - t).toFixed(0)} ms`)
}
