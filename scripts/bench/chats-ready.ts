// How long after pairing every message is on the new phone ("chats-ready"), two real `ferry` processes
// over loopback TCP, for each source tree given, in alternating rounds. Each tree runs its own built CLI
// over the store its own bench seeded (same profile, same seed: the same history), and both processes
// are stopped at chats-ready: the media phase is not what this measures. A tree whose receiver reads
// the messages back before chats-ready (read-back before the chats are opened) counts that read-back
// here, one from before that change does not: compare such trees by engine-cpu.ts. How the async port's cost in
// messages/s (issue 19) is measured against the tree before it:
//
//   git worktree add ../ferry-pre-port 9982148 && (cd ../ferry-pre-port && npm ci && npm run bench -- --profile large)
//   npm run bench -- --profile large --lanes ferry --runs 1     # seeds this tree's store
//   npx tsx scripts/bench/chats-ready.ts --runs 5 ../ferry-pre-port .
import { existsSync, mkdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { formatCode, generateCode } from '../../src/pairing/code.js'
import { numberOption, scriptArgsAndPositionals, usageError } from '../lib/script-args.js'
import { installCleanup, removeTempDir, spawnNode, tempDir, type Child, type Event } from './proc.js'

const USAGE = `npx tsx scripts/bench/chats-ready.ts [--runs N] [--profile NAME] [TREE...]

Time from "paired" to "chats-ready" on the receiver (every message stored and read back), two ferry processes over
127.0.0.1 TCP, for each source tree given (default: this one), in alternating rounds; prints each
round, then the median and messages per second per tree. Each tree needs its CLI built (bin/ferry.js)
and its own seeded store, .tmp/bench/NAME-1 (\`npm run bench -- --profile NAME\` in that tree makes it).

  --runs N        rounds (default 5)
  --profile NAME  the seeded store to send (default large)`

const here = resolve(fileURLToPath(import.meta.url), '../../..')
const { values, positionals } = scriptArgsAndPositionals(USAGE, { runs: { type: 'string' }, profile: { type: 'string' } })
const trees = positionals.map(t => resolve(t))
const runs = numberOption(USAGE, 'runs', values.runs, 5, 1)
const profile = values.profile ?? 'large'
if (trees.length === 0) trees.push(here)
for (const t of trees) {
  if (!existsSync(join(t, 'bin/ferry.js'))) usageError(USAGE, `${t} has no bin/ferry.js: is it a built Ferry tree?`)
  if (!existsSync(join(t, '.tmp/bench', `${profile}-1`, 'history.db'))) usageError(USAGE, `${t} has no seeded ${profile} store: run \`npm run bench -- --profile ${profile}\` there first`)
}

/** The first event named `name`; a failure event the process printed instead is thrown with its message. */
async function next (child: Child, name: string): Promise<Event> {
  const e = await child.waitFor(e => e.event === name || e.event === 'error')
  if (e.event === 'error') throw new Error(`ferry failed: ${String(e.code)} ${String(e.message)}`)
  return e
}

async function stop (child: Child): Promise<void> {
  child.kill()
  await child.done.catch(() => {})
}

async function round (tree: string): Promise<{ ms: number, messages: number }> {
  const target = tempDir('chats-ready-', mkdirp(join(tree, '.tmp')))
  const ferry = (args: string[], label: string): Child => spawnNode([join(tree, 'bin/ferry.js'), ...args], { label: `${label} (${tree})`, timeoutMs: 600_000 })
  // A fresh code each round: a seeded store remembers every code it showed, and refuses a used one.
  const sender = ferry(['send', '--store', join(tree, '.tmp/bench', `${profile}-1`), '--code', formatCode(generateCode()), '--no-mdns',
    '--transport', 'tcp', '--listen', '/ip4/127.0.0.1/tcp/0', '--json'], 'ferry send')
  let receiver: Child | undefined
  try {
    const code = await next(sender, 'code')
    receiver = ferry(['receive', '--store', target, '--qr', String(code.qr), '--no-mdns', '--transport', 'tcp', '--json'], 'ferry receive')
    const paired = await next(receiver, 'paired')
    const ready = await next(receiver, 'chats-ready')
    return { ms: ready.t - paired.t, messages: Number(ready.messages) }
  } finally {
    await stop(sender)
    if (receiver !== undefined) await stop(receiver)
    removeTempDir(target)
  }
}

function mkdirp (dir: string): string {
  mkdirSync(dir, { recursive: true })
  return dir
}

installCleanup()
const results = new Map<string, Array<{ ms: number, messages: number }>>(trees.map(t => [t, []]))
for (let r = 0; r < runs; r++) {
  for (const t of trees) {
    const res = await round(t)
    results.get(t)?.push(res)
    process.stdout.write(`round ${r + 1}/${runs} ${t}: chats ready ${(res.ms / 1000).toFixed(2)} s after pairing (${res.messages} messages)\n`)
  }
}
const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] }
process.stdout.write('\ntree  median s  messages/s  (against the first)\n')
let base: number | undefined
for (const [t, rs] of results) {
  const ms = median(rs.map(r => r.ms))
  const rate = rs[0].messages / (ms / 1000)
  base ??= rate
  process.stdout.write(`${t}  ${(ms / 1000).toFixed(2)}  ${Math.round(rate).toLocaleString('en-US')}  (${(rate / base).toFixed(3)}x)\n`)
}
