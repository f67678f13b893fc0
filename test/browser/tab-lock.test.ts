// One tab at a time receives: the cross-tab lock in a real Chromium, with two tabs of one origin. On
// a secure origin (loopback) it is the Web Locks API; on a plain-HTTP LAN origin, which has no
// navigator.locks, the lease in IndexedDB (here: a name that resolves to loopback, so not a secure
// context). A tab that lost its lease without knowing it yet has its writes refused.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { build } from 'esbuild'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { browserSha256 } from '../../scripts/build/page.js'
import { ROOT } from '../e2e/helpers/ferry-cli.js'
import { chromiumUnavailable, launchChromium, type Browser } from './chromium.js'
import { cannotRun } from '../helpers/cannot-run.js'
import type { Message } from '../../src/store/model.js'
import type { harness as Harness, HistorySpec, MediaSpec } from './idb-harness.js'

const skip = cannotRun('tab lock tests', await chromiumUnavailable())

describe.skipIf(skip)('the lock across tabs', () => {
  let browser: Browser
  let server: Server
  let bundle: string
  let port: number

  beforeAll(async () => {
    const out = await build({
      entryPoints: [`${ROOT}/test/browser/idb-harness.ts`],
      bundle: true, format: 'iife', platform: 'browser', write: false, logLevel: 'silent', absWorkingDir: ROOT, plugins: [browserSha256]
    })
    bundle = out.outputFiles[0].text
    server = createServer((_req, res) => { res.writeHead(200, { 'content-type': 'text/html' }); res.end('<!doctype html><title>lock</title>') })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    port = (server.address() as AddressInfo).port
    // ferry.test is the LAN phone's plain-HTTP origin; Chromium sends it to loopback.
    browser = await launchChromium(['--host-resolver-rules=MAP ferry.test 127.0.0.1'])
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    server?.close()
  })

  async function tab (origin: string): Promise<Page> {
    const page = await browser.context.newPage()
    await page.goto(origin)
    await page.addScriptTag({ content: bundle })
    return page
  }

  type LockResult = { kind: string, acquired: boolean, elsewhere: boolean }
  const lock = async (page: Page, opts: { ttlMs?: number, renewMs?: number } = {}): Promise<LockResult> =>
    await page.evaluate(async opts => await window.harness!.lock('lock', undefined, opts), opts)
  const unlock = async (page: Page): Promise<void> => { await page.evaluate(async () => { await window.harness!.unlock('lock') }) }
  /** Asks `page` until `done` says yes (a lock taken once its holder went or its lease expired). */
  const waitFor = async (done: () => Promise<boolean>, page: Page, within = 10_000): Promise<void> => {
    for (const end = Date.now() + within; Date.now() < end;) {
      if (await done()) return
      await page.waitForTimeout(100)
    }
    throw new Error(`the lock was not free within ${within} ms`)
  }
  /** Tries to take the lock in `page` until it does (the other holder went or its lease expired). */
  const acquireSoon = async (page: Page): Promise<void> => { await waitFor(async () => (await lock(page)).acquired, page) }

  it('uses Web Locks on a secure origin: the second tab is refused until the first lets go', async () => {
    const a = await tab(`http://127.0.0.1:${port}/`)
    const b = await tab(`http://127.0.0.1:${port}/`)
    expect(await a.evaluate(() => window.isSecureContext)).toBe(true)
    expect(await lock(a)).toEqual({ kind: 'web-locks', acquired: true, elsewhere: false })
    expect(await lock(b)).toEqual({ kind: 'web-locks', acquired: false, elsewhere: true })
    await unlock(a)
    expect(await lock(b)).toMatchObject({ acquired: true })
    // A tab that closes lets go with it (once the browser has torn it down).
    await b.close()
    await acquireSoon(a)
    await a.close()
  })

  it('falls back to a lease in IndexedDB on a plain-HTTP origin, which expires when its tab stops renewing it', async () => {
    const a = await tab(`http://ferry.test:${port}/`)
    const b = await tab(`http://ferry.test:${port}/`)
    expect(await a.evaluate(() => ({ secure: window.isSecureContext, locks: 'locks' in navigator }))).toEqual({ secure: false, locks: false })
    expect(await lock(a)).toEqual({ kind: 'lease', acquired: true, elsewhere: false })
    expect(await lock(b)).toEqual({ kind: 'lease', acquired: false, elsewhere: true })
    await unlock(a)
    expect(await lock(b, { ttlMs: 2000 })).toMatchObject({ acquired: true })
    // A closed tab's lease goes with it: at once when its release on pagehide lands, else once it expired.
    await b.close()
    await acquireSoon(a)
    await unlock(a)

    // A holder that stops renewing (a frozen tab: here one renewing far less often than its lease
    // lasts) loses it to the next tab once it expired, and learns so at its next renewal.
    const c = await tab(`http://ferry.test:${port}/`)
    expect(await lock(a, { ttlMs: 300, renewMs: 1500 })).toMatchObject({ acquired: true })
    expect(await lock(c)).toMatchObject({ acquired: false })
    await acquireSoon(c)
    await a.waitForFunction(() => (globalThis as { lockLost?: string }).lockLost !== undefined, null, { timeout: 10_000 })
    expect(await a.evaluate(() => (globalThis as { lockLost?: string }).lockLost)).toMatch(/another tab took over/)
    await a.close()
    await c.close()
  })

  /** Calls harness[fn](...args) in the page. */
  async function call<K extends keyof typeof Harness> (page: Page, fn: K, ...args: Parameters<typeof Harness[K]>): Promise<Awaited<ReturnType<typeof Harness[K]>>> {
    return await page.evaluate(async ({ fn, args }) => {
      const h = window.harness as unknown as Record<string, (...a: unknown[]) => unknown>
      return await h[fn](...args)
    }, { fn, args: args as unknown[] }) as Awaited<ReturnType<typeof Harness[K]>>
  }

  it('refuses every write of a tab that lost its lease to another tab, whose transfer then verifies', async () => {
    const a = await tab(`http://ferry.test:${port}/`)
    const b = await tab(`http://ferry.test:${port}/`)
    const video: MediaSpec = { seed: 'video', size: 300_000, mime: 'video/mp4' }
    const msg = (n: number): Message => ({ conversation: n % 2 === 0 ? 'c1' : 'c2', id: `m${String(n).padStart(4, '0')}`, sender: 'u1', ts: 1_700_000_000_000 + n * 1000, kind: 'text', text: `text ${n}` })
    const spec: HistorySpec = {
      contacts: [{ id: 'u1', name: 'Ana' }],
      conversations: [{ id: 'c1', kind: 'direct', title: 'Ana', members: ['me', 'u1'] }, { id: 'c2', kind: 'group', title: 'Both', members: ['me', 'u1'] }],
      messages: [...Array.from({ length: 700 }, (_, n) => msg(n)), { ...msg(5000), kind: 'video', media: (await call(a, 'media', video)).sha256 }],
      media: [video]
    }
    // Small frames: the history crosses many batches and media chunks, each written as it comes.
    const options = { batchBytes: 2048, chunkBytes: 8 * 1024, windowBytes: 64 * 1024 }

    // Tab A receives under a lease it renews far less often than the lease lasts (a tab whose timers the
    // browser holds back), and is held mid-transfer.
    expect(await call(a, 'lock', 'fence', undefined, { ttlMs: 300, renewMs: 600_000 })).toMatchObject({ kind: 'lease', acquired: true })
    await call(a, 'startTransfer', 'fence', 'old', spec, 30_000, options)
    // Tab B takes the lease over once it expired; A has not noticed (it has not renewed since).
    await waitFor(async () => (await call(b, 'lock', 'fence', undefined)).acquired, b)
    await call(b, 'takeOver', 'fence')
    expect(await a.evaluate(() => (globalThis as { lockLost?: string }).lockLost)).toBeUndefined()
    const taken = await call(b, 'records', 'fence')

    // A goes on: its next write is refused, which ends its hold and its transfer, with the page's words.
    const stopped = await call(a, 'resumeTransfer', 'fence')
    expect(stopped.lost).toEqual({
      code: 'STORE_BUSY',
      message: expect.stringMatching(/^another tab took over receiving/),
      words: 'Another tab of this browser took over receiving the history, so this tab stopped and writes nothing more. ' +
        'Nothing that arrived is lost: follow the transfer in the other tab, and reload this one once it is done to see the history here.'
    })
    expect(stopped.state).not.toBe('verified')
    expect(await a.evaluate(() => (globalThis as { lockLost?: string }).lockLost)).toMatch(/^another tab took over receiving/)
    // Nor does it write anything after: to the store or to the journal.
    expect(await call(a, 'tryWrites', 'fence')).toEqual({ store: expect.stringMatching(/^STORE_BUSY: another tab took over/), journal: expect.stringMatching(/^STORE_BUSY: another tab took over/) })
    // Nothing A wrote after B took the lease is in the database.
    expect(await call(b, 'records', 'fence')).toEqual(taken)

    // B carries the transfer on from what A wrote before, and it verifies.
    const done = await call(b, 'transfer', 'fence', 'old', spec, { options })
    expect(done.error).toBeUndefined()
    expect(done.state).toBe('verified')
    expect(done.messagesHeld).toBeGreaterThan(0)
    expect(await call(b, 'exportText', 'fence')).toBe(await call(b, 'sourceExport', spec))
    expect(Object.values(await call(b, 'mediaDigests', 'fence'))).toEqual([(await call(b, 'media', video)).sha256])
    expect((await call(b, 'census', 'fence')).parts).toBe(0)
    await call(b, 'unlock', 'fence')
    await a.close()
    await b.close()
  })

  it('keeps the lease of a live holder busy with a long task, however the other tab looks', async () => {
    const a = await tab(`http://ferry.test:${port}/`)
    const b = await tab(`http://ferry.test:${port}/`)
    expect(await lock(a)).toMatchObject({ kind: 'lease', acquired: true })
    // Each time, the holder's event loop is blocked, longer than a tab waits for an answer, from just
    // before the other tab asks whether the holder is alive.
    const busyWhile = async (look: 'heldElsewhere' | 'tryLock'): Promise<unknown> => {
      await a.evaluate(() => { window.harness!.blockOn('busy', 2_500) })
      return await b.evaluate(async look => {
        new BroadcastChannel('busy').postMessage('go')
        return await window.harness![look]('lock')
      }, look)
    }
    expect(await busyWhile('heldElsewhere')).toBe(true)
    expect(await busyWhile('tryLock')).toEqual({ acquired: false, foundAbandoned: false })
    // The holder never lost it: it renews it and answers for it still.
    expect(await a.evaluate(() => (globalThis as { lockLost?: string }).lockLost)).toBeUndefined()
    expect(await b.evaluate(async () => await window.harness!.heldElsewhere('lock'))).toBe(true)
    await unlock(a)
    expect(await b.evaluate(async () => await window.harness!.tryLock('lock'))).toMatchObject({ acquired: true })
    await unlock(b)
    await a.close()
    await b.close()
  })

  it('lets the next tab take over at once the lease of a tab that crashed', async () => {
    const a = await tab(`http://ferry.test:${port}/`)
    const b = await tab(`http://ferry.test:${port}/`)
    expect(await lock(a)).toMatchObject({ kind: 'lease', acquired: true })
    // No pagehide, no release: the lease stays in IndexedDB, unexpired, with no tab behind it.
    const crashed = new Promise(resolve => a.once('crash', resolve))
    void (await browser.context.newCDPSession(a)).send('Page.crash').catch(() => {})
    await crashed
    // Looking takes nothing; the first try takes it.
    expect(await b.evaluate(async () => await window.harness!.heldElsewhere('lock'))).toBe(false)
    expect(await b.evaluate(async () => await window.harness!.tryLock('lock'))).toEqual({ acquired: true, foundAbandoned: true })
    await unlock(b)
    await a.close()
    await b.close()
  })
})
