import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PeerProcess } from '../e2e/helpers/peer-process.js'

// Two Ferry nodes in two processes on loopback (mDNS off: this is the machine's root namespace).
describe('two processes on loopback', () => {
  let dir: string
  let a: PeerProcess
  let b: PeerProcess
  let bAddr: string

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-2p-'))
    a = PeerProcess.start('A', { dir: join(dir, 'a'), listen: ['/ip4/127.0.0.1/tcp/0'] })
    b = PeerProcess.start('B', { dir: join(dir, 'b'), listen: ['/ip4/127.0.0.1/tcp/0'] })
    await a.waitFor('ready', e => e.ev === 'ready', 30_000)
    const ready = await b.waitFor('ready', e => e.ev === 'ready', 30_000)
    bAddr = (ready.addrs as string[])[0]
  })
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()])
    rmSync(dir, { recursive: true, force: true })
  })

  it('dials by multiaddr and moves 256 MiB intact; measures raw throughput', async () => {
    expect(bAddr).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//)
    a.send({ cmd: 'dial', addr: bAddr })
    const dialed = await a.waitFor('dial', e => e.ev === 'dialed')
    a.send({ cmd: 'blast', addr: bAddr, bytes: 256 * 1024 * 1024 })
    const verified = await a.waitFor('verified blast', e => e.ev === 'blasted', 120_000)
    expect(verified.peerBytes).toBe(verified.bytes)
    expect(verified.peerSha256).toBe(verified.sha256)
    a.send({ cmd: 'blast', addr: bAddr, bytes: 512 * 1024 * 1024, verify: false })
    const raw = await a.waitFor('raw blast', e => e.ev === 'blasted' && e !== verified, 120_000)
    expect(raw.peerBytes).toBe(raw.bytes)
    console.log(`loopback, two processes: raw ${String(raw.mbps)} MB/s; generated + sha256 on both ends ${String(verified.mbps)} MB/s; dial ${String(dialed.ms)} ms`)
  })
})
