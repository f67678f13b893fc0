// The browser's ChatStore in a real Chromium: IdbChatStore bundled on its own and driven through
// page.evaluate, so its transfer bookkeeping is checked against real IndexedDB, reopened from disk.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { build } from 'esbuild'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ROOT } from '../e2e/helpers/ferry-cli.js'
import { chromiumUnavailable, launchChromium, type Browser } from './chromium.js'
import { cannotRun } from '../helpers/cannot-run.js'
import type { IdbChatStore } from '../../src/web/idb-store.js'
import type { Message } from '../../src/store/model.js'

const skip = cannotRun('the IndexedDB store tests', await chromiumUnavailable())

declare global {
  interface Window { IdbChatStore?: typeof IdbChatStore }
}

describe.skipIf(skip)('IdbChatStore in Chromium', () => {
  let browser: Browser
  let server: Server
  let bundle: string

  beforeAll(async () => {
    const out = await build({
      stdin: { contents: "import { IdbChatStore } from './src/web/idb-store.ts'; window.IdbChatStore = IdbChatStore", resolveDir: ROOT, loader: 'ts' },
      bundle: true, format: 'iife', platform: 'browser', write: false, logLevel: 'silent', absWorkingDir: ROOT
    })
    bundle = out.outputFiles[0].text
    // IndexedDB wants a real origin: an empty page on loopback.
    server = createServer((_req, res) => { res.writeHead(200, { 'content-type': 'text/html' }); res.end('<!doctype html><title>idb</title>') })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    browser = await launchChromium()
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    server?.close()
  })

  it('undoes a refused transfer (deletes its rows, puts back what it overwrote) and keeps that across a reopen', async () => {
    const page = await browser.context.newPage()
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)
    await page.addScriptTag({ content: bundle })
    const m = (id: string, text: string): Message => ({ conversation: 'c1', id, sender: 'u1', ts: Number(id.slice(1)) * 1000, kind: 'text', text })

    const result = await page.evaluate(async ({ earlierRows, forged }) => {
      const Store = window.IdbChatStore as typeof IdbChatStore
      const texts = (s: IdbChatStore): string[] => [...s.messages()].map(x => `${x.id}:${x.text ?? ''}`)
      const key = (m: { id: string }): { conversation: string, ts: number, id: string } => ({ conversation: 'c1', ts: Number(m.id.slice(1)) * 1000, id: m.id })
      let s = await Store.open('undo-test')
      const earlier = s.openTransfer(new Uint8Array(16).fill(1), 'earlier', {})
      s.commitBatch(earlier.transfer, earlierRows, key(earlierRows[1]))
      s.finishTransfer(earlier.transfer)
      const cp = s.openTransfer(new Uint8Array(16).fill(2), 'liar', {})
      s.commitBatch(cp.transfer, forged.slice(0, 2), key(forged[1]))
      s.commitBatch(cp.transfer, forged, key(forged[2])) // a re-send after a resume
      const during = texts(s)
      s.resetTransfer(cp.transfer)
      const afterReset = texts(s)
      await s.flush()
      s.close()
      s = await Store.open('undo-test')
      const reopened = texts(s)
      const checkpoint = s.openTransfer(new Uint8Array(16).fill(2), 'liar', {})
      // An honest re-run, verified: the overwrite stands, and a reset takes nothing verified back.
      s.commitBatch(checkpoint.transfer, forged, key(forged[2]))
      s.finishTransfer(checkpoint.transfer)
      s.resetTransfer(checkpoint.transfer)
      const afterVerified = texts(s)
      await s.flush()
      s.close()
      return { during, afterReset, reopened, checkpoint, afterVerified }
    }, { earlierRows: [m('m1', 'kept'), m('m2', 'kept too')], forged: [m('m1', 'forged'), m('m2', 'forged'), m('m3', 'forged')] })

    expect(result.during).toEqual(['m1:forged', 'm2:forged', 'm3:forged'])
    expect(result.afterReset).toEqual(['m1:kept', 'm2:kept too'])
    expect(result.reopened).toEqual(['m1:kept', 'm2:kept too'])
    expect(result.checkpoint).toMatchObject({ messages: 0, state: 'receiving' })
    expect(result.checkpoint.cursor).toBeUndefined()
    expect(result.afterVerified).toEqual(['m1:forged', 'm2:forged', 'm3:forged'])
    await page.close()
  }, 120_000)
})
