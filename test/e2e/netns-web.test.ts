// `ferry send --web`: the old phone serves the browser phone over plain HTTP on its LAN address, and a
// phone with nothing installed receives by opening the link in the QR code. On the namespace testbed:
// the old phone in one namespace, headless Chromium in another (started there with `ip netns exec`),
// the page loaded from the old phone's LAN address, so it runs in an insecure context, as on a real
// phone. The page pairs from the link by itself, is reloaded mid-transfer, resumes, verifies, and holds
// exactly the sender's export. The server hands out the page's files and nothing else, and only while
// the offer is open.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import { checkNetnsSupport, createTestbed, type Phone, type Testbed } from '../../scripts/lib/netns.js'
import { cleanupTempDirs, copyStore, exportStore, ferryOk, killAll, newStorePath, ROOT, runFerry, seedStore, tempDir, type FerryProcess } from './helpers/ferry-cli.js'
import { spawnFerryIn } from './helpers/netns-ferry.js'
import { chromiumUnavailable, launchChromium, type Browser } from '../browser/chromium.js'
import { cannotRun } from '../helpers/cannot-run.js'
import type { FerryDebug } from '../../src/web/main.js'
import { SqliteChatStore } from '../../src/store/sqlite-store.js'
import { gradientPng } from '../browser/png.js'

const support = await checkNetnsSupport()
const skip = cannotRun('the browser phone served by the old phone (namespaces and Chromium)',
  support.ok ? await chromiumUnavailable() : support.reason ?? 'unknown')

const ARTIFACTS = join(ROOT, 'artifacts', 'browser')
type State = ReturnType<FerryDebug['state']>

interface Answer { status: number, headers: Record<string, string>, body: string, error?: string }

/**
 * Raw HTTP requests sent from inside a namespace, exactly as written (no client normalises `..` or
 * decodes `%2e`): what a hostile page or a curious phone on the LAN could send.
 */
const RAW_CLIENT = `
const net = require('node:net')
const [host, port, reqs] = [process.argv[1], Number(process.argv[2]), JSON.parse(process.argv[3])]
;(async () => {
  const out = []
  for (const r of reqs) {
    out.push(await new Promise(resolve => {
      const s = net.connect(port, host)
      let data = ''
      s.on('data', d => { data += d.toString('latin1') })
      s.on('error', e => resolve({ status: 0, headers: {}, body: '', error: e.code }))
      s.on('end', () => {
        const [head, ...rest] = data.split('\\r\\n\\r\\n')
        const lines = head.split('\\r\\n')
        const headers = {}
        for (const l of lines.slice(1)) { const i = l.indexOf(':'); headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim() }
        resolve({ status: Number(lines[0].split(' ')[1]), headers, body: rest.join('\\r\\n\\r\\n').slice(0, 8192) })
      })
      s.write(r.method + ' ' + r.path + ' HTTP/1.1\\r\\nHost: ' + (r.host ?? host + ':' + port) + '\\r\\nConnection: close\\r\\n\\r\\n')
    }))
  }
  process.stdout.write(JSON.stringify(out))
})()
`

async function raw (tb: Testbed, from: Phone, host: string, port: number, reqs: Array<{ method?: string, path: string, host?: string }>): Promise<Answer[]> {
  const out = await tb.exec(from, [process.execPath, '-e', RAW_CLIENT, host, String(port), JSON.stringify(reqs.map(r => ({ method: 'GET', ...r })))])
  return JSON.parse(out) as Answer[]
}

/** A copy of the seeded phone plus a chat of real pictures, so the page has images to decode and show. */
async function withPhotos (seeded: string): Promise<string> {
  const dir = copyStore(seeded, 'phone-with-photos')
  const store = SqliteChatStore.open(dir)
  try {
    const photos = []
    for (const [i, rgb] of ([[230, 90, 40], [40, 140, 230]] as Array<[number, number, number]>).entries()) {
      const png = gradientPng(160 + i * 20, 120, rgb)
      const { sha256, size } = await store.writeMedia((async function * () { yield png })())
      photos.push({ sha256, size, mime: 'image/png' })
    }
    store.putMetadata([{ id: 'ph', name: 'Photographer' }], [{ id: 'zz-photos', kind: 'direct', title: 'Photos', members: ['me', 'ph'] }], photos)
    store.putMessages(photos.map((p, i) => ({
      conversation: 'zz-photos', id: `p${i}`, sender: 'ph', ts: 1_700_000_000_000 + i * 60_000, kind: 'image' as const, media: p.sha256, text: `picture ${i + 1}`
    })))
  } finally {
    store.close()
  }
  return dir
}

