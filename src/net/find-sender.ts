import type { Libp2p, PeerId } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import type { Multiaddr } from '@multiformats/multiaddr'
import { ErrorCode, FerryError, isFerryError } from '../errors.js'
import { guardedAccept, notifying } from './app-handler.js'
import { hostPort, raceAddresses, type RaceOptions, type ReachAttempt } from './happy-dial.js'
import { looksIsolated, notFoundError, unreachableError, type FoundVia } from './isolation.js'
import { awayFromLoopback, firstPeerIdOf, peerIdOf } from './addresses.js'
import { assertSweepAllowed } from './lan-guard.js'
import { discoverPeer } from './node.js'
import { localSubnets, onAnyNetwork, onSubnet, selfAssignedAddresses, sweptRange } from './subnets.js'
import { sweep, type SubnetStats, type SweepHit, type SweepOptions } from './sweep.js'

// The receiver's side of finding the old phone: mDNS first, the subnet sweep when mDNS has found nothing
// after a moment (or at once without mDNS), then a race over the addresses found (happy-dial.ts), and the
// isolation diagnosis when none of them answers. A sender that restarted somewhere else mid-transfer is
// looked for again the same way.

const log = logger('ferry:find-sender')

/** mDNS answers in well under a second on a working LAN; waiting this long before sweeping spares it. */
export const SWEEP_AFTER_MS = 2_000
/** Rounds of the sweep start at least this far apart (a sender's rate limit refills meanwhile). */
export const SWEEP_ROUND_GAP_MS = 5_000
/**
 * After a dropped link the sweep goes on this long per redial: a restarting sender takes a few seconds
 * to come back, and each redial first spends seconds on the addresses libp2p remembers.
 */
const REDIAL_SEARCH_MS = 15_000
const REDIAL_ROUND_GAP_MS = 2_000

export interface FoundSender {
  peer: string
  /** Its addresses, each with /p2p/<peer>. */
  addrs: Multiaddr[]
  via: 'mdns' | 'sweep'
  /** Where the sweep reached it. */
  host?: string
  /** The discovery port that answered there. */
  port?: number
}

export interface FindOptions {
  /** The node whose mDNS discoveries count; needed with `mdns`. */
  node?: Libp2p
  nameplate: string
  mdns: boolean
  sweep: boolean
  /** Which phone to take (the peer id a QR code or pairing record names); default any with the nameplate. */
  accept?: (peer: string) => boolean
  timeoutMs: number
  sweepAfterMs?: number
  roundGapMs?: number
  signal?: AbortSignal
  /** Subnets, ports, rate and timeouts for the sweep (tests; the defaults suit a phone). */
  sweepOptions?: Omit<SweepOptions, 'nameplate' | 'accept' | 'signal'>
  /** Told when the sweep starts, with the subnets it covers (a throw is logged, and the search goes on). */
  onSweepStart?: (subnets: string[]) => void
  /** Told after each round of the search that found nobody, with what it saw (a throw is logged, as above). */
  onSweepRound?: (round: number, stats: SubnetStats[], ms: number) => void
}

/** A search again, past phones already tried. */
export interface FindAgain {
  /**
   * Peer ids not to take, whatever `accept` says. A phone this search's sweep found is passed by at the
   * host and port it answered from as well (placesOf), whatever peer id it answers with there now.
   */
  except?: ReadonlySet<string>
  /** Stops this find (besides the search's own signal). */
  signal?: AbortSignal
}

/**
 * Looks for the phone showing the nameplate and keeps what its sweeps saw, for the isolation diagnosis
 * and for finding the same phone again later.
 */
export class SenderSearch {
  /** What the latest sweep round saw. */
  sweeps?: SubnetStats[]
  /** When the first find began: the finds after it share its `timeoutMs`. */
  private began?: number
  /**
   * Where each phone this search's sweep found answered from (host:port). A neighbour picks its own peer
   * ids and can answer each find with a fresh one; where its answer came from it cannot change so freely.
   */
  private readonly places = new Map<string, Set<string>>()

  /** The app's own functions of `o` that only hear of the search: a failure of theirs is logged. */
  private readonly told: Pick<FindOptions, 'onSweepStart' | 'onSweepRound'>

