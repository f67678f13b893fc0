// Benchmarks, not tests: figures are printed, never asserted (USAGE below says what each lane measures).
import '../src/polyfill.js'
import { execFileSync } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Session } from 'node:inspector/promises'
import { SqliteChatStore } from '../src/store/sqlite-store.js'
import { NodeJournal } from '../src/journal/node-journal.js'
import { seedStore } from '../src/sim/seed.js'
import { formatCode, generateCode } from '../src/pairing/code.js'
import { getProfile, isProfileName, PROFILE_NAMES } from '../src/sim/profiles.js'
import { SenderMachine } from '../src/protocol/sender.js'
import { ReceiverMachine } from '../src/protocol/receiver.js'
import { runReceiver, runSender } from '../src/protocol/session.js'
import { memoryPipe } from '../src/wire/memory-duplex.js'
import type { ByteDuplex } from '../src/wire/duplex.js'
import { installCleanup, r2, removeTempDir, spawnNode, tempDir, watchFds, type Event } from './bench/proc.js'
import { bareLibp2p, rawSocket, type BaselineResult, type Placement } from './bench/baselines.js'
import { createTestbed, type Testbed } from './lib/netns.js'
import { formatSummary, summarise, type CpuSummary } from './bench/cpu-top.js'
import { countWireBytes } from './bench/wire-bytes.js'
import { mediaOf, streamBytes } from './bench/media-copy.js'
import { numberOption, scriptArgs, usageError } from './lib/script-args.js'

const USAGE = `npm run bench -- [--profile NAME] [--runs N] [--tmp DIR] [--wifi] [--json FILE] [--cpu-prof DIR]

Benchmarks, not tests: figures are printed (medians of the runs), never asserted.

  --profile NAME   tiny, small (default), medium, large (1 M messages, 5 GiB of media) or media (the
                   media-heavy set: one 1 GiB video + ~2,000 files, 1.69 GiB); seeded once, then kept
                   in .tmp/bench
  --runs N         runs per lane (default 3)
  --tmp DIR        where the receiving stores go (default .tmp/bench); /dev/shm takes the disk out
  --wifi           the two-phone run and both baselines between two network namespaces over a shaped
                   link (tc tbf + iptables statistic, scripts/lib/netns.ts); reports goodput as a share
                   of the link rate. Needs root (CAP_NET_ADMIN)
  --link-mbit N    the shaped link's rate with --wifi (default 300)
  --loss P         its loss rate (default 0.001)
  --json FILE      also write the figures as JSON, for tracking
  --cpu-prof DIR   also CPU-profile run 1 (engine in-process, ferry send/receive with node --cpu-prof)
                   and print the top self-time functions; profiling slows what it watches, so that
                   run's figures are skewed
  --seed N         seed of the generated store (default 1)
  --timeout S      deadline of each child process in seconds (default: by profile, generous)

Each run measures, on the same data:
  engineInMemory     sender and receiver machines over an in-memory pipe, one process (no network;
                     the pipe yields to the event loop every MiB, as a socket would)
  twoPhonesLoopback  two real \`ferry send\` / \`ferry receive\` processes over 127.0.0.1 TCP (mDNS off,
                     the receiver dials from the sender's QR payload)
  bareLibp2p         two processes on Ferry's stack (createFerryNode: TCP + Noise + yamux), one stream,
                     the same byte count written in 256 KiB buffers through streamToDuplex
  rawSocket          two processes, plain node:net, the same byte count
  libp2pWithFiles    the bare libp2p pair moving the source store's media files instead: the writer
                     reads them, the reader writes, hashes, checks and renames each and syncs once at
                     the end (bench/media-copy.ts). A floor for storing files on this machine: compared
                     with Ferry's media phase (media MB/s) and with the bare stream
"The same byte count" is what Ferry's sender writes on the transfer stream to a fresh receiver
(length prefixes + every frame: hello, manifest, message batches, media chunks, done; the pairing
stream is not counted), counted once by driving the sender alone (bench/wire-bytes.ts) and checked
against the in-memory run's pipe. Ferry's MB/s = that count / ('verified' - 'paired') on the receiver.

Exit code: 0 every run completed, 1 a run failed, 2 bad usage.`

