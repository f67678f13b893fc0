// The browser phone as a lane: `ferry send --transport webrtc` on 127.0.0.1, and the page that
// `ferry web` serves in headless Chromium (Debian's, driven by playwright-core) receiving into
// IndexedDB, timed by the page's own clock from its start (navigation) to `verified`. Chromium is
// started before the sender, as a person's browser is open already; its profile (IndexedDB) lies in
// the directory it is given, on the same disk as the other lanes' receivers.
import { chromium, type BrowserContext, type CDPSession, type Page } from 'playwright-core'
import type { FerryDebug } from '../../src/web/main.js'
import { spawnNode, type Child, type Event } from './proc.js'
import { childMentioning, threadsOf, treePids, watchTree } from './process-tree.js'
import type { LaneRun } from './user-clock.js'
import { readFileSync, writeFileSync } from 'node:fs'
import { TraceMap, originalPositionFor } from '@jridgewell/trace-mapping'

/** As the browser tests launch it (test/browser/chromium.ts), plus exact heap figures for performance.memory. */
const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--enable-precise-memory-info'
]

const WEBRTC_LISTEN = '/ip4/127.0.0.1/udp/0/webrtc-direct'
type State = ReturnType<FerryDebug['state']>
type PageEvent = FerryDebug['events'][number]

/** `ferry web --port 0`: serves the page (building it first when stale) until stopped. */
export async function startPageServer (ferryBin: string, root: string, timeoutMs: number): Promise<{ url: string, stop: () => Promise<void> }> {
  const web = spawnNode([ferryBin, 'web', '--port', '0', '--json'], { label: 'ferry web', timeoutMs, cwd: root })
  const stop = async (): Promise<void> => { web.kill(); await web.done.catch(() => {}) }
  try {
    const listening = await web.waitFor(e => e.event === 'listening')
    return { url: String(listening.url), stop }
  } catch (err) {
    await stop()
    throw err
  }
}

export interface BrowserLaneOptions {
  /** Chromium's executable (Debian's /usr/bin/chromium). */
  chromium: string
  ferryBin: string
  root: string
  pageUrl: string
  source: string
  code: string
  /** A fresh directory for Chromium's profile (its IndexedDB). */
  profileDir: string
  /** What the page must hold at the end. */
  expect: { messages: number, mediaBytes: number }
  /** The source store's bytes (history.db + media), for MB/s on the page's clock. */
  storeBytes: number
  timeoutMs: number
  /**
   * Also CPU-profile the page (V8's sampling profiler over CDP) from the click to `verified`, and write
   * the profile here, its frames mapped back to src/ through the bundle's source map.
   */
  cpuProfile?: string
}

/** The page's V8 heap in use, MiB, sampled over CDP while it runs, and once after a full collection. */
function heapWatch (cdp: CDPSession): { stop: () => Promise<number>, afterGc: () => Promise<number> } {
  let peak = 0
  let busy = false
  const sample = async (): Promise<void> => {
    if (busy) return
    busy = true
    try { peak = Math.max(peak, (await cdp.send('Runtime.getHeapUsage')).usedSize) } catch {} finally { busy = false }
  }
  const timer = setInterval(() => { void sample() }, 500)
  return {
    stop: async () => { clearInterval(timer); await sample(); return Math.round(peak / 1048576 * 10) / 10 },
    afterGc: async () => {
      await cdp.send('HeapProfiler.enable')
      await cdp.send('HeapProfiler.collectGarbage')
      const used = (await cdp.send('Runtime.getHeapUsage')).usedSize
      return Math.round(used / 1048576 * 10) / 10
    }
  }
}

