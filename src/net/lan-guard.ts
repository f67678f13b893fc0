import { readdirSync, statSync } from 'node:fs'
import { ErrorCode, FerryError } from '../errors.js'

// Shared machines (CI, this workplace) must not multicast onto the real LAN nor probe its hosts. With
// FERRY_MDNS_NETNS_ONLY=1 in the environment, mDNS and the subnet sweep refuse to run outside a named
// network namespace (the testbeds of scripts/lib/netns.ts). The variable keeps its first name: it is
// set by the test config, the demo and people's shells.

/**
 * The name of the network namespace this process runs in when it is one made by `ip netns add`
 * (found by matching /proc/self/ns/net against /run/netns/*, as `ip netns identify` does).
 * Undefined in the root namespace, an unnamed one, or off Linux.
 */
export function namedNetns (): string | undefined {
  try {
    const self = statSync('/proc/self/ns/net')
    for (const name of readdirSync('/run/netns')) {
      const st = statSync(`/run/netns/${name}`)
      if (st.ino === self.ino && st.dev === self.dev) return name
    }
  } catch {}
  return undefined
}

/** Whether the guard forbids local-network discovery in this process. */
export function lanDiscoveryForbidden (env: NodeJS.ProcessEnv = process.env): boolean {
  return env.FERRY_MDNS_NETNS_ONLY === '1' && namedNetns() === undefined
}

export function assertMdnsAllowed (env: NodeJS.ProcessEnv = process.env): void {
  if (lanDiscoveryForbidden(env)) {
    throw new FerryError(ErrorCode.BAD_INPUT, 'mDNS is only allowed inside a network namespace here (FERRY_MDNS_NETNS_ONLY=1); turn it off (--no-mdns, giving the other phone\'s address instead) or run in a namespace')
  }
}

/**
 * The sweep's guard. A sweep of loopback addresses (unit tests) never leaves the machine, so it is
 * allowed anywhere; any other subnet only inside a named namespace.
 */
export function assertSweepAllowed (addresses: string[], env: NodeJS.ProcessEnv = process.env): void {
  if (addresses.every(a => a.startsWith('127.'))) return
  if (lanDiscoveryForbidden(env)) {
    throw new FerryError(ErrorCode.BAD_INPUT, 'the subnet sweep is only allowed inside a network namespace here (FERRY_MDNS_NETNS_ONLY=1); use --peer <multiaddr>, --qr, or run in a namespace')
  }
}