installCleanup()
const root = resolve(fileURLToPath(import.meta.url), '../..')
const ferryBin = join(root, 'bin/ferry.js')
const values = scriptArgs(USAGE, {
  profile: { type: 'string', default: 'small' },
  runs: { type: 'string' },
  json: { type: 'string' },
  seed: { type: 'string' },
  'cpu-prof': { type: 'string' },
  timeout: { type: 'string' },
  tmp: { type: 'string' },
  wifi: { type: 'boolean', default: false },
  'link-mbit': { type: 'string' },
  loss: { type: 'string' }
})
if (!isProfileName(values.profile)) usageError(USAGE, `--profile: no profile is called ${JSON.stringify(values.profile)} (there are ${PROFILE_NAMES.join(', ')})`)
const profile = getProfile(values.profile)
const runs = numberOption(USAGE, 'runs', values.runs, 3, 1)
const seed = numberOption(USAGE, 'seed', values.seed, 1)
const work = join(root, '.tmp', 'bench')
/** Where the receiving stores go (default: beside the source store). --tmp /dev/shm takes the disk out. */
const targets = resolve(values.tmp ?? work)
const cpuDir = typeof values['cpu-prof'] === 'string' ? resolve(values['cpu-prof']) : undefined
/** Deadline of every child process (ms): generous, so only a wedged child hits it. */
const childTimeoutMs = values.timeout !== undefined
  ? numberOption(USAGE, 'timeout', values.timeout, 0, 1, false) * 1000
  : ({ tiny: 60, small: 180, medium: 900, large: 3600, media: 900 } as const)[profile.name] * 1000 * (values.wifi === true ? 4 : 1)
const linkMbit = numberOption(USAGE, 'link-mbit', values['link-mbit'], 300, 1, false)
const loss = numberOption(USAGE, 'loss', values.loss, 0.001, 0, false)

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] }
const mb = (bytes: number, ms: number): number => bytes / 1e6 / (ms / 1000)
const r1 = (x: number): number => Math.round(x * 10) / 10

async function sourceStore (): Promise<string> {
  const dir = join(work, `${profile.name}-${seed}`)
  if (!existsSync(join(dir, 'seeded'))) {
    rmSync(dir, { recursive: true, force: true }) // a seeding that was interrupted
    const s = SqliteChatStore.open(dir, { create: true })
    process.stderr.write(`seeding ${profile.name}...\n`)
    const summary = await seedStore(s, profile.name, seed)
    s.close()
    writeFileSync(join(dir, 'seeded'), JSON.stringify(summary))
  }
  return dir
}

interface EngineResult {
  ms: number
  messages: number
  mediaBytes: number
  /** Sender -> receiver bytes on the pipe: what every other measurement of this run moves. */
  wireBytes: number
  /** Bodies of the data frames (message batches, fragments, media chunks), as acknowledged. */
  dataFrameBytes: number
  /** Receiver -> sender bytes (hello, resume, acks, verified). */
  backBytes: number
  msgsPerSec: number
  mediaMBPerSec: number
  wireMBPerSec: number
  /** Open descriptors of this (the benchmark's) process at most, sampled during the transfer. */
  peakFds: number
}

async function withCpuProfile<T> (file: string | undefined, fn: () => Promise<T>): Promise<T> {
  if (file === undefined) return await fn()
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.setSamplingInterval', { interval: 500 })
  await session.post('Profiler.start')
  try {
    return await fn()
  } finally {
    const { profile } = await session.post('Profiler.stop')
    writeFileSync(file, JSON.stringify(profile))
    session.disconnect()
  }
}

/**
 * A duplex that returns to the event loop (setImmediate) after every `everyBytes` written. The memory
 * pipe alone runs a whole transfer in microtasks, so I/O callbacks never run until it ends: the
 * receiver's media promotions (fsync + close on the thread pool) then pile up one open descriptor per
 * file, and the medium profile (27,822 files) dies with EMFILE under a 20,000-descriptor limit. A
 * socket yields on every read; this lets the in-memory run do the same.
 */
function yielding (d: ByteDuplex, everyBytes = 1024 * 1024): ByteDuplex {
  let since = 0
  return {
    source: d.source,
    write: async chunks => {
      await d.write(chunks)
      for (const c of chunks) since += c.byteLength
      if (since >= everyBytes) { since = 0; await new Promise(resolve => setImmediate(resolve)) }
    },
    close: async () => { await d.close() },
    abort: err => { d.abort(err) }
  }
}

