// Benchmarks, not tests: figures are printed, never asserted (USAGE below says what each lane measures).
import '../src/polyfill.js'
import { execFileSync } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, rmSync, statfsSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Session } from 'node:inspector/promises'
import { SqliteChatStore } from '../src/store/sqlite-store.js'
import { NodeJournal } from '../src/journal/node-journal.js'
import { seedStore } from '../src/sim/seed.js'
import { formatCode, generateCode } from '../src/pairing/code.js'
import { getProfile, PROFILE_NAMES } from '../src/sim/profiles.js'
import { SenderMachine } from '../src/protocol/sender.js'
import { ReceiverMachine } from '../src/protocol/receiver.js'
import { runReceiver, runSender } from '../src/protocol/session.js'
import { memoryPipe } from '../src/wire/memory-duplex.js'
import type { ByteDuplex } from '../src/wire/duplex.js'
import { installCleanup, r2, removeTempDir, spawnNode, tempDir, watchFds, type Event } from './bench/proc.js'
import { watchThreads, type ThreadCpu } from './bench/process-tree.js'
import { bareLibp2p, rawSocket, type BaselineResult, type Placement } from './bench/baselines.js'
import { bareLibp2pBrowser, chromiumCpuMsPerMB } from './bench/bare-browser.js'
import { createTestbed, type Testbed } from './lib/netns.js'
import { formatSummary, summarise, type CpuSummary } from './bench/cpu-top.js'
import { countWireBytes } from './bench/wire-bytes.js'
import { mediaOf, streamBytes } from './bench/media-copy.js'
import { numberOption, scriptArgs, usageError } from './lib/script-args.js'
import { MissingToolError, requireTools, type Tool } from './bench/tools.js'
import { startSshd, SSH_CIPHER, type Sshd } from './bench/sshd.js'
import { rsyncLane, tarSocatLane } from './bench/copy-lanes.js'
import { browserLane, startPageServer } from './bench/browser-lane.js'
import { seedTextOnly, TEXT_PROFILE } from './bench/text-profile.js'
import { bytesUnder, speedRatio, storeFiles, summariseLane, type LaneRun } from './bench/user-clock.js'

const USAGE = `npm run bench -- [--profile NAME | --store DIR] [--runs N] [--lanes LIST] [--tmp DIR] [--no-install] [--wifi] [--json FILE] [--cpu-prof DIR]

Benchmarks, not tests: figures are printed (medians of the rounds, and ratios within the run), never
asserted.

  --profile NAME   tiny, small (default), medium, large (1 M messages, 5 GiB of media), media (the
                   media-heavy set: one 1 GiB video + ~2,000 files, 1.69 GiB) or text (the message-heavy
                   set: 300,000 messages, no media); seeded once, then kept in .tmp/bench
  --store DIR      a history of your own instead of a profile: a Ferry store (history.db and media/),
                   e.g. made with \`ferry import EXPORT --store DIR\`. Every lane reads it; only
                   \`ferry send\` writes to it, as a phone would: its peer key and the codes it showed
  --runs N         rounds (default 3): each round runs every lane once, in an order that rotates from
                   round to round, so a machine that warms or cools favours no lane
  --lanes LIST     which lanes, comma-separated (default: all of them; with --wifi, the four that
                   run between namespaces: ferry, bare-libp2p, raw-socket, libp2p-files)
  --tmp DIR        where every lane's receiver writes (default .tmp/bench, on the disk); /dev/shm takes
                   the disk out
  --no-install     never run apt-get: a missing rsync, sshd, socat or Chromium is an error (by default,
                   as root, the benchmark installs them from Debian's packages)
  --wifi           the two-phone run and both baselines between two network namespaces over a shaped
                   link (tc tbf + iptables statistic, scripts/lib/netns.ts); reports goodput as a share
                   of the link rate. Needs root (CAP_NET_ADMIN)
  --link-mbit N    the shaped link's rate with --wifi (default 300)
  --loss P         its loss rate (default 0.001)
  --json FILE      also write the figures as JSON, for tracking
  --cpu-prof DIR   also CPU-profile round 1 (engine in-process, ferry send/receive with node --cpu-prof,
                   the browser phone's page over CDP, mapped to src/ by its source map)
                   and print the top self-time functions; profiling slows what it watches, so that
                   round's figures are skewed
  --seed N         seed of the generated store (default 1)
  --timeout S      deadline of each child process in seconds (default: by profile, generous)

Lanes, each moving the same store on the same machine:
  engine           sender and receiver machines over an in-memory pipe, one process (no network;
                   the pipe yields to the event loop every MiB, as a socket would)
  ferry            two real \`ferry send\` / \`ferry receive\` processes over 127.0.0.1 TCP (mDNS off,
                   the receiver dials from the sender's QR payload)
  ferry-webrtc     the same over WebRTC (webrtc-direct on 127.0.0.1)
  bare-libp2p      two processes on Ferry's stack (createFerryNode: TCP + Noise + yamux), one stream,
                   the same byte count written in 256 KiB buffers through streamToDuplex
  bare-libp2p-webrtc  the same over webrtc-direct (a data channel per stream): what libp2p's WebRTC
                   moves here without Ferry, the ceiling of ferry-webrtc
  raw-socket       two processes, plain node:net, the same byte count
  libp2p-files     the bare libp2p pair moving the source store's media files instead: the writer
                   reads them, the reader writes, hashes, checks and renames each and syncs once at
                   the end (bench/media-copy.ts): storing files through the page cache here
  rsync            rsync -a over ssh (-c ${SSH_CIPHER}) into a fresh directory,
                   to an sshd the benchmark runs on 127.0.0.1 with keys it generates (stopped and
                   removed after)
  rsync-fsync      the same with --fsync: every file synced, as Ferry syncs what its resume needs
  tar-socat        tar -c | socat to socat | tar -x on 127.0.0.1: no encryption, no sync, no checks
  browser          the browser phone (the page \`ferry web\` serves) in headless Chromium receiving into
                   IndexedDB from \`ferry send --transport webrtc\`; timed by the page from its start
                   (navigation) to verified; reports MB/s, messages/s and the page's JS heap (peak, and
                   after a forced full GC at the end)
  bare-libp2p-browser  the same byte count from the bare libp2p writer (webrtc-direct) into a page in
                   headless Chromium on the browser phone's libp2p stack, read off one stream and
                   nothing more (bench/bare-browser.ts): the ceiling of the browser lane, and what
                   Chromium's processes spend per MB on libp2p's WebRTC alone
rsync and tar-socat copy the store's history.db and media/, the bytes every MB/s on the user's clock
is counted in. The tools of these lanes and the browser's come from Debian's packages (rsync,
openssh-server, socat, chromium), installed when missing (apt-get update first) unless --no-install.

The user's clock: every lane is timed from its first process's start to its last process's exit, what
a person waits for (for Ferry, \`ferry send\` started to both prompts back), beside its phases (Ferry:
code printed, paired, manifest, chats ready, verified, each exit, and the exit after \`verified\`).
CPU seconds and peak RSS are read from /proc for each side (the whole process tree: rsync and its ssh,
sshd's processes and the remote rsync, Chromium's). The ratios compare Ferry's medians with the
others' in the same run (> 1: Ferry faster).

"The same byte count" of the baselines is what Ferry's sender writes on the transfer stream to a fresh
receiver (length prefixes + every frame: hello, manifest, message batches, media chunks, done; the
pairing stream is not counted), counted once by driving the sender alone (bench/wire-bytes.ts) and
checked against the in-memory run's pipe. Ferry's wire MB/s = that count / ('verified' - 'paired') on
the receiver.

Exit code: 0 every run completed, 1 a run failed or a tool is missing, 2 bad usage.`

