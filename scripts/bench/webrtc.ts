// WebRTC vs TCP, same data, same run: moves one seeded store from a `ferry send` process to a
// `ferry receive` process over TCP and over WebRTC (webrtc-direct, no ICE servers) on loopback,
// alternating the two so machine noise hits both alike, and prints MB/s for each.
//
//   npx tsx scripts/bench/webrtc.ts [--profile small] [--runs 3] [--seed 1] [--json]
//
// MB/s is the bytes the sender writes on the transfer stream (frames and their length prefixes,
// counted exactly by wire-bytes.ts) over the time from 'paired' to 'verified' on the receiver; media
// MB/s is the media bytes over the same time. Process start and pairing are reported apart.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { SqliteChatStore } from '../../src/store/sqlite-store.js'
import { seedStore } from '../../src/sim/seed.js'
import { formatCode, generateCode } from '../../src/pairing/code.js'
import { PROFILE_NAMES, type ProfileName } from '../../src/sim/profiles.js'
import { countWireBytes } from './wire-bytes.js'
import { installCleanup, removeTempDir, spawnNode, tempDir, type Event } from './proc.js'

const { values } = parseArgs({
  options: {
    profile: { type: 'string', default: 'small' },
    runs: { type: 'string', default: '3' },
    seed: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false }
  }
})
const profile = values.profile as ProfileName
if (!(PROFILE_NAMES as readonly string[]).includes(profile)) throw new Error(`--profile wants one of ${PROFILE_NAMES.join(', ')}`)
const runs = Math.max(1, Number(values.runs))
const root = fileURLToPath(new URL('../../', import.meta.url))
const ferryBin = join(root, 'bin', 'ferry.js')
const LISTEN = { tcp: '/ip4/127.0.0.1/tcp/0', webrtc: '/ip4/127.0.0.1/udp/0/webrtc-direct' } as const
type Kind = keyof typeof LISTEN

installCleanup()
const work = tempDir('webrtc')

interface Run {
  transport: Kind
  /** Receiver spawned to 'paired' (process start, dial, CPace). */
  pairMs: number
  /** 'paired' to 'verified' on the receiver. */
  transferMs: number
  wireMBps: number
  mediaMBps: number
}

async function seeded (): Promise<string> {
  const dir = join(work, `source-${profile}`)
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true })
    const s = SqliteChatStore.open(dir, { create: true })
    process.stderr.write(`seeding ${profile}...\n`)
    try { await seedStore(s, profile, Number(values.seed)) } finally { s.close() }
  }
  return dir
}

async function transfer (source: string, transport: Kind, n: number): Promise<Run> {
  // Dirty pages of the seeding or the previous run would throttle this run's receiver to the disk's
  // pace (the first run after seeding the media profile came out at half speed): write them out first.
  execFileSync('sync')
  const target = join(tempDir(`target-${transport}`), 'phone')
  // The receiver saves nothing in the sender's store but a pairing record, which a verified transfer removes.
  // A fresh code each run: the cached source store remembers every code it showed, and refuses a used one.
  const code = formatCode(generateCode())
  const opts = { cwd: root, timeoutMs: 600_000 }
  const sender = spawnNode([ferryBin, 'send', '--store', source, '--code', code, '--no-mdns', '--json', '--transport', transport, '--listen', LISTEN[transport], '--timeout', '120'],
    { ...opts, label: `ferry send (${transport})` })
  let receiver: ReturnType<typeof spawnNode> | undefined
  try {
    const qr = (await sender.waitFor(e => e.event === 'code')).qr as string
    const t0 = performance.now()
    receiver = spawnNode([ferryBin, 'receive', '--store', target, '--qr', qr, '--no-mdns', '--json', '--transport', transport, '--timeout', '60'],
      { ...opts, label: `ferry receive (${transport})` })
    const verified = await receiver.waitFor(e => e.event === 'verified')
    await Promise.all([sender.done, receiver.done])
    const connection = receiver.events.find(e => e.event === 'connection')
    if (connection?.transport !== transport) throw new Error(`asked for ${transport}, connected over ${String(connection?.transport)}`)
    const paired = receiver.events.find(e => e.event === 'paired') as Event
    const ms = verified.t - paired.t
    const p = verified.progress as { mediaBytes: number }
    return {
      transport,
      pairMs: paired.t - t0,
      transferMs: ms,
      wireMBps: wireBytes / 1e6 / (ms / 1000),
      mediaMBps: p.mediaBytes / 1e6 / (ms / 1000)
    }
  } finally {
    sender.kill()
    receiver?.kill()
    await sender.done.catch(() => {})
    await receiver?.done.catch(() => {})
    removeTempDir(join(target, '..'))
  }
}

const source = await seeded()
const wireBytes = await (async () => { const s = SqliteChatStore.open(source); try { return (await countWireBytes(s)).total } finally { s.close() } })()
const results: Run[] = []
for (let i = 0; i < runs; i++) {
  // Alternate which goes first, so a warming (or cooling) machine favours neither.
  const order: Kind[] = i % 2 === 0 ? ['tcp', 'webrtc'] : ['webrtc', 'tcp']
  for (const t of order) {
    const r = await transfer(source, t, results.length)
    results.push(r)
    process.stderr.write(`run ${i + 1}/${runs} ${t.padEnd(6)} ${r.wireMBps.toFixed(1)} MB/s (media ${r.mediaMBps.toFixed(1)} MB/s), transfer ${(r.transferMs / 1000).toFixed(2)} s, pair ${Math.round(r.pairMs)} ms\n`)
  }
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2 }
const summary = Object.fromEntries((['tcp', 'webrtc'] as const).map(t => {
  const rs = results.filter(r => r.transport === t)
  return [t, {
    runs: rs.length,
    wireMBps: median(rs.map(r => r.wireMBps)),
    mediaMBps: median(rs.map(r => r.mediaMBps)),
    transferMs: median(rs.map(r => r.transferMs)),
    pairMs: median(rs.map(r => r.pairMs))
  }]
})) as Record<Kind, { runs: number, wireMBps: number, mediaMBps: number, transferMs: number, pairMs: number }>

const report = { profile, seed: Number(values.seed), wireBytes, loopback: true, iceServers: [], summary, runs: results }
if (values.json === true) {
  process.stdout.write(JSON.stringify(report, null, 2) + '\n')
} else {
  const row = (t: Kind): string => {
    const s = summary[t]
    return `  ${t.padEnd(7)} ${s.wireMBps.toFixed(1).padStart(6)} MB/s   media ${s.mediaMBps.toFixed(1).padStart(6)} MB/s   transfer ${(s.transferMs / 1000).toFixed(2)} s   pair ${Math.round(s.pairMs)} ms`
  }
  process.stdout.write(`\nferry send -> ferry receive, two processes on loopback, profile ${profile} (${(wireBytes / 1e6).toFixed(1)} MB on the wire), median of ${runs} run(s) each:\n` +
    `${row('tcp')}\n${row('webrtc')}\n  WebRTC / TCP: ${(summary.webrtc.wireMBps / summary.tcp.wireMBps).toFixed(2)}\n`)
}
rmSync(work, { recursive: true, force: true })
