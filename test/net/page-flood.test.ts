// The page server (ferry send --web) against a neighbour that opens TCP connections and sends nothing,
// redialling whenever one is closed: the browser that asks for the page must still get it. Real sockets
// on loopback; the neighbour's connections come from other loopback addresses (127.0.0.2, ...), as a
// neighbour's would from its own. The policy on its own: page-slots.test.ts.
import { connect, type Socket } from 'node:net'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { servePage, type PageServer } from '../../src/net/page-server.js'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'
import { rawGet as get } from '../helpers/raw-http.js'

function fixturePage (app: string | Buffer = 'console.log("page")\n'): string {
  const dir = tempDir('ferry-page-flood-')
  writeFileSync(join(dir, 'index.html'), '<!doctype html><html><head></head><body><script type="module" src="app.js"></script></body></html>')
  writeFileSync(join(dir, 'app.js'), app)
  return dir
}

/**
 * Keeps `each` idle connections open from every address of `from`, opening a new one whenever one is
 * closed. Resolves `turned` once the server has closed `closes` of them: it is full and turning them over.
 */
function flood (port: number, from: string[], each: number, closes: number): { turned: Promise<void>, stop: () => void } {
  let stopped = false
  let closed = 0
  const open = new Set<Socket>()
  let turned!: () => void
  const done = new Promise<void>(resolve => { turned = resolve })
  const hold = (localAddress: string): void => {
    if (stopped) return
    const c = connect({ port, host: '127.0.0.1', localAddress })
    open.add(c)
    c.on('error', () => {})
    c.on('end', () => { c.destroy() })
    c.on('close', () => {
      open.delete(c)
      if (++closed === closes) turned()
      setImmediate(() => { hold(localAddress) })
    })
  }
  for (const a of from) for (let i = 0; i < each; i++) hold(a)
  return { turned: done, stop: () => { stopped = true; for (const c of open) c.destroy() } }
}

async function fetchPage (page: PageServer): Promise<void> {
  for (let i = 0; i < 10; i++) {
    expect((await get(page.port, '/')).status).toBe(200)
    expect((await get(page.port, '/app.js')).body).toBe('console.log("page")\n')
  }
}

describe('the page server under a flood of idle connections', () => {
  afterAll(() => { cleanupTempDirs() })

  // One host that holds every connection it may and redials at once; ten that fill the server between them.
  it.each<[string, string[], number]>([
    ['one host holding every connection it can, redialling', ['127.0.0.2'], 40],
    ['many hosts that fill the server between them', Array.from({ length: 10 }, (_, i) => `127.0.0.${i + 2}`), 6]
  ])('%s: a browser still loads the page', async (_who, hosts, each) => {
    const page = await servePage({ host: '127.0.0.1', port: 0, dir: fixturePage() })
    const attack = flood(page.port, hosts, each, 40)
    try {
      await attack.turned
      await fetchPage(page)
    } finally {
      attack.stop()
      await page.close()
    }
  }, 30_000)

  it('cuts a connection that asks for nothing, or never finishes asking', async () => {
    const page = await servePage({ host: '127.0.0.1', port: 0, dir: fixturePage() })
    try {
      const silent = connect({ port: page.port, host: '127.0.0.1', localAddress: '127.0.0.2' })
      const slow = connect({ port: page.port, host: '127.0.0.1', localAddress: '127.0.0.3' })
      slow.on('connect', () => { slow.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${page.port}\r\n`) })
      // Each is closed by the server (not by this test, which never ends them): 'close' is the proof.
      await Promise.all([silent, slow].map(async c => { await new Promise(resolve => { c.on('error', () => {}); c.on('close', resolve) }) }))
      expect((await get(page.port, '/')).status).toBe(200)
    } finally {
      await page.close()
    }
  }, 20_000)

  it('cuts a connection that asks for the page and never reads it, making room for the browser', async () => {
    // Larger than what the kernels here buffer on both ends (tcp_rmem's ceiling is 32 MiB): an answer
    // no one reads stops moving.
    const app = Buffer.alloc(64 * 1024 * 1024, '/')
    let stalled = 0
    let allStalled!: () => void
    const cut = new Promise<void>(resolve => { allStalled = resolve })
    const page = await servePage({
      host: '127.0.0.1',
      port: 0,
      dir: fixturePage(app),
      connectionLimits: { answerStallMs: 1000 },
      onConnectionClosed: reason => { if (reason === 'answer-stalled' && ++stalled === 6) allStalled() }
    })
    const readers = Array.from({ length: 6 }, () => {
      const c = connect({ port: page.port, host: '127.0.0.1', localAddress: '127.0.0.2' })
      c.on('connect', () => { c.write(`GET /app.js HTTP/1.1\r\nHost: 127.0.0.1:${page.port}\r\n\r\n`); c.pause() })
      c.on('error', () => {})
      return c
    })
    try {
      // One host holds every connection it may, each asking for app.js and reading none of it: each is
      // cut (a paused socket would not see it), and a browser on that host gets the whole page.
      await cut
      const { status, body } = await get(page.port, '/app.js', undefined, '127.0.0.2')
      expect(status).toBe(200)
      expect(body.length).toBe(app.length)
    } finally {
      for (const c of readers) c.destroy()
      await page.close()
    }
  }, 30_000)
})
