// Where a resumed offer serves the browser phone's page: on the port it had when the new phone paired
// (the browser keeps the transfer in storage that belongs to that origin), unless another process holds
// that port when the page server binds it. Real sockets on loopback; the page as built.
import { createServer, type Server } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { ErrorCode } from '../../src/errors.js'
import { NodeJournal } from '../../src/journal/node-journal.js'
import { rememberPagePort, serveKeptPage } from '../../src/net/page-port.js'
import { servePage, type PageServer } from '../../src/net/page-server.js'
import { cleanupTempDirs, tempDir } from '../helpers/stores.js'

const PEER = '12D3KooWLaLfU1s167ed5reXyARg2naxczkmafTs7f1C4evZiwxo'
const HOST = '127.0.0.1'

const toClose: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const close of toClose.splice(0).reverse()) await close()
  cleanupTempDirs()
})

function journal (): NodeJournal {
  const j = NodeJournal.open(tempDir('page-port-'))
  toClose.push(async () => { await j.close() })
  return j
}

function closing (page: PageServer): PageServer {
  toClose.push(async () => await page.close())
  return page
}

/** A port the system handed out and let go again: free, as the page's was once the old phone stopped. */
async function freedPort (): Promise<number> {
  const page = await servePage({ host: HOST, port: 0 })
  await page.close()
  return page.port
}

/** Another process's socket holding `port`. */
async function squat (port: number): Promise<void> {
  const server: Server = createServer()
  await new Promise<void>(resolve => server.listen(port, HOST, resolve))
  toClose.push(async () => await new Promise<void>(resolve => server.close(() => resolve())))
}

describe('the page a resumed offer serves', () => {
  it('is on the port it had when its phone paired, while that port is free', async () => {
    const j = journal()
    const port = await freedPort()
    await rememberPagePort(j, { peer: PEER, host: HOST, port })
    const { page, movedFrom } = await serveKeptPage(j, { peer: PEER, host: HOST, given: 0, addrs: [] })
    closing(page)
    expect(page.port).toBe(port)
    expect(movedFrom).toBeUndefined()
  })

  it('is on another free port, said to have moved, when another process holds that port as the server binds', async () => {
    const j = journal()
    const port = await freedPort()
    await rememberPagePort(j, { peer: PEER, host: HOST, port })
    await squat(port)
    const { page, movedFrom } = await serveKeptPage(j, { peer: PEER, host: HOST, given: 0, addrs: [] })
    closing(page)
    expect(page.port).not.toBe(port)
    expect(movedFrom).toBe(port)
    expect((await fetch(page.url)).status).toBe(200)
  })

  it('is where it would be without one for another phone, or for a port the caller gave', async () => {
    const j = journal()
    const port = await freedPort()
    await rememberPagePort(j, { peer: PEER, host: HOST, port })
    const other = await serveKeptPage(j, { peer: '12D3KooWDGUB7MY3nZETu7eLYy1LtbvBwDDSXrCHE4HUBe3mxASX', host: HOST, given: 0, addrs: [] })
    closing(other.page)
    expect(other.page.port).not.toBe(port)
    expect(other.movedFrom).toBeUndefined()
    const given = await freedPort()
    const fixed = await serveKeptPage(j, { peer: PEER, host: HOST, given, addrs: [] })
    closing(fixed.page)
    expect(fixed.page.port).toBe(given)
    expect(fixed.movedFrom).toBeUndefined()
  })
})

describe('the page server given a kept port', () => {
  it('binds it when free, and otherwise the port it was given: no probe beforehand leaves a gap', async () => {
    const free = await freedPort()
    expect(closing(await servePage({ host: HOST, port: 0, keptPort: free })).port).toBe(free)
    const held = await freedPort()
    await squat(held)
    const given = await freedPort()
    expect(closing(await servePage({ host: HOST, port: given, keptPort: held })).port).toBe(given)
  })

  it('says what is wrong when the kept port fails for another reason than being taken, rather than moving', async () => {
    await expect(servePage({ host: '192.0.2.1', port: 0, keptPort: await freedPort() }))
      .rejects.toMatchObject({ code: ErrorCode.BAD_INPUT, message: '192.0.2.1 is not an address of this phone: cannot serve the browser phone there' })
  })
})
