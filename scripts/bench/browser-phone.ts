// The browser phone under load: a text-heavy history (and optionally media) moves from a
// `ferry send --transport webrtc` process into the page in headless Chromium, and this reports how fast
// the messages arrived, how fast the media came, and the page's JS heap after a forced GC.
//
//   npx tsx scripts/bench/browser-phone.ts [--messages 300000] [--conversations 40] [--media-mb 0]
//                                          [--runs 1] [--ferry-root DIR] [--json]
//
// messages/s: the history's messages over the time from the first message the page holds to the last
// (polled every 50 ms from Node, so a run of a few seconds carries ~2% of slack). media MB/s: the media
// bytes over the time from the last message to `verified`. Heap: Runtime.getHeapUsage's usedSize after
// HeapProfiler.collectGarbage (CDP), when the page loaded, when half the messages were in, and after
// verification. The page's export (sha256 over the NDJSON, read back from IndexedDB) must equal the
// sender's `ferry export`.
//
// --ferry-root runs another checkout's CLI and page (e.g. the commit before the browser phone streamed:
// `git archive <rev> | tar -x -C DIR` with node_modules linked in): the history goes in through its own
// `ferry import`, so the same NDJSON feeds both. An older page without exportDigest is checked by
// message count only.
import { createHash } from 'node:crypto'
import { createReadStream, createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import { toLine } from '../../src/sim/ndjson.js'
import { CHROMIUM, CHROMIUM_FLAGS } from '../../test/browser/chromium.js'
import { numberOption, scriptArgs } from '../lib/script-args.js'
import { installCleanup, r2, removeTempDir, spawnNode, tempDir } from './proc.js'

const USAGE = `Usage: tsx scripts/bench/browser-phone.ts [options]

Moves a text-heavy history into the browser phone (headless Chromium) and reports messages/s,
media MB/s and the page's JS heap after a forced GC.

Options:
  --messages N        text messages in the history (default 300000)
  --conversations N   conversations they are spread over (default 40)
  --media-mb N        media to add, in MB: one video of a third, photos for the rest (default 0)
  --runs N            transfers of the same history, each into a fresh browser profile (default 1)
  --ferry-root DIR    the checkout whose CLI and page to run (default: this one)
  --seed N            seed of the generated history (default 1)
  --profile FILE      record a CPU profile of the page during the first run (Chrome's .cpuprofile)
                      and print the functions with the most self time
  --unminified        serve this checkout's page built without minifying (readable profiles)
  --lease             hide Web Locks from the page, so it holds its one-tab lock as a lease in IndexedDB
                      (what a page served over plain HTTP on the LAN does), every write checked against it
  --json              print one JSON object per run instead of text
`
const args = scriptArgs(USAGE, {
  messages: { type: 'string' },
  conversations: { type: 'string' },
  'media-mb': { type: 'string' },
  runs: { type: 'string' },
  'ferry-root': { type: 'string' },
  seed: { type: 'string' },
  profile: { type: 'string' },
  unminified: { type: 'boolean', default: false },
  lease: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false }
})
const MESSAGES = numberOption(USAGE, 'messages', args.messages, 300_000, 1)
const CONVERSATIONS = numberOption(USAGE, 'conversations', args.conversations, 40, 1)
const MEDIA_MB = numberOption(USAGE, 'media-mb', args['media-mb'], 0, 0)
const RUNS = numberOption(USAGE, 'runs', args.runs, 1, 1)
const SEED = numberOption(USAGE, 'seed', args.seed, 1, 0)
const ROOT = resolve(args['ferry-root'] ?? fileURLToPath(new URL('../../', import.meta.url)))
const FERRY = join(ROOT, 'bin', 'ferry.js')
if (!existsSync(FERRY)) throw new Error(`no ferry CLI at ${FERRY}`)

installCleanup()
const work = tempDir('browser-bench')
const say = (s: string): void => { if (!args.json) process.stderr.write(`${s}\n`) }

/** A seeded xorshift32. */
function prng (seed: number): (n: number) => number {
  let x = (seed * 2654435761) >>> 0 || 1
  return n => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x % n }
}

