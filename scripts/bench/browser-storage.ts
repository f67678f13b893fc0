// What storing media costs headless Chromium, without the network: the page writes the same 256 KiB
// chunks (the protocol's media chunk) into IndexedDB as the browser phone does (a few chunks per
// transaction, at most two transactions committing), the same as Blobs, one chunk per transaction, and
// into the Origin Private File System from a worker (a sync access handle, flushed every 8 MiB). The
// bytes do not compress, as photos and videos do not (IndexedDB compresses what it can). It reports MB/s,
// the CPU all of Chromium's processes spent per MB, to set beside what receiving media over WebRTC costs
// the browser phone per MB (docs/performance.md), and the page's own time in put().
//
//   npx tsx scripts/bench/browser-storage.ts [--mb 200] [--runs 2] [--json]
//
// The page is served from 127.0.0.1, a secure context: the OPFS needs one, which a page served over
// plain http from a LAN address is not.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { chromium } from 'playwright-core'
import { CHROMIUM, CHROMIUM_FLAGS } from '../../test/browser/chromium.js'
import { numberOption, scriptArgs } from '../lib/script-args.js'
import { installCleanup, r2, removeTempDir, tempDir } from './proc.js'
import { childMentioning, watchTree } from './process-tree.js'

const USAGE = `Usage: npx tsx scripts/bench/browser-storage.ts [options]

Writes media chunks (256 KiB of bytes that do not compress) in headless Chromium into IndexedDB, as the
browser phone does, as Blobs, and one per transaction, and into the Origin Private File System from a
worker; prints MB/s, Chromium's CPU-ms per MB and the page's ms per MB inside put() for each, in
alternating rounds.

Options:
  --mb N      megabytes each way writes (default 200)
  --runs N    rounds (default 2)
  --json      print the results as JSON
`
const args = scriptArgs(USAGE, { mb: { type: 'string' }, runs: { type: 'string' }, json: { type: 'boolean', default: false } })
const MB = numberOption(USAGE, 'mb', args.mb, 200, 1)
const RUNS = numberOption(USAGE, 'runs', args.runs, 2, 1)
installCleanup()

const WAYS = ['idb', 'idb-blob', 'idb-1', 'opfs'] as const
type Way = typeof WAYS[number]

// Runs in the page: a string, so that no bundler helper sneaks into the function's source.
const IN_PAGE = `async (way, mb) => {
  const CHUNK = 256 * 1024
  const n = Math.floor(mb * 1e6 / CHUNK)
  // Bytes that do not compress, as photos and videos: a few random blocks, each used at rotating offsets.
  const noise = new Uint8Array(CHUNK * 2)
  for (let at = 0; at < noise.length; at += 65536) crypto.getRandomValues(noise.subarray(at, at + 65536))
  const chunk = i => noise.slice((i * 4099) % CHUNK, (i * 4099) % CHUNK + CHUNK)
  let putMs = 0
  const start = performance.now()
  if (way === 'opfs') {
    const src = 'onmessage = async e => { const d = e.data;' +
      ' if (d.open) { const root = await navigator.storage.getDirectory(); const f = await root.getFileHandle(d.open, { create: true }); self.h = await f.createSyncAccessHandle(); postMessage(0); return }' +
      ' if (d.bytes) { self.h.write(d.bytes, { at: d.at }); if (d.flush) { self.h.flush(); postMessage(d.at) } return }' +
      ' self.h.flush(); self.h.close(); postMessage(0) }'
    const w = new Worker(URL.createObjectURL(new Blob([src], { type: 'text/javascript' })))
    const reply = () => new Promise(resolve => { w.onmessage = e => resolve(e.data) })
    let r = reply(); w.postMessage({ open: 'bench-' + Math.random() }); await r
    let flushed
    for (let i = 0; i < n; i++) {
      const b = chunk(i)
      const flush = i % 32 === 31
      if (flush) { await flushed; flushed = reply() }
      w.postMessage({ bytes: b, at: i * CHUNK, flush }, [b.buffer])
    }
    await flushed
    r = reply(); w.postMessage({ close: true }); await r
    w.terminate()
  } else {
    const db = await new Promise((resolve, reject) => {
      const r = indexedDB.open('bench-' + Math.random(), 1)
      r.onupgradeneeded = () => r.result.createObjectStore('chunks')
      r.onsuccess = () => resolve(r.result)
      r.onerror = () => reject(r.error)
    })
    const per = way === 'idb-1' ? 1 : 8
    const committing = []
    for (let i = 0; i < n; i += per) {
      const tx = db.transaction('chunks', 'readwrite')
      for (let j = i; j < Math.min(n, i + per); j++) {
        const c = chunk(j)
        const t0 = performance.now()
        tx.objectStore('chunks').put(way === 'idb-blob' ? new Blob([c]) : c, j)
        putMs += performance.now() - t0
      }
      committing.push(new Promise((resolve, reject) => { tx.oncomplete = resolve; tx.onerror = () => reject(tx.error) }))
      if (committing.length >= 2) await committing.shift()
    }
    await Promise.all(committing)
    db.close()
  }
  return { ms: performance.now() - start, bytes: n * CHUNK, putMs }
}`