async function engineInMemory (sourceDir: string, cpuFile?: string): Promise<EngineResult> {
  const source = SqliteChatStore.open(sourceDir)
  const dir = targetDir('engine-target')
  const target = SqliteChatStore.open(dir, { create: true })
  const journal = NodeJournal.open(dir)
  try {
    const pipe = memoryPipe({ highWaterMark: 1024 * 1024 })
    const sender = new SenderMachine({ source })
    const receiver = new ReceiverMachine({ sink: target, journal })
    receiver.onChatsReady = () => { target.messagesDone() }
    let messagesDoneAt = 0
    const fds = watchFds('self')
    const t0 = performance.now()
    await withCpuProfile(cpuFile, async () => {
      await Promise.all([runSender(sender, yielding(pipe.a)), runReceiver(receiver, yielding(pipe.b), {
        onProgress: () => { if (messagesDoneAt === 0 && receiver.state === 'media') messagesDoneAt = performance.now() }
      })])
    })
    const ms = performance.now() - t0
    const r = receiver.progress
    const msgMs = (messagesDoneAt || performance.now()) - t0
    return {
      ms,
      messages: r.messages,
      mediaBytes: r.mediaBytes,
      wireBytes: pipe.bytesAtoB,
      dataFrameBytes: r.bytesReceived,
      backBytes: pipe.bytesBtoA,
      msgsPerSec: r.messages / (msgMs / 1000),
      mediaMBPerSec: mb(r.mediaBytes, ms - msgMs),
      wireMBPerSec: mb(pipe.bytesAtoB, ms),
      peakFds: fds()
    }
  } finally {
    await journal.close()
    source.close(); target.close()
    releaseStore(dir)
  }
}

// Receiving stores are removed at the end, not after each run: on this machine's ext4 (no journal) a
// file create skips every inode freed in the last 1-6 minutes, one lookup each, so deleting a run's
// 3k-file store makes the next run's receiver slower (see fsCreateProbe).
const doomed: string[] = []
function targetDir (prefix: string): string {
  const d = tempDir(prefix, targets)
  doomed.push(d)
  return d
}

/**
 * Frees a measured receiving store's page cache and disk blocks, keeping its inodes (see above): every
 * file is truncated to nothing now, the directories go at the end. Kept whole, the stores piled up in the
 * page cache run after run, and on this VM memory the guest has not used lately is handed back to the
 * host (virtio-balloon free page reporting): a page cache growing into it pays a host fault per page.
 * Writing 2 GB with dd took 0.35 s of system time within the memory in use and 3.6 s beyond it, so each
 * run's receiver spent more CPU than the one before for the same bytes (media set: 4.8, 5.1, 11.1 s).
 */
function releaseStore (dir: string): void {
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) truncateSync(join(e.parentPath, e.name))
  }
}

/** Microseconds per file create (open O_CREAT + close) in the targets' filesystem, right now. */
function fsCreateProbe (n = 300): number {
  const d = targetDir('fs-probe')
  const t0 = performance.now()
  for (let i = 0; i < n; i++) closeSync(openSync(join(d, `f${i}`), 'w'))
  return (performance.now() - t0) * 1000 / n
}

function ferry (args: string[], label: string, cpuName?: string, wrap: string[] = []): ReturnType<typeof spawnNode> {
  // One directory per process: worker threads (tsx's loader, with FERRY_TSX=1) write profiles of their own.
  const prof = cpuDir !== undefined && cpuName !== undefined ? ['--cpu-prof', '--cpu-prof-dir', join(cpuDir, cpuName)] : []
  return spawnNode([...prof, ferryBin, ...args], { label, timeoutMs: childTimeoutMs, cwd: root, wrap })
}

interface MessagePhase {
  /** From 'paired' until every message is committed on the receiver (its 'chats-ready' event). */
  timeToChatsMs: number
  messagesPerSec: number
}

function messagePhase (events: Event[], pairedT: number, totalMessages: number): MessagePhase {
  const ready = events.find(e => e.event === 'chats-ready')
  if (ready === undefined) throw new Error('the receiver never reported chats-ready')
  const ms = ready.t - pairedT
  return { timeToChatsMs: ms, messagesPerSec: totalMessages / (ms / 1000) }
}