const WORDS = 'the a to and of in is it you that was for on are with as I his they be at one have this from or had by hot word but what some we can out other were all there when up use your how said an each she which do their time if will way about many then them write would like so these her long make thing see him two has look more day could go come did number sound no most people my over know water than call first who may down side been now find'.split(' ')

/** Writes the history as canonical NDJSON (and its media files beside it); returns the file. */
async function writeHistory (): Promise<string> {
  const dir = join(work, 'history')
  mkdirSync(dir, { recursive: true })
  const file = join(dir, 'history.ndjson')
  const out = createWriteStream(file)
  const write = async (line: string): Promise<void> => { if (!out.write(line + '\n')) await new Promise<void>(resolve => out.once('drain', () => resolve())) }
  const rand = prng(SEED)
  const people = Array.from({ length: Math.min(200, CONVERSATIONS * 2) }, (_, i) => `p${i}`)
  for (const p of people) await write(toLine('contact', { id: p, name: `Person ${p.slice(1)}` }))
  const convs = Array.from({ length: CONVERSATIONS }, (_, i) => `chat-${String(i).padStart(4, '0')}`)
  for (const [i, c] of convs.entries()) await write(toLine('conversation', { id: c, kind: 'direct', title: `Chat ${i}`, members: ['me', people[i % people.length]] }))
  const media: Array<{ sha256: string, size: number, mime: string }> = []
  let left = MEDIA_MB * 1e6
  for (let i = 0; left > 0; i++) {
    const size = Math.min(left, i === 0 ? Math.round(MEDIA_MB * 1e6 / 3) : 200_000 + rand(2_800_000))
    const bytes = Buffer.alloc(size)
    for (let o = 0; o < size; o += 4) bytes.writeUInt32LE(rand(0xffffffff), Math.min(o, size - 4))
    const sha256 = createHash('sha256').update(bytes).digest('hex')
    writeFileSync(join(dir, sha256), bytes)
    const mime = i === 0 ? 'video/mp4' : 'image/jpeg'
    await write(toLine('media', { sha256, size, mime, path: sha256 }))
    media.push({ sha256, size, mime })
    left -= size
  }
  const t0 = 1_600_000_000_000
  for (let n = 0; n < MESSAGES; n++) {
    const c = convs[n % CONVERSATIONS]
    const words = 3 + rand(25)
    let text = ''
    for (let w = 0; w < words; w++) text += (w === 0 ? '' : ' ') + WORDS[rand(WORDS.length)]
    const m = n < media.length ? media[n] : undefined
    await write(toLine('message', {
      conversation: c, id: `m${n.toString(36).padStart(6, '0')}`, sender: rand(2) === 0 ? 'me' : people[(n % CONVERSATIONS) % people.length],
      ts: t0 + n * 1000, kind: m === undefined ? 'text' : m.mime.startsWith('video') ? 'video' : 'image', text, ...(m !== undefined ? { media: m.sha256 } : {})
    }))
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => { if (err != null) reject(err); else resolve() }))
  return file
}

async function ferry (argv: string[], label: string): Promise<void> {
  await spawnNode([FERRY, ...argv], { label, timeoutMs: 1_800_000, cwd: ROOT }).done
}

/** CPU seconds (user + system) a process has used so far (NaN once it is gone). */
function processCpu (pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(f[11]) + Number(f[12])) / 100
  } catch {
    return NaN
  }
}

/** What a Chromium process does, from its command line. */
function processKind (pid: number): string {
  try {
    // Chromium rewrites its command line into one space-separated string.
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split(/[\0 ]/)
    const sub = cmd.find(a => a.startsWith('--utility-sub-type='))
    if (sub !== undefined) return sub.slice('--utility-sub-type='.length).split('.')[0]
    return cmd.find(a => a.startsWith('--type='))?.slice('--type='.length) ?? 'browser'
  } catch {
    return 'gone'
  }
}