installCleanup()
const root = resolve(fileURLToPath(import.meta.url), '../..')
const ferryBin = join(root, 'bin/ferry.js')
const values = scriptArgs(USAGE, {
  profile: { type: 'string' },
  store: { type: 'string' },
  runs: { type: 'string' },
  lanes: { type: 'string' },
  json: { type: 'string' },
  seed: { type: 'string' },
  'cpu-prof': { type: 'string' },
  timeout: { type: 'string' },
  tmp: { type: 'string' },
  'no-install': { type: 'boolean', default: false },
  wifi: { type: 'boolean', default: false },
  'link-mbit': { type: 'string' },
  loss: { type: 'string' }
})
const BENCH_PROFILES = [...PROFILE_NAMES, TEXT_PROFILE] as const
type BenchProfile = typeof BENCH_PROFILES[number]
if (values.store !== undefined && (values.profile !== undefined || values.seed !== undefined)) usageError(USAGE, '--store brings its own history: it goes without --profile and --seed')
if (values.profile !== undefined && !(BENCH_PROFILES as readonly string[]).includes(values.profile)) usageError(USAGE, `--profile: no profile is called ${JSON.stringify(values.profile)} (there are ${BENCH_PROFILES.join(', ')})`)
const profileName = (values.profile ?? 'small') as BenchProfile
/** A store of the user's own, or undefined for a seeded profile. */
const ownStore = values.store !== undefined ? ownStoreDir(values.store) : undefined
/** What the report calls the history it moved. */
const historyName = ownStore !== undefined ? `the store ${ownStore}` : `${profileName} profile`
const runs = numberOption(USAGE, 'runs', values.runs, 3, 1)
const seed = numberOption(USAGE, 'seed', values.seed, 1)

const LANES = ['engine', 'ferry', 'ferry-webrtc', 'bare-libp2p', 'bare-libp2p-webrtc', 'raw-socket', 'libp2p-files', 'rsync', 'rsync-fsync', 'tar-socat', 'browser', 'bare-libp2p-browser'] as const
type Lane = typeof LANES[number]
const WIFI_LANES: readonly Lane[] = ['ferry', 'bare-libp2p', 'raw-socket', 'libp2p-files']
const lanes: ReadonlySet<Lane> = (() => {
  if (values.lanes === undefined) return new Set(values.wifi === true ? WIFI_LANES : LANES)
  const asked = values.lanes.split(',').map(l => l.trim()).filter(l => l !== '')
  const unknown = asked.filter(l => !(LANES as readonly string[]).includes(l))
  if (unknown.length > 0 || asked.length === 0) usageError(USAGE, `--lanes: ${asked.length === 0 ? 'no lane given' : `no lane is called ${unknown.map(l => JSON.stringify(l)).join(', ')}`} (there are ${LANES.join(', ')})`)
  if (values.wifi === true) {
    const off = asked.filter(l => !WIFI_LANES.includes(l as Lane))
    if (off.length > 0) usageError(USAGE, `--lanes: ${off.join(', ')} cannot run with --wifi (between namespaces: ${WIFI_LANES.join(', ')})`)
  }
  return new Set(asked as Lane[])
})()

const work = join(root, '.tmp', 'bench')
/** Where the receiving stores go (default: beside the source store). --tmp /dev/shm takes the disk out. */
const targets = resolve(values.tmp ?? work)
const cpuDir = typeof values['cpu-prof'] === 'string' ? resolve(values['cpu-prof']) : undefined
/** Deadline of every child process (ms): generous, so only a wedged child hits it. */
const childTimeoutMs = values.timeout !== undefined
  ? numberOption(USAGE, 'timeout', values.timeout, 0, 1, false) * 1000
  : (ownStore !== undefined ? 3600 : ({ tiny: 60, small: 180, medium: 900, large: 3600, media: 900, text: 600 } as const)[profileName]) * 1000 * (values.wifi === true ? 4 : 1)