  constructor (private readonly o: FindOptions) {
    this.told = { onSweepStart: notifying(o.onSweepStart, 'onSweepStart', log), onSweepRound: notifying(o.onSweepRound, 'onSweepRound', log) }
  }

  /**
   * The first phone showing the nameplate that `accept` takes. Called again with `except` (peer ids), it
   * looks on past those phones, for what is left of the same `timeoutMs`: a receive sets aside a phone
   * that refused the code before checking it (net/receiving.ts), and the old phone is still to be found
   * within the time the person gave the search.
   */
  async find (again: FindAgain = {}): Promise<FoundSender> {
    const o = this.o
    // An app's mistakes, said in the library's words (the CLI names its own flags before it gets here).
    if (!o.mdns && !o.sweep) throw new FerryError(ErrorCode.BAD_INPUT, 'a search with neither mdns nor sweep cannot look anywhere: turn one on, or pass receive() the old phone\'s addresses (from its QR code)')
    if (o.mdns && o.node === undefined) throw new FerryError(ErrorCode.BAD_INPUT, 'a search by mDNS listens through a libp2p node: pass `node`, one created with `mdns` for this nameplate')
    if (o.sweep) assertSweepAllowed((o.sweepOptions?.subnets ?? localSubnets()).map(s => s.address), o.sweepOptions?.env)
    const began = this.began ??= Date.now()
    // Past the search's time no find starts: mDNS answers from the peer store at once, before any timer
    // fires, so a neighbour announcing a fresh peer id for each refusal would keep a receive looking.
    if (Date.now() - began >= o.timeoutMs) throw notFoundError({ nameplate: o.nameplate, ms: searched(began, o.timeoutMs), mdns: o.mdns, sweeps: this.sweeps, selfAssigned: selfAssignedAddresses() })
    const stop = new AbortController()
    const asked = [o.signal, again.signal].filter(s => s !== undefined)
    const signal = AbortSignal.any([...asked, stop.signal])
    const deadline = setTimeout(() => { stop.abort() }, Math.max(0, began + o.timeoutMs - Date.now()))
    const except = again.except
    // The app's accept that throws ends this find naming it, at once: left to one way of looking, it
    // would wait for the other until the search's time was out, and say that nobody was found.
    const app = guardedAccept(o.accept, stop)
    const accept = (peer: string): boolean => app.accepts(peer) && except?.has(peer) !== true
    const passed = this.placesOf(except)
    const tasks: Array<Promise<FoundSender>> = []
    if (o.mdns) {
      // By peer id alone: the addresses a phone announces are its own word, and a neighbour announcing
      // the old phone's would have it passed by. Its loopback addresses name this machine, not it.
      const onNetwork = onAnyNetwork()
      const dialable = (p: { multiaddrs: Multiaddr[] }): Multiaddr[] => awayFromLoopback(p.multiaddrs, { onNetwork })
      tasks.push(discoverPeer(o.node!, { signal, accept: p => accept(p.id.toString()) && dialable(p).length > 0 }).then(info => ({
        peer: info.id.toString(),
        addrs: dialable(info).map(a => withPeer(a, info.id)),
        via: 'mdns' as const
      })))
    }
    if (o.sweep) tasks.push(this.sweepUntilFound((peer, at) => accept(peer) && !passed.sweep.has(`${at.host}:${at.port}`), signal))
    try {
      const found = await Promise.any(tasks)
      this.remember(found)
      return found
    } catch (err) {
      const refused = app.refused()
      if (refused !== undefined) throw refused
      if (asked.some(s => s.aborted)) throw new FerryError(ErrorCode.CANCELLED, 'looking for the old phone was cancelled')
      const cause = err instanceof AggregateError ? err.errors.find(e => isFerryError(e) && e.code !== ErrorCode.CANCELLED) : err
      if (cause !== undefined && !stop.signal.aborted) throw cause
      throw notFoundError({ nameplate: o.nameplate, ms: searched(began, o.timeoutMs), mdns: o.mdns, sweeps: this.sweeps, selfAssigned: selfAssignedAddresses() })
    } finally {
      clearTimeout(deadline)
      stop.abort()
    }
  }

