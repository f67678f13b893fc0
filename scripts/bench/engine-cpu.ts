// The CPU a whole transfer costs, both phones in one process over an in-memory pipe (no network, no
// pairing): the protocol, the store and the journal alone. Takes the source trees to compare (a checkout
// of another commit, with its own node_modules) and runs them in alternating rounds, each round a fresh
// process, each tree over a text-only history its own code seeded (the same generator seed: the same
// messages). How the async port's cost (issue 19) is measured against the tree before it:
//
//   git worktree add ../ferry-pre-port 9982148 && (cd ../ferry-pre-port && npm ci)
//   npx tsx scripts/bench/engine-cpu.ts --runs 3 ../ferry-pre-port .
//
// and what the port's async boundary itself costs, by crossing it more often than the code does:
//
//   npx tsx scripts/bench/engine-cpu.ts --runs 5 --hops 0,8
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { numberOption, scriptArgsAndPositionals, usageError } from '../lib/script-args.js'

const USAGE = `npx tsx scripts/bench/engine-cpu.ts [--runs N] [--messages N] [TREE...]

Whole-transfer CPU seconds of the in-process engine (sender and receiver machines, SQLite stores, the
journal) over a text-only history, for each source tree given (default: this one), in alternating
rounds. Prints CPU to the last message received ("messages") and to verified ("total"), per round.

  --runs N        rounds (default 3)
  --messages N    messages in the history (default 300000)
  --hops LIST     for a tree with the port: rounds for each count of extra awaits (comma-separated,
                  default 0) added to every call that returns a promise, of the app's HistorySource
                  and HistorySink and of Ferry's journal; the difference, per call counted, is what
                  one crossing of the async boundary costs`

const here = resolve(fileURLToPath(import.meta.url), '../../..')

interface Round { messagesCpu: number, totalCpu: number, totalMs: number, calls?: number }

if (process.argv[2] === '--child') {
  const [root, storeDir, messages, hops] = process.argv.slice(3)
  process.stdout.write(`${JSON.stringify(await child(root, storeDir, Number(messages), Number(hops)))}\n`)
  process.exit(0)
}

const { values, positionals } = scriptArgsAndPositionals(USAGE, { runs: { type: 'string' }, messages: { type: 'string' }, hops: { type: 'string' } })
const trees = positionals.map(t => resolve(t))
const runs = numberOption(USAGE, 'runs', values.runs, 3, 1)
const messages = numberOption(USAGE, 'messages', values.messages, 300_000, 1)
const hopCounts = (values.hops ?? '0').split(',').map(h => Number(h))
if (hopCounts.some(h => !Number.isInteger(h) || h < 0)) usageError(USAGE, `--hops takes whole numbers, comma-separated: '${String(values.hops)}'`)
if (trees.length === 0) trees.push(here)
for (const t of trees) if (!existsSync(join(t, 'src/protocol/sender.ts'))) usageError(USAGE, `${t} is no Ferry source tree (no src/protocol/sender.ts)`)

// One variant per tree and hop count, run in turn within each round.
const variants = trees.flatMap(t => hopCounts.map(hops => ({ t, hops, name: hopCounts.length > 1 ? `${t} +${hops} awaits` : t })))
const rounds = new Map<string, Round[]>(variants.map(v => [v.name, []]))
for (let r = 0; r < runs; r++) {
  for (const { t, hops, name } of variants) {
    const store = join(here, '.tmp/bench', `engine-text-${messages}-${createHash('sha256').update(t).digest('hex').slice(0, 8)}`)
    mkdirSync(join(here, '.tmp/bench'), { recursive: true })
    const out = execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', t, store, String(messages), String(hops)], { cwd: here, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
    const round = JSON.parse(out.trim().split('\n').pop() as string) as Round
    rounds.get(name)?.push(round)
    const calls = round.calls === undefined ? '' : `, ${round.calls} port calls`
    process.stdout.write(`round ${r + 1}/${runs} ${name}: messages ${round.messagesCpu.toFixed(2)} CPU-s, total ${round.totalCpu.toFixed(2)} CPU-s (${round.totalMs} ms${calls})\n`)
  }
}
const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] }
process.stdout.write('\ntree  messages CPU-s  total CPU-s  (medians)\n')
const first = rounds.get(variants[0].name) ?? []
const base = median(first.map(r => r.totalCpu))
for (const [name, rs] of rounds) {
  const total = median(rs.map(r => r.totalCpu))
  process.stdout.write(`${name}  ${median(rs.map(r => r.messagesCpu)).toFixed(2)}  ${total.toFixed(2)}  (${(total / base).toFixed(3)}x the first)\n`)
}
if (hopCounts.length > 1 && first[0]?.calls !== undefined) {
  const last = variants[variants.length - 1]
  const extra = last.hops - variants[0].hops
  const delta = median((rounds.get(last.name) ?? []).map(r => r.totalCpu)) - base
  const calls = first[0].calls
  const perCrossing = delta / (calls * extra)
  process.stdout.write(`\n${calls} port calls per transfer; ${extra} more awaits on each: ${delta >= 0 ? '+' : ''}${(delta * 1000).toFixed(0)} CPU-ms, ` +
    `${(perCrossing * 1e6).toFixed(2)} CPU-us per crossing: the code's one crossing per call costs ~${(perCrossing * calls * 1000).toFixed(0)} CPU-ms ` +
    `(${(perCrossing * calls / base * 100).toFixed(2)}% of the transfer)\n`)
}

