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
 * The NO_PEER error for a search that found nobody, saying what was tried; when a sweep reached no
 * device at all, the isolation advice comes with it (an empty network looks the same, so it is a hint).
 */
export function notFoundError (o: { nameplate: string, ms: number, mdns: boolean, sweeps?: SubnetStats[] }): FerryError {
  const tried: string[] = []
  if (o.mdns) tried.push('mDNS found nobody')
  const sweeps = o.sweeps ?? []
  for (const s of sweeps) {
    tried.push(`a sweep of ${s.subnet} (${s.ifname}) reached ${s.reached} device${s.reached === 1 ? '' : 's'}, ${s.ferry === 0 ? 'none of them a Ferry phone' : `${s.ferry} Ferry phone${s.ferry === 1 ? '' : 's'} showing other codes`}`)
  }
  const nobody = sweeps.length > 0 && sweeps.every(s => s.reached === 0)
  const hint = nobody
    ? ` If the old phone is on this Wi-Fi, the Wi-Fi may keep devices apart (client or AP isolation). ${ISOLATION_ADVICE}`
    : ' Check that the old phone runs \'ferry send\' on the same network and shows this code.'
  return new FerryError(ErrorCode.NO_PEER,
    `no phone showing a code starting ${o.nameplate} was found within ${Math.round(o.ms / 1000)} s${tried.length > 0 ? ` (${tried.join('; ')})` : ''}.${hint}`,
    { sweeps })
}
