import { ErrorCode, FerryError } from '../errors.js'
import { hostPort, type ReachAttempt } from './happy-dial.js'
import type { SubnetStats } from './sweep.js'

// Telling a user "the phones cannot see each other" is only useful with the why. The one case Ferry can
// name with confidence is a network that keeps its devices apart (client or AP isolation: guest networks,
// public Wi-Fi, many new routers): the old phone is known to be there (its mDNS announcement arrived, its
// QR code was just scanned, it answered the sweep) and yet not one of its addresses answers at all, not
// even with a refusal. A refusal means the packets got through and nothing listens: the old phone
// stopped, which is a different message.

/** How the receiver learnt where the old phone is. */
export type FoundVia = 'mdns' | 'sweep' | 'qr' | 'peer' | 'resume'

/** Ways of learning of the old phone that prove it is up on this network right now. */
const PRESENT: readonly FoundVia[] = ['mdns', 'sweep', 'qr']

export const ISOLATION_ADVICE = 'Put both phones on one phone\'s hotspot, or on another network, and start again.'

export interface Evidence {
  via: FoundVia
  /** Every attempt to reach the old phone's addresses. */
  attempts: ReachAttempt[]
  /** What sweeps saw, if any ran. */
  sweeps?: SubnetStats[]
}

const how: Record<FoundVia, string> = {
  mdns: 'its mDNS announcement reached this phone',
  sweep: 'it answered the sweep',
  qr: 'its QR code was scanned',
  peer: 'its address was given',
  resume: 'it was paired before'
}

/** Whether the evidence says the network keeps the phones apart. */
export function looksIsolated (e: Evidence): boolean {
  const tried = e.attempts.filter(a => a.outcome !== 'skipped')
  return PRESENT.includes(e.via) && tried.length > 0 && tried.every(a => a.outcome === 'silent')
}

/** The error to end with when the old phone's addresses did not answer: ISOLATED or NO_PEER. */
export function unreachableError (e: Evidence): FerryError {
  const tried = e.attempts.filter(a => a.outcome !== 'skipped')
  const where = [...new Set(tried.map(a => hostPort(a.addr)?.host).filter(h => h !== undefined))].join(', ')
  const details = { via: e.via, attempts: tried.map(a => ({ addr: a.addr.toString(), outcome: a.outcome })), sweeps: e.sweeps }
  if (looksIsolated(e)) {
    const empty = (e.sweeps ?? []).filter(s => s.probed > 0 && s.reached === 0).map(s => s.subnet)
    const sweepNote = empty.length > 0 ? `, and a sweep of ${empty.join(', ')} reached no other device` : ''
    return new FerryError(ErrorCode.ISOLATED,
      `the old phone is on this network (${how[e.via]}) but does not answer at ${where}${sweepNote}: ` +
      `this Wi-Fi seems to keep devices apart (client or AP isolation, usual on guest and public networks). ${ISOLATION_ADVICE}`,
      details)
  }
  if (tried.some(a => a.outcome === 'refused')) {
    return new FerryError(ErrorCode.NO_PEER, `the old phone at ${where} refused the connection: is 'ferry send' still running there?`, details)
  }
  return new FerryError(ErrorCode.NO_PEER, `the old phone does not answer at ${where === '' ? 'any address this phone can dial' : where}`, details)
}

/**
 * Why a sweep could not have found the old phone, as a sentence, when it could not: this phone has no IPv4 network to
 * sweep (only a self-assigned address, or none), or nobody answered in the part of a wider network that
 * was swept. Undefined when the sweep covered the whole network, or did not run.
 */
function sweepBlind (sweeps: SubnetStats[] | undefined, selfAssigned: string[]): string | undefined {
  if (sweeps === undefined) return undefined
  if (sweeps.length === 0) {
    return selfAssigned.length > 0
      ? `This phone has no IPv4 network to search, only the self-assigned ${selfAssigned.join(', ')} (no DHCP answer), so only mDNS can find the old phone here.`
      : 'This phone has no IPv4 address on any network, so searching cannot find the old phone.'
  }
  const wider = sweeps.filter(s => s.network !== undefined)
  if (!sweeps.every(s => s.reached === 0) || wider.length === 0) return undefined
  return `No device answered in ${wider.map(s => s.subnet).join(', ')}, the part searched of a larger network (${wider.map(s => s.network).join(', ')}): ` +
    'the old phone may be on the rest of it.'
}

/**
 * What a person reads after the first sweep round that found nobody (the search goes on), and whether
 * the sweep saw nobody at all (so the way round the search is worth saying).
 */
export function firstRoundNote (stats: SubnetStats[], selfAssigned: string[] = []): { note: string, nobody: boolean } {
  const nobody = stats.every(st => st.reached === 0)
  const blind = sweepBlind(stats, selfAssigned)
  if (blind !== undefined) return { note: blind, nobody }
  const reached = stats.reduce((n, st) => n + st.reached, 0)
  const ferry = stats.reduce((n, st) => n + st.ferry, 0)
  return {
    note: reached === 0
      ? 'No other device on this network answers at all: if the old phone is on this Wi-Fi, the Wi-Fi may keep devices apart (client isolation).'
      : `${reached} device${reached === 1 ? '' : 's'} answered, ${ferry === 0 ? 'none of them a Ferry phone' : `${ferry} Ferry phone${ferry === 1 ? '' : 's'} showing other codes`}.`,
    nobody
  }
}

/**
 * The NO_PEER error for a search that found nobody, saying what was tried; when a sweep of the whole
 * network reached no device at all, the isolation advice comes with it (an empty network looks the same,
 * so it is a hint). A sweep that could not have found the old phone says why instead.
 */
export function notFoundError (o: { nameplate: string, ms: number, mdns: boolean, sweeps?: SubnetStats[], selfAssigned?: string[] }): FerryError {
  const tried: string[] = []
  if (o.mdns) tried.push('mDNS found nobody')
  const sweeps = o.sweeps ?? []
  for (const s of sweeps) {
    tried.push(`a sweep of ${s.subnet} (${s.ifname}) reached ${s.reached} device${s.reached === 1 ? '' : 's'}, ${s.ferry === 0 ? 'none of them a Ferry phone' : `${s.ferry} Ferry phone${s.ferry === 1 ? '' : 's'} showing other codes`}`)
  }
  const blind = sweepBlind(o.sweeps, o.selfAssigned ?? [])
  const nobody = sweeps.length > 0 && sweeps.every(s => s.reached === 0)
  const hint = blind !== undefined
    ? ` ${blind}`
    : nobody
      ? ` If the old phone is on this Wi-Fi, the Wi-Fi may keep devices apart (client or AP isolation). ${ISOLATION_ADVICE}`
      : ' Check that the old phone runs \'ferry send\' on the same network and shows this code.'
  return new FerryError(ErrorCode.NO_PEER,
    `no phone showing a code starting ${o.nameplate} was found within ${Math.round(o.ms / 1000)} s${tried.length > 0 ? ` (${tried.join('; ')})` : ''}.${hint}`,
    { sweeps })
}