/** Where the two phones run: loopback by default, or two namespaces of a --wifi testbed. */
interface PhonesAt {
  sender: { wrap: string[], host: string }
  receiver: { wrap: string[] }
}
const LOOPBACK_PHONES: PhonesAt = { sender: { wrap: [], host: '127.0.0.1' }, receiver: { wrap: [] } }

interface PhonesResult {
  /** Receiver start to both processes exited. */
  ms: number
  /** Receiver spawned to 'paired' (includes the process start: node + the CLI bundle, ~0.2 s here). */
  pairMs: number
  /** Receiver spawned to the manifest received: pairing plus the first bytes of the transfer. */
  firstByteMs: number
  /** 'paired' to 'verified' on the receiver. */
  transferMs: number
  messages: number
  mediaBytes: number
  phase: MessagePhase
  /** Media bytes over the time after the messages were all in. */
  mediaMBPerSec: number
  rssMiB: { sender: number, receiver: number }
  /** CPU seconds of each whole process (start to exit, including node's start-up, ~0.2 s each). */
  cpuSec: { sender: number, receiver: number }
  /** The kernel's part of cpuSec. */
  systemCpuSec: { sender: number, receiver: number }
  peakFds: { sender: number, receiver: number }
  /** The transfer ('paired' to 'verified'), in ms after each process was spawned: where to read its CPU profile. */
  transferWindow: { sender: [number, number], receiver: [number, number] }
}

async function twoPhones (sourceDir: string, n: number, profileIt: boolean, at: PhonesAt = LOOPBACK_PHONES): Promise<PhonesResult> {
  const target = targetDir('cli-target')
  // A fresh code each run: the cached source store remembers every code it showed, and refuses a used one.
  const code = formatCode(generateCode())
  const senderSpawnedAt = performance.now()
  const sender = ferry(['send', '--store', sourceDir, '--code', code, '--no-mdns', '--listen', `/ip4/${at.sender.host}/tcp/0`, '--json', '--timeout', '120'],
    'ferry send', profileIt ? 'ferry-send' : undefined, at.sender.wrap)
  let receiver: ReturnType<typeof spawnNode> | undefined
  try {
    const qr = (await sender.waitFor(e => e.event === 'code')).qr as string
    const t0 = performance.now()
    receiver = ferry(['receive', '--store', target, '--qr', qr, '--no-mdns', '--json', '--timeout', '60'],
      'ferry receive', profileIt ? 'ferry-receive' : undefined, at.receiver.wrap)
    const verified = await receiver.waitFor(e => e.event === 'verified' || e.event === 'error')
    if (verified.event === 'error') throw new Error(`ferry receive failed: ${verified.code as string} ${verified.message as string}`)
    await Promise.all([sender.done, receiver.done])
    const ms = performance.now() - t0
    const paired = receiver.events.find(e => e.event === 'paired') as Event
    const manifest = receiver.events.find(e => e.event === 'manifest')
    const p = verified.progress as { messages: number, mediaBytes: number, totalMessages: number }
    const phase = messagePhase(receiver.events, paired.t, (manifest?.totalMessages as number | undefined) ?? p.totalMessages)
    return {
      ms,
      pairMs: paired.t - t0,
      firstByteMs: (manifest ?? paired).t - t0,
      transferMs: verified.t - paired.t,
      messages: p.messages,
      mediaBytes: p.mediaBytes,
      phase,
      mediaMBPerSec: mb(p.mediaBytes, verified.t - paired.t - phase.timeToChatsMs),
      rssMiB: { sender: sender.rss(), receiver: receiver.rss() },
      cpuSec: { sender: sender.cpu(), receiver: receiver.cpu() },
      systemCpuSec: { sender: sender.cpu.system(), receiver: receiver.cpu.system() },
      peakFds: { sender: sender.fds(), receiver: receiver.fds() },
      transferWindow: { sender: [paired.t - senderSpawnedAt, verified.t - senderSpawnedAt], receiver: [paired.t - t0, verified.t - t0] }
    }
  } finally {
    sender.kill()
    receiver?.kill()
    await sender.done.catch(() => {})
    await receiver?.done.catch(() => {})
    releaseStore(target)
  }
}

