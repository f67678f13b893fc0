// The browser phone in a real browser: a Node phone runs `ferry send --transport webrtc`, headless
// Chromium opens the page that `ferry web` serves, types the code, and receives the history into
// IndexedDB over webrtc-direct, reloading once mid-transfer.
import { randomBytes } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { build } from 'esbuild'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { SqliteChatStore } from '../../src/store/sqlite-store.js'
import { cleanupTempDirs, copyStore, ferryOk, killAll, ROOT, seedStore, spawnFerry, type FerryProcess } from '../e2e/helpers/ferry-cli.js'
import type { Page } from 'playwright-core'
import { chromiumUnavailable, launchChromium, type Browser } from './chromium.js'
import { gradientPng } from './png.js'
import { cannotRun } from '../helpers/cannot-run.js'
import { rawGet } from '../helpers/raw-http.js'
import type { FerryDebug } from '../../src/web/main.js'
import type { PageTestSeams } from '../../src/web/test-seams.js'
import { browserSha256 } from '../../scripts/build/page.js'
import type { appEdits as AppEdits } from './app-edits.js'

const skip = cannotRun('the browser phone tests', await chromiumUnavailable())

export const ARTIFACTS = join(ROOT, 'artifacts', 'browser')
const WEBRTC_LISTEN = '/ip4/127.0.0.1/udp/0/webrtc-direct'
type State = ReturnType<FerryDebug['state']>
/** What to wait for in the page's state: a phase among these, and/or paused or not. */
interface Wanted { phases?: string[], paused?: boolean }

/**
 * The page's waits on an old phone that is gone, shortened (its test seams) so a test does not wait
 * out the minute a person's page waits: silence that counts as a dead link, then how long it keeps
 * trying to reach that phone, or to tell it. Each wait longer than the silence, so the page still
 * notices the link died, tries again, and only then gives up.
 */
const DEAD_LINK: PageTestSeams = { stallMs: 3000 }
/**
 * A webrtc-direct dial of a phone that is gone is never answered: libp2p gives each address it tries up
 * only after its per-address timeout. Shortened for the tests whose old phone is gone, and still long
 * for a live phone on loopback, which these tests dial again once it is back.
 */
const GONE: PageTestSeams = { addressDialTimeoutMs: 2000 }
const GIVE_UP: PageTestSeams = { ...DEAD_LINK, ...GONE, retryForMs: 6000 }
const STOP_TELLING: PageTestSeams = { ...DEAD_LINK, ...GONE, tellAgainMs: 6000, tellPauseMaxMs: 1000 }

/** An old phone offering its history over WebRTC on loopback, as the page dials it. */
function sendOverWebRTC (dir: string, name: string): FerryProcess {
  return spawnFerry(['send', '--store', dir, '--transport', 'webrtc', '--no-mdns', '--listen', WEBRTC_LISTEN, '--json'], { name })
}

/** A webrtc-direct listen address on a UDP port free now (another than any a running sender holds), and TCP. */
async function anotherPort (): Promise<string> {
  const udp = createSocket('udp4')
  const port = await new Promise<number>(resolve => udp.bind(0, '127.0.0.1', () => resolve(udp.address().port)))
  await new Promise<void>(resolve => udp.close(() => resolve()))
  return `/ip4/127.0.0.1/udp/${port}/webrtc-direct,/ip4/127.0.0.1/tcp/0`
}

/** The tiny seeded phone plus a chat of real pictures, so the page has images that render. */
async function senderStore (): Promise<string> {
  const dir = copyStore(await seedStore('tiny', 7))
  const store = SqliteChatStore.open(dir)
  try {
    const photos = []
    for (const [i, rgb] of ([[230, 90, 40], [40, 140, 230], [60, 190, 90]] as Array<[number, number, number]>).entries()) {
      const png = gradientPng(160 + i * 20, 120, rgb)
      const { sha256, size } = await store.writeMedia((async function * () { yield png })())
      photos.push({ sha256, size, mime: 'image/png' })
    }
    store.putMetadata([{ id: 'ph', name: 'Photographer' }], [{ id: 'zz-photos', kind: 'direct', title: 'Photos 📷', members: ['me', 'ph'] }], photos)
    store.putMessages(photos.map((p, i) => ({
      conversation: 'zz-photos', id: `p${i}`, sender: i % 2 === 0 ? 'ph' : 'me', ts: 1_700_000_000_000 + i * 60_000, kind: 'image' as const, media: p.sha256, text: `picture ${i + 1}`
    })))
  } finally {
    store.close()
  }
  return dir
}