  /**
   * Where the phones with these peer ids answered the sweep when this search found them: the host and
   * discovery port its probe reached (several phones on one machine differ by port alone).
   */
  private placesOf (peers: ReadonlySet<string> | undefined): { sweep: Set<string> } {
    const sweep = new Set<string>()
    for (const peer of peers ?? []) this.places.get(peer)?.forEach(p => sweep.add(p))
    return { sweep }
  }

  private remember (found: FoundSender): void {
    if (found.via !== 'sweep' || found.host === undefined || found.port === undefined) return
    const at = this.places.get(found.peer) ?? new Set<string>()
    at.add(`${found.host}:${found.port}`)
    this.places.set(found.peer, at)
  }

  /** Whether `host` lies in a subnet the sweep covers. */
  covers (host: string): boolean {
    return (this.o.sweepOptions?.subnets ?? localSubnets()).some(s => onSubnet(host, { address: s.address, prefix: s.sweepPrefix }))
  }

  /** One sweep round for a phone (a sender that restarted elsewhere); undefined when it is not there. */
  async sweepOnce (accept: (peer: string, at: { host: string, port: number }) => boolean, signal?: AbortSignal): Promise<SweepHit | undefined> {
    const r = await sweep({ ...this.o.sweepOptions, nameplate: this.o.nameplate, accept, signal })
    this.sweeps = r.stats
    return r.hit
  }

  private async sweepUntilFound (accept: (peer: string, at: { host: string, port: number }) => boolean, signal: AbortSignal): Promise<FoundSender> {
    await sleep(this.o.mdns ? this.o.sweepAfterMs ?? SWEEP_AFTER_MS : 0, signal)
    for (let round = 1; !signal.aborted; round++) {
      const t0 = Date.now()
      if (round === 1) this.told.onSweepStart?.((this.o.sweepOptions?.subnets ?? localSubnets()).map(sweptRange))
      const hit = await this.sweepOnce(accept, signal)
      if (hit !== undefined) return { peer: hit.peer, addrs: hit.addrs, via: 'sweep', host: hit.host, port: hit.port }
      log('sweep round %d found nobody', round)
      this.told.onSweepRound?.(round, this.sweeps ?? [], Date.now() - t0)
      await sleep(Math.max(0, (this.o.roundGapMs ?? SWEEP_ROUND_GAP_MS) - (Date.now() - t0)), signal)
    }
    throw new FerryError(ErrorCode.CANCELLED, 'sweep stopped')
  }
}

export interface RouteOptions {
  /** How the addresses were learnt: only mDNS, a sweep or a QR code prove the old phone is up here now. */
  via: FoundVia
  /** Where the sweep reached it. */
  preferHost?: string
  /** Looks for the old phone again; omitted when sweeping is off. */
  search?: Pick<SenderSearch, 'sweepOnce' | 'sweeps' | 'covers'>
  race?: Omit<RaceOptions, 'signal' | 'preferHost'>
  /** Told when the old phone was found somewhere else than the addresses given (a throw is logged). */
  onRelocated?: (found: SweepHit) => void
}

export type Route = (addrs: Multiaddr[], ctx: { known?: PeerId, signal?: AbortSignal }) => Promise<Multiaddr[]>

/**
 * The receiver's dial step (FerryService's `route`): races the old phone's TCP addresses and hands libp2p
 * the one that answered. When none does: on first contact, a second try, a sweep for the same phone, and
 * then ISOLATED if the evidence says so (isolation.ts); after a dropped link, a sweep for where it went.
 */
