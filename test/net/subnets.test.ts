import type { NetworkInterfaceInfo } from 'node:os'
import { describe, expect, it } from 'vitest'
import { cidrOf, isVirtualInterface, localSubnets, onAnyNetwork, onSubnet, selfAssignedAddresses, subnetFor, sweepHosts, sweptRange } from '../../src/net/subnets.js'

const v4 = (address: string, cidr: string, internal = false): NetworkInterfaceInfo =>
  ({ address, netmask: '', family: 'IPv4', mac: '00:00:00:00:00:00', internal, cidr }) as NetworkInterfaceInfo

describe('local subnets', () => {
  it('lists up IPv4 interfaces, real LAN before VPNs and bridges, without loopback, link-local or IPv6', () => {
    const subnets = localSubnets({
      lo: [v4('127.0.0.1', '127.0.0.1/8', true)],
      tun0: [v4('10.8.0.2', '10.8.0.2/24')],
      docker0: [v4('172.17.0.1', '172.17.0.1/16')],
      wlan0: [v4('192.168.1.23', '192.168.1.23/24'), { ...v4('fe80::1', 'fe80::1/64'), family: 'IPv6' } as NetworkInterfaceInfo],
      eth1: [v4('169.254.3.4', '169.254.3.4/16')],
      tailscale0: [v4('100.101.102.103', '100.101.102.103/32')]
    })
    expect(subnets.map(s => [s.ifname, s.address, s.prefix, s.sweepPrefix, s.virtual])).toEqual([
      ['wlan0', '192.168.1.23', 24, 24, false],
      ['tun0', '10.8.0.2', 24, 24, true],
      ['docker0', '172.17.0.1', 16, 24, true],
      ['tailscale0', '100.101.102.103', 32, 32, true]
    ])
  })

  it('names the range a sweep asks, and the wider network it is part of', () => {
    expect(sweptRange({ ifname: 'wlan0', address: '10.77.1.11', prefix: 22, sweepPrefix: 24 })).toBe('10.77.1.0/24 (wlan0, part of 10.77.0.0/22)')
    expect(sweptRange({ ifname: 'wlan0', address: '192.168.1.23', prefix: 24, sweepPrefix: 24 })).toBe('192.168.1.0/24 (wlan0)')
  })

  it('finds the self-assigned addresses the sweep leaves out, and whether there is any network at all', () => {
    const ipv6Only = { lo: [v4('127.0.0.1', '127.0.0.1/8', true)], eth0: [{ ...v4('fe80::1', 'fe80::1/64'), family: 'IPv6' } as NetworkInterfaceInfo] }
    expect(selfAssignedAddresses({ ...ipv6Only, wlan0: [v4('169.254.3.4', '169.254.3.4/16')], eth1: [v4('10.0.0.2', '10.0.0.2/24')] })).toEqual(['169.254.3.4'])
    expect(selfAssignedAddresses(ipv6Only)).toEqual([])
    expect(onAnyNetwork(ipv6Only)).toBe(true)
    expect(onAnyNetwork({ lo: [v4('127.0.0.1', '127.0.0.1/8', true)] })).toBe(false)
  })

  it('treats carrier-grade NAT addresses as virtual whatever the interface is called', () => {
    expect(isVirtualInterface('eth0', '100.64.1.2')).toBe(true)
    expect(isVirtualInterface('eth0', '100.128.1.2')).toBe(false)
    expect(isVirtualInterface('wlan0', '10.0.0.5')).toBe(false)
    expect(isVirtualInterface('wg0')).toBe(true)
  })

  it('sweeps at most the /24 around the address, nearest hosts first, never itself', () => {
    const hosts = sweepHosts({ address: '10.20.30.40', sweepPrefix: 24 })
    expect(hosts).toHaveLength(253)
    expect(hosts.slice(0, 4)).toEqual(['10.20.30.39', '10.20.30.41', '10.20.30.38', '10.20.30.42'])
    expect(hosts).not.toContain('10.20.30.40')
    expect(hosts).not.toContain('10.20.30.0')
    expect(hosts).not.toContain('10.20.30.255')
    expect(new Set(hosts).size).toBe(253)
    // A /16 interface is swept as the /24 around its address.
    const wide = localSubnets({ en0: [v4('172.16.9.200', '172.16.9.200/16')] })[0]
    expect(cidrOf(wide.address, wide.sweepPrefix)).toBe('172.16.9.0/24')
    expect(sweepHosts(wide)).toHaveLength(253)
  })

  it('sweeps a narrow subnet as it is: a /30 has one other host, a /31 one, a /32 none', () => {
    expect(sweepHosts({ address: '192.168.43.1', sweepPrefix: 30 })).toEqual(['192.168.43.2'])
    expect(sweepHosts({ address: '10.0.0.0', sweepPrefix: 31 })).toEqual(['10.0.0.1'])
    expect(sweepHosts({ address: '10.0.0.7', sweepPrefix: 32 })).toEqual([])
  })

  it('knows which subnet an address is on by the real prefix', () => {
    const subnets = localSubnets({ wlan0: [v4('192.168.1.23', '192.168.1.23/24')], tun0: [v4('10.8.0.2', '10.8.0.2/24')] })
    expect(subnetFor('192.168.1.99', subnets)?.ifname).toBe('wlan0')
    expect(subnetFor('10.8.0.1', subnets)?.ifname).toBe('tun0')
    expect(subnetFor('192.168.2.1', subnets)).toBeUndefined()
    expect(onSubnet('not an ip', subnets[0])).toBe(false)
  })
})
