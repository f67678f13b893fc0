// Strangers holding the old phone's connection slots. Sixteen libp2p peers in this process, each with its
// own key, eight of them from one address and eight from eight others (127.0.0.x stand in for hosts on
// the LAN), connect to a real `ferry send`, answer its pings and ping it, and redial whenever a
// connection goes. They never pair. The sender must let each of them go (a connection that does not
// begin pairing soon is closed; one address holds only a couple), and the real new phone, arriving
// in the middle of it with the code, must pair and end verified, without one guess of the code spent.
import { createConnection, type Socket } from 'node:net'
import type { Connection, Libp2p } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { CodeBudgets } from '../../src/journal/code-budgets.js'
import { NodeJournal } from '../../src/journal/node-journal.js'
import { DEFAULT_SLOT_LIMITS } from '../../src/net/connection-slots.js'
import { ferry } from '../../src/net/ferry-service.js'
import { createFerryNode } from '../../src/net/node.js'
import { SqliteChatStore } from '../../src/store/sqlite-store.js'
import { PAIR_PROTOCOL } from '../../src/net/pair-stream.js'
import { parseCode, ReceiverHandshake } from '../../src/pairing/index.js'
import {
  cleanupTempDirs, copyStore, exportStore, killAll, median, newStorePath, seedStore, senderReady, startReceiver, startSender
} from './helpers/ferry-cli.js'
import { pairByHand } from './helpers/hostile-receiver.js'
import { hostNode, openStream, rawNode } from './helpers/raw-peer.js'

const CODE = '616-1803-3988'
const CODE2 = '616-1803-3989'
const SHARED = '127.0.0.2'
const OWN = Array.from({ length: 8 }, (_, i) => `127.0.0.${10 + i}`)
/** How long a stranger's connection may live when it does not pair. */
const PAIR_WITHIN_MS = DEFAULT_SLOT_LIMITS.pairWithinMs

interface Held { openedAt: number, closedAt?: number }

/** One hostile peer: keeps a connection to the sender open, redialling whenever it goes. */
class Holder {
  readonly held: Held[] = []
  refused = 0
  private stopped = false
  private readonly onChange: () => void

  constructor (readonly node: Libp2p, readonly from: string, readonly t0: number, onChange: () => void) {
    this.onChange = onChange
  }

  get open (): number { return this.held.filter(h => h.closedAt === undefined).length }
  /** Connections the sender closed, or dials it refused: how this peer was let go. */
  get letGo (): number { return this.held.filter(h => h.closedAt !== undefined).length + this.refused }

  run (addr: string): void {
    void (async () => {
      while (!this.stopped) {
        let conn: Connection
        try {
          conn = await this.node.dial(multiaddr(addr), { signal: AbortSignal.timeout(5_000) })
        } catch {
          this.refused++
          this.onChange()
          // An attacker's own pace after a refusal, not a wait for anything in the test.
          await new Promise(resolve => setTimeout(resolve, 100))
          continue
        }
        if (conn.status !== 'open') continue
        const h: Held = { openedAt: performance.now() - this.t0 }
        this.held.push(h)
        this.onChange()
        await new Promise<void>(resolve => {
          const done = (evt: CustomEvent<Connection>): void => {
            if (evt.detail.id !== conn.id) return
            this.node.removeEventListener('connection:close', done)
            resolve()
          }
          this.node.addEventListener('connection:close', done)
          if (conn.status !== 'open') { this.node.removeEventListener('connection:close', done); resolve() }
        })
        h.closedAt = performance.now() - this.t0
        this.onChange()
      }
    })()
  }

  async stop (): Promise<void> {
    this.stopped = true
    await this.node.stop()
  }
}

let source: string
const holders: Holder[] = []
const others: Array<{ stop(): void | Promise<void> }> = []

/** A node stopped after the test. */
function kept<T extends { stop(): void | Promise<void> }> (n: T): T {
  others.push(n)
  return n
}