/** CPU seconds used so far by every Chromium process under this one, in all and by kind of process. */
function browserCpuByKind (): Map<string, number> {
  const out = new Map<string, number>()
  for (const [pid, t] of chromiumTicks()) {
    const k = processKind(pid)
    out.set(k, (out.get(k) ?? 0) + t / 100)
  }
  return out
}

/** CPU seconds used so far by every Chromium process under this one (browser, renderer, storage, network...). */
function browserCpu (): number {
  let total = 0
  for (const t of chromiumTicks().values()) total += t
  return total / 100
}

function chromiumTicks (): Map<number, number> {
  const parent = new Map<number, number>()
  const ticks = new Map<number, number>()
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8')
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      parent.set(Number(d), Number(f[1]))
      ticks.set(Number(d), Number(f[11]) + Number(f[12]))
    } catch {}
  }
  const out = new Map<number, number>()
  for (const [pid, t] of ticks) {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) {
      if (p === process.pid) { out.set(pid, t); break }
    }
  }
  return out
}

interface PageState { phase: string, progress?: { messages: number, totalMessages: number, mediaBytes: number, totalMediaBytes: number }, error?: { code: string, message: string } }

interface Run {
  messages: number
  messagesPerSec: number
  mediaMB: number
  mediaMBps?: number
  /** usedSize after a forced GC, MiB. */
  heapAtLoadMiB: number
  heapMidMiB: number
  heapAfterMiB: number
  transferSeconds: number
  /** What the origin's storage holds after the transfer (navigator.storage.estimate), MB. */
  storageMB: number
  /**
   * CPU seconds per 100,000 messages while they arrived: Chromium's processes (the page, IndexedDB's
   * storage service, the network) and the sender's. Steadier than the wall-clock rate on a shared machine.
   */
  browserCpuPer100k: number
  /** The same by Chromium process (renderer: the page; storage: IndexedDB; network; gpu; browser). */
  browserCpuByKind: Record<string, number>
  senderCpuPer100k: number
  exportMatches?: boolean
}

