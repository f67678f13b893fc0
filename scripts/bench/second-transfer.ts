// The second transfer, on the user's clock: a history moved once, then moved again unchanged, then again
// with new messages among the old, each time by `ferry send` and `ferry receive` as separate processes
// over loopback TCP with a fresh code. The phones talk through a byte-counting relay in this process (no
// delay), so the bytes each transfer costs both ways are counted on the wire, Noise and yamux included.
// Benchmark, not test: figures are printed, never asserted.
import '../../src/polyfill.js'
import { cpSync, existsSync, mkdirSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { SqliteChatStore } from '../../src/store/sqlite-store.js'
import { formatCode, generateCode } from '../../src/pairing/code.js'
import type { Message } from '../../src/store/model.js'
import { DelayRelay } from '../lib/delay-relay.js'
import { numberOption, scriptArgs } from '../lib/script-args.js'
import { installCleanup, spawnNode, type Child, type Event } from './proc.js'
import { seedTextOnly } from './text-profile.js'

const USAGE = `npm run bench:second -- [--messages N] [--new N] [--tmp DIR] [--seed N]

Moves a text-only history (no media: the messages are what reconciliation saves) three times between
two ferry processes on loopback, each with a fresh code: a first transfer to an empty phone, a second
of the unchanged history, a third after N new messages were added among the old conversations. For
each it prints the user's clock (send started to both exited), pairing to verified, the messages sent,
and the bytes on the wire both ways; and the second and third transfers' bytes as a share of the first's.

  --messages N   the history's size (default 1000000); the source is seeded once and kept in DIR
  --new N        messages added before the third transfer (default 1000)
  --tmp DIR      where the phones live (default .tmp/bench-second, on the disk)
  --seed N       seed of the generated history (default 1)`

const values = scriptArgs(USAGE, { messages: { type: 'string' }, new: { type: 'string' }, tmp: { type: 'string' }, seed: { type: 'string' } })
const messages = numberOption(USAGE, 'messages', values.messages, 1_000_000, 1)
const added = numberOption(USAGE, 'new', values.new, 1000, 0)
const seed = numberOption(USAGE, 'seed', values.seed, 1)
const root = fileURLToPath(new URL('../../', import.meta.url))
const base = resolve(values.tmp ?? join(root, '.tmp/bench-second'))
const ferryBin = join(root, 'bin/ferry.js')
const TIMEOUT_MS = 30 * 60_000

installCleanup()

interface Transfer {
  label: string
  userMs: number
  pairedToVerifiedMs: number
  messagesSent: number
  messagesHeld: number
  /** Sender -> receiver and receiver -> sender bytes through the relay. */
  down: number
  up: number
}

function sourceStore (): string {
  const dir = join(base, `source-${messages}-${seed}`)
  if (existsSync(join(dir, 'history.db'))) return dir
  rmSync(dir, { recursive: true, force: true })
  const t = performance.now()
  const store = SqliteChatStore.open(dir, { create: true })
  try {
    seedTextOnly(store, seed, messages)
  } finally {
    store.close()
  }
  console.error(`seeded ${messages.toLocaleString('en-US')} messages in ${((performance.now() - t) / 1000).toFixed(1)} s (kept in ${dir})`)
  return dir
}

function ferry (args: string[], label: string): Child {
  return spawnNode([ferryBin, ...args], { label, timeoutMs: TIMEOUT_MS, cwd: root })
}

const at = (e: Event): number => e.at as number

async function transfer (label: string, source: string, target: string): Promise<Transfer> {
  const relay = new DelayRelay({ delayMs: [0, 0] })
  const code = formatCode(generateCode())
  const sender = ferry(['send', '--store', source, '--code', code, '--no-mdns', '--no-sweep', '--listen', '/ip4/127.0.0.1/tcp/0', '--json', '--timeout', '600'], 'ferry send')
  let receiver: Child | undefined
  try {
    const offer = await sender.waitFor(e => e.event === 'code')
    const direct = (offer.addrs as string[]).find(a => a.startsWith('/ip4/127.0.0.1/tcp/'))
    if (direct === undefined) throw new Error(`ferry send offered no loopback TCP address: ${JSON.stringify(offer.addrs)}`)
    const port = Number(direct.split('/')[4])
    const relayed = await relay.route('127.0.0.1', 0, '127.0.0.1', port)
    receiver = ferry(['receive', '--store', target, '--code', code, '--no-mdns', '--no-sweep',
      '--peer', `/ip4/127.0.0.1/tcp/${relayed}/p2p/${offer.peerId as string}`, '--json', '--timeout', '600'], 'ferry receive')
    const end = await receiver.waitFor(e => e.event === 'verified' || e.event === 'error')
    if (end.event === 'error') throw new Error(`ferry receive failed: ${end.code as string} ${end.message as string}`)
    await Promise.all([sender.done, receiver.done])
    const paired = await receiver.waitFor(e => e.event === 'paired')
    const stats = end.stats as { messagesSent: number, messagesHeld: number }
    const connections = relay.stats().flatMap(r => r.connections)
    return {
      label,
      userMs: Math.max(sender.exitedAt(), receiver.exitedAt()) - sender.startedAt,
      pairedToVerifiedMs: at(end) - at(paired),
      messagesSent: stats.messagesSent,
      messagesHeld: stats.messagesHeld,
      down: connections.reduce((n, c) => n + c.down, 0),
      up: connections.reduce((n, c) => n + c.up, 0)
    }
  } finally {
    sender.kill()
    receiver?.kill()
    await relay.close()
  }
}

/** New messages among the old: spread over the first conversations, after everything already there. */
async function addMessages (dir: string, n: number): Promise<void> {
  const store = SqliteChatStore.open(dir)
  try {
    const conversations = (await store.conversations()).map(c => c.conversation.id)
    // Later than anything the generator wrote (its history ends before today).
    const start = Date.now()
    const rows: Message[] = Array.from({ length: n }, (_, i) => ({
      conversation: conversations[i % conversations.length],
      id: `bench-new-${start}-${i}`,
      sender: 'me',
      ts: start + i,
      kind: 'text',
      text: `a message written after the first move (${i})`
    }))
    store.transaction(() => { store.putMessages(rows) })
  } finally {
    store.close()
  }
}

const fmtMB = (b: number): string => b >= 1e6 ? `${(b / 1e6).toFixed(1)} MB` : `${(b / 1e3).toFixed(1)} KB`
const pct = (a: number, b: number): string => `${(a / b * 100).toFixed(a / b < 0.01 ? 3 : 1)}%`

mkdirSync(base, { recursive: true })
const seeded = sourceStore()
// The source changes before the third transfer: work on a copy, so the seeded one stays reusable.
const source = join(base, 'source-run')
const target = join(base, 'target')
rmSync(source, { recursive: true, force: true })
rmSync(target, { recursive: true, force: true })
cpSync(seeded, source, { recursive: true })
const results: Transfer[] = []
try {
  results.push(await transfer('first', source, target))
  results.push(await transfer('unchanged', source, target))
  await addMessages(source, added)
  results.push(await transfer(`${added} new`, source, target))
} finally {
  rmSync(source, { recursive: true, force: true })
  rmSync(target, { recursive: true, force: true })
}
const first = results[0]
console.log(`second transfer, ${messages.toLocaleString('en-US')} messages, loopback TCP, fresh code each time`)
console.log('transfer      user clock  paired->verified  sent      held       bytes A->B (of first)   bytes B->A')
for (const r of results) {
  console.log(`${r.label.padEnd(12)}  ${(r.userMs / 1000).toFixed(2).padStart(8)} s  ${(r.pairedToVerifiedMs / 1000).toFixed(2).padStart(12)} s  ` +
    `${String(r.messagesSent).padStart(8)}  ${String(r.messagesHeld).padStart(9)}  ${fmtMB(r.down).padStart(10)} (${pct(r.down, first.down).padStart(7)})  ${fmtMB(r.up).padStart(10)}`)
}
console.log(JSON.stringify({ messages, added, transfers: results }))