export async function browserLane (o: BrowserLaneOptions): Promise<LaneRun> {
  let context: BrowserContext | undefined
  let sender: Child | undefined
  const logs: string[] = []
  try {
    context = await chromium.launchPersistentContext(o.profileDir, { executablePath: o.chromium, headless: true, args: CHROMIUM_FLAGS, timeout: 60_000 })
    const page: Page = context.pages()[0] ?? await context.newPage()
    page.on('console', m => { logs.push(`${m.type()}: ${m.text()}`) })
    page.on('pageerror', e => { logs.push(`pageerror: ${e.message}`) })
    const pid = childMentioning(o.profileDir)
    if (pid === undefined) throw new Error('cannot find the Chromium process that was just launched')
    const cdp = await context.newCDPSession(page)

    sender = spawnNode([o.ferryBin, 'send', '--store', o.source, '--code', o.code, '--no-mdns', '--transport', 'webrtc', '--listen', WEBRTC_LISTEN, '--json', '--timeout', '120'],
      { label: 'ferry send (webrtc)', timeoutMs: o.timeoutMs, cwd: o.root })
    const code = await sender.waitFor(e => e.event === 'code')
    const tree = watchTree([pid])
    const heap = heapWatch(cdp)
    const state = async (): Promise<State> => await page.evaluate(() => (window.__ferry as FerryDebug).state())
    const wait = async (what: string, phases: string[], polling: number): Promise<void> => {
      try {
        // A function with its argument, not a string: the page's content security policy refuses eval.
        await page.waitForFunction(p => {
          const s = (window.__ferry as FerryDebug | undefined)?.state()
          return s !== undefined && p.includes(s.phase)
        }, phases, { timeout: o.timeoutMs, polling })
      } catch (err) {
        throw new Error(`the browser phone: no ${what} within ${o.timeoutMs} ms; state ${JSON.stringify(await state().catch(() => undefined))}\n${logs.slice(-10).join('\n')}`, { cause: err })
      }
    }
    // The QR payload in the fragment fills in the address and the code: one click starts it.
    await page.goto(`${o.pageUrl}#${String(code.qr)}`)
    await wait('pairing form', ['idle'], 10)
    if (o.cpuProfile !== undefined) {
      await cdp.send('Profiler.enable')
      await cdp.send('Profiler.setSamplingInterval', { interval: 500 })
      await cdp.send('Profiler.start')
    }
    const threadsBefore = threadTicks(pid)
    await page.click('#start')
    await wait('verified summary', ['verified', 'failed'], 100)
    tree.stop()
    const threads = threadCpu(threadsBefore, threadTicks(pid))
    if (o.cpuProfile !== undefined) {
      const { profile } = await cdp.send('Profiler.stop')
      writeFileSync(o.cpuProfile, JSON.stringify(await toSources(profile, async url => await page.evaluate(async u => await (await fetch(u)).text(), url))))
    }
    const done = await state()
    if (done.phase !== 'verified') throw new Error(`the browser phone failed: ${done.error?.code ?? ''} ${done.error?.message ?? ''}\n${logs.slice(-10).join('\n')}`)
    const p = done.progress
    if (p?.messages !== o.expect.messages || p.mediaBytes !== o.expect.mediaBytes) {
      throw new Error(`the browser phone verified ${p?.messages} messages / ${p?.mediaBytes} media bytes, the sender has ${o.expect.messages} / ${o.expect.mediaBytes}`)
    }
    const events = await page.evaluate(() => (window.__ferry as FerryDebug).events)
    const pageOrigin = await page.evaluate(() => performance.timeOrigin)
    await sender.done
    // Events carry their time since the epoch; the page's clock starts at its navigation (timeOrigin).
    const at = (type: PageEvent['type']): number | undefined => { const e = events.find(e => e.type === type); return e === undefined ? undefined : e.at - pageOrigin }
    const verifiedAt = at('verified') as number
    // The page's clock starts at its navigation; on this process's clock that is:
    const pageStart = pageOrigin - performance.timeOrigin
    const t0 = sender.startedAt
    const heapPeak = await heap.stop()
    const heapAfterGc = await heap.afterGc()
    const phase = (type: PageEvent['type']): number => { const a = at(type); return a === undefined ? NaN : pageStart + a - t0 }
    return {
      userMs: Math.max(pageStart + verifiedAt, sender.exitedAt()) - t0,
      phases: {
        codeMs: (code as Event).t - t0,
        pageStartMs: pageStart - t0,
        pairedMs: phase('paired'),
        manifestMs: phase('manifest'),
        verifiedMs: phase('verified'),
        senderExitMs: sender.exitedAt() - t0
      },
      cpuSec: { sender: sender.cpu(), receiver: tree.cpuSec() },
      peakRssMiB: { sender: sender.rss(), receiver: tree.peakRssMiB() },
      extra: {
        /** The page's own clock: navigation start to `verified`. */
        pageMs: verifiedAt,
        pagePairedMs: at('paired') ?? NaN,
        /** Every message in and read back ('chats-ready') to 'verified': the media, then the check that verifies. */
        pageAfterChatsReadyMs: verifiedAt - (at('chats-ready') ?? NaN),
        pageMBPerSec: o.storeBytes / 1e6 / (verifiedAt / 1000),
        pageMediaMBPerSec: p.totalMediaBytes / 1e6 / (verifiedAt / 1000),
        messagesPerSec: p.totalMessages / (verifiedAt / 1000),
        jsHeapPeakMiB: heapPeak,
        jsHeapAfterGcMiB: heapAfterGc,
        chromiumProcesses: tree.processes(),
        ...threads
      }
    }
  } finally {
    sender?.kill()
    await sender?.done.catch(() => {})
    await context?.close().catch(() => {})
  }
}

