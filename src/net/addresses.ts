import type { Libp2p } from '@libp2p/interface'
import { isLinkLocal, isLoopback, isPrivate, tryGetNetConfig } from '@libp2p/utils'
import { isMultiaddr, multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { ErrorCode, FerryError } from '../errors.js'

/** The peer an address names (its last /p2p/ part), if it names one. */
export function peerIdOf (ma: Multiaddr): string | undefined {
  return ma.getComponents().findLast(c => c.name === 'p2p')?.value
}

/** The peer the first of the addresses that names one names. */
export function firstPeerIdOf (addrs: Multiaddr[]): string | undefined {
  for (const a of addrs) {
    const p = peerIdOf(a)
    if (p !== undefined) return p
  }
  return undefined
}

/**
 * Which of a node's addresses to tell peers about.
 *
 * A phone listening on 0.0.0.0 has 127.0.0.1 among its addresses. Announcing it made the peer try
 * its own loopback first (a dial that cannot succeed, before the one that can), and over mDNS it is worse than
 * useless. A phone whose DHCP got no answer has only a self-assigned IPv4 link-local address (169.254/16):
 * the other phone on the same link reaches it there, so that is announced before loopback. An IPv6
 * link-local address needs its interface named to be dialled, which a multiaddr cannot carry. A node that
 * only has loopback (tests, the demo without namespaces) must still announce it, or it announces nothing
 * and cannot be reached from the QR payload.
 */
export function lanAnnounceFilter (addrs: Multiaddr[], o: { selfAssigned?: string[] } = {}): Multiaddr[] {
  const reachable = addrs.filter(ma => !isLoopback(ma) && !isLinkLocal(ma))
  if (reachable.length > 0) return reachable
  // libp2p leaves link-local addresses out of what a listener on 0.0.0.0 lists: its port on loopback
  // stands for the same port on this phone's self-assigned addresses (`selfAssigned`, given only when
  // it listens on every interface).
  const linkLocal = [
    ...addrs.filter(ma => isLinkLocal(ma) && tryGetNetConfig(ma)?.type === 'ip4'),
    ...(o.selfAssigned ?? []).flatMap(host => addrs.filter(ma => isLoopback(ma) && tryGetNetConfig(ma)?.type === 'ip4')
      .map(ma => multiaddr(ma.toString().replace(/^\/ip4\/[^/]+/, `/ip4/${host}`))))
  ]
  if (linkLocal.length > 0) return linkLocal
  const loopback = addrs.filter(ma => isLoopback(ma))
  return loopback.length > 0 ? loopback : addrs
}

/**
 * What a phone's own addresses say about its network: `lan` when one of them is routable on a LAN,
 * `link-local` when the best is self-assigned (no DHCP answer), `none` when only loopback is left.
 */
export function networkOf (addrs: Multiaddr[]): 'lan' | 'link-local' | 'none' {
  if (addrs.some(ma => tryGetNetConfig(ma) !== null && !isLoopback(ma) && !isLinkLocal(ma))) return 'lan'
  return addrs.some(ma => isLinkLocal(ma) && tryGetNetConfig(ma)?.type === 'ip4') ? 'link-local' : 'none'
}

/**
 * A phone's addresses as another host told them (its mDNS announcement, its answer to the sweep): a
 * loopback address there names this machine, not that phone, and dialling it reaches nothing or the
 * wrong process. Kept only when the phone is this machine: its answer came from loopback, or (mDNS,
 * whose sender is not known) this machine has no network interface at all besides loopback.
 */
export function awayFromLoopback (addrs: Multiaddr[], from: { host?: string, onNetwork: boolean }): Multiaddr[] {
  const here = from.host !== undefined ? from.host.startsWith('127.') || from.host === '::1' : !from.onNetwork
  return here ? addrs : addrs.filter(ma => !isLoopback(ma))
}

/**
 * Lower ranks are dialled (and printed) first: a private IPv4 address is the phone's Wi-Fi address
 * in nearly every home; IPv6 ULA/global next; loopback last.
 */
export function addressRank (ma: Multiaddr): number {
  const cfg = tryGetNetConfig(ma)
  if (cfg === null) return 50
  if (isLoopback(ma)) return 90
  if (isLinkLocal(ma)) return 80
  const v4 = cfg.type === 'ip4'
  if (isPrivate(ma) === true) return v4 ? 0 : 10
  return v4 ? 20 : 30
}

export function sortAddresses (addrs: Multiaddr[]): Multiaddr[] {
  return addrs
    .map((ma, i) => ({ ma, i, r: addressRank(ma) }))
    .sort((a, b) => a.r - b.r || a.i - b.i)
    .map(x => x.ma)
}

/**
 * The addresses another phone can dial this node at, best first, each ending in /p2p/<peer id>:
 * what the CLI prints and what goes into the QR payload. Uses the announce-filtered list, so it
 * agrees with what mDNS and identify tell peers.
 */
export function dialableAddresses (node: Pick<Libp2p, 'getMultiaddrs'>): Multiaddr[] {
  const seen = new Set<string>()
  return sortAddresses(node.getMultiaddrs()).filter(ma => {
    const s = ma.toString()
    if (seen.has(s)) return false
    seen.add(s)
    return true
  })
}

/** The IP address of a multiaddr (/ip4/ or /ip6/), or undefined for one without. */
export function hostOf (ma: Multiaddr): string | undefined {
  return ma.getComponents().find(c => c.name === 'ip4' || c.name === 'ip6')?.value
}

/** The other phone's addresses as an app may hold them (parsed, or as the QR payload's strings). */
export function dialAddresses (addrs: ReadonlyArray<Multiaddr | string> | undefined): Multiaddr[] {
  if (!Array.isArray(addrs) || addrs.length === 0) {
    throw new FerryError(ErrorCode.BAD_INPUT, 'no address to reach the other phone at: pass its multiaddrs (from its QR code)')
  }
  return addrs.map(a => {
    if (isMultiaddr(a)) return a
    if (typeof a === 'string') {
      try {
        return multiaddr(a)
      } catch {}
    }
    throw new FerryError(ErrorCode.BAD_INPUT, `not an address of the other phone: ${String(a)} (want a multiaddr such as /ip4/192.168.1.20/tcp/4001/p2p/12D3Koo...)`)
  })
}
