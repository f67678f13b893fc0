import { createConnection, isIP } from 'node:net'
import { logger } from '@libp2p/logger'
import type { Multiaddr } from '@multiformats/multiaddr'
import { kindOf } from './transports.js'
import { localSubnets, subnetFor, type LocalSubnet } from './subnets.js'

// Happy eyeballs for a phone with several addresses (Wi-Fi, a VPN, a container bridge): libp2p dials a
// peer's addresses one after another, each with a deadline of seconds, so one black-holed address first
// in line holds the whole pairing up. Here plain TCP connects race over the addresses instead, the one
// on a subnet this phone shares first and the next a moment later; the first to answer is the one
// libp2p then dials. The same race tells "nobody answers" (a network that keeps devices apart) from
// "refused" (the other phone is not listening any more).

const log = logger('ferry:happy-dial')

export type ReachOutcome = 'open' | 'refused' | 'silent' | 'skipped'

export interface ReachAttempt {
  addr: Multiaddr
  outcome: ReachOutcome
}

export interface RaceResult {
  winner?: Multiaddr
  /** Every address raced, in the order tried; `skipped` when a winner came first. */
  attempts: ReachAttempt[]
}

export interface RaceOptions {
  /** The next address is tried this long after the previous one, or as soon as it failed. */
  staggerMs?: number
  /** How long one connect may take. */
  timeoutMs?: number
  signal?: AbortSignal
  subnets?: LocalSubnet[]
  /** An address known to get through (where the sweep reached the other phone): tried first. */
  preferHost?: string
}

const SILENT = new Set(['ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN', 'EADDRNOTAVAIL'])

export function hostPort (ma: Multiaddr): { host: string, port: number } | undefined {
  if (kindOf(ma) !== 'tcp') return undefined
  const parts = ma.getComponents()
  const host = parts.find(c => c.name === 'ip4' || c.name === 'ip6')?.value
  const port = Number(parts.find(c => c.name === 'tcp')?.value)
  return host !== undefined && isIP(host) !== 0 && Number.isInteger(port) ? { host, port } : undefined
}

/**
 * The other phone's TCP addresses, best first: where the sweep reached it; then on a subnet this phone
 * shares, the real LAN before a VPN or bridge; then the rest. An address that is one of this phone's own
 * (two machines with the same Docker bridge, 172.17.0.1) goes last: dialling it reaches ourselves.
 */
export function rankAddresses (addrs: Multiaddr[], o: { subnets?: LocalSubnet[], preferHost?: string } = {}): Multiaddr[] {
  const subnets = o.subnets ?? localSubnets()
  const own = new Set(subnets.map(s => s.address))
  const score = (ma: Multiaddr): number => {
    const hp = hostPort(ma)
    if (hp === undefined) return 100
    if (hp.host === o.preferHost) return 0
    if (own.has(hp.host)) return 90
    if (hp.host.startsWith('127.') || hp.host === '::1') return 80
    const s = subnetFor(hp.host, subnets)
    if (s !== undefined) return s.virtual ? 20 : 10
    return 40
  }
  return addrs.map((ma, i) => ({ ma, i, s: score(ma) })).sort((a, b) => a.s - b.s || a.i - b.i).map(x => x.ma)
}

/** Races TCP connects to `addrs` (ranked); resolves with the first that opens, closing it again at once. */
export async function raceAddresses (addrs: Multiaddr[], o: RaceOptions = {}): Promise<RaceResult> {
  const ranked = rankAddresses(addrs.filter(a => hostPort(a) !== undefined), o)
  const attempts: ReachAttempt[] = ranked.map(addr => ({ addr, outcome: 'skipped' }))
  if (ranked.length === 0) return { attempts }
  const stagger = o.staggerMs ?? 250
  const timeoutMs = o.timeoutMs ?? 3_000
  return await new Promise<RaceResult>(resolve => {
    const sockets = new Set<ReturnType<typeof createConnection>>()
    let nextIndex = 0
    let active = 0
    let done = false
    let timer: ReturnType<typeof setTimeout> | undefined
    const finish = (winner?: Multiaddr): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      o.signal?.removeEventListener('abort', onAbort)
      for (const s of sockets) s.destroy()
      log('raced %d address(es): %s', ranked.length, attempts.map(a => `${a.addr.toString()} ${a.outcome}`).join(', '))
      resolve({ winner, attempts })
    }
    const onAbort = (): void => { finish() }
    const launch = (): void => {
      clearTimeout(timer)
      if (done) return
      if (nextIndex >= ranked.length) {
        if (active === 0) finish()
        return
      }
      const i = nextIndex++
      active++
      const hp = hostPort(ranked[i])!
      const socket = createConnection({ host: hp.host, port: hp.port })
      sockets.add(socket)
      let settled = false
      const settle = (outcome: ReachOutcome): void => {
        if (settled) return
        settled = true
        clearTimeout(deadline)
        socket.destroy()
        sockets.delete(socket)
        active--
        if (done) return
        attempts[i].outcome = outcome
        if (outcome === 'open') finish(ranked[i])
        else launch() // a failure starts the next address at once
      }
      const deadline = setTimeout(() => { settle('silent') }, timeoutMs)
      socket.once('connect', () => { settle('open') })
      socket.once('error', (err: NodeJS.ErrnoException) => {
        settle(err.code === 'ECONNREFUSED' ? 'refused' : SILENT.has(err.code ?? '') ? 'silent' : 'refused')
      })
      if (nextIndex < ranked.length) timer = setTimeout(launch, stagger)
    }
    if (o.signal?.aborted === true) { finish(); return }
    o.signal?.addEventListener('abort', onAbort, { once: true })
    launch()
  })
}