/** One transfer with `root`'s own code, seeding its history first when there is none. */
async function child (root: string, storeDir: string, count: number, hops: number): Promise<Round> {
  // Another tree's modules, as that tree has them: their interfaces differ from this tree's.
  /* eslint-disable @typescript-eslint/no-explicit-any */
  const src = async (p: string): Promise<any> => await import(join(root, 'src', p))
  await src('polyfill.js')
  const { SqliteChatStore } = await src('store/sqlite-store.js')
  const { SenderMachine } = await src('protocol/sender.js')
  const { ReceiverMachine } = await src('protocol/receiver.js')
  const { runReceiver, runSender } = await src('protocol/session.js')
  const { memoryPipe } = await src('wire/memory-duplex.js')
  if (!existsSync(join(storeDir, 'history.db'))) await seed(src, SqliteChatStore, storeDir, count)
  const dir = mkdtempSync(join(here, '.tmp/bench', 'engine-cpu-'))
  const source = SqliteChatStore.open(storeDir)
  const target = SqliteChatStore.open(dir, { create: true })
  // Before the port the receiver wrote its bookkeeping into the store; since, into its own journal.
  const hasJournal = existsSync(join(root, 'src/journal/node-journal.ts'))
  const journal = hasJournal ? (await src('journal/node-journal.js')).NodeJournal.open(dir) : undefined
  const calls = { n: 0 }
  const sink = hasJournal ? crossing(target, hops, calls) : target
  const receiver = hasJournal ? new ReceiverMachine({ sink, journal: crossing(journal, hops, calls) }) : new ReceiverMachine({ store: target })
  if (hasJournal) receiver.onChatsReady = () => { target.messagesDone() }
  const sender = new SenderMachine({ source: hasJournal ? crossing(source, hops, calls) : source })
  const pipe = memoryPipe({ highWaterMark: 1024 * 1024 })
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  let messagesCpu: NodeJS.CpuUsage | undefined
  await Promise.all([runSender(sender, yielding(pipe.a)), runReceiver(receiver, yielding(pipe.b), {
    onProgress: () => { if (messagesCpu === undefined && receiver.progress.messages >= count) messagesCpu = process.cpuUsage(c0) }
  })])
  const total = process.cpuUsage(c0)
  const totalMs = Math.round(performance.now() - t0)
  if (receiver.state !== 'verified' || receiver.progress.messages !== count) throw new Error(`${root}: the transfer ended ${String(receiver.state)} with ${String(receiver.progress.messages)} messages`)
  await journal?.close()
  source.close()
  target.close()
  rmSync(dir, { recursive: true, force: true })
  const s = (c: NodeJS.CpuUsage): number => (c.user + c.system) / 1e6
  return { messagesCpu: s(messagesCpu ?? total), totalCpu: s(total), totalMs, ...(hasJournal ? { calls: calls.n } : {}) }
}

/**
 * `port` (a HistorySource, a HistorySink or the journal) with each call that returns a promise counted
 * and, with `hops`, made to await that many times more before its result is seen. The steps of an async
 * iterator a call returns (the journal's list) are not counted: the transfer lists the log twice.
 */
function crossing<T extends object> (port: T, hops: number, calls: { n: number }): T {
  return new Proxy(port, {
    get (target, key) {
      const v = Reflect.get(target, key, target) as unknown
      if (typeof v !== 'function') return v
      return (...args: unknown[]) => {
        const r = (v as (...a: unknown[]) => unknown).apply(target, args)
        if (!(r instanceof Promise)) return r
        calls.n++
        if (hops === 0) return r
        return (async () => {
          for (let i = 0; i < hops; i++) await null
          return await r
        })()
      }
    }
  })
}

/** The text set (scripts/bench/text-profile.ts) as `root`'s own generator and store write it. */
async function seed (src: (p: string) => Promise<any>, Store: any, storeDir: string, count: number): Promise<void> {
  const { generateHistory } = await src('sim/generator.js')
  const { PROFILES } = await src('sim/profiles.js')
  const store = Store.open(storeDir, { create: true })
  const history = generateHistory({ ...PROFILES.medium, messages: count, mediaBytes: 0 }, 1)
  store.putMetadata(history.contacts, history.conversations, [])
  let batch: any[] = []
  const flush = (): void => { const rows = batch; store.transaction(() => { store.putMessages(rows) }); batch = [] }
  for (const m of history.messages(history.media.map((r: any) => r.index.toString(16).padStart(64, '0')))) {
    const { media, durationMs: _d, ...rest } = m
    batch.push(media === undefined ? m : { ...rest, kind: 'text', text: m.text ?? `(${String(m.kind)})` })
    if (batch.length >= 5000) flush()
  }
  if (batch.length > 0) flush()
  store.close()
}

/** The bench's engine lane yields to the event loop every MiB, as a socket would. */
function yielding (d: any, everyBytes = 1024 * 1024): any {
  let since = 0
  return {
    source: d.source,
    write: async (chunks: Uint8Array[]) => {
      await d.write(chunks)
      for (const c of chunks) since += c.byteLength
      if (since >= everyBytes) { since = 0; await new Promise(resolve => setImmediate(resolve)) }
    },
    close: async () => { await d.close() },
    abort: (err: Error) => { d.abort(err) }
  }
}