async function transfer (store: string, exportSha: string, n: number): Promise<Run> {
  const web = args.unminified ? await serveUnminified() : spawnNode([FERRY, 'web', '--port', '0', '--json'], { label: 'ferry web', timeoutMs: 3_600_000, cwd: ROOT })
  const url = String((await web.waitFor(e => e.event === 'listening')).url)
  const code = `654-0000-${String(2000 + n).padStart(4, '0')}`
  const sender = spawnNode([FERRY, 'send', '--store', store, '--code', code, '--transport', 'webrtc', '--no-mdns', '--listen', '/ip4/127.0.0.1/udp/0/webrtc-direct', '--json', '--timeout', '600'],
    { label: 'ferry send', timeoutMs: 3_600_000, cwd: ROOT })
  const qr = String((await sender.waitFor(e => e.event === 'code')).qr)
  const profile = tempDir('chromium-profile')
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, timeout: 60_000 })
  try {
    const page = context.pages()[0] ?? await context.newPage()
    const cdp = await context.newCDPSession(page)
    const heap = async (): Promise<number> => {
      await cdp.send('HeapProfiler.collectGarbage')
      const { usedSize } = await cdp.send('Runtime.getHeapUsage')
      return usedSize / 2 ** 20
    }
    // Loopback is a secure context, which has Web Locks; a LAN page over plain HTTP has none.
    if (args.lease) await page.addInitScript(() => { Object.defineProperty(navigator, 'locks', { value: undefined }) })
    await page.goto(`${url}#${qr}`)
    await page.waitForFunction(() => (window as unknown as { __ferry?: { state(): { phase: string } } }).__ferry?.state().phase === 'idle', null, { timeout: 60_000 })
    if (args.lease && await page.evaluate(() => (window as unknown as { __ferry: { state(): { lock?: string } } }).__ferry.state().lock) !== 'lease') throw new Error('--lease: the page does not hold a lease')
    const heapAtLoad = await heap()
    const profiling = args.profile !== undefined && n === 0
    if (profiling) {
      await cdp.send('Profiler.enable')
      await cdp.send('Profiler.setSamplingInterval', { interval: 200 })
      await cdp.send('Profiler.start')
    }
    await page.click('#start')
    const state = async (): Promise<PageState> => await page.evaluate(() => (window as unknown as { __ferry: { state(): PageState } }).__ferry.state())
    let first: number | undefined
    let allIn: number | undefined
    let cpuAtFirst = 0
    let cpuAtAllIn = 0
    let kindsAtFirst = new Map<string, number>()
    let kindsAtAllIn = new Map<string, number>()
    let senderAtFirst = 0
    let senderAtAllIn = 0
    let heapMid = 0
    let s: PageState
    const t0 = performance.now()
    for (;;) {
      s = await state()
      const now = performance.now()
      const p = s.progress
      if (first === undefined && p !== undefined && p.messages > 0) { first = now; cpuAtFirst = browserCpu(); kindsAtFirst = browserCpuByKind(); senderAtFirst = processCpu(sender.pid) }
      if (heapMid === 0 && p !== undefined && p.messages >= p.totalMessages / 2) heapMid = await heap()
      if (allIn === undefined && p !== undefined && p.totalMessages > 0 && p.messages >= p.totalMessages) { allIn = now; cpuAtAllIn = browserCpu(); kindsAtAllIn = browserCpuByKind(); senderAtAllIn = processCpu(sender.pid) }
      if (s.phase === 'verified' || s.phase === 'failed') break
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    const end = performance.now()
    if (profiling) await saveProfile((await cdp.send('Profiler.stop')).profile, args.profile as string)
    if (s.phase !== 'verified') throw new Error(`the page stopped: ${JSON.stringify(s.error)}`)
    const heapAfter = await heap()
    const usage = await page.evaluate(async () => (await navigator.storage.estimate()).usage ?? 0)
    const total = s.progress?.totalMessages ?? 0
    let exportMatches: boolean | undefined
    const hasDigest = await page.evaluate(() => typeof (window as unknown as { __ferry: { exportDigest?: unknown } }).__ferry.exportDigest === 'function')
    if (hasDigest) {
      const d = await page.evaluate(async () => await (window as unknown as { __ferry: { exportDigest(): Promise<{ sha256: string }> } }).__ferry.exportDigest())
      exportMatches = d.sha256 === exportSha
    }
    await sender.done
    const mediaBytes = s.progress?.totalMediaBytes ?? 0
    return {
      messages: total,
      // Messages that all came in one read of the page have no rate worth the name.
      messagesPerSec: allIn !== undefined && first !== undefined && allIn > first ? Math.round(total / ((allIn - first) / 1000)) : 0,
      mediaMB: r2(mediaBytes / 1e6),
      mediaMBps: mediaBytes > 0 && allIn !== undefined ? r2(mediaBytes / 1e6 / ((end - allIn) / 1000)) : undefined,
      heapAtLoadMiB: r2(heapAtLoad),
      heapMidMiB: r2(heapMid),
      heapAfterMiB: r2(heapAfter),
      transferSeconds: r2((end - t0) / 1000),
      storageMB: r2(usage / 1e6),
      browserCpuPer100k: r2((cpuAtAllIn - cpuAtFirst) * 1e5 / total),
      browserCpuByKind: Object.fromEntries([...kindsAtAllIn].map(([k, v]) => [k, r2((v - (kindsAtFirst.get(k) ?? 0)) * 1e5 / total)])),
      senderCpuPer100k: r2((senderAtAllIn - senderAtFirst) * 1e5 / total),
      exportMatches
    }
  } finally {
    await context.close().catch(() => {})
    removeTempDir(profile)
    sender.kill()
    web.kill()
  }
}

