import { setMaxListeners } from 'node:events'
import { logger } from '@libp2p/logger'
import type { Multiaddr } from '@multiformats/multiaddr'
import { assertSweepAllowed } from './lan-guard.js'
import { DISCOVERY_PORTS, probe, type ProbeOutcome } from './probe.js'
import { awayFromLoopback } from './addresses.js'
import { cidrOf, localSubnets, sweepHosts, type LocalSubnet } from './subnets.js'
import { guardedAccept } from './app-handler.js'

// The subnet sweep: where multicast does not get through (Android without a multicast lock, routers that
// filter mDNS, a VPN holding the multicast route), the receiver asks each host of its own subnets, on the
// sender's discovery ports, whether it shows the code's nameplate (probe.ts). Bounded: a few hundred
// hosts per subnet, a fixed connect rate, each probe cut short.

const log = logger('ferry:sweep')

export const DEFAULT_SWEEP_RATE = 200
export const DEFAULT_PROBE_TIMEOUT_MS = 1_000

export interface SweepOptions {
  nameplate: string
  /** Default: this machine's up, non-loopback IPv4 subnets (localSubnets()). */
  subnets?: LocalSubnet[]
  ports?: readonly number[]
  /** Probes started per second, all subnets together. */
  ratePerSecond?: number
  probeTimeoutMs?: number
  /** Probes open at once, whatever the rate (a subnet of silent hosts holds each until its timeout). */
  maxInFlight?: number
  /**
   * Which matching phones to stop at (e.g. the peer id a QR code or a pairing record names), told too
   * where the answer came from: a phone set aside there is passed by, the round going on to the next.
   * One that throws ends the sweep with CANCELLED naming it.
   */
  accept?: (peer: string, at: { host: string, port: number }) => boolean
  signal?: AbortSignal
  env?: NodeJS.ProcessEnv
}

/** What a round saw on one subnet: the isolation diagnosis reads `reached`. */
export interface SubnetStats {
  /** The swept range, e.g. 10.1.2.0/24. */
  subnet: string
  /** The whole network, when it is wider than the part swept (`subnet`). */
  network?: string
  ifname: string
  hosts: number
  /** Hosts asked at least once. */
  probed: number
  /** Hosts that answered in any way (even a refusal): proof that unicast gets through to them. */
  reached: number
  /** Hosts with a Ferry sender on them (any nameplate). */
  ferry: number
}

export interface SweepHit {
  peer: string
  addrs: Multiaddr[]
  /** Where the probe reached it: an address known to get through. */
  host: string
  port: number
}

export interface SweepResult {
  hit?: SweepHit
  stats: SubnetStats[]
  ms: number
}

interface Job { host: string, port: number, subnet: number }

/**
 * One pass over the subnets: the first discovery port on every host, nearest first; then the other
 * ports, first on hosts where a Ferry sender answered (several senders on one machine take the next
 * ports), then on the other hosts that answered at all. Hosts that stayed silent on the first port are
 * not asked again. Stops at the first phone showing the nameplate that `accept` takes.
 */
