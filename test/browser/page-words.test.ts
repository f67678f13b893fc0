// What the browser phone tells a person when the browser, the link or the history held is not what the
// page expects, in a real Chromium on the page `ferry web` serves (or a plain-HTTP LAN origin), with Node
// phones running `ferry send --transport webrtc` on loopback.
import { readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createSocket } from 'node:dgram'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { cleanupTempDirs, copyStore, ferryOk, killAll, ROOT, seedStore, spawnFerry, type FerryProcess } from '../e2e/helpers/ferry-cli.js'
import { cannotRun } from '../helpers/cannot-run.js'
import { CHROMIUM, chromiumUnavailable, launchChromium, type Browser } from './chromium.js'
import type { FerryDebug } from '../../src/web/main.js'

const skip = cannotRun('the browser phone tests', await chromiumUnavailable())

type State = ReturnType<FerryDebug['state']>

const NO_WEBRTC = 'This browser cannot reach the old phone: WebRTC is turned off or not supported here, and the browser phone needs it. ' +
  'Open this page in another browser (a current Chrome, Firefox or Safari with WebRTC on), or receive on a computer with ferry receive.'
const NO_STORAGE = 'This browser does not let the page store data here (a private window, or storage blocked for this site), so it cannot receive a history. ' +
  'Allow storage for this site, or open the page in a normal window.'

function sendOverWebRTC (dir: string, name: string, listen = '/ip4/127.0.0.1/udp/0/webrtc-direct'): FerryProcess {
  return spawnFerry(['send', '--store', dir, '--transport', 'webrtc', '--no-mdns', '--listen', listen, '--json'], { name })
}

/** A UDP port free now on loopback, for an old phone that is to listen there again once started again. */
async function freeUdpPort (): Promise<number> {
  const udp = createSocket('udp4')
  const port = await new Promise<number>(resolve => udp.bind(0, '127.0.0.1', () => resolve(udp.address().port)))
  await new Promise<void>(resolve => udp.close(() => resolve()))
  return port
}

const state = async (page: Page): Promise<State> => await page.evaluate(() => (window.__ferry as FerryDebug).state())
const events = async (page: Page): Promise<FerryDebug['events']> => await page.evaluate(() => (window.__ferry as FerryDebug).events)

async function waitPhase (page: Page, phases: string[], what: string, sender?: FerryProcess, want: { paused?: boolean } = {}): Promise<State> {
  try {
    await page.waitForFunction(w => {
      const s = (window.__ferry as FerryDebug | undefined)?.state()
      return s !== undefined && w.phases.includes(s.phase) && (w.paused === undefined || s.paused === w.paused)
    }, { phases, paused: want.paused }, { timeout: 90_000, polling: 50 })
  } catch (err) {
    throw new Error(`page: no ${what}; state ${JSON.stringify(await state(page).catch(() => undefined))}\n${sender?.describe() ?? ''}`, { cause: err })
  }
  return await state(page)
}

/** Waits until the element `id` shows text that `test` accepts, and returns it. */
async function waitText (page: Page, id: string, test: string): Promise<string> {
  await page.waitForFunction(w => new RegExp(w.test).test(document.getElementById(w.id)?.textContent ?? ''), { id, test }, { timeout: 60_000, polling: 50 })
  return await page.textContent(`#${id}`) ?? ''
}