mkdirSync(work, { recursive: true })
mkdirSync(targets, { recursive: true })
if (cpuDir !== undefined) mkdirSync(cpuDir, { recursive: true })
const sourceDir = await sourceStore()
const { wire, mediaFiles } = await (async () => { const s = SqliteChatStore.open(sourceDir); try { return { wire: await countWireBytes(s), mediaFiles: mediaOf(s) } } finally { s.close() } })()
if (mediaFiles.reduce((n, f) => n + f.size, 0) !== wire.media) throw new Error(`the source holds ${mediaFiles.length} media files, not the ${wire.media} bytes its sender moves`)
const engine: EngineResult[] = []
const engineErrors: string[] = []
const cli: PhonesResult[] = []
const bare: BaselineResult[] = []
const withFiles: BaselineResult[] = []
const raw: BaselineResult[] = []
const ferryMBps: number[] = []
const createUs: number[] = []
/**
 * Writes every dirty page out (sync(1)) before a measurement. Receiving stores are kept until the end,
 * so without this a run starts with the previous runs' gigabytes still dirty, and past the kernel's
 * dirty threshold the receiver's writes are throttled to the disk's pace: each measurement would pay
 * for the ones before it (the media set ran at 180 MB/s that way instead of ...).
 */
function settleDisk (): void {
  execFileSync('sync')
}

let testbed: Testbed | undefined
let phonesAt = LOOPBACK_PHONES
let baselinesAt: Placement | undefined
async function setUpWifi (): Promise<void> {
  testbed = await createTestbed({ phones: 2 })
  const [a, b] = testbed.phones
  // Both directions shaped alike (a Wi-Fi link is one medium); the data flows a -> b.
  for (const p of [a, b]) await testbed.shape(p, { rateMbit: linkMbit, loss })
  const wrap = (ns: string): string[] => ['ip', 'netns', 'exec', ns]
  phonesAt = { sender: { wrap: wrap(a.ns), host: a.ip }, receiver: { wrap: wrap(b.ns) } }
  baselinesAt = { writer: { wrap: wrap(a.ns), host: a.ip }, reader: { wrap: wrap(b.ns) } }
  process.stderr.write(`wifi testbed ${testbed.id}: ${a.ip} -> ${b.ip}, ${linkMbit} Mbit/s each way, ${loss * 100}% loss\n`)
}

async function oneRun (i: number): Promise<void> {
  const profileIt = cpuDir !== undefined && i === 0
  if (values.wifi !== true) {
    createUs.push(fsCreateProbe())
    // A failing engine run is reported, not fatal: the other measurements do not depend on it.
    try {
      settleDisk()
      const e = await engineInMemory(sourceDir, profileIt ? join(cpuDir, 'engine-in-memory.cpuprofile') : undefined)
      if (e.wireBytes !== wire.total) process.stderr.write(`warning: the in-memory run moved ${e.wireBytes} bytes, the count says ${wire.total}\n`)
      engine.push(e)
    } catch (err) {
      engineErrors.push((err as Error).message)
      process.stderr.write(`run ${i + 1}: engine in memory failed: ${(err as Error).message}\n`)
    }
  }
  settleDisk()
  const c = await twoPhones(sourceDir, i, profileIt, phonesAt)
  if (c.messages !== wire.messages || c.mediaBytes !== wire.media) {
    throw new Error(`the two-phone run moved ${c.messages} messages / ${c.mediaBytes} media bytes, the sender's count ${wire.messages} / ${wire.media}: byte counts would not compare`)
  }
  cli.push(c)
  ferryMBps.push(mb(wire.total, c.transferMs))
  bare.push(await bareLibp2p(wire.total, { root, timeoutMs: childTimeoutMs, at: baselinesAt }))
  raw.push(await rawSocket(wire.total, { root, timeoutMs: childTimeoutMs, at: baselinesAt }))
  if (mediaFiles.length > 0) {
    const to = targetDir('libp2p-files')
    settleDisk()
    try {
      withFiles.push(await bareLibp2p(streamBytes(mediaFiles), { root, timeoutMs: childTimeoutMs, at: baselinesAt, media: { from: sourceDir, to } }))
    } finally {
      releaseStore(to)
    }
  }
  const files = withFiles[i] !== undefined ? `libp2p + files ${r1(withFiles[i].mbPerSec)} MB/s, ` : ''
  process.stderr.write(`run ${i + 1}/${runs}: ferry ${r1(ferryMBps[i])} MB/s, bare libp2p ${r1(bare[i].mbPerSec)} MB/s, raw socket ${r1(raw[i].mbPerSec)} MB/s, ${files}` +
    `chats ready ${r1(c.phase.timeToChatsMs / 1000)} s after pairing (${Math.round(c.phase.messagesPerSec)} msgs/s), media ${r1(c.mediaMBPerSec)} MB/s, ` +
    `rss send/recv ${c.rssMiB.sender}/${c.rssMiB.receiver} MiB, cpu send/recv ${c.cpuSec.sender}/${c.cpuSec.receiver} s (system ${c.systemCpuSec.sender}/${c.systemCpuSec.receiver})${createUs[i] !== undefined ? `, file create ${Math.round(createUs[i])} us` : ''}\n`)
}
try {
  if (values.wifi === true) await setUpWifi()
  for (let i = 0; i < runs; i++) await oneRun(i)
} finally {
  for (const d of doomed) removeTempDir(d)
  await testbed?.down()
}

