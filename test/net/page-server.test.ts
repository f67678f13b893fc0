// The old phone's page server (ferry send --web; createFerry's send({ web })) on loopback: which files it
// hands out, and that it lives exactly as long as the offer. The namespace test
// (test/e2e/netns-web.test.ts) runs it on a LAN address with a real browser.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createFerry } from '../../src/create-ferry.js'
import { ErrorCode, isFerryError } from '../../src/errors.js'
import { generateCode, parseQrPayload } from '../../src/pairing/index.js'
import { pageHost, servePage, SERVED_BY_SENDER } from '../../src/net/page-server.js'
import { cleanupTempDirs, fillStore, tempDir } from '../helpers/stores.js'
import { rawGet as get } from '../helpers/raw-http.js'
import { steadyPort } from '../helpers/steady-port.js'

/** A page of our own making: what the server may serve, and files beside it that it must not. */
function fixturePage (): string {
  const dir = tempDir('ferry-page-')
  writeFileSync(join(dir, 'index.html'), '<!doctype html><html><head><title>t</title></head><body><script type="module" src="app.js"></script></body></html>')
  writeFileSync(join(dir, 'app.js'), 'console.log("page")\n//# sourceMappingURL=app.js.map\n')
  writeFileSync(join(dir, 'app.js.map'), '{"sources":["../../src/web/main.ts"]}')
  writeFileSync(join(dir, 'notes.txt'), 'not part of the page')
  mkdirSync(join(dir, 'sub'))
  writeFileSync(join(dir, 'sub', 'x.js'), 'nested')
  return dir
}