interface ProfileFrame { functionName: string, url: string, lineNumber: number, columnNumber: number }

/**
 * The profile with each frame of the (minified) bundle named and placed as in the sources, through the
 * bundle's linked source map, so that it reads like a Node process's profile (scripts/bench/cpu-top.ts).
 */
async function toSources<P extends { nodes: Array<{ callFrame: ProfileFrame }> }> (profile: P, fetchText: (url: string) => Promise<string>): Promise<P> {
  const maps = new Map<string, TraceMap | undefined>()
  for (const { callFrame: f } of profile.nodes) {
    if (!f.url.endsWith('.js')) continue
    if (!maps.has(f.url)) maps.set(f.url, await fetchText(`${f.url}.map`).then(t => new TraceMap(t), () => undefined))
    const map = maps.get(f.url)
    if (map === undefined) continue
    const pos = originalPositionFor(map, { line: f.lineNumber + 1, column: f.columnNumber })
    if (pos.source === null) continue
    // The bundle's sources are relative to it (../../src/...): what matters is the part from src/ or node_modules/.
    const src = pos.source.replace(/^(\.\.\/)+/, '/')
    f.url = `file://${src}`
    f.lineNumber = pos.line - 1
    f.columnNumber = pos.column
    // A minified name says nothing; the original name is the map's, where it has one.
    if (pos.name !== null) f.functionName = pos.name
  }
  return profile
}

/** Every thread of the process tree under `root`: CPU ticks by '<process type>/<thread name>'. */
function threadTicks (root: number): Map<string, number> {
  const out = new Map<string, number>()
  for (const pid of treePids(root)) {
    let kind = 'browser'
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      kind = /--utility-sub-type=(?:[a-z]+\.mojom\.)?(\w+)/.exec(cmd)?.[1] ?? /--type=([\w-]+)/.exec(cmd)?.[1] ?? 'browser'
    } catch {}
    for (const t of threadsOf(pid)) {
      const key = `${kind}/${t.name}`
      out.set(key, (out.get(key) ?? 0) + t.ticks)
    }
  }
  return out
}

/**
 * Where Chromium's CPU went during the transfer, in seconds by process type and thread (the page's JS
 * runs on renderer/main; WebRTC's packets cross the network service and the renderer's WebRTC thread;
 * IndexedDB writes on the browser's thread pool): what bounds the page when its main thread waits.
 * Threads under a tenth of a second are summed.
 */
function threadCpu (before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {}
  let rest = 0
  const secs = [...after].map(([k, t]) => [k, (t - (before.get(k) ?? 0)) / 100] as const).sort((a, b) => b[1] - a[1])
  for (const [k, sec] of secs) {
    if (sec >= 0.1) out[`cpuSec ${k}`] = Math.round(sec * 10) / 10
    else rest += Math.max(0, sec)
  }
  out['cpuSec other threads'] = Math.round(rest * 10) / 10
  return out
}