const linkMbit = numberOption(USAGE, 'link-mbit', values['link-mbit'], 300, 1, false)
const loss = numberOption(USAGE, 'loss', values.loss, 0.001, 0, false)

const TOOLS: Record<string, Tool[]> = {
  rsync: [
    { cmd: 'rsync', pkg: 'rsync', for: 'the rsync lanes' },
    { cmd: 'ssh', pkg: 'openssh-client', for: 'the rsync lanes' },
    { cmd: 'ssh-keygen', pkg: 'openssh-client', for: 'the rsync lanes' },
    { cmd: 'sshd', pkg: 'openssh-server', for: 'the rsync lanes' }
  ],
  'tar-socat': [
    { cmd: 'tar', pkg: 'tar', for: 'the tar-socat lane' },
    { cmd: 'socat', pkg: 'socat', for: 'the tar-socat lane' },
    { cmd: 'bash', pkg: 'bash', for: 'the tar-socat lane' }
  ],
  browser: [{ cmd: 'chromium', pkg: 'chromium', for: 'the browser lane' }]
}
const needTools = [
  ...(lanes.has('rsync') || lanes.has('rsync-fsync') ? TOOLS.rsync : []),
  ...(lanes.has('tar-socat') ? TOOLS['tar-socat'] : []),
  ...(lanes.has('browser') || lanes.has('bare-libp2p-browser') ? TOOLS.browser : [])
]
/** Absolute paths of the comparison lanes' programs, found (or installed) before any seeding. */
let tools = new Map<string, string>()
try {
  tools = await requireTools(needTools, { install: values['no-install'] !== true, log: line => { process.stderr.write(`${line}\n`) } })
} catch (err) {
  if (!(err instanceof MissingToolError)) throw err
  process.stderr.write(`npm run bench: ${err.message}\n`)
  process.exit(1)
}
const tool = (cmd: string): string => tools.get(cmd) as string


const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] }
const mb = (bytes: number, ms: number): number => bytes / 1e6 / (ms / 1000)
const r1 = (x: number): number => Math.round(x * 10) / 10

/** `--store`'s directory, checked before any work: a Ferry store holds history.db. */
function ownStoreDir (given: string): string {
  const dir = resolve(given)
  const st = statSync(dir, { throwIfNoEntry: false })
  if (st === undefined) usageError(USAGE, `--store: ${dir} does not exist`)
  if (!st.isDirectory()) usageError(USAGE, `--store: ${dir} is a file; a Ferry store is a directory (history.db and media/)`)
  if (!existsSync(join(dir, 'history.db'))) usageError(USAGE, `--store: ${dir} holds no history.db, so it is no Ferry store; make one from a chat export with \`ferry import EXPORT --store ${given}\``)
  return dir
}

