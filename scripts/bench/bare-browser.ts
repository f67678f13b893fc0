// The bare-libp2p-browser lane: libp2p-peer.ts's writer (Ferry's Node stack listening on webrtc-direct)
// sends the bytes Ferry moved to a page in headless Chromium that reads them off one libp2p stream and
// does nothing else (bench/bare-browser-page.ts). It is to the browser lane what bare-libp2p-webrtc is
// to ferry-webrtc: what libp2p's WebRTC carries into Chromium on this machine, measured in the same run,
// and how much CPU Chromium spends on it.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { chromium } from 'playwright-core'
import { CHROMIUM_FLAGS } from '../../test/browser/chromium.js'
import type { BaselineResult } from './baselines.js'
import type { BareFetch } from './bare-browser-page.js'
import { removeTempDir, spawnNode, tempDir } from './proc.js'
import { childMentioning, watchTree } from './process-tree.js'

const here = (f: string): string => fileURLToPath(new URL(f, import.meta.url))

let bundle: Promise<string> | undefined

/** The page's script, bundled once per benchmark. */
async function pageScript (root: string): Promise<string> {
  bundle ??= build({
    entryPoints: [here('bare-browser-page.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome110'],
    write: false,
    logLevel: 'silent',
    absWorkingDir: root
  }).then(out => out.outputFiles[0].text)
  return await bundle
}

/** CPU-ms that all of Chromium's processes spent per MB that came in (cpuSec.reader of bareLibp2pBrowser). */
export const chromiumCpuMsPerMB = (b: BaselineResult): number => b.cpuSec.reader * 1000 / (b.bytes / 1e6)

/**
 * The reader is Chromium: rssMiB.reader is its largest process's peak, cpuSec.reader the CPU of all its
 * processes while the bytes came in (dial to acknowledgement).
 */
export async function bareLibp2pBrowser (bytes: number, o: { root: string, timeoutMs: number, chromium: string }): Promise<BaselineResult> {
  const script = await pageScript(o.root)
  const server = createServer((req, res) => {
    if (req.url === '/bare.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' })
      res.end(script)
    } else {
      res.writeHead(200, { 'content-type': 'text/html' })
      res.end('<!doctype html><meta charset="utf-8"><title>bare libp2p</title><script type="module" src="/bare.js"></script>')
    }
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const wdir = tempDir('libp2p-writer')
  const profile = tempDir('chromium-bare')
  const writer = spawnNode(['--import', 'tsx', here('libp2p-peer.ts'), '--timeout-ms', String(o.timeoutMs), '--role', 'serve', '--host', '127.0.0.1',
    '--dir', wdir, '--bytes', String(bytes), '--transport', 'webrtc'], { label: 'bare libp2p (browser) writer', timeoutMs: o.timeoutMs + 5000, cwd: o.root })
  const context = await chromium.launchPersistentContext(profile, { executablePath: o.chromium, headless: true, args: CHROMIUM_FLAGS, timeout: 60_000 })
  try {
    const listening = await writer.waitFor(e => e.event === 'listening')
    const addr = (listening.addrs as string[]).find(a => a.startsWith('/ip4/127.0.0.1/'))
    if (addr === undefined) throw new Error(`the libp2p writer listens on no 127.0.0.1 address: ${String(listening.addrs)}`)
    const page = await context.newPage()
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)
    await page.waitForFunction(() => typeof (globalThis as unknown as { bareFetch?: unknown }).bareFetch === 'function', null, { timeout: 30_000 })
    const browser = childMentioning(profile)
    if (browser === undefined) throw new Error('cannot find the Chromium process that was just launched')
    const tree = watchTree([browser])
    const got = await page.evaluate(async ([a, n]) => await (globalThis as unknown as { bareFetch: (a: string, n: number) => Promise<BareFetch> }).bareFetch(a, n), [addr, bytes] as const)
    const chromiumCpuSec = tree.cpuSec()
    const chromiumRss = tree.peakRssMiB()
    await writer.done
    return {
      bytes: got.bytes,
      transferMs: got.transferMs,
      dialMs: got.dialMs,
      mbPerSec: got.mbPerSec,
      userMs: writer.exitedAt() - writer.startedAt,
      rssMiB: { writer: writer.rss(), reader: chromiumRss },
      cpuSec: { writer: writer.cpu(), reader: chromiumCpuSec }
    }
  } finally {
    writer.kill()
    await writer.done.catch(() => {})
    await context.close().catch(() => {})
    server.close()
    removeTempDir(profile)
    removeTempDir(wdir)
  }
}

