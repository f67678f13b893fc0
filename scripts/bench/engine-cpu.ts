// The CPU a whole transfer costs, both phones in one process over an in-memory pipe (no network, no
// pairing): the protocol, the store and the journal alone. Takes the source trees to compare (a checkout
// of another commit, with its own node_modules) and runs them in alternating rounds, each round a fresh
// process, each tree over a text-only history its own code seeded (the same generator seed: the same
// messages). How the async port's cost (issue 19) is measured against the tree before it:
//
//   git worktree add ../ferry-pre-port 9982148 && (cd ../ferry-pre-port && npm ci)
//   npx tsx scripts/bench/engine-cpu.ts --runs 3 ../ferry-pre-port .
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { numberOption, scriptArgs, usageError } from '../lib/script-args.js'

const USAGE = `npx tsx scripts/bench/engine-cpu.ts [--runs N] [--messages N] [TREE...]

Whole-transfer CPU seconds of the in-process engine (sender and receiver machines, SQLite stores, the
journal) over a text-only history, for each source tree given (default: this one), in alternating
rounds. Prints CPU to the last message received ("messages") and to verified ("total"), per round.

  --runs N        rounds (default 3)
  --messages N    messages in the history (default 300000)`

const here = resolve(fileURLToPath(import.meta.url), '../../..')

interface Round { messagesCpu: number, totalCpu: number, totalMs: number }

if (process.argv[2] === '--child') {
  const [root, storeDir, messages] = process.argv.slice(3)
  process.stdout.write(`${JSON.stringify(await child(root, storeDir, Number(messages)))}\n`)
  process.exit(0)
}

const values = scriptArgs(USAGE, { runs: { type: 'string' }, messages: { type: 'string' } }, process.argv.slice(2).filter(a => !isTree(a)))
const runs = numberOption(USAGE, 'runs', values.runs, 3, 1)
const messages = numberOption(USAGE, 'messages', values.messages, 300_000, 1)
const trees = process.argv.slice(2).filter(isTree).map(t => resolve(t))
if (trees.length === 0) trees.push(here)
for (const t of trees) if (!existsSync(join(t, 'src/protocol/sender.ts'))) usageError(USAGE, `${t} is no Ferry source tree (no src/protocol/sender.ts)`)

const rounds = new Map<string, Round[]>(trees.map(t => [t, []]))
for (let r = 0; r < runs; r++) {
  for (const t of trees) {
    const store = join(here, '.tmp/bench', `engine-text-${messages}-${createHash('sha256').update(t).digest('hex').slice(0, 8)}`)
    mkdirSync(join(here, '.tmp/bench'), { recursive: true })
    const out = execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', t, store, String(messages)], { cwd: here, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
    const round = JSON.parse(out.trim().split('\n').pop() as string) as Round
    rounds.get(t)?.push(round)
    process.stdout.write(`round ${r + 1}/${runs} ${t}: messages ${round.messagesCpu.toFixed(2)} CPU-s, total ${round.totalCpu.toFixed(2)} CPU-s (${round.totalMs} ms)\n`)
  }
}
const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] }
process.stdout.write('\ntree  messages CPU-s  total CPU-s  (medians)\n')
const base = median(rounds.get(trees[0])?.map(r => r.totalCpu) ?? [])
for (const [t, rs] of rounds) {
  const total = median(rs.map(r => r.totalCpu))
  process.stdout.write(`${t}  ${median(rs.map(r => r.messagesCpu)).toFixed(2)}  ${total.toFixed(2)}  (${(total / base).toFixed(2)}x the first)\n`)
}

function isTree (a: string): boolean {
  return !a.startsWith('-') && !/^\d+$/.test(a)
}

/** One transfer with `root`'s own code, seeding its history first when there is none. */
async function child (root: string, storeDir: string, count: number): Promise<Round> {
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
  const receiver = hasJournal ? new ReceiverMachine({ sink: target, journal }) : new ReceiverMachine({ store: target })
  if (hasJournal) receiver.onChatsReady = () => { target.messagesDone() }
  const sender = new SenderMachine({ source })
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
  return { messagesCpu: s(messagesCpu ?? total), totalCpu: s(total), totalMs }
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
