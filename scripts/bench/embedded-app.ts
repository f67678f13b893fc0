// What an app that embeds Ferry in Node gets from `nodeTransferMemory` (src/memory/transfer-memory.ts),
// which createFerry passes by default: two processes of the built package (embedded-phone.mjs) move a
// store over loopback TCP, in alternating rounds with it and with `memory: false` (the collector left
// to V8), on the user's clock (the sender's start to both exits), with each side's CPU and peak RSS.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { numberOption, scriptArgsAndPositionals, usageError } from '../lib/script-args.js'
import { installCleanup, r2, removeTempDir, spawnNode, tempDir, type Child, type Event } from './proc.js'
import { median } from './user-clock.js'

const USAGE = `npx tsx scripts/bench/embedded-app.ts --store DIR [--runs N]

Moves the store in DIR (a phone's folder: \`ferry import\`, \`npm run bench -- --profile media\` or
scripts/bench/whatsapp-history.ts make one) between two Node processes that embed Ferry as an app does
(createFerry from the built package, dist/), in alternating rounds with Ferry's pacing of the garbage
collector (nodeTransferMemory, the default) and without it (memory: false). Receivers go to .tmp/ on
the same disk, each round after \`sync\`. Prints each round, then the medians.

  --store DIR  the old phone's store (required)
  --runs N     rounds of each (default 3)`

const root = resolve(fileURLToPath(import.meta.url), '../../..')
const PHONE = join(root, 'scripts/bench/embedded-phone.mjs')
const { values } = scriptArgsAndPositionals(USAGE, { store: { type: 'string' }, runs: { type: 'string' } })
const runs = numberOption(USAGE, 'runs', values.runs, 3, 1)
if (values.store === undefined) usageError(USAGE, '--store DIR is required')
const store = resolve(values.store)
if (!existsSync(join(store, 'history.db'))) usageError(USAGE, `${store} holds no phone (no history.db)`)
if (!existsSync(join(root, 'dist/node.js'))) usageError(USAGE, 'dist/node.js is missing: run `npm run build` first')

interface Round { memory: 'on' | 'off', userS: number, cpuS: { sender: number, receiver: number }, rssMiB: { sender: number, receiver: number } }

async function next (child: Child, name: string): Promise<Event> {
  const e = await child.waitFor(e => e.event === name || e.event === 'error')
  if (e.event === 'error') throw new Error(`an embedded phone failed: ${String(e.message)}`)
  return e
}

async function round (memory: 'on' | 'off'): Promise<Round> {
  const parent = join(root, '.tmp')
  mkdirSync(parent, { recursive: true })
  const target = tempDir('embedded-', parent)
  execFileSync('sync')
  const phone = (args: string[], label: string): Child => spawnNode([PHONE, ...args], { label, timeoutMs: 600_000 })
  const sender = phone(['send', store, memory], 'the embedded sender')
  let receiver: Child | undefined
  try {
    const code = await next(sender, 'code')
    receiver = phone(['receive', target, memory, String(code.code), (code.addrs as string[]).join(',')], 'the embedded receiver')
    await Promise.all([sender.done, receiver.done])
    const ended = Math.max(sender.exitedAt(), receiver.exitedAt())
    return {
      memory,
      userS: r2((ended - sender.startedAt) / 1000),
      cpuS: { sender: r2(sender.cpu()), receiver: r2(receiver.cpu()) },
      rssMiB: { sender: Math.round(sender.rss()), receiver: Math.round(receiver.rss()) }
    }
  } finally {
    sender.kill()
    receiver?.kill()
    removeTempDir(target)
  }
}

installCleanup()
const rounds: Round[] = []
for (let r = 0; r < runs; r++) {
  for (const memory of ['on', 'off'] as const) {
    const res = await round(memory)
    rounds.push(res)
    console.log(`round ${r + 1}, memory ${memory}: ${res.userS} s, CPU ${res.cpuS.sender}/${res.cpuS.receiver} s, peak RSS ${res.rssMiB.sender}/${res.rssMiB.receiver} MiB (send/recv)`)
  }
}
const of = (m: 'on' | 'off'): Round[] => rounds.filter(r => r.memory === m)
const summary = (m: 'on' | 'off'): string => {
  const rs = of(m)
  return `${median(rs.map(r => r.userS))} s (${Math.min(...rs.map(r => r.userS))}-${Math.max(...rs.map(r => r.userS))}), CPU ${r2(median(rs.map(r => r.cpuS.sender)))}/${r2(median(rs.map(r => r.cpuS.receiver)))} s, peak RSS ${median(rs.map(r => r.rssMiB.sender))}/${median(rs.map(r => r.rssMiB.receiver))} MiB`
}
console.log(`\nmedians of ${runs}: with nodeTransferMemory ${summary('on')}; memory: false ${summary('off')}`)
console.log(`the collector left to V8 takes ${r2(median(of('off').map(r => r.userS)) / median(of('on').map(r => r.userS)))}x as long`)