export async function sweep (opts: SweepOptions): Promise<SweepResult> {
  const started = performance.now()
  const subnets = opts.subnets ?? localSubnets()
  assertSweepAllowed(subnets.map(s => s.address), opts.env)
  const ports = opts.ports ?? DISCOVERY_PORTS
  const interval = 1000 / (opts.ratePerSecond ?? DEFAULT_SWEEP_RATE)
  const maxInFlight = opts.maxInFlight ?? 128
  const timeoutMs = opts.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS
  const stats: SubnetStats[] = subnets.map(s => ({
    subnet: cidrOf(s.address, s.sweepPrefix),
    ...(s.prefix < s.sweepPrefix ? { network: cidrOf(s.address, s.prefix) } : {}),
    ifname: s.ifname,
    hosts: 0,
    probed: 0,
    reached: 0,
    ferry: 0
  }))
  const reached = subnets.map(() => new Set<string>())
  const ferry = subnets.map(() => new Set<string>())
  const probed = subnets.map(() => new Set<string>())

  const first: Job[] = []
  const hostLists = subnets.map((s, i) => {
    const hosts = sweepHosts(s)
    stats[i].hosts = hosts.length
    return hosts
  })
  // Real interfaces' subnets first, interleaved host by host (Wi-Fi and Ethernet alike); a VPN's or a
  // bridge's only after them, so their empty /24s do not hold up the Wi-Fi.
  for (const virtual of [false, true]) {
    const lists = hostLists.map((hosts, i) => ({ hosts, i })).filter(({ i }) => subnets[i].virtual === virtual)
    for (let k = 0; lists.some(l => k < l.hosts.length); k++) {
      for (const { hosts, i } of lists) if (k < hosts.length && ports.length > 0) first.push({ host: hosts[k], port: ports[0], subnet: i })
    }
  }
  const onFerryHosts: Job[] = []
  const onOtherHosts: Job[] = []
  const next = (): Job | undefined => onFerryHosts.shift() ?? first.shift() ?? onOtherHosts.shift()

  const stop = new AbortController()
  const signal = opts.signal !== undefined ? AbortSignal.any([opts.signal, stop.signal]) : stop.signal
  // Every probe in flight listens on it.
  setMaxListeners(Infinity, signal)
  let hit: SweepHit | undefined
  const inFlight = new Set<Promise<void>>()
  // The app's accept that throws ends the sweep naming it, once what is in flight settled, rather than
  // rejecting the sweep with its bare error while probes still run.
  const { accepts, refused } = guardedAccept(opts.accept, stop)

  const record = (job: Job, o: ProbeOutcome): void => {
    probed[job.subnet].add(job.host)
    if (o.kind === 'silent') return
    const firstAnswer = !reached[job.subnet].has(job.host)
    reached[job.subnet].add(job.host)
    const isFerry = o.kind === 'no' || o.kind === 'busy' || o.kind === 'match'
    if (isFerry) ferry[job.subnet].add(job.host)
    if (o.kind === 'match') {
      const addrs = awayFromLoopback(o.answer.addrs, { host: job.host, onNetwork: true })
      if (addrs.length === 0) {
        log('%s:%d shows the nameplate but gives only loopback addresses, which name this machine', job.host, job.port)
      } else if (accepts(o.answer.peer, { host: job.host, port: job.port })) {
        hit ??= { peer: o.answer.peer, addrs, host: job.host, port: job.port }
        stop.abort()
        return
      } else {
        log('%s:%d shows the nameplate but is not the phone we look for', job.host, job.port)
      }
    }
    if (firstAnswer && job.port === ports[0]) {
      const rest = ports.slice(1).map(port => ({ host: job.host, port, subnet: job.subnet }))
      ;(isFerry ? onFerryHosts : onOtherHosts).push(...rest)
    }
  }

  const queued = (): boolean => onFerryHosts.length + first.length + onOtherHosts.length > 0
  let due = performance.now()
  while (!signal.aborted) {
    if (!queued() || inFlight.size >= maxInFlight) {
      // Other ports are only queued once a first-port probe has answered: a round is over when nothing
      // is queued and nothing is in flight.
      if (inFlight.size === 0) break
      await Promise.race(inFlight)
      continue
    }
    const wait = due - performance.now()
    if (wait > 0) {
      await sleep(wait, signal)
      continue
    }
    // Paced against a schedule, not the previous start: a late timer does not lower the rate for good,
    // and a long stall does not turn into a burst either.
    due = Math.max(due + interval, performance.now() - interval)
    const job = next()!
    const p: Promise<void> = probe(job.host, job.port, opts.nameplate, { timeoutMs, signal }).then(o => { record(job, o) })
      .finally(() => { inFlight.delete(p) })
    inFlight.add(p)
  }
  await Promise.all(inFlight)
  const refusal = refused()
  if (refusal !== undefined) throw refusal
  stats.forEach((s, i) => { s.probed = probed[i].size; s.reached = reached[i].size; s.ferry = ferry[i].size })
  const ms = Math.round(performance.now() - started)
  log('swept %s in %d ms: %s', stats.map(s => s.subnet).join(', '), ms, hit !== undefined ? `found ${hit.peer} at ${hit.host}:${hit.port}` : 'nothing')
  return { hit, stats, ms }
}

async function sleep (ms: number, signal: AbortSignal): Promise<void> {
  await new Promise<void>(resolve => {
    const t = setTimeout(done, ms)
    function done (): void { clearTimeout(t); signal.removeEventListener('abort', done); resolve() }
    signal.addEventListener('abort', done, { once: true })
  })
}
