// Benchmarks (not tests): figures are printed, never asserted.
//   npm run bench                          small profile: engine in memory + two phones over loopback TCP
//   npm run bench -- --profile medium      (large behind --profile large)
//   npm run bench -- --runs 3 --json out.json
import '../src/polyfill.js'
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { SqliteChatStore } from '../src/store/sqlite-store.js'
import { seedStore } from '../src/sim/seed.js'
import { getProfile } from '../src/sim/profiles.js'
import { SenderMachine } from '../src/protocol/sender.js'
import { ReceiverMachine } from '../src/protocol/receiver.js'
import { runReceiver, runSender } from '../src/protocol/session.js'
import { memoryPipe } from '../src/wire/memory-duplex.js'

const root = resolve(fileURLToPath(import.meta.url), '../..')
const ferryBin = join(root, 'bin/ferry.js')
const { values } = parseArgs({ options: { profile: { type: 'string', default: 'small' }, runs: { type: 'string', default: '3' }, json: { type: 'string' }, seed: { type: 'string', default: '1' } } })
const profile = getProfile(values.profile as string)
const runs = Number(values.runs)
const work = join(root, '.tmp', 'bench')

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] }
const mb = (bytes: number, ms: number): number => bytes / 1e6 / (ms / 1000)

async function sourceStore (): Promise<string> {
  const dir = join(work, `${profile.name}-${values.seed}`)
  if (!existsSync(join(dir, 'seeded'))) {
    rmSync(dir, { recursive: true, force: true })
    const s = SqliteChatStore.open(dir, { create: true })
    process.stderr.write(`seeding ${profile.name}...\n`)
    const summary = await seedStore(s, profile.name, Number(values.seed))
    s.close()
    writeFileSync(join(dir, 'seeded'), JSON.stringify(summary))
  }
  return dir
}

interface Result { ms: number, messages: number, mediaBytes: number, msgsPerSec: number, mbPerSec: number, rssMiB?: Record<string, number> }

async function engineInMemory (sourceDir: string): Promise<Result> {
  const source = SqliteChatStore.open(sourceDir)
  const dir = join(work, 'engine-target')
  rmSync(dir, { recursive: true, force: true })
  const target = SqliteChatStore.open(dir, { create: true })
  const pipe = memoryPipe({ highWaterMark: 1024 * 1024 })
  const sender = new SenderMachine({ source })
  const receiver = new ReceiverMachine({ store: target })
  let messagesDoneAt = 0
  const t0 = performance.now()
  await Promise.all([runSender(sender, pipe.a), runReceiver(receiver, pipe.b, {
    onProgress: () => { if (messagesDoneAt === 0 && receiver.state === 'media') messagesDoneAt = performance.now() }
  })])
  const ms = performance.now() - t0
  const r = receiver.progress
  source.close(); target.close()
  const msgMs = (messagesDoneAt || performance.now()) - t0
  return { ms, messages: r.messages, mediaBytes: r.mediaBytes, msgsPerSec: r.messages / (msgMs / 1000), mbPerSec: mb(r.mediaBytes, ms - msgMs) }
}

/** Peak RSS of a child, read from /proc while it runs (VmHWM is the high-water mark). */
function watchRss (pid: number): () => number {
  let peak = 0
  const read = (): void => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
      if (m !== null) peak = Math.max(peak, Number(m[1]) / 1024)
    } catch {}
  }
  const t = setInterval(read, 50)
  return () => { read(); clearInterval(t); return Math.round(peak) }
}

function run (args: string[]): { done: Promise<number>, lines: AsyncIterable<string>, pid: number, rss: () => number } {
  const child = spawn(process.execPath, [ferryBin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let err = ''
  child.stderr.on('data', (d: Buffer) => { err += d.toString() })
  const done = new Promise<number>((resolve, reject) => child.on('exit', code => code === 0 ? resolve(code) : reject(new Error(`ferry ${args[0]} exited ${code}: ${err}`))))
  async function * lines (): AsyncGenerator<string> {
    let buf = ''
    for await (const d of child.stdout) {
      buf += d.toString()
      let i
      while ((i = buf.indexOf('\n')) >= 0) { yield buf.slice(0, i); buf = buf.slice(i + 1) }
    }
  }
  return { done, lines: lines(), pid: child.pid as number, rss: watchRss(child.pid as number) }
}

async function twoPhones (sourceDir: string, n: number): Promise<Result & { pairMs: number }> {
  const target = join(work, 'cli-target')
  rmSync(target, { recursive: true, force: true })
  const code = `321-0000-${String(1000 + n).padStart(4, '0')}`
  const sender = run(['send', '--store', sourceDir, '--code', code, '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', '--json'])
  // Keep draining the sender's events: a closed pipe would kill it with EPIPE.
  const qr = await new Promise<string>(resolve => {
    void (async () => { for await (const line of sender.lines) { const e = JSON.parse(line); if (e.event === 'code') resolve(e.qr) } })()
  })
  const t0 = performance.now()
  const receiver = run(['receive', '--store', target, '--qr', qr, '--no-mdns', '--json'])
  let pairedAt = 0
  let last: { progress: { messages: number, mediaBytes: number } } | undefined
  for await (const line of receiver.lines) {
    const e = JSON.parse(line)
    if (e.event === 'paired' && pairedAt === 0) pairedAt = performance.now()
    if (e.event === 'verified') last = e
  }
  await Promise.all([sender.done, receiver.done])
  const ms = performance.now() - t0
  const p = last?.progress ?? { messages: 0, mediaBytes: 0 }
  return { ms, pairMs: pairedAt - t0, messages: p.messages, mediaBytes: p.mediaBytes, msgsPerSec: p.messages / (ms / 1000), mbPerSec: mb(p.mediaBytes, ms), rssMiB: { sender: sender.rss(), receiver: receiver.rss() } }
}

mkdirSync(work, { recursive: true })
const sourceDir = await sourceStore()
const engine: Result[] = []
const cli: Array<Result & { pairMs: number }> = []
for (let i = 0; i < runs; i++) {
  engine.push(await engineInMemory(sourceDir))
  cli.push(await twoPhones(sourceDir, i))
  process.stderr.write(`run ${i + 1}/${runs} done\n`)
}
const summary = {
  profile: profile.name,
  runs,
  engineInMemory: {
    ms: Math.round(median(engine.map(r => r.ms))),
    messagesPerSec: Math.round(median(engine.map(r => r.msgsPerSec))),
    mediaMBPerSec: +median(engine.map(r => r.mbPerSec)).toFixed(1),
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024)
  },
  twoPhonesLoopback: {
    ms: Math.round(median(cli.map(r => r.ms))),
    pairMs: Math.round(median(cli.map(r => r.pairMs))),
    messagesPerSec: Math.round(median(cli.map(r => r.msgsPerSec))),
    overallMBPerSec: +median(cli.map(r => r.mbPerSec)).toFixed(1),
    peakRssMiB: { sender: median(cli.map(r => r.rssMiB?.sender ?? 0)), receiver: median(cli.map(r => r.rssMiB?.receiver ?? 0)) }
  }
}
console.log(JSON.stringify(summary, null, 2))
if (typeof values.json === 'string') writeFileSync(values.json, JSON.stringify(summary, null, 2))
