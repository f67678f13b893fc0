import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { EXIT_FAILED, EXIT_OK } from './command.js'
import { FERRY_BIN, FerryProcess } from './ferry-process.js'
import { formatBytes } from '../format-bytes.js'
import { terminalProgress, type ProgressSnapshot, type ProgressView } from './progress.js'
import type { DemoLan } from './demo-lan.js'
import type { FerryDebug } from '../web/main.js'
import { ErrorCode, FerryError } from '../errors.js'

// `ferry demo --web`: the new phone has nothing installed. The old phone runs `ferry send --web` in its
// namespace; the new phone is a headless Chromium in the other namespace that opens the link of the
// QR code, as a camera app would, and receives into IndexedDB. It ends with a screenshot of the page
// holding the history, and the page's export checked against the old phone's.

export const CHROMIUM = '/usr/bin/chromium'

/** Why the web demo cannot run here, or undefined when it can. */
export async function webDemoUnavailable (): Promise<string | undefined> {
  if (!existsSync(CHROMIUM)) return `it drives Chromium, and there is none at ${CHROMIUM} (Debian package chromium)`
  try {
    await import('playwright-core')
    return undefined
  } catch {
    return 'it drives Chromium through playwright-core, a development dependency: run it from a clone of the repository after npm ci'
  }
}

export interface WebDemo {
  lan: DemoLan
  oldPhone: string
  code: string
  /** A directory the demo removes afterwards. */
  scratch: string
  screenshot: string
  procs: FerryProcess[]
  say: (s: string) => void
  /** Where the bar on show is kept, for a stop to clear it. */
  shown: { bar?: ProgressView }
}

type State = ReturnType<FerryDebug['state']>

export async function runWebDemo (d: WebDemo): Promise<number> {
  const { chromium } = await import('playwright-core')
  const [a, b] = d.lan.phones
  d.say(`Two phones on a simulated Wi-Fi: ${a.ip} (old) and ${b.ip} (new, a browser with nothing installed), bridged in namespaces ${d.lan.id}-*`)
  const env = { FERRY_MDNS_NETNS_ONLY: '1' }
  const sender = new FerryProcess(['send', '--store', d.oldPhone, '--code', d.code, '--web', '--no-mdns', '--json'], { wrap: ['ip', 'netns', 'exec', a.ns], env })
  d.procs.push(sender)
  const shown = await sender.waitFor(e => e.event === 'code')
  const link = String(shown.page)
  d.say(`The old phone serves the browser phone and shows one QR code: ${link.slice(0, link.indexOf('#'))}#ferry://pair?code=${d.code}&...`)
  d.say('The new phone scans it: its browser opens the link and pairs by itself...')

  // Chromium runs in the new phone's namespace; Playwright drives it over a pipe, so it needs no network of its own.
  const wrapper = join(d.scratch, 'chromium-new-phone')
  writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${b.ns} ${CHROMIUM} "$@"\n`, { mode: 0o755 })
  const browser = await chromium.launchPersistentContext(join(d.scratch, 'chromium-profile'), {
    executablePath: wrapper,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1100, height: 820 },
    timeout: 60_000
  })
  try {
    const page = browser.pages()[0] ?? await browser.newPage()
    const t0 = performance.now()
    await page.goto(link)
    const state = async (): Promise<State | undefined> => await page.evaluate(() => window.__ferry?.state())
    await sender.waitFor(e => e.event === 'paired', 60_000)
    d.say(`  paired (CPace, over WebRTC) ${Math.round(performance.now() - t0)} ms after the page was opened; insecure context: ${String(!(await page.evaluate(() => window.isSecureContext)))}`)
    const bar = d.shown.bar = terminalProgress('moving', process.stderr, { phases: true })
    let end: State | undefined
    // The page's own state, as a person watching it would see it; it ends verified or failed.
    for (;;) {
      end = await state()
      if (end?.progress !== undefined) bar.update(end.progress as ProgressSnapshot)
      if (end?.phase === 'verified' || end?.phase === 'failed') break
      await page.waitForTimeout(250)
    }
    bar.stop()
    d.shown.bar = undefined
    const secs = (performance.now() - t0) / 1000
    const sent = await sender.exited
    if (end.phase !== 'verified' || sent !== 0) {
      d.say(`The transfer failed (page: ${end.error?.code ?? end.phase}: ${end.error?.message ?? ''}; old phone exit ${String(sent)}):\n${sender.stderr}`)
      return EXIT_FAILED
    }
    const p = end.progress!
    d.say(`\nVerified in the browser: ${p.totalMessages} messages and ${formatBytes(p.totalMediaBytes)} of media in ${secs.toFixed(1)} s, into IndexedDB.`)
    const pageExport = await page.evaluate(async () => await window.__ferry!.exportDigest())
    const oldExport = await exportDigest(d.oldPhone)
    if (pageExport.sha256 !== oldExport) throw new FerryError(ErrorCode.DIGEST_MISMATCH, `the page's export (${pageExport.sha256}) differs from the old phone's (${oldExport})`)
    d.say(`The page's export equals the old phone's: ${pageExport.lines} lines, sha256 ${pageExport.sha256.slice(0, 16)}...`)
    const served = await fetchStatus(b.ns, link.slice(0, link.indexOf('#')))
    d.say(`The old phone stopped serving the page with the offer (${served}).`)
    // The picture: the first chat open, as the new phone's owner would look at it.
    await page.click('#chats li').catch(() => {})
    await page.waitForSelector('#messages .msg', { timeout: 10_000 }).catch(() => {})
    await page.screenshot({ path: d.screenshot, fullPage: true })
    d.say(`Screenshot of the new phone's page: ${d.screenshot}`)
    return EXIT_OK
  } finally {
    await browser.close().catch(() => {})
  }
}

/** sha256 of `ferry export` of a store: the canonical NDJSON the page's exportDigest hashes too. */
async function exportDigest (store: string): Promise<string> {
  const hash = createHash('sha256')
  const { code, stderr } = await runToEnd([process.execPath, FERRY_BIN, 'export', '--store', store], chunk => hash.update(chunk))
  if (code !== 0) throw new FerryError(ErrorCode.INTERNAL, `ferry export failed: ${stderr}`)
  return hash.digest('hex')
}

/** What a request to `url` from namespace `ns` gets now: the page ends with the offer. */
async function fetchStatus (ns: string, url: string): Promise<string> {
  const probe = `fetch(${JSON.stringify(url)}).then(r => console.log('HTTP ' + r.status), e => console.log('connection ' + ((e.cause && e.cause.code) || e.message)))`
  let out = ''
  await runToEnd(['ip', 'netns', 'exec', ns, process.execPath, '-e', probe], chunk => { out += chunk.toString() })
  return out.trim()
}

async function runToEnd (argv: string[], onStdout: (chunk: Buffer) => void): Promise<{ code: number | null, stderr: string }> {
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stdout.on('data', onStdout)
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
  // 'close', not 'exit': stdout is read to its end by then.
  return await new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', code => resolve({ code, stderr }))
  })
}