interface Result { way: Way, MBPerSec: number, cpuMsPerMB: number, putMsPerMB: number }

const server = createServer((_req, res) => { res.writeHead(200, { 'content-type': 'text/html' }); res.end('<!doctype html><title>storage</title>') })
await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
const profile = tempDir('chromium-storage')
const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, timeout: 60_000 })
const results: Result[] = []
try {
  const page = await context.newPage()
  await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)
  const browser = childMentioning(profile)
  if (browser === undefined) throw new Error('cannot find the Chromium process that was just launched')
  for (let round = 0; round < RUNS; round++) {
    // Each round in another order: a machine that warms or cools favours no way.
    const order = WAYS.map((_, i) => WAYS[(i + round) % WAYS.length])
    for (const way of order) {
      const cpu = watchTree([browser])
      const r = await page.evaluate(`(${IN_PAGE})(${JSON.stringify(way)}, ${MB})`) as { ms: number, bytes: number, putMs: number }
      const sec = cpu.cpuSec()
      const mb = r.bytes / 1e6
      results.push({ way, MBPerSec: r2(mb / (r.ms / 1000)), cpuMsPerMB: r2(sec * 1000 / mb), putMsPerMB: r2(r.putMs / mb) })
    }
  }
} finally {
  await context.close().catch(() => {})
  server.close()
  removeTempDir(profile)
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] }
const summary = WAYS.map(way => {
  const mine = results.filter(r => r.way === way)
  return { way, MBPerSec: median(mine.map(r => r.MBPerSec)), cpuMsPerMB: median(mine.map(r => r.cpuMsPerMB)), putMsPerMB: median(mine.map(r => r.putMsPerMB)), rounds: mine }
})
if (args.json === true) {
  process.stdout.write(`${JSON.stringify({ mb: MB, runs: RUNS, summary }, null, 2)}\n`)
} else {
  const what: Record<Way, string> = {
    idb: 'IndexedDB, 8 chunks a transaction, 2 committing (the browser phone)',
    'idb-blob': 'the same, each chunk put as a Blob',
    'idb-1': 'IndexedDB, 1 chunk a transaction',
    opfs: 'OPFS sync access handle in a worker, flushed every 8 MiB'
  }
  for (const s of summary) process.stdout.write(`${s.way.padEnd(8)} ${String(s.MBPerSec).padStart(7)} MB/s  ${String(s.cpuMsPerMB).padStart(6)} Chromium CPU-ms/MB  ${String(s.putMsPerMB).padStart(5)} ms/MB in put()  ${what[s.way]}\n`)
  process.stdout.write(`(medians of ${RUNS} round(s), ${MB} MB each)\n`)
}