/** A wrapper that starts Debian's Chromium inside the phone's namespace; Playwright drives it over a pipe. */
function chromiumIn (phone: Phone): string {
  const path = join(tempDir('ferry-chromium-ns-'), 'chromium')
  writeFileSync(path, `#!/bin/sh\nexec ip netns exec ${phone.ns} /usr/bin/chromium "$@"\n`)
  chmodSync(path, 0o755)
  return path
}

describe('ferry send --web: usage', () => {
  it('says what goes with --web', async () => {
    const store = join(tempDir('ferry-no-store-'), 'never-made')
    const tcp = await runFerry(['send', '--store', store, '--web', '--transport', 'tcp'])
    expect(tcp.code).toBe(2)
    expect(tcp.stderr).toMatch(/a browser can dial only WebRTC: use --transport auto/)
    const port = await runFerry(['send', '--store', store, '--web-port', '8080'])
    expect(port.code).toBe(2)
    expect(port.stderr).toMatch(/--web-port goes with --web/)
    expect(await ferryOk(['send', '--help'])).toMatch(/--web {15}also serve the browser phone/)
  })
})

describe.skipIf(skip)('the browser phone served by the old phone (ferry send --web)', () => {
  let tb: Testbed
  let source: string
  const browsers: Browser[] = []

  beforeAll(async () => {
    tb = await createTestbed({ phones: 2 })
    source = await withPhotos(await seedStore('tiny', 7))
    mkdirSync(ARTIFACTS, { recursive: true })
  }, 120_000)
  afterEach(async () => {
    for (const b of browsers.splice(0)) await b.close()
    await killAll()
  })
  afterAll(async () => {
    await tb?.down()
    cleanupTempDirs()
  })

  function startSender (store: string, extra: string[] = []): FerryProcess {
    return spawnFerryIn(tb, tb.phones[0], ['send', '--store', store, '--web', '--web-port', '0', '--no-mdns', '--no-sweep', '--json', ...extra], 'sender')
  }

  /**
   * Chromium in the new phone's namespace, with an empty profile. The page starts receiving as soon as it
   * loads; to act mid-transfer, the test asks it, through its test hook and before the page's own script
   * runs, to stop reading once the first media bytes are in (once per tab: not again after a reload;
   * never with `pause: false`).
   */
  async function openPage (phone: Phone, sender: FerryProcess, o: { pause?: boolean } = {}): Promise<{ page: Page, waitState: (what: string, until: 'paused' | 'ended', timeout?: number) => Promise<State> }> {
    const browser = await launchChromium([], chromiumIn(phone))
    browsers.push(browser)
    const page: Page = browser.context.pages()[0] ?? await browser.context.newPage()
    const logs: string[] = []
    page.on('console', m => { logs.push(`${m.type()}: ${m.text()}`) })
    page.on('pageerror', e => { logs.push(`pageerror: ${e.message}`) })
    if (o.pause !== false) {
      await page.addInitScript(() => {
        if (sessionStorage.getItem('paused-once') !== null) return
        let hook: FerryDebug | undefined
        Object.defineProperty(window, '__ferry', {
          configurable: true,
          get: () => hook,
          set: (v: FerryDebug) => { hook = v; sessionStorage.setItem('paused-once', '1'); v.pauseAt({ mediaBytes: 1 }) }
        })
      })
    }
    const state = async (): Promise<State> => await page.evaluate(() => (window.__ferry as FerryDebug).state())
    // A function, not a string to evaluate: the page's Content-Security-Policy forbids eval, in tests too.
    const waitState = async (what: string, until: 'paused' | 'ended', timeout = 60_000): Promise<State> => {
      try {
        await page.waitForFunction(until => {
          const s = window.__ferry?.state()
          return s !== undefined && (s.phase === 'failed' || (until === 'paused' ? s.paused : s.phase === 'verified'))
        }, until, { timeout, polling: 50 })
      } catch (err) {
        throw new Error(`page: no ${what} within ${timeout} ms; state ${JSON.stringify(await state().catch(() => undefined))}\n${logs.slice(-20).join('\n')}\n${sender.describe()}`, { cause: err })
      }
      return await state()
    }
    return { page, waitState }
  }

  it('serves the page\'s own files on the LAN address, and nothing else', async () => {
    const [p1, p2] = tb.phones
    const sender = startSender(copyStore(source))
    const code = await sender.waitEvent('code', 60_000)
    const page = new URL(String(code.page))
    // One link: the old phone's LAN address, the pairing payload in the fragment.
    expect(page.hostname).toBe(p1.ip)
    expect(page.pathname).toBe('/')
    expect(decodeURIComponent(page.hash.slice(1))).toMatch(/^ferry:\/\/pair\?v=2&code=\d{3}-\d{4}-\d{4}&key=[A-Za-z0-9_-]{22}&peer=/)
    expect(page.hash).toContain('/webrtc-direct/certhash/')
    expect(code.transport).toBe('auto')
    const port = Number(page.port)

    const ok = await raw(tb, p2, p1.ip, port, [{ path: '/' }, { path: '/index.html' }, { path: '/app.js' }, { path: '/app.js?v=2' }, { method: 'HEAD', path: '/app.js' }])
    for (const a of ok) {
      expect(a.status).toBe(200)
      expect(a.headers['cache-control']).toBe('no-store')
      expect(a.headers['x-content-type-options']).toBe('nosniff')
    }
    expect(ok[0].headers['content-type']).toBe('text/html; charset=utf-8')
    expect(ok[0].body).toContain('<script type="module" src="app.js">')
    // Marked as served by the old phone: a link from its QR code then needs no click.
    expect(ok[0].body).toContain('<meta name="ferry-served-by" content="sender">')
    expect(ok[2].headers['content-type']).toBe('text/javascript; charset=utf-8')
    expect(ok[4].body).toBe('')

    const outside = ['/../package.json', '/%2e%2e/package.json', '/%2E%2E%2Fpackage.json', '/..%2fpackage.json', '/.%2e/.%2e/package.json',
      '/src/web/main.ts', '/app.js.map', '//etc/passwd', '/./app.js', '/index.html/', '/APP.JS', '/..\\package.json', '/%5c..%5cpackage.json',
      '/dist/browser-phone/app.js', '/browser-phone/index.html', 'http://localhost/package.json', '*', '/app.js%00.html', '/favicon.ico']
    const refused = await raw(tb, p2, p1.ip, port, outside.map(path => ({ path })))
    expect(refused.map((a, i) => `${outside[i]} ${a.status}`)).toEqual(outside.map(p => `${p} 404`))
    for (const a of refused) expect(a.body).not.toMatch(/"name": "chat-ferry"|import |sourceMappingURL/)
    // Only reading, and only at its own address (a name pointing at it is a DNS rebinding attempt).
    const methods = await raw(tb, p2, p1.ip, port, [{ method: 'POST', path: '/' }, { method: 'PUT', path: '/app.js' }, { path: '/', host: `evil.example:${port}` }, { path: '/', host: '' }])
    expect(methods.map(a => a.status)).toEqual([405, 405, 421, 421])
    // Not on the old phone's other interfaces: loopback there has nothing.
    const lo = await raw(tb, p1, '127.0.0.1', port, [{ path: '/' }])
    expect(lo[0].error).toBe('ECONNREFUSED')

    // The offer ends (the user stops it): the page is no longer served.
    sender.child.kill('SIGINT')
    expect((await sender.waitExit(30_000)).code, sender.describe()).toBe(130)
    expect(sender.events.at(-1)).toMatchObject({ event: 'stopped', signal: 'SIGINT' })
    const after = await raw(tb, p2, p1.ip, port, [{ path: '/' }])
    expect(after[0].error).toBe('ECONNREFUSED')
  })

  it('receives from the link alone in an insecure context, resumes after a reload, and holds the sender\'s export', async () => {
    const [p1, p2] = tb.phones
    const store = copyStore(source)
    const sender = startSender(store)
    const code = await sender.waitEvent('code', 60_000)
    const url = String(code.page)

    const { page, waitState } = await openPage(p2, sender)
    await page.goto(url)
    // A LAN address over plain HTTP: no crypto.subtle, no Web Locks, no service workers, as on a real phone.
    expect(await page.evaluate(() => ({ secure: window.isSecureContext, subtle: typeof crypto.subtle, locks: 'locks' in navigator, sw: 'serviceWorker' in navigator, host: location.hostname })))
      .toEqual({ secure: false, subtle: 'undefined', locks: false, sw: false, host: p1.ip })
    // The served page's policy lets it compile WebAssembly, where its fast sha256 lives.
    expect(await page.evaluate(async () => await WebAssembly.instantiate(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])).then(() => 'compiles', (err: Error) => err.message)))
      .toBe('compiles')
    // Nothing clicked: the link paired it.
    const paused = await waitState('pause mid-transfer', 'paused')
    expect(paused.error).toBeUndefined()
    expect(paused.mode).toBe('code')
    expect(paused.lock).toBe('lease')
    const p = paused.progress!
    expect(p.messages).toBe(p.totalMessages)
    expect(p.mediaBytes).toBeGreaterThan(0)
    expect(p.mediaBytes).toBeLessThan(p.totalMediaBytes)
    // The code's secret left the address bar once it was spent.
    expect(await page.evaluate(() => location.hash)).toBe('')
    const connection = await sender.waitEvent('connection', 1)
    expect(connection.addr).toContain(`/ip4/${p2.ip}/`)
    expect(connection.transport).toBe('webrtc')

    await page.evaluate(async () => { await (window.__ferry as FerryDebug).flush() })
    await page.reload()
    const done = await waitState('verified after the reload', 'ended', 90_000)
    expect(done.error).toBeUndefined()
    expect(done.mode).toBe('resume')
    expect(done.peerId).toBe(paused.peerId)
    const events = await page.evaluate(() => (window.__ferry as FerryDebug).events)
    // The reloaded page took its own lease back (no Web Locks here) rather than waiting for it to expire.
    expect(events.map(e => e.type)).not.toContain('busy')
    expect(events.find(e => e.type === 'manifest')?.progress?.mediaBytes).toBeGreaterThanOrEqual(p.mediaBytes)
    // The whole transfer's: every message came with it. The old phone's session after the reload sent none.
    expect(done.stats).toMatchObject({ messagesSent: p.totalMessages, messagesHeld: 0 })
    // The old phone says the same of the transfer; its own session after the reload sent none.
    const sent = await sender.waitEvent('verified', 30_000)
    expect(sent.stats).toMatchObject({ messagesSent: p.totalMessages, messagesHeld: 0 })
    expect(sent.session).toMatchObject({ messagesSent: 0 })
    expect((await sender.waitExit(30_000)).code, sender.describe()).toBe(0)
    expect(await page.evaluate(async () => await (window.__ferry as FerryDebug).exportNdjson())).toBe(await exportStore(store))
    // The pictures render from IndexedDB under the page's Content-Security-Policy (blob: images).
    await page.click('#chats li[data-id="zz-photos"]')
    await page.waitForFunction(() => Array.from(document.querySelectorAll<HTMLImageElement>('#messages img')).filter(i => i.complete && i.naturalWidth > 0).length === 2)
    await page.screenshot({ path: join(ARTIFACTS, 'browser-phone-served-by-old-phone.png'), fullPage: true })

    // The offer is over: the old phone serves nothing any more.
    expect((await raw(tb, p2, p1.ip, Number(new URL(url).port), [{ path: '/' }]))[0].error).toBe('ECONNREFUSED')
  }, 240_000)

  it('carries on when the old phone is killed mid-transfer: started again with --web, it serves the page at the same address', async () => {
    const [p1, p2] = tb.phones
    const store = copyStore(source)
    // The default port: a restarted old phone gets the same one, so the page's address still works.
    const args = ['send', '--store', store, '--web', '--no-mdns', '--no-sweep', '--json']
    const first = spawnFerryIn(tb, p1, args, 'sender')
    const code = await first.waitEvent('code', 60_000)
    const link = new URL(String(code.page))
    const { page, waitState } = await openPage(p2, first)
    await page.goto(link.href)
    const paused = await waitState('pause mid-transfer', 'paused')
    expect(paused.error).toBeUndefined()
    await page.evaluate(async () => { await (window.__ferry as FerryDebug).flush() })
    await first.kill9()
    expect((await raw(tb, p2, p1.ip, Number(link.port), [{ path: '/' }]))[0].error).toBe('ECONNREFUSED')

    // Started again without the code (it resumes its pairing): the page is back at the same address,
    // and the reloaded page carries on by itself.
    const second = spawnFerryIn(tb, p1, args, 'sender-again')
    const resuming = await second.waitEvent('resuming', 60_000)
    expect(resuming.page).toBe(`${link.origin}/`)
    await page.reload()
    const done = await waitState('verified after the old phone restarted', 'ended', 90_000)
    expect(done.error).toBeUndefined()
    expect(done.mode).toBe('resume')
    const events = await page.evaluate(() => (window.__ferry as FerryDebug).events)
    expect(events.find(e => e.type === 'manifest')?.progress?.mediaBytes).toBeGreaterThanOrEqual(paused.progress!.mediaBytes)
    expect((await second.waitExit(30_000)).code, second.describe()).toBe(0)
    expect(await page.evaluate(async () => await (window.__ferry as FerryDebug).exportNdjson())).toBe(await exportStore(store))
  }, 240_000)

  it('without a camera: the plain address, typed, knows the old phone and asks only for the code', async () => {
    const p2 = tb.phones[1]
    const store = copyStore(source)
    const sender = startSender(store)
    const shown = await sender.waitEvent('code', 60_000)
    const plain = String(shown.page).slice(0, String(shown.page).indexOf('#'))
    const { page, waitState } = await openPage(p2, sender, { pause: false })
    await page.goto(plain)
    await page.waitForFunction(() => window.__ferry?.state().phase === 'idle')
    // Nothing happens by itself: there is no code in a typed address.
    expect(sender.all('paired')).toHaveLength(0)
    expect(await page.inputValue('#addr')).toBe((shown.webrtc as string[]).join(' '))
    expect(await page.textContent('#status-text')).toBe('Type the code the old phone shows, then Receive.')
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('code')
    await page.fill('#code', String(shown.code))
    await page.click('#start')
    const done = await waitState('verified', 'ended', 90_000)
    expect(done.error).toBeUndefined()
    expect(done.mode).toBe('code')
    expect((await sender.waitExit(30_000)).code, sender.describe()).toBe(0)
    expect(await page.evaluate(async () => await (window.__ferry as FerryDebug).exportNdjson())).toBe(await exportStore(store))
  }, 180_000)

  it('a new phone with ferry installed takes the same link: ferry receive --qr', async () => {
    const [p1, p2] = tb.phones
    const store = copyStore(source)
    const sender = startSender(store)
    const link = String((await sender.waitEvent('code', 60_000)).page)
    const target = newStorePath()
    const receiver = spawnFerryIn(tb, p2, ['receive', '--store', target, '--qr', link, '--transport', 'auto', '--no-mdns', '--no-sweep', '--json'], 'receiver')
    expect((await receiver.waitEvent('paired', 60_000)).mode).toBe('code')
    expect((await receiver.waitExit(120_000)).code, receiver.describe()).toBe(0)
    expect((await sender.waitExit(30_000)).code, sender.describe()).toBe(0)
    expect(await exportStore(target)).toBe(await exportStore(store))
    // Verified, the offer is over: so is the page.
    expect((await raw(tb, p2, p1.ip, Number(new URL(link).port), [{ path: '/' }]))[0].error).toBe('ECONNREFUSED')
  }, 180_000)
})
