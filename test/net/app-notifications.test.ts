// Functions an app hands Ferry outside a transfer: a discovery responder's `answer`, a page server's
// `onConnectionClosed`, discoverPeer's `accept`. Ferry calls them from a socket's listener or a libp2p
// event, where a throw escaped as an uncaught exception and ended the app's process (vitest fails a
// run on one). Now a notification's failure is logged and Ferry goes on; one whose answer Ferry needs
// either goes unanswered (the responder) or ends what asked it, naming it (discoverPeer). Real sockets
// and a real libp2p node on loopback.
import { writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { randomInt } from 'node:crypto'
import { enable } from '@libp2p/logger'
import { afterEach, describe, expect, it } from 'vitest'
import { ErrorCode } from '../../src/errors.js'
import { discoverPeer } from '../../src/net/node.js'
import { servePage } from '../../src/net/page-server.js'
import { probe, startResponder } from '../../src/net/probe.js'
import { rawNode } from '../e2e/helpers/raw-peer.js'
import { failure } from '../helpers/failure.js'
import { loggedPhones } from '../helpers/logged-phones.js'
import { rawGet } from '../helpers/raw-http.js'
import { stoppedAfterEach } from '../helpers/stopped.js'
import { tempDir } from '../helpers/stores.js'
import { until } from '../helpers/until.js'

describe('an app function Ferry calls outside a transfer', () => {
  const { captureStderr, stopCapture } = loggedPhones([])
  const { nodes } = stoppedAfterEach()
  const cleanup: Array<() => Promise<void>> = []
  afterEach(async () => { for (const f of cleanup.splice(0)) await f() })

  it('a responder whose answer throws leaves that probe unanswered, logs why, and answers the next', async () => {
    enable('ferry:probe:error')
    const lines = captureStderr()
    const host = `127.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(2, 254)}`
    const base = randomInt(20_000, 30_000)
    const known = await rawNode()
    nodes.push(known)
    const peer = known.peerId.toString()
    let ready = false
    const r = await startResponder({
      nameplate: '551',
      host,
      ports: [base, base + 1, base + 2],
      answer: () => {
        if (!ready) throw new TypeError('cannot read properties of undefined (reading \'addresses\')')
        return { peer, addrs: [`/ip4/${host}/tcp/4001/p2p/${peer}`] }
      }
    })
    if (r === undefined) throw new Error('no port free')
    cleanup.push(async () => { await r.close() })
    const first = await probe(host, r.port, '551')
    expect(first.kind).not.toBe('match')
    ready = true
    await expect(probe(host, r.port, '551')).resolves.toMatchObject({ kind: 'match', answer: { peer } })
    stopCapture()
    expect(lines.some(l => /ferry:probe:error probe from \S+ not answered: the app's answer threw: cannot read properties of undefined \(reading 'addresses'\)/.test(l))).toBe(true)
  })

  it('a page server whose onConnectionClosed throws logs it and goes on serving', async () => {
    enable('ferry:page-server:error')
    const lines = captureStderr()
    const dir = tempDir('ferry-page-notify-')
    writeFileSync(join(dir, 'index.html'), '<!doctype html><html><head></head><body></body></html>')
    writeFileSync(join(dir, 'app.js'), 'console.log("page")\n')
    const closed: string[] = []
    const page = await servePage({
      host: '127.0.0.1',
      port: 0,
      dir,
      connectionLimits: { maxPerAddress: 1 },
      onConnectionClosed: reason => { closed.push(reason); throw new Error('the flood chart is not mounted') }
    })
    cleanup.push(async () => { await page.close() })
    // A second connection from one address pushes out the first: the policy tells the app, whose
    // function throws from the server's own connection listener.
    const idle = connect({ port: page.port, host: '127.0.0.1', localAddress: '127.0.0.2' })
    idle.on('error', () => {})
    await new Promise(resolve => idle.on('connect', resolve))
    const pushed = new Promise(resolve => idle.on('close', resolve))
    const second = connect({ port: page.port, host: '127.0.0.1', localAddress: '127.0.0.2' })
    second.on('error', () => {})
    cleanup.push(async () => { second.destroy() })
    await pushed
    await until('the server to tell the app', () => closed.includes('address-full'))
    expect((await rawGet(page.port, '/')).status).toBe(200)
    stopCapture()
    expect(lines.some(l => l.includes('ferry:page-server:error the app\'s onConnectionClosed threw: the flood chart is not mounted (ignored: Ferry goes on)'))).toBe(true)
  })

  it('a discoverPeer whose accept throws rejects with CANCELLED naming it, at once', async () => {
    const node = await rawNode()
    const other = await rawNode()
    nodes.push(node, other)
    // A peer already known counts: accept is asked of it as the discovery starts.
    await node.peerStore.merge(other.peerId, { multiaddrs: other.getMultiaddrs() })
    const bug = new TypeError('qr.peer is undefined')
    const err = await failure(discoverPeer(node, { timeout: 60_000, accept: () => { throw bug } }))
    expect(err.code).toBe(ErrorCode.CANCELLED)
    expect(err.message).toBe('the app\'s accept threw: qr.peer is undefined')
    expect(err.cause).toBe(bug)
  })
})