describe.skipIf(skip)('what the browser phone tells a person', () => {
  const browsers: Browser[] = []
  let web: FerryProcess
  let pageUrl: string

  beforeAll(async () => {
    web = spawnFerry(['web', '--port', '0', '--json'], { name: 'web' })
    pageUrl = String((await web.waitEvent('listening', 60_000)).url)
  }, 120_000)

  afterEach(async () => {
    for (const b of browsers.splice(0)) await b.close()
  })

  afterAll(async () => {
    await killAll()
    cleanupTempDirs()
  })

  async function newBrowser (args: string[] = [], preferences?: object): Promise<Browser> {
    const browser = await launchChromium(args, CHROMIUM, { preferences })
    browsers.push(browser)
    return browser
  }

  it('says before pairing that another old phone\'s history is merged into the one held, and what it holds after', async () => {
    const dirA = copyStore(await seedStore('tiny', 7), 'phone-a')
    const dirB = copyStore(await seedStore('tiny', 8), 'phone-b')
    const a = sendOverWebRTC(dirA, 'phone-a')
    const page = (await newBrowser()).context.pages()[0]
    await page.goto(`${pageUrl}#${String((await a.waitEvent('code', 60_000)).qr)}`)
    await waitPhase(page, ['idle'], 'idle form', a)
    await page.click('#start')
    expect((await waitPhase(page, ['verified', 'failed'], 'phone A verified', a)).error).toBeUndefined()
    expect((await a.waitExit(30_000)).code).toBe(0)
    const fromA = await page.evaluate(async () => await (window.__ferry as FerryDebug).stats())

    // The same old phone offering again (a phone in use): a second transfer, merged as it should be, unsaid.
    const again = sendOverWebRTC(dirA, 'phone-a-again')
    await page.goto(`${pageUrl}#${String((await again.waitEvent('code', 60_000)).qr)}`)
    await waitPhase(page, ['idle'], 'idle form for phone A again', again)
    expect(await waitText(page, 'status-text', '^This browser holds')).toMatch(/Receive another history, or browse this one\.$/)
    await again.kill9()

    // Another old phone: said before anything pairs, with the way to keep only the new phone's history.
    const b = sendOverWebRTC(dirB, 'phone-b')
    await page.goto(`${pageUrl}#${String((await b.waitEvent('code', 60_000)).qr)}`)
    await waitPhase(page, ['idle'], 'idle form for phone B', b)
    expect(await waitText(page, 'status-text', 'from another phone')).toBe(
      `This browser holds ${fromA.conversations} chats (${fromA.messages.toLocaleString('en')} messages) from another phone. What you receive now is merged into them: ` +
      'chats the two phones share become one. To keep only the new phone\'s history, forget this browser\'s history first (the button below); to merge, choose Receive.')
    expect(await page.isVisible('#start-over')).toBe(true)
    expect(b.all('paired')).toEqual([])
    // Receive goes ahead, and the summary says what the browser holds now, not only what came.
    await page.click('#start')
    expect((await waitPhase(page, ['verified', 'failed'], 'phone B verified', b)).error).toBeUndefined()
    expect((await b.waitExit(30_000)).code).toBe(0)
    const now = await page.evaluate(async () => await (window.__ferry as FerryDebug).stats())
    expect(now.messages).toBeGreaterThan(fromA.messages)
    expect(await page.textContent('#summary-held')).toBe(`This browser now holds ${now.messages.toLocaleString('en')} messages in ${now.conversations} chats ` +
      `and ${now.mediaFiles.toLocaleString('en')} media files, from every transfer it received.`)
  }, 240_000)

  it('receives once when Receive is clicked twice before the page reacts', async () => {
    const s = sendOverWebRTC(copyStore(await seedStore('tiny', 9), 'phone-c'), 'phone-c')
    const page = (await newBrowser()).context.pages()[0]
    await page.goto(`${pageUrl}#${String((await s.waitEvent('code', 60_000)).qr)}`)
    await waitPhase(page, ['idle'], 'idle form', s)
    // Two clicks in one turn of the page's event loop: the form is still enabled for the second.
    await page.evaluate(() => { const start = document.getElementById('start') as HTMLButtonElement; start.click(); start.click() })
    const done = await waitPhase(page, ['verified', 'failed'], 'verified', s)
    expect(done.error).toBeUndefined()
    expect((await s.waitExit(30_000)).code).toBe(0)
    expect(s.all('paired')).toHaveLength(1)
    // No second receive took this tab's own lock for another tab's, or spent the code on nothing.
    expect((await events(page)).filter(e => e.type === 'busy')).toEqual([])
    expect(await page.isVisible('#error')).toBe(false)
    expect((await state(page)).phase).toBe('verified')
  }, 120_000)

  it('says at once that a browser without WebRTC cannot reach the old phone, and what to do', async () => {
    const dir = copyStore(await seedStore('tiny', 7))
    const sender = sendOverWebRTC(dir, 'sender')
    const qr = String((await sender.waitEvent('code', 60_000)).qr)
    const { context } = await newBrowser()
    // WebRTC turned off (a browser setting, an extension, a browser without it): no RTCPeerConnection.
    await context.addInitScript(() => { delete (window as { RTCPeerConnection?: unknown }).RTCPeerConnection })
    const page = context.pages()[0]
    await page.goto(`${pageUrl}#${qr}`)
    const failed = await waitPhase(page, ['failed'], 'the page saying it has no WebRTC', sender)
    expect(failed.error?.code).toBe('NO_PEER')
    expect(await page.textContent('#error')).toBe(NO_WEBRTC)
    // Receive says it again, and nothing is dialled.
    await page.evaluate(() => { document.getElementById('error')!.textContent = '' })
    await page.click('#start')
    expect(await waitText(page, 'error', '.')).toBe(NO_WEBRTC)
    expect((await events(page)).map(e => e.type)).toEqual([])
    expect(sender.all('paired')).toEqual([])
  }, 120_000)

  it('says a browser that lets the page store nothing cannot receive, and what to do', async () => {
    // Site storage blocked in the browser's settings: Chromium refuses IndexedDB to the page.
    const blocked = (await newBrowser([], { profile: { default_content_setting_values: { cookies: 2 } } })).context.pages()[0]
    await blocked.goto(pageUrl)
    expect(await waitText(blocked, 'error', '.')).toBe(NO_STORAGE)
    expect(await blocked.textContent('#status-text')).toBe('The page cannot start.')
    // No IndexedDB at all (some private windows).
    const { context } = await newBrowser()
    await context.addInitScript(() => { Object.defineProperty(window, 'indexedDB', { value: undefined, configurable: true }) })
    const none = context.pages()[0]
    await none.goto(pageUrl)
    expect(await waitText(none, 'error', '.')).toBe(NO_STORAGE)
    expect(await none.textContent('#status-text')).toBe('The page cannot start.')
  }, 120_000)

  it('says a link from before the old phone started again is stale, and the code it shows now pairs', async () => {
    const dir = copyStore(await seedStore('tiny', 7))
    const listen = `/ip4/127.0.0.1/udp/${await freeUdpPort()}/webrtc-direct`
    const first = sendOverWebRTC(dir, 'sender', listen)
    const old = await first.waitEvent('code', 60_000)
    await first.kill9()
    // Started again at the same address, it shows a new code (and QR key).
    const second = sendOverWebRTC(dir, 'sender-again', listen)
    const code = String((await second.waitEvent('code', 60_000)).code)
    expect(code).not.toBe(String(old.code))
    const page = (await newBrowser()).context.pages()[0]
    await page.goto(`${pageUrl}#${String(old.qr)}`)
    await waitPhase(page, ['idle'], 'idle form', second)
    await page.click('#start')
    const failed = await waitPhase(page, ['failed'], 'the stale link refused', second)
    expect(failed.error?.code).toBe('WRONG_CODE')
    expect(await page.textContent('#error')).toBe('This link is from an earlier ferry send: the old phone was started again since, and shows a new code now. Scan its new QR code, or type the code it shows.')
    // The code it shows now, typed over the old link's, pairs.
    await page.fill('#code', code)
    await page.click('#start')
    // Not 'failed' too: the page is still in the last attempt's failed phase as the click lands.
    expect((await waitPhase(page, ['verified'], 'verified with the new code', second)).error).toBeUndefined()
    expect((await second.waitExit(30_000)).code).toBe(0)
    expect(await page.evaluate(async () => await (window.__ferry as FerryDebug).exportNdjson())).toBe(await ferryOk(['export', '--store', dir]))
  }, 180_000)

  it('sends localhost on to the address the page is served at, where the history it received is', async () => {
    const page = (await newBrowser()).context.pages()[0]
    const port = new URL(pageUrl).port
    await page.goto(`http://localhost:${port}/?peer=x#ferry://pair?v=2`)
    expect(page.url()).toBe(`http://127.0.0.1:${port}/?peer=x#ferry://pair?v=2`)
    await waitPhase(page, ['idle'], 'idle form')
    expect(await page.inputValue('#addr')).toBe('ferry://pair?v=2')
  }, 60_000)

  describe('on a plain-HTTP LAN origin', () => {
    let server: Server
    let origin: string

    beforeAll(async () => {
      // The page as an old phone serves it on the LAN: not a secure context, so the tabs' lock is a lease.
      const dir = join(ROOT, 'dist', 'browser-phone')
      const files: Record<string, [string, string]> = { '/': ['index.html', 'text/html'], '/app.js': ['app.js', 'text/javascript'] }
      server = createServer((req, res) => {
        const file = files[(req.url ?? '/').split('?')[0]]
        if (file === undefined) { res.writeHead(404).end(); return }
        res.writeHead(200, { 'content-type': file[1] }).end(readFileSync(join(dir, file[0])))
      })
      await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
      origin = `http://ferry.test:${(server.address() as AddressInfo).port}`
    })

    afterAll(() => { server?.close() })

    it('carries on at once the transfer of a tab that closed without letting go, and keeps two live tabs apart', async () => {
      const dir = copyStore(await seedStore('tiny', 7))
      const sender = sendOverWebRTC(dir, 'sender')
      const qr = String((await sender.waitEvent('code', 60_000)).qr)
      const { context } = await newBrowser(['--host-resolver-rules=MAP ferry.test 127.0.0.1'])
      // Every status each tab shows, as it shows it.
      await context.addInitScript(() => {
        addEventListener('DOMContentLoaded', () => {
          const el = document.getElementById('status-text') as HTMLElement
          const seen: string[] = (window as unknown as { statuses: string[] }).statuses = []
          new MutationObserver(() => { seen.push(el.textContent ?? '') }).observe(el, { childList: true, characterData: true, subtree: true })
        })
      })
      const first = context.pages()[0]
      await first.goto(`${origin}/#${qr}`)
      expect((await waitPhase(first, ['idle'], 'idle form', sender)).lock).toBe('lease')
      await first.evaluate(() => { (window.__ferry as FerryDebug).pauseAt({ mediaBytes: 1 }) })
      await first.click('#start')
      await waitPhase(first, ['receiving', 'pairing'], 'paused mid-transfer', sender, { paused: true })

      // A second live tab waits for the first: the holder answers that it is alive.
      const waiting = await context.newPage()
      await waiting.goto(origin)
      await waitPhase(waiting, ['busy'], 'the second tab waiting', sender)
      await waiting.close()

      // The first tab goes without a word (its renderer crashes: no pagehide, no release of its lease).
      const crashed = new Promise(resolve => first.once('crash', resolve))
      void (await context.newCDPSession(first)).send('Page.crash').catch(() => {})
      await crashed

      // A tab opened now carries the transfer on, rather than wait out the lease of a tab that is gone.
      const next = await context.newPage()
      await next.goto(origin)
      const done = await waitPhase(next, ['verified', 'failed'], 'verified in the next tab', sender)
      expect(done.error).toBeUndefined()
      const seen = await next.evaluate(() => (window as unknown as { statuses: string[] }).statuses)
      expect(seen).toContain('Carrying on the transfer a closed tab of this browser left…')
      expect((await events(next)).map(e => e.type)).not.toContain('busy')
      expect((await events(next)).filter(e => e.type === 'paired').map(e => e.mode)).toEqual(['resume'])
      expect((await sender.waitExit(30_000)).code).toBe(0)
      expect(await next.evaluate(async () => await (window.__ferry as FerryDebug).exportNdjson())).toBe(await ferryOk(['export', '--store', dir]))
    }, 180_000)

    it('stops a tab that lost its lease to another tab at its next write, in words, and the other tab verifies', async () => {
      const dir = copyStore(await seedStore('tiny', 7))
      const sender = sendOverWebRTC(dir, 'sender')
      const qr = String((await sender.waitEvent('code', 60_000)).qr)
      const { context } = await newBrowser(['--host-resolver-rules=MAP ferry.test 127.0.0.1'])
      // The first tab renews its lease far less often than the lease lasts: a tab whose timers the
      // browser holds back (a background tab), which loses the lease to the next tab that asks.
      const first = context.pages()[0]
      await first.addInitScript(() => { window.__ferryTestSeams = { leaseTtlMs: 1000, leaseRenewMs: 600_000 } })
      await first.goto(`${origin}/#${qr}`)
      expect((await waitPhase(first, ['idle'], 'idle form', sender)).lock).toBe('lease')
      await first.evaluate(() => { (window.__ferry as FerryDebug).pauseAt({ mediaBytes: 1 }) })
      await first.click('#start')
      await waitPhase(first, ['receiving', 'pairing'], 'paused mid-transfer', sender, { paused: true })

      // A second tab takes the lease over once it expired, and carries the transfer on.
      const next = await context.newPage()
      await next.goto(origin)
      await waitPhase(next, ['pairing', 'receiving', 'verified'], 'the next tab receiving', sender)
      expect((await state(first)).error).toBeUndefined()

      // The first tab goes on: its next write is refused, and it stops, saying why, offering nothing to start.
      await first.evaluate(() => { (window.__ferry as FerryDebug).unpause() })
      const stopped = await waitPhase(first, ['failed'], 'the first tab stopped', sender)
      expect(stopped.error).toEqual({ code: 'STORE_BUSY', message: expect.stringMatching(/^another tab took over receiving/) })
      expect(await first.textContent('#error')).toBe('Another tab of this browser took over receiving the history, so this tab stopped and writes nothing more. ' +
        'Nothing that arrived is lost: follow the transfer in the other tab, and reload this one once it is done to see the history here.')
      expect(await first.isVisible('#pair-form')).toBe(false)

      const done = await waitPhase(next, ['verified', 'failed'], 'verified in the next tab', sender)
      expect(done.error).toBeUndefined()
      expect((await sender.waitExit(30_000)).code).toBe(0)
      expect(await next.evaluate(async () => await (window.__ferry as FerryDebug).exportNdjson())).toBe(await ferryOk(['export', '--store', dir]))
    }, 180_000)
  })
})
