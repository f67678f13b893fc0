// How long after pairing every message is on the new phone ("chats-ready"), two real `ferry` processes
// over loopback TCP, for each source tree given, in alternating rounds. Each tree runs its own built CLI
// over the store its own bench seeded (same profile, same seed: the same history), and both processes
// are stopped at chats-ready: the media phase is not what this measures. How the async port's cost in
// messages/s (issue 19) is measured against the tree before it:
//
//   git worktree add ../ferry-pre-port 9982148 && (cd ../ferry-pre-port && npm ci && npm run bench -- --profile large)
//   npm run bench -- --profile large --lanes ferry --runs 1     # seeds this tree's store
//   npx tsx scripts/bench/chats-ready.ts --runs 5 ../ferry-pre-port .
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { formatCode, generateCode } from '../../src/pairing/code.js'
import { numberOption, scriptArgs, usageError } from '../lib/script-args.js'

const USAGE = `npx tsx scripts/bench/chats-ready.ts [--runs N] [--profile NAME] [TREE...]

Time from "paired" to "chats-ready" on the receiver (every message stored), two ferry processes over
127.0.0.1 TCP, for each source tree given (default: this one), in alternating rounds; prints each
round, then the median and messages per second per tree. Each tree needs its CLI built (bin/ferry.js)
and its own seeded store, .tmp/bench/NAME-1 (\`npm run bench -- --profile NAME\` in that tree makes it).

  --runs N        rounds (default 5)
  --profile NAME  the seeded store to send (default large)`

const here = resolve(fileURLToPath(import.meta.url), '../../..')
// Options (and their values) apart from the trees.
const options: string[] = []
const trees: string[] = []
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i]
  if (a === '--runs' || a === '--profile') options.push(a, process.argv[++i] ?? '')
  else if (a.startsWith('-')) options.push(a)
  else trees.push(resolve(a))
}
const values = scriptArgs(USAGE, { runs: { type: 'string' }, profile: { type: 'string' } }, options)
const runs = numberOption(USAGE, 'runs', values.runs, 5, 1)
const profile = values.profile ?? 'large'
if (trees.length === 0) trees.push(here)
for (const t of trees) {
  if (!existsSync(join(t, 'bin/ferry.js'))) usageError(USAGE, `${t} has no bin/ferry.js: is it a built Ferry tree?`)
  if (!existsSync(join(t, '.tmp/bench', `${profile}-1`, 'history.db'))) usageError(USAGE, `${t} has no seeded ${profile} store: run \`npm run bench -- --profile ${profile}\` there first`)
}

interface Event { event: string, [k: string]: unknown }

/** A ferry process whose JSON events are timed as they arrive (older trees' events carry no time). */
function ferry (tree: string, args: string[]): { child: ChildProcess, next: (name: string) => Promise<{ e: Event, t: number }> } {
  const child = spawn(process.execPath, [join(tree, 'bin/ferry.js'), ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  const seen: Array<{ e: Event, t: number }> = []
  const waiting: Array<() => void> = []
  let exited = false
  child.on('exit', () => { exited = true; for (const w of waiting.splice(0)) w() })
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', line => {
    let e: Event
    try { e = JSON.parse(line) as Event } catch { return }
    seen.push({ e, t: performance.now() })
    for (const w of waiting.splice(0)) w()
  })
  const next = async (name: string): Promise<{ e: Event, t: number }> => {
    for (;;) {
      const hit = seen.find(s => s.e.event === name || s.e.event === 'error')
      if (hit?.e.event === 'error') throw new Error(`${tree}: ferry ${args[0]} failed: ${String(hit.e.code)} ${String(hit.e.message)}`)
      if (hit !== undefined) return hit
      if (exited) throw new Error(`${tree}: ferry ${args[0]} ended before ${name}`)
      await new Promise<void>(resolve => waiting.push(resolve))
    }
  }
  return { child, next }
}

async function stop (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const gone = new Promise(resolve => child.once('exit', resolve))
  child.kill('SIGKILL')
  await gone
}

async function round (tree: string): Promise<{ ms: number, messages: number }> {
  mkdirSync(join(tree, '.tmp'), { recursive: true })
  const target = mkdtempSync(join(tree, '.tmp', 'chats-ready-'))
  // A fresh code each round: a seeded store remembers every code it showed, and refuses a used one.
  const sender = ferry(tree, ['send', '--store', join(tree, '.tmp/bench', `${profile}-1`), '--code', formatCode(generateCode()), '--no-mdns',
    '--transport', 'tcp', '--listen', '/ip4/127.0.0.1/tcp/0', '--json', '--timeout', '300'])
  let receiver: ReturnType<typeof ferry> | undefined
  try {
    const code = await sender.next('code')
    receiver = ferry(tree, ['receive', '--store', target, '--qr', String(code.e.qr), '--no-mdns', '--transport', 'tcp', '--json', '--timeout', '120'])
    const paired = await receiver.next('paired')
    const ready = await receiver.next('chats-ready')
    return { ms: ready.t - paired.t, messages: Number(ready.e.messages) }
  } finally {
    await stop(sender.child)
    if (receiver !== undefined) await stop(receiver.child)
    rmSync(target, { recursive: true, force: true })
  }
}

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
