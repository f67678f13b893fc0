import { multiaddr } from '@multiformats/multiaddr'
import { peerIdOf } from '../net/addresses.js'

/**
 * Where a resume dials the old phone `peer`: first the addresses the page was just served with, when
 * they name that phone (a page served by the old phone itself, started again, holds where it listens
 * now, perhaps another port than at pairing), then the addresses saved at pairing. Addresses of
 * another phone, or that do not parse, are left out: the pairing is with `peer`.
 */
export function resumeAddrs (peer: string, saved: string[], served: string[]): string[] {
  const now = served.filter(a => {
    try {
      return peerIdOf(multiaddr(a)) === peer
    } catch {
      return false
    }
  })
  return [...new Set([...now, ...saved])]
}
