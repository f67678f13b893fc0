import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { checkNetnsSupport, cleanupStale, createTestbed, listFerryNamespaces, listTestbeds, openTestbed, type Testbed } from '../../scripts/lib/netns.js'
import { onPath } from '../../scripts/lib/test-tools.js'
import { PeerProcess } from './helpers/peer-process.js'
import { cannotRun } from '../helpers/cannot-run.js'

const support = await checkNetnsSupport()
const skip = cannotRun('the namespace testbed tests', support.ok ? undefined : support.reason ?? 'unknown')

function deadPid (): number {
  for (let pid = 4_000_000; pid > 100_000; pid -= 7919) {
    try { process.kill(pid, 0) } catch (err) { if ((err as { code?: string }).code === 'ESRCH') return pid }
  }
  throw new Error('no free pid found')
}

describe.skipIf(skip)('the namespace testbed', () => {
  let tb: Testbed
  let dir: string
  const peers: PeerProcess[] = []
  let bAddr = ''

  beforeAll(async () => {
    tb = await createTestbed({ phones: 2 })
    dir = mkdtempSync(join(tmpdir(), 'ferry-harness-'))
  })
  afterAll(async () => {
    await Promise.all(peers.map(async p => { await p.stop() }))
    await tb?.down()
    rmSync(dir, { recursive: true, force: true })
  })

  it('gives each phone lo, a LAN address and a multicast route, and nothing else', async () => {
    expect(tb.subnet).toMatch(/^10\.\d+\.\d+$/)
    for (const p of tb.phones) {
      const links = await tb.exec(p, ['ip', '-o', 'link', 'show'])
      expect(links.split('\n').filter(Boolean).map(l => l.split(':')[1].trim().split('@')[0]).sort()).toEqual(['eth0', 'lo'])
      expect(await tb.exec(p, ['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0'])).toContain(`inet ${p.ip}/24`)
      const routes = await tb.exec(p, ['ip', '-4', 'route', 'show'])
      expect(routes).toContain('224.0.0.0/4 dev eth0')
      expect(routes).not.toContain('default')
    }
    // The root namespace never sees the testbed's interfaces.
    expect(execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })).not.toContain(tb.id)
    const reopened = await openTestbed(tb.id)
    expect(reopened.phones.map(p => [p.ns, p.ip])).toEqual(tb.phones.map(p => [p.ns, p.ip]))
  })

  it('removes testbeds whose owner died, and leaves live and manual ones', async () => {
    const stale = `ferry-p${deadPid()}r0a0b0c`
    execFileSync('ip', ['netns', 'add', `${stale}-br`])
    execFileSync('ip', ['netns', 'add', `${stale}-p1`])
    expect(await listTestbeds()).toContain(stale)
    const removed = await cleanupStale()
    expect(removed).toContain(stale)
    const left = await listFerryNamespaces()
    expect(left.filter(ns => ns.startsWith(stale))).toEqual([])
    expect(left).toContain(tb.bridgeNs)
  })

  it('shapes a phone\'s bandwidth with tbf', async () => {
    const [p1, p2] = tb.phones
    const a = PeerProcess.start('A', { dir: join(dir, 'a') }, { testbed: tb, phone: p1 })
    const b = PeerProcess.start('B', { dir: join(dir, 'b') }, { testbed: tb, phone: p2 })
    peers.push(a, b)
    await a.waitFor('ready', e => e.ev === 'ready', 30_000)
    const ready = await b.waitFor('ready', e => e.ev === 'ready', 30_000)
    const addr = (ready.addrs as string[])[0]
    expect(addr).toContain(`/ip4/${p2.ip}/`)
    bAddr = addr

    await tb.shape(p1, { rateMbit: 40 }) // 5 MB/s out of A
    a.send({ cmd: 'blast', addr, bytes: 6 * 1024 * 1024, verify: false })
    const shaped = await a.waitFor('shaped blast', e => e.ev === 'blasted', 60_000)
    await tb.unshape(p1)
    expect(shaped.peerBytes).toBe(shaped.bytes)
    expect(Number(shaped.mbps)).toBeLessThan(7)
    console.log(`tbf 40 Mbit: ${String(shaped.mbps)} MB/s`)
  })

  it.skipIf(cannotRun('the iptables loss test', onPath('iptables') ? undefined : "'iptables' is not installed (Debian package iptables)"))('drops a share of a phone\'s packets with iptables, and TCP still delivers', async () => {
    const p2 = tb.phones[1]
    const a = peers[0]
    expect(bAddr).not.toBe('')
    // Loss on the receiver's ingress drops data segments (on the sender's it would only drop ACKs).
    await tb.shape(p2, { loss: 0.02 })
    expect(await tb.exec(p2, ['iptables', '-S', 'INPUT'])).toContain('--probability 0.02')
    a.send({ cmd: 'blast', addr: bAddr, bytes: 16 * 1024 * 1024 })
    const lossy = await a.waitFor('lossy blast', e => e.ev === 'blasted' && e.sha256 !== '', 120_000)
    await tb.unshape(p2)
    expect(lossy.peerSha256).toBe(lossy.sha256)
    expect(await tb.exec(p2, ['iptables', '-S', 'INPUT'])).not.toContain('statistic')
    console.log(`2% loss into the receiver: ${String(lossy.mbps)} MB/s`)
  })
})