const ferryMed = median(ferryMBps)
const bareMed = median(bare.map(b => b.mbPerSec))
const rawMed = median(raw.map(b => b.mbPerSec))
const filesMed = withFiles.length > 0 ? median(withFiles.map(b => b.mbPerSec)) : undefined
const ferryMediaMed = median(cli.map(r => r.mediaMBPerSec))
const summary = {
  profile: profile.name,
  runs,
  ...(cpuDir !== undefined ? { note: 'run 1 was CPU-profiled: its figures are skewed' } : {}),
  receivingStoresOn: targets,
  ...(createUs.length > 0 ? { fileCreateUs: Math.round(median(createUs)) } : {}),
  ...(values.wifi === true
    ? {
        wifi: {
          linkMbit,
          loss,
          what: 'two namespaces on a bridge, each egress tc tbf at linkMbit, each ingress dropping `loss` (iptables statistic); goodput = bytes.moved / time',
          ferryShareOfLink: r2(median(ferryMBps) / (linkMbit / 8)),
          bareLibp2pShareOfLink: r2(median(bare.map(b => b.mbPerSec)) / (linkMbit / 8)),
          rawSocketShareOfLink: r2(median(raw.map(b => b.mbPerSec)) / (linkMbit / 8))
        }
      }
    : {}),
  bytes: {
    moved: wire.total,
    media: wire.media,
    dataFrames: wire.dataFrames,
    frames: wire.frames,
    messages: wire.messages,
    ...(engine.length > 0 ? { receiverToSender: engine[0].backBytes } : {}),
    what: 'moved = sender->receiver bytes on the transfer stream (length prefixes + all frames); every path moves this many'
  },
  engineInMemory: engine.length === 0 ? { errors: engineErrors } : {
    ...(engineErrors.length > 0 ? { errors: engineErrors } : {}),
    runs: engine.length,
    ms: Math.round(median(engine.map(r => r.ms))),
    messagesPerSec: Math.round(median(engine.map(r => r.msgsPerSec))),
    mediaMBPerSec: r1(median(engine.map(r => r.mediaMBPerSec))),
    MBPerSec: r1(median(engine.map(r => r.wireMBPerSec))),
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    peakFds: Math.max(...engine.map(r => r.peakFds))
  },
  twoPhonesLoopback: {
    ms: Math.round(median(cli.map(r => r.ms))),
    pairMs: Math.round(median(cli.map(r => r.pairMs))),
    firstByteMs: Math.round(median(cli.map(r => r.firstByteMs))),
    transferMs: Math.round(median(cli.map(r => r.transferMs))),
    MBPerSec: r1(ferryMed),
    timeToChatsMs: Math.round(median(cli.map(r => r.phase.timeToChatsMs))),
    messagesPerSec: Math.round(median(cli.map(r => r.phase.messagesPerSec))),
    mediaMBPerSec: r1(ferryMediaMed),
    overallMBPerSec: r1(median(cli.map(r => mb(r.mediaBytes, r.ms)))),
    peakRssMiB: { sender: median(cli.map(r => r.rssMiB.sender)), receiver: median(cli.map(r => r.rssMiB.receiver)) },
    cpuSec: { sender: median(cli.map(r => r.cpuSec.sender)), receiver: median(cli.map(r => r.cpuSec.receiver)) },
    systemCpuSec: { sender: median(cli.map(r => r.systemCpuSec.sender)), receiver: median(cli.map(r => r.systemCpuSec.receiver)) },
    cpuSecPerGB: { sender: r2(median(cli.map(r => r.cpuSec.sender)) / (wire.total / 1e9)), receiver: r2(median(cli.map(r => r.cpuSec.receiver)) / (wire.total / 1e9)) },
    peakFds: { sender: Math.max(...cli.map(r => r.peakFds.sender)), receiver: Math.max(...cli.map(r => r.peakFds.receiver)) }
  },
  bareLibp2p: {
    transferMs: Math.round(median(bare.map(b => b.transferMs))),
    dialMs: Math.round(median(bare.map(b => b.dialMs))),
    MBPerSec: r1(bareMed),
    peakRssMiB: { writer: median(bare.map(b => b.rssMiB.writer)), reader: median(bare.map(b => b.rssMiB.reader)) },
    cpuSec: { writer: median(bare.map(b => b.cpuSec.writer)), reader: median(bare.map(b => b.cpuSec.reader)) }
  },
  ...(filesMed !== undefined
    ? {
        libp2pWithFiles: {
          files: mediaFiles.length,
          transferMs: Math.round(median(withFiles.map(b => b.transferMs))),
          MBPerSec: r1(filesMed),
          peakRssMiB: { writer: median(withFiles.map(b => b.rssMiB.writer)), reader: median(withFiles.map(b => b.rssMiB.reader)) },
          cpuSec: { writer: median(withFiles.map(b => b.cpuSec.writer)), reader: median(withFiles.map(b => b.cpuSec.reader)) }
        }
      }
    : {}),
  rawSocket: {
    transferMs: Math.round(median(raw.map(b => b.transferMs))),
    MBPerSec: r1(rawMed),
    peakRssMiB: { writer: median(raw.map(b => b.rssMiB.writer)), reader: median(raw.map(b => b.rssMiB.reader)) }
  },
  ratios: {
    ferryOverBareLibp2p: r2(ferryMed / bareMed),
    ferryOverRawSocket: r2(ferryMed / rawMed),
    bareLibp2pOverRawSocket: r2(bareMed / rawMed),
    ...(filesMed !== undefined ? { ferryMediaOverLibp2pWithFiles: r2(ferryMediaMed / filesMed), libp2pWithFilesOverBare: r2(filesMed / bareMed) } : {}),
    what: 'medians of MB/s; Ferry = bytes.moved / (verified - paired) on the receiver; Ferry media = media bytes / the media phase (chats-ready to verified)'
  },
  perRunMBPerSec: {
    ferry: ferryMBps.map(r1),
    bareLibp2p: bare.map(b => r1(b.mbPerSec)),
    rawSocket: raw.map(b => r1(b.mbPerSec)),
    ferryMedia: cli.map(r => r1(r.mediaMBPerSec)),
    ...(filesMed !== undefined ? { libp2pWithFiles: withFiles.map(b => r1(b.mbPerSec)) } : {})
  }
}
console.log(JSON.stringify(summary, null, 2))
if (typeof values.json === 'string') writeFileSync(values.json, JSON.stringify(summary, null, 2))

if (cpuDir !== undefined) {
  const profiles: CpuSummary[] = []
  const engineProfile = join(cpuDir, 'engine-in-memory.cpuprofile')
  if (existsSync(engineProfile)) profiles.push(summarise(engineProfile, 15))
  for (const [name, window] of [['ferry-send', cli[0].transferWindow.sender], ['ferry-receive', cli[0].transferWindow.receiver]] as const) {
    const dir = join(cpuDir, name)
    if (!existsSync(dir)) continue
    // The main thread is the busiest of the process's profiles (any others are worker threads).
    // Only the transfer is summarised (the profile starts a few ms after the spawn: close enough).
    const all = readdirSync(dir).filter(f => f.endsWith('.cpuprofile')).map(f => summarise(join(dir, f), 15, window))
    all.sort((a, b) => b.busyMs - a.busyMs)
    if (all.length > 0) profiles.push(all[0])
  }
  for (const s of profiles) process.stderr.write(`\n${formatSummary(s)}\n`)
  writeFileSync(join(cpuDir, 'summary.json'), JSON.stringify(profiles, null, 2))
}