export function senderRoute (o: RouteOptions): Route {
  let preferHost = o.preferHost
  let reachedOnce = false
  const relocated = notifying(o.onRelocated, 'onRelocated', log)
  return async (addrs, { known, signal }) => {
    const tcp = addrs.filter(a => hostPort(a) !== undefined)
    const others = addrs.filter(a => hostPort(a) === undefined)
    if (tcp.length === 0) return addrs
    const attempts: ReachAttempt[] = []
    const race = async (list: Multiaddr[], stop = signal): Promise<Multiaddr | undefined> => {
      const r = await raceAddresses(list, { ...o.race, preferHost, signal: stop })
      attempts.push(...r.attempts)
      if (r.winner !== undefined) reachedOnce = true
      return r.winner
    }
    const firstContact = known === undefined && !reachedOnce
    const peer = known?.toString() ?? firstPeerIdOf(tcp)
    /** Sweeps for the same phone, round after round for up to `forMs`. */
    const relocate = async (forMs: number, stop = signal): Promise<Multiaddr[] | undefined> => {
      const stopped = (): boolean => stop?.aborted === true
      // A phone reachable on loopback only is on this machine: a sweep of the LAN would not find it.
      const search = o.search
      const lookable = (h: string): boolean => !(h.startsWith('127.') || h === '::1') || search?.covers(h) === true
      if (search === undefined || peer === undefined || !tcp.some(a => lookable(hostPort(a)!.host))) return undefined
      const until = Date.now() + forMs
      while (!stopped()) {
        const t0 = Date.now()
        const hit = await search.sweepOnce(p => p === peer, stop)
        if (hit !== undefined && !stopped()) {
          preferHost = hit.host
          const winner = await race(hit.addrs, stop)
          if (winner !== undefined && !stopped()) {
            log('found %s again at %s', peer, hit.host)
            relocated?.(hit)
            return [winner, ...hit.addrs.filter(a => hostPort(a) === undefined)]
          }
        }
        // No host to ask (only /32 addresses, no network at all): another round would not either.
        if (search.sweeps !== undefined && search.sweeps.every(st => st.hosts === 0)) break
        if (Date.now() + REDIAL_ROUND_GAP_MS > until) break
        await sleep(Math.max(0, REDIAL_ROUND_GAP_MS - (Date.now() - t0)), stop ?? new AbortController().signal)
      }
      return undefined
    }
    if (!firstContact) {
      // After a dropped link the old phone may have come back elsewhere (a new lease, a restart): look
      // there while the old addresses are tried, rather than after they time out.
      const hereStop = new AbortController()
      const thereStop = new AbortController()
      const both = (c: AbortController): AbortSignal => signal !== undefined ? AbortSignal.any([signal, c.signal]) : c.signal
      const here = race(tcp, both(hereStop)).then(w => w !== undefined ? [w, ...others] : undefined)
      const there = relocate(REDIAL_SEARCH_MS, both(thereStop))
      // The first to find an address that answers wins and stops the other.
      const found = await new Promise<Multiaddr[] | undefined>(resolve => {
        let pending = 2
        const settle = (r: Multiaddr[] | undefined): void => {
          pending--
          if (r !== undefined) { hereStop.abort(); thereStop.abort(); resolve(r) } else if (pending === 0) resolve(undefined)
        }
        void here.then(settle)
        void there.then(settle, () => { settle(undefined) })
      })
      if (found !== undefined) return found
    } else {
      let winner = await race(tcp)
      if (winner !== undefined) return [winner, ...others]
      if (looksIsolated({ via: o.via, attempts }) && signal?.aborted !== true) {
        // A lost SYN on a busy Wi-Fi is not a verdict yet.
        await sleep(1_000, signal ?? new AbortController().signal)
        winner = await race(tcp)
        if (winner !== undefined) return [winner, ...others]
      }
      const found = await relocate(0)
      if (found !== undefined) return found
    }
    // No TCP address answered; libp2p tries the others (WebRTC: --transport auto falls back to it).
    if (others.length > 0) return others
    // After a working link, silence means the phone went away or moved: keep looking (NO_PEER is retried).
    throw unreachableError({ via: firstContact ? o.via : 'resume', attempts, sweeps: o.search?.sweeps })
  }
}

function withPeer (ma: Multiaddr, peer: PeerId): Multiaddr {
  return peerIdOf(ma) !== undefined ? ma : ma.encapsulate(`/p2p/${peer.toString()}`)
}

/**
 * How long the search is said to have looked: what it did, but never past the time it was given. Ending
 * takes a moment past the deadline (in-flight dials unwind), and on a busy phone that rounded a 5 s
 * search up to "within 6 s", a time the person never set.
 */
function searched (began: number, timeoutMs: number): number {
  return Math.min(Date.now() - began, timeoutMs)
}

async function sleep (ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return
  await new Promise<void>(resolve => {
    const t = setTimeout(done, ms)
    function done (): void { clearTimeout(t); signal.removeEventListener('abort', done); resolve() }
    signal.addEventListener('abort', done, { once: true })
  })
}
