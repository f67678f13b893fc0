import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os'

/**
 * This phone's IPv4 networks, as the sweep and the dialler see them. A phone on Wi-Fi has one; a laptop
 * may add Ethernet, a VPN's tun device, a container bridge. Only interfaces that are up and running are
 * listed (libuv leaves the others out of os.networkInterfaces()), never loopback or link-local.
 */
export interface LocalSubnet {
  ifname: string
  /** Our address on it. */
  address: string
  /** The interface's real prefix length: which addresses are on-link. */
  prefix: number
  /**
   * The prefix the sweep covers: the interface's own network when it is a /24 or narrower, otherwise
   * the /24 around our address (at most 254 hosts; a phone's peer is nearly always that close).
   */
  sweepPrefix: number
  /**
   * A VPN, a container or VM bridge, a carrier-grade NAT address (Tailscale and the like): dialled and
   * swept after the real LAN, since the other phone is almost never behind one.
   */
  virtual: boolean
}

const VIRTUAL_NAME = /^(tun|tap|wg|utun|ppp|ipsec|tailscale|zt|docker|br-|veth|virbr|vboxnet|vmnet|lxc|lxd|cni|flannel|cali|weave|podman|nordlynx|proton|cscotun|gpd|vpn|ham)/i

export function ipv4ToInt (ip: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip)
  if (m === null) return undefined
  const parts = m.slice(1).map(Number)
  if (parts.some(p => p > 255)) return undefined
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0
}

export function intToIpv4 (n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.')
}

const mask = (prefix: number): number => prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0
/** The network part of an address, unsigned (JavaScript's & is signed). */
const net = (n: number, prefix: number): number => (n & mask(prefix)) >>> 0

/** `10.1.2.0/24` for an address and a prefix. */
export function cidrOf (address: string, prefix: number): string {
  return `${intToIpv4(net(ipv4ToInt(address) ?? 0, prefix))}/${prefix}`
}

export function isVirtualInterface (ifname: string, address?: string): boolean {
  if (VIRTUAL_NAME.test(ifname)) return true
  // 100.64.0.0/10: carrier-grade NAT space, where overlay VPNs put their peers.
  const n = address !== undefined ? ipv4ToInt(address) : undefined
  return n !== undefined && net(n, 10) === ipv4ToInt('100.64.0.0')
}

/** The up, non-loopback IPv4 networks of this machine (or of `ifaces`), real LAN first. */
export function localSubnets (ifaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces()): LocalSubnet[] {
  const out: LocalSubnet[] = []
  for (const [ifname, infos] of Object.entries(ifaces)) {
    for (const info of infos ?? []) {
      if (info.family !== 'IPv4' || info.internal) continue
      const n = ipv4ToInt(info.address)
      if (n === undefined || net(n, 16) === ipv4ToInt('169.254.0.0') || (n >>> 24) === 127) continue
      const prefix = Number(info.cidr?.split('/')[1] ?? prefixOfNetmask(info.netmask))
      if (!Number.isInteger(prefix) || prefix < 0 || prefix > 32) continue
      out.push({ ifname, address: info.address, prefix, sweepPrefix: Math.max(prefix, 24), virtual: isVirtualInterface(ifname, info.address) })
    }
  }
  // Stable: the OS order (by interface index) within each kind.
  return out.map((s, i) => ({ s, i })).sort((a, b) => Number(a.s.virtual) - Number(b.s.virtual) || a.i - b.i).map(x => x.s)
}

/**
 * This machine's self-assigned IPv4 addresses (169.254/16, what a phone picks when DHCP gets no answer):
 * never swept, since a /16 is far too wide to ask host by host.
 */
export function selfAssignedAddresses (ifaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces()): string[] {
  return Object.values(ifaces).flatMap(infos => (infos ?? [])
    .filter(i => i.family === 'IPv4' && !i.internal && net(ipv4ToInt(i.address) ?? 0, 16) === ipv4ToInt('169.254.0.0'))
    .map(i => i.address))
}

/** Whether this machine has any interface besides loopback (any family, any address). */
export function onAnyNetwork (ifaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces()): boolean {
  return Object.values(ifaces).some(infos => (infos ?? []).some(i => !i.internal))
}

function prefixOfNetmask (netmask: string): number {
  const n = ipv4ToInt(netmask) ?? 0
  let bits = 0
  for (let b = 31; b >= 0 && ((n >>> b) & 1) === 1; b--) bits++
  return bits
}

/** Whether `ip` is on-link on `subnet` (its real prefix, not the swept /24). */
export function onSubnet (ip: string, subnet: Pick<LocalSubnet, 'address' | 'prefix'>): boolean {
  const a = ipv4ToInt(ip)
  const b = ipv4ToInt(subnet.address)
  if (a === undefined || b === undefined) return false
  return net(a, subnet.prefix) === net(b, subnet.prefix)
}

/**
 * The range a sweep of `subnet` asks, as a person reads it: `10.1.0.0/24 (wlan0)`, and when the network
 * is wider than that, `10.1.0.0/24 (wlan0, part of 10.1.0.0/22)`.
 */
export function sweptRange (subnet: Pick<LocalSubnet, 'address' | 'prefix' | 'sweepPrefix' | 'ifname'>): string {
  const wider = subnet.prefix < subnet.sweepPrefix ? `, part of ${cidrOf(subnet.address, subnet.prefix)}` : ''
  return `${cidrOf(subnet.address, subnet.sweepPrefix)} (${subnet.ifname}${wider})`
}

/** The local subnet an address is on-link on, the real LAN before a virtual one. */
export function subnetFor (ip: string, subnets: LocalSubnet[] = localSubnets()): LocalSubnet | undefined {
  return subnets.find(s => onSubnet(ip, s))
}

/**
 * The addresses the sweep probes on a subnet: every host of its swept range except the network and
 * broadcast addresses and our own, nearest to our own address first (DHCP servers hand out neighbouring
 * addresses, so the other phone is usually close by).
 */
export function sweepHosts (subnet: Pick<LocalSubnet, 'address' | 'sweepPrefix'>): string[] {
  const self = ipv4ToInt(subnet.address)
  if (self === undefined) return []
  const size = 2 ** (32 - subnet.sweepPrefix)
  const base = net(self, subnet.sweepPrefix)
  const hosts: number[] = []
  // A /31 has two hosts and no network or broadcast address (RFC 3021); a /32 has nobody else.
  const first = size <= 2 ? 0 : 1
  const last = size <= 2 ? size - 1 : size - 2
  for (let i = first; i <= last; i++) {
    const h = (base + i) >>> 0
    if (h !== self) hosts.push(h)
  }
  hosts.sort((a, b) => Math.abs(a - self) - Math.abs(b - self) || a - b)
  return hosts.map(intToIpv4)
}
