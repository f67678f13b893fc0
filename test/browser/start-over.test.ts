// Forgetting the browser phone's history ("Forget this browser's history and start over"), in a real
// Chromium on the page `ferry web` serves, receiving from a Node phone over webrtc-direct on loopback:
// the page asks first and says what goes, and never deletes what a tab is receiving.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import { cleanupTempDirs, copyStore, ferryOk, killAll, seedStore, spawnFerry, type FerryProcess } from '../e2e/helpers/ferry-cli.js'
import { chromiumUnavailable, launchChromium, type Browser } from './chromium.js'
import { cannotRun } from '../helpers/cannot-run.js'
import type { FerryDebug } from '../../src/web/main.js'

const skip = cannotRun('the browser phone tests', await chromiumUnavailable())

type State = ReturnType<FerryDebug['state']>

function sendOverWebRTC (dir: string): FerryProcess {
  return spawnFerry(['send', '--store', dir, '--transport', 'webrtc', '--no-mdns', '--listen', '/ip4/127.0.0.1/udp/0/webrtc-direct', '--json'], { name: 'sender' })
}

const state = async (page: Page): Promise<State> => await page.evaluate(() => (window.__ferry as FerryDebug).state())

async function waitPhase (page: Page, phases: string[], what: string, sender: FerryProcess, want: { paused?: boolean } = {}): Promise<State> {
  try {
    await page.waitForFunction(w => {
      const s = (window.__ferry as FerryDebug | undefined)?.state()
      return s !== undefined && w.phases.includes(s.phase) && (w.paused === undefined || s.paused === w.paused)
    }, { phases, paused: want.paused }, { timeout: 90_000, polling: 50 })
  } catch (err) {
    throw new Error(`page: no ${what}; state ${JSON.stringify(await state(page).catch(() => undefined))}\n${sender.describe()}`, { cause: err })
  }
  return await state(page)
}

/** The chats, messages and media files of an export, as the page counts what it holds. */
function held (ndjson: string): { chats: number, messages: number, media: number } {
  const lines = ndjson.split('\n')
  const n = (type: string): number => lines.filter(l => l.startsWith(`{"type":"${type}"`)).length
  return { chats: n('conversation'), messages: n('message'), media: n('media') }
}