async function sourceStore (): Promise<string> {
  if (ownStore !== undefined) return ownStore
  const dir = join(work, `${profileName}-${seed}`)
  if (!existsSync(join(dir, 'seeded'))) {
    rmSync(dir, { recursive: true, force: true }) // a seeding that was interrupted
    const s = SqliteChatStore.open(dir, { create: true })
    process.stderr.write(`seeding ${profileName}...\n`)
    const summary = profileName === TEXT_PROFILE ? seedTextOnly(s, seed) : await seedStore(s, getProfile(profileName), seed)
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

/** A file create slower than this (microseconds) says the filesystem is skipping freed inodes. */
const SLOW_CREATE_US = 60

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
  /** The user's clock: `ferry send` started to both processes exited, with every milestone on the way. */
  user: LaneRun
  /** CPU seconds of each thread of each process, busiest first: is one thread the bound, or none? */
  threads: { sender: ThreadCpu[], receiver: ThreadCpu[] }
}


type Transport = 'tcp' | 'webrtc'

async function twoPhones (sourceDir: string, profileIt: boolean, at: PhonesAt = LOOPBACK_PHONES, transport: Transport = 'tcp'): Promise<PhonesResult> {
  const target = targetDir(transport === 'tcp' ? 'cli-target' : 'cli-target-webrtc')
  // A fresh code each run: the cached source store remembers every code it showed, and refuses a used one.
  const code = formatCode(generateCode())
  const listen = transport === 'tcp' ? `/ip4/${at.sender.host}/tcp/0` : `/ip4/${at.sender.host}/udp/0/webrtc-direct`
  const sender = ferry(['send', '--store', sourceDir, '--code', code, '--no-mdns', '--transport', transport, '--listen', listen, '--json', '--timeout', '120'],
    `ferry send (${transport})`, profileIt ? 'ferry-send' : undefined, at.sender.wrap)
  const senderThreads = watchThreads(sender.pid)
  const senderSpawnedAt = sender.startedAt
  let receiver: ReturnType<typeof spawnNode> | undefined
  try {
    const codeEvent = await sender.waitFor(e => e.event === 'code')
    const t0 = performance.now()
    receiver = ferry(['receive', '--store', target, '--qr', codeEvent.qr as string, '--no-mdns', '--transport', transport, '--json', '--timeout', '60'],
      `ferry receive (${transport})`, profileIt ? 'ferry-receive' : undefined, at.receiver.wrap)
    const receiverThreads = watchThreads(receiver.pid)
    const verified = await receiver.waitFor(e => e.event === 'verified' || e.event === 'error')
    if (verified.event === 'error') throw new Error(`ferry receive failed: ${verified.code as string} ${verified.message as string}`)
    await Promise.all([sender.done, receiver.done])
    const ms = performance.now() - t0
    const connection = receiver.events.find(e => e.event === 'connection')
    if (connection?.transport !== transport) throw new Error(`asked for ${transport}, connected over ${String(connection?.transport)}`)
    const paired = receiver.events.find(e => e.event === 'paired') as Event
    const manifest = receiver.events.find(e => e.event === 'manifest')
    const chatsReady = receiver.events.find(e => e.event === 'chats-ready')
    const p = verified.progress as { messages: number, mediaBytes: number, totalMessages: number }
    const phase = messagePhase(receiver.events, paired.t, (manifest?.totalMessages as number | undefined) ?? p.totalMessages)
    const lastExit = Math.max(sender.exitedAt(), receiver.exitedAt())
    const since = (t: number | undefined): number => t === undefined ? NaN : t - senderSpawnedAt
    const cpuSec = { sender: sender.cpu(), receiver: receiver.cpu() }
    const rssMiB = { sender: sender.rss(), receiver: receiver.rss() }
    return {
      ms,
      pairMs: paired.t - t0,
      firstByteMs: (manifest ?? paired).t - t0,
      transferMs: verified.t - paired.t,
      messages: p.messages,
      mediaBytes: p.mediaBytes,
      phase,
      mediaMBPerSec: mb(p.mediaBytes, verified.t - paired.t - phase.timeToChatsMs),
      rssMiB,
      cpuSec,
      systemCpuSec: { sender: sender.cpu.system(), receiver: receiver.cpu.system() },
      peakFds: { sender: sender.fds(), receiver: receiver.fds() },
      transferWindow: { sender: [paired.t - senderSpawnedAt, verified.t - senderSpawnedAt], receiver: [paired.t - t0, verified.t - t0] },
      threads: { sender: senderThreads().filter(t => t.cpuSec > 0), receiver: receiverThreads().filter(t => t.cpuSec > 0) },
      user: {
        userMs: lastExit - senderSpawnedAt,
        phases: {
          codeMs: since(codeEvent.t),
          receiverStartMs: since(receiver.startedAt),
          pairedMs: since(paired.t),
          manifestMs: since(manifest?.t),
          chatsReadyMs: since(chatsReady?.t),
          verifiedMs: since(verified.t),
          senderExitMs: since(sender.exitedAt()),
          receiverExitMs: since(receiver.exitedAt())
        },
        cpuSec,
        peakRssMiB: rssMiB,
        extra: { exitAfterVerifiedMs: lastExit - verified.t }
      }
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
/** What rsync and tar copy, and what every MB/s on the user's clock counts: history.db + media/. */
const copied = storeFiles(sourceDir)
const store = bytesUnder(copied.map(f => join(sourceDir, f)))
const engine: EngineResult[] = []
const engineErrors: string[] = []
const cli: PhonesResult[] = []
const cliWebrtc: PhonesResult[] = []
const bare: BaselineResult[] = []
const bareWebrtc: BaselineResult[] = []
const bareBrowser: BaselineResult[] = []
const withFiles: BaselineResult[] = []
const raw: BaselineResult[] = []
const ferryMBps: number[] = []
const createUs: number[] = []
const clock: Record<Exclude<Lane, 'engine' | 'ferry' | 'ferry-webrtc'>, LaneRun[]> = {
  'bare-libp2p': [], 'bare-libp2p-webrtc': [], 'raw-socket': [], 'libp2p-files': [], rsync: [], 'rsync-fsync': [], 'tar-socat': [], browser: [], 'bare-libp2p-browser': []
}
/** The order each round ran its lanes in. */
const orders: Lane[][] = []
/**
 * Writes every dirty page out (sync(1)) before a measurement. Receiving stores are kept until the end,
 * so without this a run starts with the previous runs' gigabytes still dirty, and past the kernel's
 * dirty threshold the receiver's writes are throttled to the disk's pace: each measurement would pay
 * for the ones before it (the media set ran at 180 MB/s that way instead of ...).
 */
function settleDisk (): void {
  execFileSync('sync')
}

/** The filesystem the receivers write to: tmpfs takes the disk out of every figure. */
function filesystemOf (dir: string): string {
  const types: Record<number, string> = { 0x01021994: 'tmpfs', 0xef53: 'ext4', 0x58465342: 'xfs', 0x9123683e: 'btrfs', 0x794c7630: 'overlayfs' }
  const t = statfsSync(dir).type
  return types[t] ?? `0x${t.toString(16)}`
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

let sshd: Sshd | undefined
let page: { url: string, stop: () => Promise<void> } | undefined

/** A baseline pair's result as a lane on the user's clock (its processes run node through tsx). */
function baselineRun (b: BaselineResult): LaneRun {
  return { userMs: b.userMs, phases: { transferMs: b.transferMs }, cpuSec: { sender: b.cpuSec.writer, receiver: b.cpuSec.reader }, peakRssMiB: { sender: b.rssMiB.writer, receiver: b.rssMiB.reader } }
}

function checkCounts (what: string, c: PhonesResult): void {
  if (c.messages !== wire.messages || c.mediaBytes !== wire.media) {
    throw new Error(`${what} moved ${c.messages} messages / ${c.mediaBytes} media bytes, the sender's count ${wire.messages} / ${wire.media}: byte counts would not compare`)
  }
}

/** One lane once; `notes` collects the round's one-line report. */
async function runLane (lane: Exclude<Lane, 'engine'>, profileIt: boolean, notes: string[]): Promise<void> {
  settleDisk()
  const user = (r: LaneRun): string => `${r1(r.userMs / 1000)} s (${r1(store.bytes / 1e6 / (r.userMs / 1000))} MB/s)`
  switch (lane) {
    case 'ferry': {
      const c = await twoPhones(sourceDir, profileIt, phonesAt)
      checkCounts('the two-phone run', c)
      cli.push(c)
      ferryMBps.push(mb(wire.total, c.transferMs))
      notes.push(`ferry ${user(c.user)}, verified +${Math.round(c.user.extra?.exitAfterVerifiedMs ?? NaN)} ms to exit, wire ${r1(mb(wire.total, c.transferMs))} MB/s, ` +
        `chats ready ${r1(c.phase.timeToChatsMs / 1000)} s after pairing (${Math.round(c.phase.messagesPerSec)} msgs/s), media ${r1(c.mediaMBPerSec)} MB/s, ` +
        `rss send/recv ${c.rssMiB.sender}/${c.rssMiB.receiver} MiB, cpu send/recv ${c.cpuSec.sender}/${c.cpuSec.receiver} s (system ${c.systemCpuSec.sender}/${c.systemCpuSec.receiver}); ${busiest(c)}`)
      return
    }
    case 'ferry-webrtc': {
      const c = await twoPhones(sourceDir, false, phonesAt, 'webrtc')
      checkCounts('the two-phone WebRTC run', c)
      cliWebrtc.push(c)
      notes.push(`ferry webrtc ${user(c.user)}, wire ${r1(mb(wire.total, c.transferMs))} MB/s; ${busiest(c)}`)
      return
    }
    case 'bare-libp2p': {
      const b = await bareLibp2p(wire.total, { root, timeoutMs: childTimeoutMs, at: baselinesAt })
      bare.push(b)
      clock[lane].push(baselineRun(b))
      notes.push(`bare libp2p ${r1(b.mbPerSec)} MB/s`)
      return
    }
    case 'bare-libp2p-webrtc': {
      const b = await bareLibp2p(wire.total, { root, timeoutMs: childTimeoutMs, at: baselinesAt, transport: 'webrtc' })
      bareWebrtc.push(b)
      clock[lane].push(baselineRun(b))
      notes.push(`bare libp2p webrtc ${r1(b.mbPerSec)} MB/s`)
      return
    }
    case 'bare-libp2p-browser': {
      const b = await bareLibp2pBrowser(wire.total, { root, timeoutMs: childTimeoutMs, chromium: tool('chromium') })
      bareBrowser.push(b)
      clock[lane].push(baselineRun(b))
      notes.push(`bare libp2p into the browser ${r1(b.mbPerSec)} MB/s, Chromium ${r1(chromiumCpuMsPerMB(b))} CPU-ms/MB`)
      return
    }
    case 'raw-socket': {
      const b = await rawSocket(wire.total, { root, timeoutMs: childTimeoutMs, at: baselinesAt })
      raw.push(b)
      clock[lane].push(baselineRun(b))
      notes.push(`raw socket ${r1(b.mbPerSec)} MB/s`)
      return
    }
    case 'libp2p-files': {
      if (mediaFiles.length === 0) return
      const to = targetDir('libp2p-files')
      try {
        const b = await bareLibp2p(streamBytes(mediaFiles), { root, timeoutMs: childTimeoutMs, at: baselinesAt, media: { from: sourceDir, to } })
        withFiles.push(b)
        clock[lane].push(baselineRun(b))
        notes.push(`libp2p + files ${r1(b.mbPerSec)} MB/s`)
      } finally {
        releaseStore(to)
      }
      return
    }
    case 'rsync':
    case 'rsync-fsync': {
      sshd ??= await startSshd({ sshd: tool('sshd'), ssh: tool('ssh'), sshKeygen: tool('ssh-keygen') }, 24 * 3600_000)
      const to = targetDir(lane)
      try {
        const r = await rsyncLane({ rsync: tool('rsync'), sshd, fsync: lane === 'rsync-fsync', from: sourceDir, files: copied, to, timeoutMs: childTimeoutMs })
        clock[lane].push(r)
        notes.push(`${lane === 'rsync' ? 'rsync' : 'rsync --fsync'} ${user(r)}`)
      } finally {
        releaseStore(to)
      }
      return
    }
    case 'tar-socat': {
      const to = targetDir(lane)
      try {
        const r = await tarSocatLane({ tar: tool('tar'), socat: tool('socat'), bash: tool('bash'), from: sourceDir, files: copied, to, timeoutMs: childTimeoutMs })
        clock[lane].push(r)
        notes.push(`tar | socat ${user(r)}`)
      } finally {
        releaseStore(to)
      }
      return
    }
    case 'browser': {
      page ??= await startPageServer(ferryBin, root, 24 * 3600_000)
      const profileDir = targetDir('chromium')
      try {
        const r = await browserLane({
          chromium: tool('chromium'),
          ferryBin, root, pageUrl: page.url, source: sourceDir, code: formatCode(generateCode()), profileDir,
          expect: { messages: wire.messages, mediaBytes: wire.media }, storeBytes: store.bytes, timeoutMs: childTimeoutMs,
          cpuProfile: profileIt && cpuDir !== undefined ? join(cpuDir, 'browser-page.cpuprofile') : undefined
        })
        clock[lane].push(r)
        const x = r.extra ?? {}
        notes.push(`browser ${r1(x.pageMs / 1000)} s in the page (${r1(x.pageMBPerSec)} MB/s, ${Math.round(x.messagesPerSec)} msgs/s), JS heap ${x.jsHeapPeakMiB} MiB peak, ${x.jsHeapAfterGcMiB} after GC`)
      } finally {
        releaseStore(profileDir)
      }
    }
  }
}

async function oneRound (i: number): Promise<void> {
  const profileIt = cpuDir !== undefined && i === 0
  const notes: string[] = []
  if (values.wifi !== true) createUs.push(fsCreateProbe())
  if (lanes.has('engine') && values.wifi !== true) {
    // A failing engine run is reported, not fatal: the other measurements do not depend on it.
    try {
      settleDisk()
      const e = await engineInMemory(sourceDir, profileIt ? join(cpuDir, 'engine-in-memory.cpuprofile') : undefined)
      if (e.wireBytes !== wire.total) process.stderr.write(`warning: the in-memory run moved ${e.wireBytes} bytes, the count says ${wire.total}\n`)
      engine.push(e)
      notes.push(`engine ${r1(e.wireMBPerSec)} MB/s`)
    } catch (err) {
      engineErrors.push((err as Error).message)
      process.stderr.write(`round ${i + 1}: engine in memory failed: ${(err as Error).message}\n`)
    }
  }
  // The process lanes in an order that rotates from round to round.
  const list = LANES.filter((l): l is Exclude<Lane, 'engine'> => l !== 'engine' && lanes.has(l))
  const order = list.map((_, k) => list[(k + i) % list.length])
  orders.push(order)
  for (const lane of order) await runLane(lane, profileIt && (lane === 'ferry' || lane === 'browser'), notes)
  process.stderr.write(`round ${i + 1}/${runs}: ${notes.join('; ')}${createUs[i] !== undefined ? `; file create ${Math.round(createUs[i])} us` : ''}\n`)
}
try {
  if (values.wifi === true) await setUpWifi()
  for (let i = 0; i < runs; i++) await oneRound(i)
} finally {
  await sshd?.stop()
  await page?.stop()
  for (const d of doomed) removeTempDir(d)
  await testbed?.down()
}

const runLanes: Partial<Record<Exclude<Lane, 'engine'>, LaneRun[]>> = {
  ...(cli.length > 0 ? { ferry: cli.map(c => c.user) } : {}),
  ...(cliWebrtc.length > 0 ? { 'ferry-webrtc': cliWebrtc.map(c => c.user) } : {}),
  ...Object.fromEntries(Object.entries(clock).filter(([, rs]) => rs.length > 0))
}
const ferryUser = runLanes.ferry
const userClock = {
  what: 'every lane timed from its first process start to its last process exit (ms); MBPerSec = storeBytes / that time; phases in ms after the start; cpuSec and peakRssMiB per side (the largest process of its tree)',
  storeBytes: store.bytes,
  storeFiles: store.files,
  lanes: Object.fromEntries(Object.entries(runLanes).map(([lane, rs]) => [lane, summariseLane(rs, store.bytes)])),
  ...(ferryUser !== undefined
    ? {
        ratios: {
          what: "Ferry's speed over each lane's on the user's clock (> 1: Ferry faster): the ratio of the medians, and within each round",
          ...Object.fromEntries(Object.entries(runLanes).filter(([lane]) => lane !== 'ferry').map(([lane, rs]) => [`ferryOver${lane.split('-').map(w => w[0].toUpperCase() + w.slice(1)).join('')}`, speedRatio(ferryUser, rs)]))
        }
      }
    : {})
}

const ferryMed = cli.length > 0 ? median(ferryMBps) : NaN
const bareMed = bare.length > 0 ? median(bare.map(b => b.mbPerSec)) : NaN
const rawMed = raw.length > 0 ? median(raw.map(b => b.mbPerSec)) : NaN
const filesMed = withFiles.length > 0 ? median(withFiles.map(b => b.mbPerSec)) : undefined
const ferryMediaMed = cli.length > 0 ? median(cli.map(r => r.mediaMBPerSec)) : NaN
const summary = {
  ...(ownStore !== undefined ? { store: ownStore } : { profile: profileName }),
  runs,
  lanes: [...lanes],
  roundOrders: orders,
  ...(cpuDir !== undefined ? { note: 'round 1 was CPU-profiled: its figures are skewed' } : {}),
  receivingStoresOn: targets,
  receivingFilesystem: filesystemOf(targets),
  ...(createUs.length > 0 ? { fileCreateUs: Math.round(median(createUs)) } : {}),
  ...(values.wifi === true
    ? {
        wifi: {
          linkMbit,
          loss,
          what: 'two namespaces on a bridge, each egress tc tbf at linkMbit, each ingress dropping `loss` (iptables statistic); goodput = bytes.moved / time',
          ...(cli.length > 0 ? { ferryShareOfLink: r2(ferryMed / (linkMbit / 8)) } : {}),
          ...(bare.length > 0 ? { bareLibp2pShareOfLink: r2(bareMed / (linkMbit / 8)) } : {}),
          ...(raw.length > 0 ? { rawSocketShareOfLink: r2(rawMed / (linkMbit / 8)) } : {})
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
  userClock,
  ...(lanes.has('engine') && values.wifi !== true
    ? {
        engineInMemory: engine.length === 0 ? { errors: engineErrors } : {
          ...(engineErrors.length > 0 ? { errors: engineErrors } : {}),
          runs: engine.length,
          ms: Math.round(median(engine.map(r => r.ms))),
          messagesPerSec: Math.round(median(engine.map(r => r.msgsPerSec))),
          mediaMBPerSec: r1(median(engine.map(r => r.mediaMBPerSec))),
          MBPerSec: r1(median(engine.map(r => r.wireMBPerSec))),
          peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
          peakFds: Math.max(...engine.map(r => r.peakFds))
        }
      }
    : {}),
  ...(cli.length > 0 ? { twoPhonesLoopback: phonesSummary(cli, ferryMBps) } : {}),
  ...(cliWebrtc.length > 0 ? { twoPhonesWebrtc: phonesSummary(cliWebrtc, cliWebrtc.map(c => mb(wire.total, c.transferMs))) } : {}),
  ...(bare.length > 0
    ? {
        bareLibp2p: pairSummary(bare)
      }
    : {}),
  ...(bareWebrtc.length > 0
    ? {
        bareLibp2pWebrtc: pairSummary(bareWebrtc)
      }
    : {}),
  ...(bareBrowser.length > 0
    ? {
        bareLibp2pBrowser: {
          ...pairSummary(bareBrowser),
          chromiumCpuMsPerMB: r1(median(bareBrowser.map(chromiumCpuMsPerMB))),
          cpuSec: { writer: median(bareBrowser.map(b => b.cpuSec.writer)), chromium: median(bareBrowser.map(b => b.cpuSec.reader)) }
        }
      }
    : {}),
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
  ...(raw.length > 0
    ? {
        rawSocket: {
          transferMs: Math.round(median(raw.map(b => b.transferMs))),
          MBPerSec: r1(rawMed),
          peakRssMiB: { writer: median(raw.map(b => b.rssMiB.writer)), reader: median(raw.map(b => b.rssMiB.reader)) }
        }
      }
    : {}),
  ratios: {
    ...(cli.length > 0 && bare.length > 0 ? { ferryOverBareLibp2p: r2(ferryMed / bareMed) } : {}),
    ...(cli.length > 0 && raw.length > 0 ? { ferryOverRawSocket: r2(ferryMed / rawMed) } : {}),
    ...(bare.length > 0 && raw.length > 0 ? { bareLibp2pOverRawSocket: r2(bareMed / rawMed) } : {}),
    ...(cli.length > 0 && cliWebrtc.length > 0 ? { webrtcOverTcp: r2(median(cliWebrtc.map(c => mb(wire.total, c.transferMs))) / ferryMed) } : {}),
    ...(bare.length > 0 && bareWebrtc.length > 0 ? { bareWebrtcOverBareTcp: r2(median(bareWebrtc.map(b => b.mbPerSec)) / bareMed) } : {}),
    ...(cliWebrtc.length > 0 && bareWebrtc.length > 0 ? { ferryWebrtcOverBareWebrtc: r2(median(cliWebrtc.map(c => mb(wire.total, c.transferMs))) / median(bareWebrtc.map(b => b.mbPerSec))) } : {}),
    ...(clock.browser.length > 0 && bareBrowser.length > 0 ? { browserOverBareBrowser: r2(median(clock.browser.map(r => r.extra?.pageMBPerSec ?? NaN)) / median(bareBrowser.map(b => b.mbPerSec))) } : {}),
    ...(filesMed !== undefined && cli.length > 0 ? { ferryMediaOverLibp2pWithFiles: r2(ferryMediaMed / filesMed) } : {}),
    ...(filesMed !== undefined && bare.length > 0 ? { libp2pWithFilesOverBare: r2(filesMed / bareMed) } : {}),
    what: "medians of wire MB/s; Ferry = bytes.moved / (verified - paired) on the receiver; Ferry media = media bytes / the media phase (chats-ready to verified); webrtcOverTcp compares Ferry's two transports alike, bareWebrtcOverBareTcp libp2p's own two without Ferry, ferryWebrtcOverBareWebrtc Ferry against that ceiling, browserOverBareBrowser the browser phone's MB/s (its page's clock) against libp2p's WebRTC into Chromium alone. The user's clock has its own ratios (userClock.ratios)"
  },
  perRunMBPerSec: {
    ...(cli.length > 0 ? { ferry: ferryMBps.map(r1), ferryMedia: cli.map(r => r1(r.mediaMBPerSec)) } : {}),
    ...(bare.length > 0 ? { bareLibp2p: bare.map(b => r1(b.mbPerSec)) } : {}),
    ...(bareWebrtc.length > 0 ? { bareLibp2pWebrtc: bareWebrtc.map(b => r1(b.mbPerSec)) } : {}),
    ...(bareBrowser.length > 0 ? { bareLibp2pBrowser: bareBrowser.map(b => r1(b.mbPerSec)) } : {}),
    ...(raw.length > 0 ? { rawSocket: raw.map(b => r1(b.mbPerSec)) } : {}),
    ...(filesMed !== undefined ? { libp2pWithFiles: withFiles.map(b => r1(b.mbPerSec)) } : {})
  }
}
console.log(JSON.stringify(summary, null, 2))
if (typeof values.json === 'string') writeFileSync(values.json, JSON.stringify(summary, null, 2))
process.stderr.write(`\n${userClockTable()}\n`)
const createNote = slowCreatesNote(createUs)
if (createNote !== undefined) process.stderr.write(`\n${createNote}\n`)

/**
 * A filesystem that is slow to make files right now says so: ext4 without a journal (this machine's disk)
 * skips, at each create, every free inode of the folder's group freed in the last minutes, one lookup
 * each. After a run that deleted many files (this benchmark's receivers, at its end), every lane that
 * makes files pays it for minutes, each as much as the group its receiver's folder lands in.
 */
function slowCreatesNote (us: number[]): string | undefined {
  if (us.length === 0) return undefined
  const worst = Math.max(...us)
  if (worst < SLOW_CREATE_US) return undefined
  return `note: making a file in ${targets} took up to ${Math.round(worst)} us in this run, against 10-20 on a filesystem at rest. ` +
    'It skips inodes freed in the last minutes (ext4 without a journal does), so after deleting many files every lane that makes files ' +
    'slows by the luck of where its folder lands, and a many-file history compares lanes by that luck. Give the disk a few minutes ' +
    'after a run that deleted many files, or point --tmp at a filesystem that has not.'
}

/** Each side's three busiest threads, with their share of the transfer ('paired' to 'verified'). */
function busiest (c: PhonesResult): string {
  const side = (ts: ThreadCpu[]): string => ts.slice(0, 3).map(t => `${t.name} ${t.cpuSec} s (${Math.round(100 * t.cpuSec * 1000 / c.transferMs)}%)`).join(', ')
  return `threads send: ${side(c.threads.sender)}; recv: ${side(c.threads.receiver)}`
}

/** A bare pair's rounds, as medians: the reader's transfer, the dial, and each side's peak RSS and CPU. */
function pairSummary (rs: BaselineResult[]): Record<string, unknown> {
  const med = (f: (b: BaselineResult) => number): number => median(rs.map(f))
  return {
    transferMs: Math.round(med(b => b.transferMs)),
    dialMs: Math.round(med(b => b.dialMs)),
    MBPerSec: r1(med(b => b.mbPerSec)),
    peakRssMiB: { writer: med(b => b.rssMiB.writer), reader: med(b => b.rssMiB.reader) },
    cpuSec: { writer: med(b => b.cpuSec.writer), reader: med(b => b.cpuSec.reader) }
  }
}

function phonesSummary (rs: PhonesResult[], wireMBps: number[]): Record<string, unknown> {
  return {
    ms: Math.round(median(rs.map(r => r.ms))),
    pairMs: Math.round(median(rs.map(r => r.pairMs))),
    firstByteMs: Math.round(median(rs.map(r => r.firstByteMs))),
    transferMs: Math.round(median(rs.map(r => r.transferMs))),
    MBPerSec: r1(median(wireMBps)),
    timeToChatsMs: Math.round(median(rs.map(r => r.phase.timeToChatsMs))),
    messagesPerSec: Math.round(median(rs.map(r => r.phase.messagesPerSec))),
    mediaMBPerSec: r1(median(rs.map(r => r.mediaMBPerSec))),
    overallMBPerSec: r1(median(rs.map(r => mb(r.mediaBytes, r.ms)))),
    peakRssMiB: { sender: median(rs.map(r => r.rssMiB.sender)), receiver: median(rs.map(r => r.rssMiB.receiver)) },
    cpuSec: { sender: median(rs.map(r => r.cpuSec.sender)), receiver: median(rs.map(r => r.cpuSec.receiver)) },
    systemCpuSec: { sender: median(rs.map(r => r.systemCpuSec.sender)), receiver: median(rs.map(r => r.systemCpuSec.receiver)) },
    cpuSecPerGB: { sender: r2(median(rs.map(r => r.cpuSec.sender)) / (wire.total / 1e9)), receiver: r2(median(rs.map(r => r.cpuSec.receiver)) / (wire.total / 1e9)) },
    peakFds: { sender: Math.max(...rs.map(r => r.peakFds.sender)), receiver: Math.max(...rs.map(r => r.peakFds.receiver)) },
    threadsFirstRound: { what: 'CPU seconds of each thread (main: the JS thread) over the whole process, round 1', ...rs[0].threads }
  }
}

/** The user's clock as a table, for a person reading the terminal. */
function userClockTable (): string {
  const rows = [['lane', 'user s', 'MB/s', 'Ferry/lane', 'cpu s send/recv', 'rss MiB send/recv', 'phases (s after start)']]
  for (const [lane, s] of Object.entries(userClock.lanes)) {
    const ratio = lane === 'ferry' || ferryUser === undefined ? '' : String(speedRatio(ferryUser, runLanes[lane as keyof typeof runLanes] as LaneRun[]).median)
    const phases = Object.entries(s.phasesMs).map(([k, v]) => `${k.replace(/Ms$/, '')} ${r2(v / 1000)}`).join(', ')
    const extra = Object.entries(s.extra ?? {}).map(([k, v]) => `${k} ${v}`).join(', ')
    rows.push([lane, String(r2(s.userMs / 1000)), String(s.MBPerSec), ratio, `${s.cpuSec.sender}/${s.cpuSec.receiver}`, `${s.peakRssMiB.sender}/${s.peakRssMiB.receiver}`, [phases, extra].filter(x => x !== '').join('; ')])
  }
  const width = rows[0].map((_, c) => Math.max(...rows.map(r => r[c].length)))
  const head = `The user's clock, ${historyName} (${r1(store.bytes / 1e6)} MB in ${store.files} file${store.files === 1 ? '' : 's'}: history.db and media/), medians of ${runs} round(s), receivers on ${filesystemOf(targets)}:`
  return [head, ...rows.map(r => r.map((x, c) => c === r.length - 1 ? x : x.padEnd(width[c])).join('  '))].join('\n')
}

if (cpuDir !== undefined) {
  const profiles: CpuSummary[] = []
  const engineProfile = join(cpuDir, 'engine-in-memory.cpuprofile')
  if (existsSync(engineProfile)) profiles.push(summarise(engineProfile, 15))
  // The page's profile spans the click to `verified`: the transfer, with pairing.
  const pageProfile = join(cpuDir, 'browser-page.cpuprofile')
  if (existsSync(pageProfile)) profiles.push(summarise(pageProfile, 25))
  for (const [name, window] of cli.length === 0 ? [] : [['ferry-send', cli[0].transferWindow.sender], ['ferry-receive', cli[0].transferWindow.receiver]] as const) {
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