describe('the page server', () => {
  afterAll(() => { cleanupTempDirs() })

  it('serves the page\'s files by their exact paths and nothing else, until closed', async () => {
    const page = await servePage({ host: '127.0.0.1', port: 0, dir: fixturePage() })
    expect(page.url).toBe(`http://127.0.0.1:${page.port}/`)
    const index = await get(page.port, '/')
    expect(index.status).toBe(200)
    expect(index.type).toBe('text/html; charset=utf-8')
    expect(index.body).toContain(SERVED_BY_SENDER)
    expect(index.body).toContain('<script type="module" src="app.js">')
    expect((await get(page.port, '/app.js')).type).toBe('text/javascript; charset=utf-8')
    // localhost is another origin to a browser, with another (empty) IndexedDB: sent on to the page's own.
    expect(await get(page.port, '/?peer=x', `localhost:${page.port}`)).toMatchObject({ status: 301, location: `http://127.0.0.1:${page.port}/?peer=x` })
    expect(await get(page.port, '/app.js', `LOCALHOST:${page.port}`)).toMatchObject({ status: 301, location: `http://127.0.0.1:${page.port}/app.js` })
    expect((await get(page.port, '/', `localhost:${page.port + 1}`)).status).toBe(421)
    for (const path of ['/app.js.map', '/notes.txt', '/sub/x.js', '/sub', '/../index.html', '/%2e%2e/app.js', '/index.html%00', '/App.js']) {
      expect(`${path} ${(await get(page.port, path)).status}`).toBe(`${path} 404`)
    }
    expect((await get(page.port, '/', `attacker.example:${page.port}`)).status).toBe(421)
    expect(page.urlFor('ferry://pair?v=1')).toBe(`${page.url}#ferry://pair?v=1`)
    await page.close()
  })

  it('writes the old phone\'s webrtc-direct addresses into the page, never anything else of the offer', async () => {
    const peer = '12D3KooWLaLfU1s167ed5reXyARg2naxczkmafTs7f1C4evZiwxo'
    const rtc = `/ip4/10.1.2.3/udp/4002/webrtc-direct/certhash/uEiAodOoJiTNunpRnehFe1J2yDVkjyphxs4J_tfZr8OruJg/p2p/${peer}`
    const page = await servePage({ host: '127.0.0.1', port: 0, dir: fixturePage(), addrs: [`/ip4/10.1.2.3/tcp/4001/p2p/${peer}`, rtc, '/dns4/"><script>x</script>/udp/1/webrtc-direct'] })
    const html = (await get(page.port, '/')).body
    expect(html).toContain(`<meta name="ferry-sender" content="${rtc}">`)
    expect(html).not.toContain('/tcp/4001')
    expect(html).not.toContain('<script>x')
    expect(html).toContain('content="/dns4/&quot;&gt;&lt;script&gt;x&lt;/script&gt;/udp/1/webrtc-direct"')
    await page.close()
    await expect(get(page.port, '/')).rejects.toMatchObject({ code: 'ECONNREFUSED' })
  })

  it('says so when the page is not built, or the address is not this machine\'s', async () => {
    await expect(servePage({ host: '127.0.0.1', port: 0, dir: tempDir('ferry-empty-') })).rejects.toMatchObject({ code: ErrorCode.INTERNAL, message: expect.stringMatching(/not built.*npm run build/) })
    await expect(servePage({ host: '192.0.2.1', port: 0, dir: fixturePage() })).rejects.toMatchObject({ code: ErrorCode.BAD_INPUT, message: expect.stringMatching(/not an address of this phone/) })
    const taken = await servePage({ host: '127.0.0.1', port: 0, dir: fixturePage() })
    await expect(servePage({ host: '127.0.0.1', port: taken.port, dir: fixturePage() })).rejects.toMatchObject({ code: ErrorCode.BAD_INPUT, message: expect.stringMatching(/--web-port/) })
    await taken.close()
  })

  it('serves the page as built for ferry web: not marked as the sender\'s, and names --port when it is taken', async () => {
    const dir = fixturePage()
    const page = await servePage({ host: '127.0.0.1', port: 0, dir, servedBySender: false, portOption: '--port' })
    const index = await get(page.port, '/')
    expect(index.status).toBe(200)
    expect(index.body).not.toContain(SERVED_BY_SENDER)
    expect(index.body).toBe('<!doctype html><html><head><title>t</title></head><body><script type="module" src="app.js"></script></body></html>')
    expect((await get(page.port, '/%E0%A4%A')).status).toBe(404)
    expect((await get(page.port, '/app.js.map')).status).toBe(404)
    const withMaps = await servePage({ host: '127.0.0.1', port: 0, dir, servedBySender: false, sourceMaps: true })
    expect(await get(withMaps.port, '/app.js.map')).toMatchObject({ status: 200, type: 'application/json' })
    expect((await get(withMaps.port, '/notes.txt')).status).toBe(404)
    await withMaps.close()
    await expect(servePage({ host: '127.0.0.1', port: page.port, dir, servedBySender: false, portOption: '--port' })).rejects.toMatchObject({ code: ErrorCode.BAD_INPUT, message: expect.stringMatching(/pick another with --port$/) })
    await page.close()
  })

  it('picks the address a browser can dial: the best webrtc-direct one', () => {
    const peer = '12D3KooWLaLfU1s167ed5reXyARg2naxczkmafTs7f1C4evZiwxo'
    const rtc = (ip: string): string => `/ip4/${ip}/udp/4002/webrtc-direct/certhash/uEiAodOoJiTNunpRnehFe1J2yDVkjyphxs4J_tfZr8OruJg/p2p/${peer}`
    expect(pageHost([`/ip4/192.168.1.20/tcp/4001/p2p/${peer}`, rtc('192.168.1.21'), rtc('10.0.0.2')])).toBe('192.168.1.21')
    expect(() => pageHost([`/ip4/192.168.1.20/tcp/4001/p2p/${peer}`])).toThrow(/only over WebRTC/)
  })

  it('createFerry serves the page while send({ web }) is open, with the pairing in the link', async () => {
    const dir = tempDir('ferry-web-send-')
    const phone = await createFerry(dir, { transport: 'webrtc', listen: ['/ip4/127.0.0.1/udp/0/webrtc-direct'], mdns: false })
    try {
      const code = generateCode()
      const abort = new AbortController()
      let served: { link: string, url: string } | undefined
      const sent = phone.send({ code, signal: abort.signal, web: { port: 0, onServing: p => { served = p } } })
      await expect.poll(() => served, { timeout: 10_000 }).toBeDefined()
      const link = new URL(served!.link)
      expect(`${link.origin}/`).toBe(served!.url)
      const qr = parseQrPayload(decodeURIComponent(link.hash.slice(1)))
      expect(qr.peerId).toBe(phone.node.peerId.toString())
      expect(qr.code).toEqual(code)
      expect(qr.addrs.every(a => a.includes('/webrtc-direct/'))).toBe(true)
      expect((await get(Number(link.port), '/')).body).toContain(SERVED_BY_SENDER)
      // The offer ends (here: cancelled): so does the page.
      abort.abort()
      await expect(sent).rejects.toMatchObject({ code: ErrorCode.CANCELLED })
      await expect(get(Number(link.port), '/')).rejects.toMatchObject({ code: 'ECONNREFUSED' })
    } finally {
      await phone.stop()
    }
  })

  it('an onServing that rejects ends the offer with CANCELLED naming it, and the page with it', async () => {
    const phone = await createFerry(tempDir('ferry-web-serving-'), { transport: 'webrtc', listen: ['/ip4/127.0.0.1/udp/0/webrtc-direct'], mdns: false })
    try {
      let served: { url: string } | undefined
      const bug = new Error('the QR view is not mounted')
      const sent = phone.send({ code: generateCode(), web: { port: 0, onServing: async p => { served = p; throw bug } } })
      await expect(sent).rejects.toSatisfy(e => isFerryError(e, ErrorCode.CANCELLED) && /web\.onServing handler rejected: the QR view is not mounted/.test(e.message) && e.cause === bug)
      await expect(get(Number(new URL(served!.url).port), '/')).rejects.toMatchObject({ code: 'ECONNREFUSED' })
    } finally {
      await phone.stop()
    }
  })

  it('createFerry, resuming a pairing made while the page was served, serves it on the port it had', async () => {
    // The browser phone's storage belongs to the page's origin: served elsewhere after a restart, it
    // would start the history from nothing. A Node phone over WebRTC stands in for the browser here.
    const dir = tempDir('ferry-web-resume-')
    const listen = ['/ip4/127.0.0.1/udp/0/webrtc-direct']
    const old = await createFerry(dir, { transport: 'webrtc', listen, mdns: false })
    const phone = await createFerry(tempDir('ferry-web-new-'), { transport: 'webrtc', listen: [], mdns: false })
    let first: URL | undefined
    try {
      await fillStore(old.store, { conversations: 2, messagesPerConversation: 50, mediaSizes: [] })
      const offer = new AbortController()
      let served: { link: string } | undefined
      // The page's port is let go and bound again: one no other test's connection can take meanwhile.
      let oldPaired: () => void = () => {}
      const pairedThere = new Promise<void>(resolve => { oldPaired = resolve })
      const sent = old.send({ code: generateCode(), signal: offer.signal, onEvent: e => { if (e.type === 'paired') oldPaired() }, web: { port: await steadyPort(), onServing: p => { served = p } } })
      sent.catch(() => {})
      await expect.poll(() => served, { timeout: 10_000 }).toBeDefined()
      first = new URL(served!.link)
      const qr = parseQrPayload(decodeURIComponent(first.hash.slice(1)))
      // The new phone pairs, then goes before the history is through (a reload, a tab closed).
      const away = new AbortController()
      await expect(phone.receive({ addrs: qr.addrs, code: qr.code, qrKey: qr.key, signal: away.signal, onEvent: e => { if (e.type === 'paired') away.abort() } }))
        .rejects.toMatchObject({ code: ErrorCode.CANCELLED })
      // The old phone stopped once it too knows the pairing (the new phone can know it first): stopped
      // before, it has no pairing to resume, and serves the page anywhere.
      await pairedThere
      offer.abort()
      await expect(sent).rejects.toBeDefined()
    } finally {
      await old.stop()
      await phone.stop()
    }
    const again = await createFerry(dir, { transport: 'webrtc', listen, mdns: false })
    try {
      const offer = new AbortController()
      let served: { url: string } | undefined
      const sent = again.send({ signal: offer.signal, web: { port: 0, onServing: p => { served = p } } })
      sent.catch(() => {})
      await expect.poll(() => served, { timeout: 10_000 }).toBeDefined()
      expect(new URL(served!.url).origin).toBe(first.origin)
      offer.abort()
      await expect(sent).rejects.toBeDefined()
    } finally {
      await again.stop()
    }
  })

  it('refuses send({ web }) on a phone a browser cannot dial (TCP only)', async () => {
    const phone = await createFerry(tempDir('ferry-web-tcp-'), { listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false })
    try {
      await expect(phone.send({ code: generateCode(), web: { port: 0 } })).rejects.toMatchObject({ code: ErrorCode.BAD_INPUT })
    } finally {
      await phone.stop()
    }
  })
})