describe.skipIf(skip)('forgetting the browser phone\'s history', () => {
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

  async function newBrowser (): Promise<Browser> {
    const browser = await launchChromium()
    browsers.push(browser)
    return browser
  }

  it('asks first, saying what goes: cancelled it keeps everything, confirmed it starts over', async () => {
    const dir = copyStore(await seedStore('tiny', 7))
    const sender = sendOverWebRTC(dir)
    const qr = String((await sender.waitEvent('code', 60_000)).qr)
    const page = (await newBrowser()).context.pages()[0]
    await page.goto(`${pageUrl}#${qr}`)
    await waitPhase(page, ['idle'], 'idle form', sender)
    await page.click('#start')
    const verified = await waitPhase(page, ['verified', 'failed'], 'verified', sender)
    expect(verified.error).toBeUndefined()
    expect((await sender.waitExit(30_000)).code).toBe(0)
    const expected = await ferryOk(['export', '--store', dir])
    const { chats, messages, media } = held(expected)
    expect(media).toBeGreaterThan(0)

    // The question names what is held here, and that it is for good.
    await page.click('#start-over')
    await page.waitForSelector('#start-over-dialog', { state: 'visible' })
    const question = await page.textContent('#start-over-question')
    expect(question).toContain(`${chats} chats, ${messages.toLocaleString('en')} messages and ${media} media files held here`)
    expect(question).toMatch(/cannot be undone/)
    // Cancelled: nothing goes, not the history, not the identity.
    await page.click('#start-over-cancel')
    await page.waitForSelector('#start-over-dialog', { state: 'hidden' })
    expect(await page.evaluate(async () => await (window.__ferry as FerryDebug).exportNdjson())).toBe(expected)
    expect(await state(page)).toMatchObject({ phase: 'verified', peerId: verified.peerId })
    // Escape keeps everything too.
    await page.click('#start-over')
    await page.waitForSelector('#start-over-dialog', { state: 'visible' })
    await page.keyboard.press('Escape')
    await page.waitForSelector('#start-over-dialog', { state: 'hidden' })
    expect(await page.evaluate(async () => await (window.__ferry as FerryDebug).exportNdjson())).toBe(expected)

    // Confirmed: the page comes back empty, as another phone (a new identity); another tab of the page,
    // only browsing, says its history went, rather than fail to read it.
    const browsing = await page.context().newPage()
    await browsing.goto(pageUrl)
    await waitPhase(browsing, ['idle'], 'another tab browsing', sender)
    await page.click('#start-over')
    await page.waitForSelector('#start-over-dialog', { state: 'visible' })
    await Promise.all([page.waitForEvent('load'), page.click('#start-over-confirm')])
    const fresh = await waitPhase(page, ['idle'], 'a fresh page after forgetting', sender)
    expect(fresh.peerId).not.toBe(verified.peerId)
    expect(await page.evaluate(async () => await (window.__ferry as FerryDebug).stats())).toMatchObject({ conversations: 0, messages: 0, mediaFiles: 0 })
    await browsing.waitForFunction(() => document.getElementById('error')?.hidden === false)
    expect(await browsing.textContent('#error')).toBe('This browser\'s history was forgotten in another tab (or a newer version of this page opened it): reload this page.')
    expect(await browsing.isVisible('#start-over')).toBe(false)
  }, 180_000)

  it('is not offered while a tab receives, and another tab cannot erase what it receives', async () => {
    const dir = copyStore(await seedStore('tiny', 7))
    const sender = sendOverWebRTC(dir)
    const qr = String((await sender.waitEvent('code', 60_000)).qr)
    const { context } = await newBrowser()
    const receiving = context.pages()[0]
    await receiving.goto(`${pageUrl}#${qr}`)
    await waitPhase(receiving, ['idle'], 'idle form', sender)
    // A second tab of the page, open before the first starts receiving: it offers to forget, for now.
    const other = await context.newPage()
    await other.goto(pageUrl)
    await waitPhase(other, ['idle'], 'the other tab idle', sender)
    expect(await other.isVisible('#start-over')).toBe(true)

    await receiving.evaluate(() => { (window.__ferry as FerryDebug).pauseAt({ mediaBytes: 1 }) })
    await receiving.click('#start')
    await waitPhase(receiving, ['receiving', 'pairing'], 'paused mid-transfer', sender, { paused: true })
    // The receiving tab does not offer it.
    expect(await receiving.isVisible('#start-over')).toBe(false)
    // The other tab refuses it, saying why, without asking.
    await other.click('#start-over')
    await other.waitForFunction(() => document.getElementById('error')?.hidden === false)
    expect(await other.textContent('#error')).toBe('Ferry is receiving in another tab of this browser: nothing is forgotten while it does. Try again once that tab is done.')
    expect(await other.isVisible('#start-over-dialog')).toBe(false)
    // A tab opened now waits for the receiving one: it offers nothing, and refuses when asked all the same.
    const waiting = await context.newPage()
    await waiting.goto(pageUrl)
    await waitPhase(waiting, ['busy'], 'the third tab waiting', sender)
    expect(await waiting.isVisible('#start-over')).toBe(false)
    await waiting.evaluate(async () => { await (window.__ferry as FerryDebug).startOver() })
    expect(await waiting.textContent('#error')).toBe('Ferry is receiving in another tab of this browser: nothing is forgotten while it does. Try again once that tab is done.')
    expect(await waiting.isVisible('#start-over-dialog')).toBe(false)

    // The receiving tab carries on and holds the whole history.
    await receiving.evaluate(() => { (window.__ferry as FerryDebug).unpause() })
    const done = await waitPhase(receiving, ['verified', 'failed'], 'verified', sender)
    expect(done.error).toBeUndefined()
    expect((await sender.waitExit(30_000)).code).toBe(0)
    expect(await receiving.evaluate(async () => await (window.__ferry as FerryDebug).exportNdjson())).toBe(await ferryOk(['export', '--store', dir]))
    expect(await receiving.isVisible('#start-over')).toBe(true)
  }, 180_000)
})