/** This checkout's page, bundled without minifying, served on loopback (in this process). */
async function serveUnminified (): Promise<{ waitFor: (pred: (e: Record<string, unknown>) => boolean) => Promise<Record<string, unknown>>, kill: () => void }> {
  const { build } = await import('esbuild')
  const { browserSha256, WEB_SRC } = await import('../build/page.js')
  const { servePage } = await import('../../src/net/page-server.js')
  const dir = join(work, 'web')
  mkdirSync(dir, { recursive: true })
  await build({ entryPoints: [join(WEB_SRC, 'main.ts')], outfile: join(dir, 'app.js'), bundle: true, format: 'esm', platform: 'browser', plugins: [browserSha256], target: ['chrome110'], minify: false, logLevel: 'silent' })
  writeFileSync(join(dir, 'index.html'), readFileSync(join(WEB_SRC, 'index.html')))
  const page = await servePage({ host: '127.0.0.1', port: 0, dir, servedBySender: false })
  return { waitFor: async () => ({ url: page.url }), kill: () => { void page.close() } }
}

interface CpuProfile { nodes: Array<{ id: number, callFrame: { functionName: string, url: string, lineNumber: number }, hitCount?: number }>, samples?: number[], timeDeltas?: number[] }

/** Writes the profile, and prints where the page's main thread spent its time (self time per function). */
async function saveProfile (profile: CpuProfile, file: string): Promise<void> {
  writeFileSync(file, JSON.stringify(profile))
  const byId = new Map(profile.nodes.map(n => [n.id, n]))
  const self = new Map<string, number>()
  const samples = profile.samples ?? []
  const deltas = profile.timeDeltas ?? []
  let total = 0
  for (let i = 0; i < samples.length; i++) {
    const node = byId.get(samples[i])
    const dt = deltas[i + 1] ?? 0
    if (node === undefined) continue
    const f = node.callFrame
    const name = `${f.functionName === '' ? '(anonymous)' : f.functionName} ${f.url.split('/').pop() ?? ''}:${f.lineNumber}`
    self.set(name, (self.get(name) ?? 0) + dt)
    total += dt
  }
  process.stderr.write(`CPU profile of the page in ${file} (${(total / 1e6).toFixed(1)} s sampled); most self time:\n`)
  for (const [name, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 30)) {
    process.stderr.write(`  ${(100 * us / total).toFixed(1).padStart(5)}%  ${(us / 1e3).toFixed(0).padStart(6)} ms  ${name}\n`)
  }
}

say(`writing a history of ${MESSAGES.toLocaleString('en')} messages in ${CONVERSATIONS} conversations${MEDIA_MB > 0 ? ` and ${MEDIA_MB} MB of media` : ''}...`)
const file = await writeHistory()
const store = join(work, 'old-phone')
say(`importing it with ${FERRY}...`)
await ferry(['import', file, '--store', store], 'ferry import')
await ferry(['export', '--store', store, '--out', join(work, 'export.ndjson')], 'ferry export')
const h = createHash('sha256')
for await (const c of createReadStream(join(work, 'export.ndjson'))) h.update(c as Buffer)
const exportSha = h.digest('hex')
const runs: Run[] = []
for (let n = 0; n < RUNS; n++) {
  const run = await transfer(store, exportSha, n)
  runs.push(run)
  if (args.json) process.stdout.write(JSON.stringify({ root: ROOT, ...run }) + '\n')
  else {
    say(`run ${n + 1}: ${run.messages.toLocaleString('en')} messages` + (run.messagesPerSec > 0 ? ` at ${run.messagesPerSec.toLocaleString('en')}/s` : '') +
      (run.mediaMBps !== undefined ? `, ${run.mediaMB} MB media at ${run.mediaMBps} MB/s` : '') +
      ` (CPU s per 100k messages: Chromium ${run.browserCpuPer100k} (${Object.entries(run.browserCpuByKind).map(([k, v]) => `${k} ${v}`).join(', ')}), sender ${run.senderCpuPer100k})` +
      `; ${run.storageMB} MB of storage` +
      `; heap after GC: ${run.heapAtLoadMiB} MiB at load, ${run.heapMidMiB} MiB mid-way, ${run.heapAfterMiB} MiB after; ${run.transferSeconds} s in all` +
      (run.exportMatches === undefined ? '' : run.exportMatches ? '; export matches the sender\'s' : '; EXPORT DIFFERS from the sender\'s'))
  }
}
removeTempDir(work)
if (runs.some(r => r.exportMatches === false)) process.exit(1)