describe('sixteen strangers holding connections', () => {
  beforeAll(async () => { source = await seedStore('tiny') }, 60_000)
  afterEach(async () => {
    await Promise.all(holders.splice(0).map(async h => { await h.stop() }))
    await Promise.all(others.splice(0).map(async n => { await n.stop() }))
    await killAll()
  })
  afterAll(() => cleanupTempDirs())

  it('are let go, and the real new phone pairs with the code and ends verified, no guess spent', async () => {
    const store = copyStore(source)
    const sender = startSender(store, { code: CODE })
    const ready = await senderReady(sender)
    const t0 = performance.now()
    const waiters = new Set<() => void>()
    const changed = (): void => { for (const w of [...waiters]) w() }
    const until = async (what: string, pred: () => boolean, boundMs: number): Promise<void> => {
      await new Promise<void>((resolve, reject) => {
        const check = (): void => { if (pred()) { done(); resolve() } }
        const timer = setTimeout(() => { done(); reject(new Error(`${what}: not within ${boundMs} ms\n${report()}`)) }, boundMs)
        const done = (): void => { clearTimeout(timer); waiters.delete(check) }
        waiters.add(check)
        check()
      })
    }
    const nodes = await Promise.all([...Array(8).fill(SHARED), ...OWN].map(async from => ({ from, node: await hostNode(from, 500) })))
    for (const { from, node } of nodes) holders.push(new Holder(node, from, t0, changed))
    let maxHeld = 0
    let maxShared = 0
    const track = (): void => {
      maxHeld = Math.max(maxHeld, holders.reduce((n, h) => n + h.open, 0))
      maxShared = Math.max(maxShared, holders.filter(h => h.from === SHARED).reduce((n, h) => n + h.open, 0))
    }
    waiters.add(track)
    const report = (): string => holders.map(h => `${h.from} open ${h.open}, closed ${h.held.length - h.open}, refused ${h.refused}`).join('\n')
    for (const h of holders) h.run(ready.addr)

    // Every one of them is let go: its connection closed, or refused. (Before the fix: the first eight
    // to connect held their connections for as long as they liked.)
    await until('every stranger let go at least once', () => holders.every(h => h.letGo > 0), PAIR_WITHIN_MS + 20_000)
    const attackMs = performance.now() - t0

    // The real new phone arrives while they go on redialling.
    const started = performance.now()
    const target = newStorePath()
    const receiver = startReceiver(target, { code: CODE, peer: ready.addr, extra: ['--timeout', '40'] })
    const paired = await receiver.waitEvent('paired', 45_000)
    const pairedMs = performance.now() - started
    const [r, s] = await Promise.all([receiver.waitExit(60_000), sender.waitExit(60_000)])
    const verifiedMs = performance.now() - started
    const endedAt = performance.now() - t0
    expect(r.code, receiver.describe()).toBe(0)
    expect(s.code, sender.describe()).toBe(0)
    expect(paired.mode).toBe('code')
    expect(await exportStore(target)).toBe(await exportStore(source))

    // Not one guess of the code spent: one pairing, no failed attempt, and the budget on disk says so.
    const strangers = new Set(holders.map(h => h.node.peerId.toString()))
    expect(sender.all('paired').map(e => e.mode)).toEqual(['code'])
    expect(strangers.has(sender.all('paired')[0].peer as string)).toBe(false)
    expect(sender.all('pair-failed')).toEqual([])
    const journal = NodeJournal.open(store)
    try {
      expect(await new CodeBudgets(journal).load(parseCode(CODE))).toMatchObject({ charged: 0, used: true })
    } finally {
      await journal.close()
    }

    // The figures: how the strangers were let go, and when (ms after their connection opened).
    const closedWhileUp = holders.flatMap(h => h.held.filter(c => c.closedAt !== undefined && c.closedAt < endedAt))
    const lifetimes = closedWhileUp.map(c => (c.closedAt as number) - c.openedAt)
    const ms = (x: number): string => `${Math.round(x)} ms`
    process.stderr.write([
      `hostile-slots: 16 strangers (8 from ${SHARED}, 8 from their own addresses) for ${(endedAt / 1000).toFixed(1)} s:`,
      `  connections opened ${holders.reduce((n, h) => n + h.held.length, 0)}, closed by the sender ${closedWhileUp.length} ` +
        `(lived median ${ms(median(lifetimes))}, max ${ms(Math.max(...lifetimes))}; ${lifetimes.filter(l => l >= PAIR_WITHIN_MS - 1_000).length} reached the ${PAIR_WITHIN_MS / 1000} s deadline), ` +
        `dials refused ${holders.reduce((n, h) => n + h.refused, 0)}`,
      `  held at once at most, as the strangers saw it: ${maxHeld} (from ${SHARED}: ${maxShared}); every stranger let go at least once within ${ms(attackMs)}`,
      `  the real phone: paired ${ms(pairedMs)} after it started (${receiver.all('interrupted').length} redials first), verified after ${ms(verifiedMs)}; code attempts charged: 0`,
      ''
    ].join('\n'))
    expect(closedWhileUp.length).toBeGreaterThan(0)
  }, 120_000)

  it('one host stalling handshakes holds only a couple of the handshake slots: a phone at another address still gets in', async () => {
    const dir = copyStore(source)
    const store = SqliteChatStore.open(dir)
    const journal = NodeJournal.open(dir)
    const node = await createFerryNode({ dir, listen: ['/ip4/127.0.0.1/tcp/0'], services: { ferry: ferry({ history: store, journal }) } })
    const sockets: Socket[] = []
    try {
      const ma = node.getMultiaddrs()[0]
      const port = Number(ma.getComponents().find(c => c.name === 'tcp')?.value)
      // Eight TCP connections from one host that never say a word of the Noise handshake.
      await Promise.all(Array.from({ length: 8 }, async () => await new Promise<void>(resolve => {
        const sock = createConnection({ host: '127.0.0.1', port, localAddress: '127.0.0.60' }, resolve)
        sock.on('error', () => {})
        sockets.push(sock)
      })))
      // A phone at another address connects within the handshake deadline those stalls hold their slots for.
      const phone = kept(await hostNode('127.0.0.61'))
      const conn = await phone.dial(ma, { signal: AbortSignal.timeout(4_000) })
      expect(conn.status).toBe('open')
      const stalled = sockets.filter(s => !s.destroyed && s.readyState === 'open').length
      process.stderr.write(`hostile-slots: 8 stalled handshakes from one address, ${stalled} still open when a phone at another address got in\n`)
    } finally {
      for (const sock of sockets) sock.destroy()
      await node.stop()
      await journal.close()
      store.close()
    }
  })

  it('on a real node: a stranger that does not pair goes at the deadline, pinging or not; a failed pairing after its linger; the paired phone stays', async () => {
    // An old phone in this process on real libp2p, with a 1 s deadline to keep the test short (the
    // CLI's is ${PAIR_WITHIN_MS / 1000} s).
    const dir = copyStore(source)
    const store = SqliteChatStore.open(dir)
    const journal = NodeJournal.open(dir)
    const node = await createFerryNode({ dir, listen: ['/ip4/127.0.0.1/tcp/0'], services: { ferry: ferry({ history: store, journal, slots: { pairWithinMs: 1_000 } }) } })
    const stop = new AbortController()
    const offered = node.services.ferry.offer({ code: parseCode(CODE2), signal: stop.signal }).catch(() => undefined)
    try {
      const addr = `${node.getMultiaddrs()[0].toString()}`
      const lived = async (peer: Libp2p): Promise<number> => {
        const conn = await peer.dial(multiaddr(addr))
        const opened = performance.now()
        await new Promise<void>(resolve => {
          peer.addEventListener('connection:close', evt => { if (evt.detail.id === conn.id) resolve() })
        })
        return performance.now() - opened
      }
      // A stranger that pings every 200 ms and answers pings: closed all the same.
      const idle = kept(await hostNode('127.0.0.30', 200))
      const idleLived = lived(idle)
      // A wrong guess that does not hang up: closed by the old phone once it had time to read why.
      const guesser = kept(await rawNode())
      const guessConn = await guesser.dial(multiaddr(addr))
      const guessGone = new Promise<void>(resolve => { guesser.addEventListener('connection:close', evt => { if (evt.detail.id === guessConn.id) resolve() }) })
      // It guesses as `ferry receive` would, and says so when its guess is wrong (an ABORT).
      const s = await openStream(guesser, addr, PAIR_PROTOCOL)
      const hs = new ReceiverHandshake({ code: parseCode('616-0000-0000'), localPeerId: guesser.peerId.toString(), remotePeerId: node.peerId.toString() })
      await s.write(hs.start().send)
      const step = hs.onMessage((await s.next())!)
      expect(step.error?.code).toBe('WRONG_CODE')
      await s.write(step.send)
      const failedAt = performance.now()
      await guessGone
      const guessLived = performance.now() - failedAt
      // The phone that pairs keeps its connection past the deadline: still open once a stranger that
      // connected after it has been let go at the deadline.
      const phone = kept(await rawNode())
      await pairByHand(phone, addr, node.peerId.toString(), CODE2)
      const later = kept(await hostNode('127.0.0.31', 200))
      const laterLived = await lived(later)
      expect(phone.getConnections().map(c => c.status)).toEqual(['open'])
      const idleMs = await idleLived
      process.stderr.write(`hostile-slots: with a 1000 ms deadline, an idle pinging stranger was closed after ${Math.round(idleMs)} ms, another after ${Math.round(laterLived)} ms; a wrong guess ${Math.round(guessLived)} ms after it failed; the paired phone kept its connection\n`)
      expect(node.services.ferry.slots?.closed).toMatchObject({ 'not-paired-in-time': 2, 'pairing-failed': 1 })
    } finally {
      stop.abort()
      await offered
      await node.stop()
      await journal.close()
      store.close()
    }
  })
})
