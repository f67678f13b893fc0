// A web app of someone else's, built from the package alone: docs/browser-app.md's app, as a reader
// saves it, imports only 'chat-ferry' and 'chat-ferry/web', resolved as an app's install resolves them
// (node_modules/chat-ferry holding this package, its dist/ and its package.json "exports"), bundled with
// esbuild for the browser, served from a plain HTTP server of the test's, and run in real Chromium. It
// receives from a real `ferry send --transport webrtc` on loopback, verified, and after a reload shows
// what IndexedDB kept.
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join, relative, resolve } from 'node:path'
import { build } from 'esbuild'
import { afterAll, describe, expect, it } from 'vitest'
import { SqliteChatStore } from '../../src/store/sqlite-store.js'
import { cleanupTempDirs, killAll, ROOT, seedStore, spawnFerry, tempDir } from '../e2e/helpers/ferry-cli.js'
import { cannotRun } from '../helpers/cannot-run.js'
import { chromiumUnavailable, launchChromium, type Browser } from './chromium.js'

const skip = cannotRun('the web app test', await chromiumUnavailable())
const NAME = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string }).name

/** The first block in `lang` after the heading `## The app` of docs/browser-app.md ('' when there is none). */
function docBlock (lang: string): string {
  const doc = readFileSync(join(ROOT, 'docs', 'browser-app.md'), 'utf8')
  const at = doc.indexOf('\n## The app')
  return at < 0 ? '' : new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(doc.slice(at))?.[1] ?? ''
}

/** A folder that serves `dir`'s index.html and app.js, on loopback. */
async function serve (dir: string): Promise<{ url: string, server: Server }> {
  const types: Record<string, string> = { 'index.html': 'text/html; charset=utf-8', 'app.js': 'text/javascript; charset=utf-8' }
  const server = createServer((req, res) => {
    const name = new URL(req.url ?? '/', 'http://x').pathname.slice(1) || 'index.html'
    const type = types[name]
    if (type === undefined) {
      res.writeHead(404).end()
      return
    }
    res.writeHead(200, { 'content-type': type }).end(readFileSync(join(dir, name)))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server }
}

/** What a store holds, as the app lists it: "title: messages" per chat, in the store's order. */
async function chatsOf (dir: string): Promise<string> {
  const store = SqliteChatStore.open(dir)
  try {
    return (await store.conversations()).map(c => `${c.conversation.title}: ${c.messages}`).join('\n')
  } finally {
    store.close()
  }
}

describe.skipIf(skip)('a web app embedding Ferry from the package', () => {
  let browser: Browser | undefined
  let server: Server | undefined

  afterAll(async () => {
    await browser?.close()
    await new Promise(resolve => server?.close(resolve) ?? resolve(undefined))
    await killAll()
    cleanupTempDirs()
  })

  it('bundles from the public exports, receives over webrtc-direct into IndexedDB, and keeps it over a reload', async () => {
    // The app as installed: its own folder, the package under node_modules by its name (the package's
    // dependencies, and @libp2p/webrtc the app installs beside it, found from there).
    const app = tempDir('ferry-web-app-')
    mkdirSync(join(app, 'node_modules'))
    symlinkSync(ROOT, join(app, 'node_modules', NAME))
    expect(docBlock('js'), 'docs/browser-app.md has a js block under ## The app').not.toBe('')
    writeFileSync(join(app, 'app.js'), docBlock('js'))
    const out = join(app, 'public')
    mkdirSync(out)
    writeFileSync(join(out, 'index.html'), docBlock('html'))
    const bundle = await build({
      entryPoints: [join(app, 'app.js')], outfile: join(out, 'app.js'), bundle: true, platform: 'browser', format: 'esm',
      target: ['chrome110'], metafile: true, logLevel: 'silent', absWorkingDir: app
    })
    // Through the package's exports to its build, never its sources; the browser's sha256, not Node's.
    // (esbuild names the package's files by their real path, this repository's.)
    const inputs = Object.keys(bundle.metafile.inputs).map(i => relative(ROOT, resolve(app, i)))
    expect(inputs).toContain('dist/web.js')
    expect(inputs).toContain('dist/protocol/sha256-browser.js')
    expect(inputs.filter(i => /^src\/|^dist\/node\.js$|\/protocol\/sha256\.js$|better-sqlite3/.test(i))).toEqual([])
    const served = await serve(out)
    server = served.server

    const oldPhone = await seedStore('tiny', 11)
    const expected = await chatsOf(oldPhone)
    const messages = expected.split('\n').reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0)
    expect(messages).toBeGreaterThan(0)
    const sender = spawnFerry(['send', '--store', oldPhone, '--transport', 'webrtc', '--no-mdns', '--listen', '/ip4/127.0.0.1/udp/0/webrtc-direct', '--json'], { name: 'sender' })
    const qr = String((await sender.waitEvent('code', 60_000)).qr)
    expect(qr).toMatch(/webrtc-direct/)

    browser = await launchChromium()
    const page = browser.context.pages()[0] ?? await browser.context.newPage()
    const logs: string[] = []
    page.on('console', m => { logs.push(`${m.type()}: ${m.text()}`) })
    page.on('pageerror', e => { logs.push(`pageerror: ${e.message}`) })
    const read = async (): Promise<{ status: string, chats: string }> =>
      await page.evaluate(() => ({ status: document.getElementById('status')?.textContent ?? '', chats: document.getElementById('chats')?.textContent ?? '' }))
    // The app lists the chats last, in one write: once the list is there, the page is done.
    const shown = async (): Promise<{ status: string, chats: string }> => {
      await page.waitForFunction(() => (document.getElementById('chats')?.textContent ?? '') !== '', undefined, { timeout: 90_000 })
        .catch(async err => { throw new Error(`${(err as Error).message}\nthe page shows: ${JSON.stringify(await read())}\n${logs.join('\n')}\n${sender.describe()}`) })
      return await read()
    }

    await page.goto(`${served.url}#${qr}`)
    const received = await shown()
    expect(received.status, logs.join('\n')).toBe(`Verified: ${messages} messages in ${expected.split('\n').length} chats.`)
    expect(received.chats).toBe(expected)
    // The old phone heard that everything arrived and is verified, and ended as after any transfer.
    expect((await sender.waitExit(30_000)).code, sender.describe()).toBe(0)
    expect(sender.all('verified'), sender.describe()).toHaveLength(1)

    // A reload (no link now): what the app lists comes from IndexedDB alone.
    await page.goto(served.url)
    const reloaded = await shown()
    expect(reloaded.status).toBe('Held in this browser:')
    expect(reloaded.chats).toBe(expected)
  }, 240_000)
})