describe.skipIf(skip)('the browser phone', () => {
  const browsers: Browser[] = []
  let web: FerryProcess
  let pageUrl: string

  beforeAll(async () => {
    // `ferry web` serves the page built with the package (the global setup builds it when stale).
    web = spawnFerry(['web', '--port', '0', '--json'], { name: 'web' })
    pageUrl = String((await web.waitEvent('listening', 60_000)).url)
    mkdirSync(ARTIFACTS, { recursive: true })
  }, 120_000)

  afterEach(async () => {
    for (const b of browsers.splice(0)) await b.close()
  })

  afterAll(async () => {
    await killAll()
    cleanupTempDirs()
  })

  /**
   * The page in a new Chromium with an empty profile (a phone with nothing in IndexedDB), its debug
   * state, and a wait that reports the page's log and the sender's events on failure. `seams`: the
   * page's test seams, in each of its tabs and after each reload.
   */
  async function openPage (sender: FerryProcess, seams?: PageTestSeams): Promise<{ page: Page, state: () => Promise<State>, waitState: (what: string, want: Wanted, timeout?: number) => Promise<State> }> {
    const browser = await launchChromium()
    browsers.push(browser)
    if (seams !== undefined) await browser.context.addInitScript(s => { window.__ferryTestSeams = s }, seams)
    const page = browser.context.pages()[0] ?? await browser.context.newPage()
    const logs: string[] = []
    page.on('console', m => { logs.push(`${m.type()}: ${m.text()}`) })
    page.on('pageerror', e => { logs.push(`pageerror: ${e.message}`) })
    const state = async (): Promise<State> => await page.evaluate(() => (window.__ferry as FerryDebug).state())
    const waitState = async (what: string, want: Wanted, timeout = 60_000): Promise<State> => {
      try {
        // A function with its argument, not a string: the page's content security policy refuses eval.
        await page.waitForFunction(w => {
          const s = (window.__ferry as FerryDebug | undefined)?.state()
          return s !== undefined && (w.phases === undefined || w.phases.includes(s.phase)) && (w.paused === undefined || s.paused === w.paused)
        }, want, { timeout, polling: 50 })
      } catch (err) {
        throw new Error(`page: no ${what} within ${timeout} ms; state ${JSON.stringify(await state().catch(() => undefined))}\n${logs.slice(-20).join('\n')}\n${sender.describe()}`, { cause: err })
      }
      return await state()
    }

    return { page, state, waitState }
  }

  it('serves the page on localhost', async () => {
    expect(await ferryOk(['web', '--help'])).toMatch(/Usage: ferry web \[--port N\]/)
    const res = await fetch(pageUrl)
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('<script type="module" src="app.js">')
    expect((await fetch(new URL('app.js', pageUrl))).headers.get('content-type')).toMatch(/javascript/)
    expect((await fetch(new URL('../../package.json', pageUrl))).status).toBe(404)
    // The old phone's page server, as the page comes unmarked: no "served by the sender", and a content
    // security policy; a malformed path or another Host gets an answer, not a crash.
    expect(await (await fetch(pageUrl)).text()).not.toContain('ferry-served-by')
    expect(res.headers.get('content-security-policy')).toMatch(/script-src 'self'/)
    const port = Number(new URL(pageUrl).port)
    expect((await rawGet(port, '/%E0%A4%A')).status).toBe(404)
    expect((await rawGet(port, '/', `rebound.example:${port}`)).status).toBe(421)
    expect((await fetch(pageUrl)).status).toBe(200)
  })

  it('pairs with the code, survives a reload mid-transfer, and holds exactly the sender\'s history', async () => {
    const dir = await senderStore()
    const sender = sendOverWebRTC(dir, 'sender')
    const codeEvent = await sender.waitEvent('code', 60_000)
    const code = String(codeEvent.code)
    const addr = (codeEvent.webrtc as string[])[0]
    expect(addr).toMatch(/\/webrtc-direct\/certhash\//)

    const { page, waitState } = await openPage(sender)
    // The first line the progress bar shows, kept as the page draws it.
    await page.addInitScript(() => {
      addEventListener('DOMContentLoaded', () => {
        const el = document.getElementById('progress-text') as HTMLElement
        const seen = window as unknown as { firstProgressText?: string }
        new MutationObserver((_, observer) => {
          if (el.textContent === '') return
          seen.firstProgressText ??= el.textContent ?? undefined
          observer.disconnect()
        }).observe(el, { childList: true, characterData: true, subtree: true })
      })
    })
    await page.goto(`${pageUrl}?peer=${encodeURIComponent(addr)}`)
    await waitState('idle form', { phases: ['idle'] })
    expect(await page.inputValue('#addr')).toBe(addr)

    // A wrong code: a clear message in the page, and the form is back for another try.
    const wrong = code.slice(0, -1) + String((Number(code.slice(-1)) + 1) % 10)
    await page.fill('#code', wrong)
    await page.click('#start')
    const failed = await waitState('wrong-code failure', { phases: ['failed'] })
    expect(failed.error?.code).toBe('WRONG_CODE')
    expect(await page.isVisible('#error')).toBe(true)
    expect(await page.textContent('#error')).toMatch(/Wrong code/)
    expect(await page.isEnabled('#start')).toBe(true)

    // The right code; the page stops reading once ~40% of the media is in, so the reload is mid-transfer.
    await page.evaluate(() => { (window.__ferry as FerryDebug).pauseAt({ mediaBytes: 600_000 }) })
    await page.fill('#code', code)
    await page.click('#start')
    const paused = await waitState('pause mid-transfer', { paused: true })
    const p = paused.progress!
    expect(paused.mode).toBe('code')
    expect(p.mediaBytes).toBeGreaterThanOrEqual(600_000)
    expect(p.mediaBytes).toBeLessThan(p.totalMediaBytes)
    // Messages first: every chat is browsable while the media is still arriving.
    expect(p.messages).toBe(p.totalMessages)
    await page.waitForFunction(() => document.querySelectorAll('#chats li').length === 5)
    await page.click('#chats li[data-id="zz-photos"]')
    await page.waitForSelector('#messages .msg')
    // The progress bar, with the rate and the time left (drawn on the page's next tick). The rate is
    // what the link carries over a window, as the CLI's bar says it: '--' until there is one, never the
    // burst a session opens with; so is the time left, until there is a pace to go by.
    await page.waitForSelector('#bar', { state: 'visible' })
    expect(await page.evaluate(() => (window as unknown as { firstProgressText?: string }).firstProgressText))
      .toMatch(/^[\d,]+ of [\d,]+ messages · [\d.]+ \w?B of [\d.]+ MB media · --\/s · about … left$/)
    expect(await page.textContent('#progress-text')).toMatch(/^[\d,]+ of [\d,]+ messages · [\d.]+ \w?B of [\d.]+ MB media · (--|[\d.]+ \w?B)\/s · about (…|\d.*) left$/)
    await page.screenshot({ path: join(ARTIFACTS, 'browser-phone-mid-transfer.png'), fullPage: true })

    // A second tab of the page finds the unfinished transfer too, but must not receive into the same store.
    const second = await page.context().newPage()
    await second.goto(pageUrl)
    await second.waitForFunction(() => (window.__ferry as FerryDebug | undefined)?.state().phase === 'busy', null, { timeout: 30_000 })
    expect(await second.textContent('#error')).toMatch(/Ferry is already receiving in another tab/)
    expect(await second.evaluate(() => (window.__ferry as FerryDebug).state().lock)).toBe('web-locks')
    await second.close()
    expect((await page.evaluate(() => (window.__ferry as FerryDebug).state())).paused).toBe(true)

    // Everything read so far is durable; then the reload. The page must resume alone, without the code.
    await page.evaluate(async () => { await (window.__ferry as FerryDebug).flush() })
    await page.reload()
    const done = await waitState('verified summary after the reload', { phases: ['verified', 'failed'] }, 90_000)
    expect(done.error).toBeUndefined()
    expect(done.phase).toBe('verified')
    expect(done.mode).toBe('resume')
    // The same peer after the reload: its key came back from IndexedDB (the resume token is bound to it).
    expect(done.peerId).toBe(paused.peerId)
    const events = await page.evaluate(() => (window.__ferry as FerryDebug).events)
    // The page was told when the read-back began, once, and only then that the history is verified.
    expect(events.map(e => e.type).filter(t => t === 'verifying' || t === 'verified')).toEqual(['verifying', 'verified'])
    const manifest = events.find(e => e.type === 'manifest')
    // Resumed where it stopped: the new session starts with what was committed before the reload, and
    // no message comes twice (the old phone's session after the reload sent none). The page counts the
    // whole transfer: every message came with it, none was here before.
    expect(manifest?.progress?.mediaBytes).toBeGreaterThanOrEqual(p.mediaBytes)
    expect(done.stats).toMatchObject({ messagesSent: p.totalMessages, messagesHeld: 0 })
    expect(await page.textContent('#summary-title')).toMatch(/Verified: \d[\d,]* messages in 5 chats/)
    // The old phone says what the page says of the whole transfer, and its own session's beside it.
    const told = await sender.waitEvent('verified', 30_000)
    expect(told.stats).toMatchObject({ messagesSent: p.totalMessages, messagesHeld: 0 })
    expect(told.session).toMatchObject({ messagesSent: 0 })
    expect((await sender.waitExit(30_000)).code).toBe(0)

    // IndexedDB holds exactly what the sender exports, and every media file's bytes hash to its name.
    const expected = await ferryOk(['export', '--store', dir])
    expect(await page.evaluate(() => (window.__ferry as FerryDebug).exportNdjson())).toBe(expected)
    const digests = await page.evaluate(async () => await (window.__ferry as FerryDebug).mediaDigests())
    const media = expected.split('\n').filter(l => l.startsWith('{"type":"media"')).map(l => (JSON.parse(l) as { sha256: string }).sha256)
    expect(Object.keys(digests).sort()).toEqual(media.sort())
    for (const [name, actual] of Object.entries(digests)) expect(actual).toBe(name)

    // The pictures render (decoded by the browser from the IndexedDB bytes).
    await page.click('#chats li[data-id="zz-photos"]')
    await page.waitForFunction(() => Array.from(document.querySelectorAll<HTMLImageElement>('#messages img')).filter(i => i.complete && i.naturalWidth > 0).length === 3)
    await page.screenshot({ path: join(ARTIFACTS, 'browser-phone.png'), fullPage: true })
    const rate = done.rateBytesPerSec ?? 0
    console.log(`browser phone: ${p.totalMessages} messages, ${(p.totalMediaBytes / 1e6).toFixed(2)} MB media; resumed session ${done.sessionSeconds?.toFixed(2)} s at ${(rate / 1e6).toFixed(2)} MB/s; screenshot ${join(ARTIFACTS, 'browser-phone.png')}`)
    await page.close()
  })
  it('carries on when the old phone is killed mid-transfer and started again without the code', async () => {
    const dir = await senderStore()
    const args = ['send', '--store', dir, '--transport', 'webrtc', '--no-mdns', '--json']
    const first = spawnFerry([...args, '--listen', WEBRTC_LISTEN], { name: 'sender' })
    const codeEvent = await first.waitEvent('code', 60_000)
    const { page, waitState } = await openPage(first, DEAD_LINK)
    await page.goto(`${pageUrl}#${codeEvent.qr as string}`)
    await waitState('idle form', { phases: ['idle'] })
    // The QR payload alone pairs: its code is filled in from the link.
    await page.evaluate(() => { (window.__ferry as FerryDebug).pauseAt({ mediaBytes: 600_000 }) })
    await page.click('#start')
    const paused = await waitState('pause mid-transfer', { paused: true })
    await first.kill9()
    // Started again without the code: it resumes its pairing and listens where it did (same certificate).
    const second = spawnFerry(args, { name: 'sender-again' })
    expect((await second.waitEvent('resuming', 60_000)).addrs).toEqual(codeEvent.addrs)
    await page.evaluate(() => { (window.__ferry as FerryDebug).unpause() })
    const done = await waitState('verified after the old phone restarted', { phases: ['verified', 'failed'] }, 90_000)
    expect(done.error).toBeUndefined()
    const events = await page.evaluate(() => (window.__ferry as FerryDebug).events)
    expect(events.some(e => e.type === 'interrupted')).toBe(true)
    const resumed = events.filter(e => e.type === 'manifest').at(-1)
    expect(resumed?.progress?.mediaBytes).toBeGreaterThanOrEqual(paused.progress!.mediaBytes)
    expect(events.filter(e => e.type === 'paired').map(e => e.mode)).toEqual(['code', 'resume'])
    expect((await second.waitExit(30_000)).code).toBe(0)
    expect(await page.evaluate(() => (window.__ferry as FerryDebug).exportNdjson())).toBe(await ferryOk(['export', '--store', dir]))
    await page.close()
  })
  it('tells an old phone stopped before it heard Verified, when it is started again long after, across a reload', async () => {
    const dir = await senderStore()
    const args = ['send', '--store', dir, '--transport', 'webrtc', '--no-mdns', '--json']
    const first = spawnFerry([...args, '--listen', WEBRTC_LISTEN], { name: 'sender' })
    const codeEvent = await first.waitEvent('code', 60_000)
    const { page, state, waitState } = await openPage(first, STOP_TELLING)
    // Every status line the page shows, from each load of it.
    await page.addInitScript(() => {
      addEventListener('DOMContentLoaded', () => {
        const el = document.getElementById('status-text') as HTMLElement
        const shown: string[] = (window as unknown as { statusesShown: string[] }).statusesShown = []
        new MutationObserver(() => { shown.push(el.textContent ?? '') }).observe(el, { childList: true, characterData: true, subtree: true })
      })
    })
    const unheard = async (what: string, want: boolean): Promise<void> => {
      try {
        await page.waitForFunction(w => (window.__ferry as FerryDebug | undefined)?.state().unheard === w, want, { timeout: 90_000, polling: 100 })
      } catch (err) {
        throw new Error(`page: no ${what}; state ${JSON.stringify(await state().catch(() => undefined))}`, { cause: err })
      }
    }
    await page.goto(`${pageUrl}#${codeEvent.qr as string}`)
    await waitState('idle form', { phases: ['idle'] })
    // Held once everything has arrived, before the page verifies it: the old phone has sent it all and
    // waits for Verified. It is stopped there, for good, so it never hears it.
    await page.evaluate(() => { (window.__ferry as FerryDebug).pauseAt({ verifying: true }) })
    await page.click('#start')
    await waitState('everything arrived', { paused: true })
    await first.kill9()
    await page.evaluate(() => { (window.__ferry as FerryDebug).unpause() })
    // The page tried to tell it for as long as a receiver does (the Node one then forgets the pairing;
    // here as long as the test's seam says), and says what it goes on doing.
    await unheard('verified with the old phone not told', true)
    expect((await state()).phase).toBe('verified')
    const told = 'Everything arrived and is verified here. The old phone did not hear it yet: if you start ferry send again there, this page will tell it.'
    expect(await page.textContent('#status-text')).toBe(told)
    const expected = await ferryOk(['export', '--store', dir])
    expect(await page.evaluate(async () => await (window.__ferry as FerryDebug).exportNdjson())).toBe(expected)
    // A reload keeps knowing it, and says so from the start: never that it is done while the old phone waits.
    await page.reload()
    await unheard('the old phone still not told after the reload', true)
    expect(await page.textContent('#status-text')).toBe(told)
    expect(new Set(await page.evaluate(() => (window as unknown as { statusesShown: string[] }).statusesShown))).toEqual(new Set([told]))

    // The old phone started again without a code: it waits for this phone, which tells it, and it is done.
    const second = spawnFerry(args, { name: 'sender-again' })
    expect((await second.waitEvent('resuming', 60_000)).addrs).toEqual(codeEvent.addrs)
    const exit = await second.waitExit(90_000)
    expect(exit.code, second.describe()).toBe(0)
    // Its verified summary: the whole history, held by the page already, nothing sent again.
    const [verified] = second.all('verified') as unknown as Array<{ summary: Array<{ messages: number }>, stats: { messagesSent: number, messagesHeld: number } }>
    const messages = expected.split('\n').filter(l => l.startsWith('{"type":"message"')).length
    expect(verified.summary.reduce((n, c) => n + c.messages, 0)).toBe(messages)
    expect(verified.stats).toMatchObject({ messagesSent: 0, messagesHeld: messages })
    await unheard('the old phone told', false)
    expect(await page.textContent('#status-text')).toBe('Done. The old phone no longer waits: everything arrived and is verified here. Browse it below.')
    expect(await page.evaluate(async () => await (window.__ferry as FerryDebug).exportNdjson())).toBe(expected)
    await page.close()
  }, 300_000)

  it('says in its summary what it kept of the browser phone\'s own changes when the old phone sends again', async () => {
    const dir = await senderStore()
    const send = (name: string): FerryProcess => sendOverWebRTC(dir, name)
    const first = send('sender')
    const { page, waitState } = await openPage(first)
    await page.goto(`${pageUrl}#${(await first.waitEvent('code', 60_000)).qr as string}`)
    await waitState('idle form', { phases: ['idle'] })
    await page.click('#start')
    expect((await waitState('the first transfer verified', { phases: ['verified', 'failed'] }, 90_000)).error).toBeUndefined()
    expect(await page.textContent('#summary-moved')).toMatch(/^This time: \d[\d,]* new messages, \d+ new media files \([\d.]+ MB\)\.$/)
    expect(await page.textContent('#summary-detail')).toMatch(/^Every conversation was read back from this browser's storage and matches the old phone( ·|$)/)
    expect((await first.waitExit(30_000)).code).toBe(0)

    // An app on the browser phone recalls a picture, edits another's caption, deletes the third and renames
    // their chat, in the page, through the store's own API.
    const bundle = await build({
      entryPoints: [join(ROOT, 'test/browser/app-edits.ts')],
      bundle: true, format: 'iife', platform: 'browser', write: false, logLevel: 'silent', absWorkingDir: ROOT, plugins: [browserSha256]
    })
    await page.evaluate(bundle.outputFiles[0].text)
    const edited = await page.evaluate(async () => {
      const app = window.appEdits as typeof AppEdits
      const [p0, p1, p2] = await app.find('zz-photos', ['p0', 'p1', 'p2'])
      await app.commit({
        messages: [{ ...p0, text: undefined, status: 'recalled' }, { ...p1, text: 'picture 2, edited here', editedAt: p1.ts + 3_600_000 }],
        conversations: [{ id: 'zz-photos', kind: 'direct', title: 'Photos (mine)', members: ['me', 'ph'] }],
        // The third picture goes with its photo, as an app frees the space of what its owner deleted.
        remove: { messages: [{ conversation: 'zz-photos', id: 'p2' }], media: [p2.media as string] }
      })
      return await app.find('zz-photos', ['p0', 'p1'])
    })
    expect(edited.map(m => m.status ?? m.text)).toEqual(['recalled', 'picture 2, edited here'])

    // The old phone offers its history again, unchanged: the same browser (its IndexedDB) receives it.
    const second = send('sender-again')
    await page.goto('about:blank')
    await page.goto(`${pageUrl}#${(await second.waitEvent('code', 60_000)).qr as string}`)
    await waitState('idle form', { phases: ['idle'] })
    await page.click('#start')
    const done = await waitState('the second transfer verified', { phases: ['verified', 'failed'] }, 90_000)
    expect(done.error).toBeUndefined()
    // The old phone did not change the pictures since the first transfer: nothing of them moves, the
    // recall and the edit stay, and so does the deletion.
    expect(done.stats).toMatchObject({ messagesSent: 0, namesKept: 1, messagesLeftDeleted: 1, mediaLeftDeleted: 1, mediaFilesSent: 0 })
    await page.evaluate(bundle.outputFiles[0].text)
    expect((await page.evaluate(async () => await (window.appEdits as typeof AppEdits).find('zz-photos', ['p0', 'p1', 'p2']))).map(m => m.status ?? m.text))
      .toEqual(['recalled', 'picture 2, edited here'])
    // The page says what it kept, as ferry receive says it, and does not call the kept copies the old phone's.
    expect(await page.textContent('#summary-detail')).toMatch(/^Every conversation was read back from this browser's storage and matches the old phone, but for what this phone kept as its own \(below\)/)
    expect(await page.textContent('#summary-moved')).toBe('This time: 0 new messages, 0 new media files (0 B), ' +
      '1 chat or contact name kept as this phone changed it and the old phone did not, 1 message deleted on this phone stays deleted, with 1 media file, ' +
      `${(done.progress!.totalMessages - 1).toLocaleString('en-US')} messages and ${done.stats!.mediaFilesHeld} media files already here.`)
    // It lists what this browser holds: the deleted picture is not counted.
    expect(await page.locator('#summary-list li').allTextContents()).toContain('Photos (mine) — 2')
    expect((await second.waitExit(30_000)).code).toBe(0)
  }, 240_000)

  it('after three wrong codes says that scanning the QR code still pairs, and it does', async () => {
    const dir = await senderStore()
    const sender = sendOverWebRTC(dir, 'sender')
    const shown = await sender.waitEvent('code', 60_000)
    const code = String(shown.code)
    const { page, waitState } = await openPage(sender)
    await page.goto(`${pageUrl}?peer=${encodeURIComponent((shown.webrtc as string[])[0])}`)
    await waitState('idle form', { phases: ['idle'] })
    const wrong = code.slice(0, -1) + String((Number(code.slice(-1)) + 1) % 10)
    // Three wrong codes typed, then the right one: typing pairs no one now.
    for (const [i, typed] of [wrong, wrong, wrong, code].entries()) {
      await page.fill('#code', typed)
      await page.click('#start')
      // The old phone has refused this attempt, so the page's next failure is this attempt's.
      await sender.waitNth('pair-failed', i + 1, 30_000)
      const failed = await waitState(`attempt ${i + 1} failed`, { phases: ['failed'] })
      // Before the last try, the person learns what three wrong ones do, and what still works then.
      if (i === 2) {
        expect(failed.error?.code).toBe('WRONG_CODE')
        expect(await page.textContent('#error')).toMatch(/This code cannot be typed here again: ask for a new one, but scanning the old phone's QR code still does/)
      }
    }
    expect((await page.evaluate(() => (window.__ferry as FerryDebug).state())).error?.code).toBe('CODE_EXPIRED')
    // The person is sent to what still works first: the QR code, whose key no wrong guess spends.
    expect(await page.textContent('#error')).toMatch(/^Typing this code no longer pairs: .* Scan the QR code the old phone shows \(after wrong tries it still pairs\)/)
    await page.goto(`${pageUrl}#${shown.qr as string}`)
    await waitState('idle form with the QR payload', { phases: ['idle'] })
    await page.click('#start')
    const done = await waitState('verified by the QR code', { phases: ['verified', 'failed'] }, 90_000)
    expect(done.error).toBeUndefined()
    expect(done.mode).toBe('code')
    expect((await sender.waitExit(30_000)).code).toBe(0)
  }, 180_000)

  it('when the old phone stops mid-transfer, says what is kept and how to carry on, and carries on so', async () => {
    const dir = await senderStore()
    // More media than the sender puts in flight at once: what is left cannot have arrived when it stops.
    const store = SqliteChatStore.open(dir)
    try {
      const video = randomBytes(4 * 1024 * 1024)
      const { sha256, size } = await store.writeMedia((async function * () { yield video })())
      store.putMetadata([], [], [{ sha256, size, mime: 'video/mp4' }])
      store.putMessages([{ conversation: 'zz-photos', id: 'v0', sender: 'ph', ts: 1_700_000_900_000, kind: 'video', media: sha256 }])
    } finally {
      store.close()
    }
    const args = ['send', '--store', dir, '--transport', 'webrtc', '--no-mdns', '--json']
    const first = spawnFerry([...args, '--listen', WEBRTC_LISTEN], { name: 'sender' })
    const { page, waitState } = await openPage(first, GIVE_UP)
    await page.goto(`${pageUrl}#${(await first.waitEvent('code', 60_000)).qr as string}`)
    await waitState('idle form', { phases: ['idle'] })
    await page.evaluate(() => { (window.__ferry as FerryDebug).pauseAt({ mediaBytes: 600_000 }) })
    await page.click('#start')
    await waitState('pause mid-transfer', { paused: true })
    // The old phone stops for good (a dead battery); the page tries to reach it again, then gives up
    // (after a minute; here after the test's seam's few seconds).
    await first.kill9()
    await page.evaluate(() => { (window.__ferry as FerryDebug).unpause() })
    const failed = await waitState('giving up on the old phone', { phases: ['failed', 'verified'] }, 150_000)
    expect(failed.error?.code).toBe('NO_PEER')
    // It tried again before it gave up.
    expect((await page.evaluate(() => (window.__ferry as FerryDebug).events)).some(e => e.type === 'interrupted')).toBe(true)
    expect(await page.textContent('#error')).toBe('The old phone stopped answering. What arrived is kept in this browser: ' +
      'start ferry send on the old phone again (no new code is needed), then reload this page to carry on.')
    // As it says: the old phone started again without a code, the page reloaded.
    const second = spawnFerry(args, { name: 'sender-again' })
    await second.waitEvent('resuming', 60_000)
    await page.reload()
    const done = await waitState('verified after the reload', { phases: ['verified', 'failed'] }, 90_000)
    expect(done.error).toBeUndefined()
    expect(done.mode).toBe('resume')
    expect((await second.waitExit(30_000)).code).toBe(0)
    expect(await page.evaluate(async () => await (window.__ferry as FerryDebug).exportNdjson())).toBe(await ferryOk(['export', '--store', dir]))
  }, 300_000)

  it('says it cannot reach the old phone, not that a connection dropped, before it ever paired', async () => {
    const dir = await senderStore()
    const sender = sendOverWebRTC(dir, 'sender')
    const qr = (await sender.waitEvent('code', 60_000)).qr as string
    // The old phone is gone before the new one tries its link.
    await sender.kill9()
    const { page, waitState } = await openPage(sender, GONE)
    await page.goto(`${pageUrl}#${qr}`)
    await waitState('idle form', { phases: ['idle'] })
    await page.click('#start')
    await page.waitForFunction(() => (window.__ferry as FerryDebug).events.some(e => e.type === 'interrupted'), null, { timeout: 60_000, polling: 100 })
    expect(await page.textContent('#status-text')).toBe('Cannot reach the old phone yet. Trying again…')
  }, 120_000)

  it('a second tab opened on the same link waits for the first, then shows what it received and pairs no one', async () => {
    const dir = await senderStore()
    // The old phone serves the page itself (ferry send --web), on loopback: its link starts the page by itself.
    const sender = spawnFerry(['send', '--store', dir, '--web', '--web-port', '0', '--no-mdns', '--no-sweep', '--listen', `${WEBRTC_LISTEN},/ip4/127.0.0.1/tcp/0`, '--json'], { name: 'sender' })
    const link = String((await sender.waitEvent('code', 60_000)).page)
    const { page, waitState } = await openPage(sender)
    // The first tab stops reading mid-transfer, asked before its own script starts from the link.
    await page.addInitScript(() => {
      let hook: FerryDebug | undefined
      Object.defineProperty(window, '__ferry', {
        configurable: true,
        get: () => hook,
        set: (v: FerryDebug) => { hook = v; v.pauseAt({ mediaBytes: 1 }) }
      })
    })
    await page.goto(link)
    await waitState('the first tab paused mid-transfer', { paused: true })

    // The same link again, in another tab of the same browser (scanned twice, or opened from history).
    const second = await page.context().newPage()
    await second.goto(link)
    await second.waitForFunction(() => (window.__ferry as FerryDebug | undefined)?.state().phase === 'busy', null, { timeout: 30_000 })
    await page.evaluate(() => { (window.__ferry as FerryDebug).unpause() })
    expect((await waitState('the first tab verified', { phases: ['verified', 'failed'] }, 90_000)).error).toBeUndefined()
    // The first tab spent the link's code and the history is here: the second one says so, and does not
    // try the spent code on an old phone that has finished.
    await second.waitForFunction(() => document.getElementById('status-text')?.textContent?.startsWith('This browser holds ') === true, null, { timeout: 30_000 })
    const after = await second.evaluate(() => ({ state: (window.__ferry as FerryDebug).state(), events: (window.__ferry as FerryDebug).events.map(e => e.type) }))
    expect(after.state.phase).toBe('idle')
    expect(after.state.error).toBeUndefined()
    expect(after.events).toEqual(['busy'])
    expect(await second.isVisible('#error')).toBe(false)
    expect((await sender.waitExit(30_000)).code).toBe(0)
    expect(sender.all('paired')).toHaveLength(1)
    // Receive clicked there all the same: the link's code is used and its old phone gone. The tab says
    // so at once, and tries no one.
    await second.click('#start')
    await second.waitForFunction(() => (window.__ferry as FerryDebug).state().phase === 'failed', null, { timeout: 30_000 })
    const spent = await second.evaluate(() => ({ state: (window.__ferry as FerryDebug).state(), events: (window.__ferry as FerryDebug).events.map(e => e.type) }))
    expect(spent.state.error?.code).toBe('CODE_EXPIRED')
    expect(spent.events).toEqual(['busy'])
    expect(await second.textContent('#error')).toBe('This browser has already used this link (in this tab or another), and what came with it is here. ' +
      'To receive again, start ferry send on the old phone again and open its new link.')
  }, 180_000)

  /**
   * An old phone serving its own page (ferry send --web, on loopback) stopped mid-transfer and started
   * again without the code, where `listenAgain` says (asked while the first still runs; default: where
   * it listened). The new phone's browser opened its link and paused mid-transfer; then it closed the
   * tab and opens what the started-again phone serves, or with `stayOpen` carries on in the same tab.
   */
  async function servedPageResumed (listenAgain?: () => Promise<string>, o: { stayOpen?: boolean } = {}): Promise<{ dir: string, first: FerryProcess, second: FerryProcess, pausedAt: number, again: Page }> {
    const dir = await senderStore()
    const args = (listen: string): string[] => ['send', '--store', dir, '--web', '--web-port', '0', '--no-mdns', '--no-sweep', '--listen', listen, '--json']
    const first = spawnFerry(args(`${WEBRTC_LISTEN},/ip4/127.0.0.1/tcp/0`), { name: 'sender' })
    const link = String((await first.waitEvent('code', 60_000)).page)
    // The tab left open notices the link died only by its silence.
    const { page, waitState } = await openPage(first, o.stayOpen === true ? DEAD_LINK : undefined)
    await page.addInitScript(() => {
      let hook: FerryDebug | undefined
      Object.defineProperty(window, '__ferry', {
        configurable: true,
        get: () => hook,
        set: (v: FerryDebug) => { hook = v; v.pauseAt({ mediaBytes: 1 }) }
      })
    })
    await page.goto(link)
    const paused = await waitState('paused mid-transfer', { paused: true })
    await page.evaluate(async () => { await (window.__ferry as FerryDebug).flush() })
    const listen = await listenAgain?.() ?? `${WEBRTC_LISTEN},/ip4/127.0.0.1/tcp/0`
    await first.kill9()
    if (o.stayOpen !== true) await page.goto('about:blank')
    const second = spawnFerry(args(listen), { name: 'sender-again' })
    const resuming = await second.waitEvent('resuming', 60_000)
    if (o.stayOpen === true) {
      await page.evaluate(() => { (window.__ferry as FerryDebug).unpause() })
      return { dir, first, second, pausedAt: paused.progress!.mediaBytes, again: page }
    }
    // A new tab, as a person opens the address again (the first one's pause stays with it).
    const again = await page.context().newPage()
    await again.goto(String(resuming.page))
    return { dir, first, second, pausedAt: paused.progress!.mediaBytes, again }
  }

  /** Waits for the resumed page to be done, and checks it carried on (not from nothing) and holds the sender's history. */
  async function carriedOn (r: { dir: string, second: FerryProcess, pausedAt: number, again: Page }, pairings = ['resume']): Promise<void> {
    try {
      await r.again.waitForFunction(() => ['verified', 'failed'].includes((window.__ferry as FerryDebug | undefined)?.state().phase ?? ''), null, { timeout: 90_000, polling: 100 })
    } catch (err) {
      throw new Error(`page: not done; state ${JSON.stringify(await r.again.evaluate(() => (window.__ferry as FerryDebug | undefined)?.state()).catch(() => undefined))}\n${r.second.describe()}`, { cause: err })
    }
    const done = await r.again.evaluate(() => ({ state: (window.__ferry as FerryDebug).state(), events: (window.__ferry as FerryDebug).events }))
    expect(done.state.error).toBeUndefined()
    expect(done.events.filter(e => e.type === 'paired').map(e => e.mode)).toEqual(pairings)
    expect(done.events.findLast(e => e.type === 'manifest')?.progress?.mediaBytes).toBeGreaterThanOrEqual(r.pausedAt)
    expect((await r.second.waitExit(30_000)).code).toBe(0)
    expect(await r.again.evaluate(async () => await (window.__ferry as FerryDebug).exportNdjson())).toBe(await ferryOk(['export', '--store', r.dir]))
  }

  it('carries on from the page an old phone started again serves, at the address it served it before', async () => {
    const r = await servedPageResumed()
    expect(new URL(String(r.second.all('resuming')[0].page)).origin).toBe(new URL(String(r.first.all('code')[0].page)).origin)
    await carriedOn(r)
  }, 180_000)

  it('carries on from the page an old phone started again on another port serves, dialling where it listens now', async () => {
    // Another port than before, given: the pairing saved the old one, where nothing answers now.
    const r = await servedPageResumed(anotherPort)
    const before = (r.first.all('code')[0].webrtc as string[])[0]
    expect((r.second.all('resuming')[0].webrtc as string[])[0]).not.toBe(before)
    await carriedOn(r)
  }, 180_000)

  it('carries on in the tab left open when the old phone comes back on another port, without a reload', async () => {
    const r = await servedPageResumed(anotherPort, { stayOpen: true })
    expect((r.second.all('resuming')[0].webrtc as string[])[0]).not.toBe((r.first.all('code')[0].webrtc as string[])[0])
    await carriedOn(r, ['code', 'resume'])
  }, 180_000)

  it('opened with another old phone\'s link while a transfer is unfinished, pairs with that phone rather than wait for the first', async () => {
    const send = sendOverWebRTC
    const first = send(await senderStore(), 'sender')
    const { page, waitState } = await openPage(first)
    await page.goto(`${pageUrl}#${(await first.waitEvent('code', 60_000)).qr as string}`)
    await waitState('idle form', { phases: ['idle'] })
    await page.evaluate(() => { (window.__ferry as FerryDebug).pauseAt({ mediaBytes: 600_000 }) })
    await page.click('#start')
    await waitState('pause mid-transfer', { paused: true })
    await page.evaluate(async () => { await (window.__ferry as FerryDebug).flush() })
    // That old phone is gone, and another one (another history, another peer) offers a code.
    await first.kill9()
    const other = copyStore(await seedStore('tiny', 9), 'other-phone')
    const second = send(other, 'sender-other')
    const qr = (await second.waitEvent('code', 60_000)).qr as string
    await page.goto('about:blank')
    await page.goto(`${pageUrl}#${qr}`)
    // The person scanned the other phone's code: the page takes it, rather than resume a phone that is not there.
    const idle = await waitState('the form with the other phone\'s link', { phases: ['idle'] }, 30_000)
    expect(idle.error).toBeUndefined()
    expect(await page.inputValue('#addr')).toBe(qr)
    await page.click('#start')
    const done = await waitState('verified from the other phone', { phases: ['verified', 'failed'] }, 90_000)
    expect(done.error).toBeUndefined()
    expect(done.mode).toBe('code')
    expect((await second.waitExit(30_000)).code).toBe(0)
    // What came of the first phone's transfer, never verified, was taken back: the browser holds exactly
    // the other phone's history.
    expect(await page.evaluate(async () => await (window.__ferry as FerryDebug).exportNdjson())).toBe(await ferryOk(['export', '--store', other]))
  }, 180_000)

  it('takes a new link opened over the page in the same tab', async () => {
    const dir = await senderStore()
    const sender = sendOverWebRTC(dir, 'sender')
    const qr = (await sender.waitEvent('code', 60_000)).qr as string
    const { page, waitState } = await openPage(sender)
    await page.goto(pageUrl)
    await waitState('idle form', { phases: ['idle'] })
    // Only the fragment differs: the browser loads nothing by itself for that.
    await page.goto(`${pageUrl}#${qr}`)
    await page.waitForFunction(q => (document.getElementById('addr') as HTMLInputElement | null)?.value === q, qr, { timeout: 30_000 })
    await waitState('idle form with the link', { phases: ['idle'] })
    await page.click('#start')
    const done = await waitState('verified', { phases: ['verified', 'failed'] }, 90_000)
    expect(done.error).toBeUndefined()
    expect((await sender.waitExit(30_000)).code).toBe(0)
  }, 180_000)
})
