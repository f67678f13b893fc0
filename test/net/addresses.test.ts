import { multiaddr } from '@multiformats/multiaddr'
import { describe, expect, it } from 'vitest'
import { awayFromLoopback, dialableAddresses, lanAnnounceFilter, networkOf, sortAddresses } from '../../src/net/addresses.js'

const m = (s: string) => multiaddr(s)
const str = (xs: Array<{ toString: () => string }>) => xs.map(String)

describe('announced addresses', () => {
  it('drops loopback and link-local when the phone has a LAN address', () => {
    const got = lanAnnounceFilter([
      m('/ip4/127.0.0.1/tcp/4001'), m('/ip4/192.168.1.20/tcp/4001'), m('/ip6/::1/tcp/4001'),
      m('/ip6/fe80::1/tcp/4001'), m('/ip4/10.1.2.3/tcp/4001')
    ])
    expect(str(got)).toEqual(['/ip4/192.168.1.20/tcp/4001', '/ip4/10.1.2.3/tcp/4001'])
  })

  it('keeps loopback when it is all there is', () => {
    expect(str(lanAnnounceFilter([m('/ip4/127.0.0.1/tcp/4001'), m('/ip6/::1/tcp/4001')])))
      .toEqual(['/ip4/127.0.0.1/tcp/4001', '/ip6/::1/tcp/4001'])
    expect(lanAnnounceFilter([])).toEqual([])
  })

  it('announces a self-assigned IPv4 address before loopback: what a phone has when DHCP got no answer', () => {
    expect(str(lanAnnounceFilter([m('/ip4/127.0.0.1/tcp/4001'), m('/ip4/169.254.7.8/tcp/4001'), m('/ip6/fe80::1/tcp/4001')])))
      .toEqual(['/ip4/169.254.7.8/tcp/4001'])
    // A listener on 0.0.0.0 lists no link-local address: its loopback port stands for it on them.
    expect(str(lanAnnounceFilter([m('/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWGC6TvWhfapngX6wvJHMYvKpDMXPb3ZnCZ6dMoaMtimQ5'), m('/ip4/127.0.0.1/udp/4002/webrtc-direct')], { selfAssigned: ['169.254.7.8'] })))
      .toEqual(['/ip4/169.254.7.8/tcp/4001/p2p/12D3KooWGC6TvWhfapngX6wvJHMYvKpDMXPb3ZnCZ6dMoaMtimQ5', '/ip4/169.254.7.8/udp/4002/webrtc-direct'])
    // A LAN address wins over both.
    expect(str(lanAnnounceFilter([m('/ip4/127.0.0.1/tcp/1'), m('/ip4/10.0.0.2/tcp/1')], { selfAssigned: ['169.254.7.8'] }))).toEqual(['/ip4/10.0.0.2/tcp/1'])
  })

  it('tells a phone on a LAN from one with a self-assigned address or none', () => {
    expect(networkOf([m('/ip4/127.0.0.1/tcp/1'), m('/ip4/10.0.0.2/tcp/1')])).toBe('lan')
    expect(networkOf([m('/ip4/169.254.7.8/tcp/1')])).toBe('link-local')
    expect(networkOf([m('/ip4/127.0.0.1/tcp/1'), m('/ip6/fe80::1/tcp/1')])).toBe('none')
    expect(networkOf([])).toBe('none')
  })

  it('drops the loopback addresses another host tells of: they name this machine', () => {
    const told = [m('/ip4/127.0.0.1/tcp/1'), m('/ip4/169.254.7.8/tcp/1')]
    expect(str(awayFromLoopback(told, { host: '10.0.0.9', onNetwork: true }))).toEqual(['/ip4/169.254.7.8/tcp/1'])
    expect(str(awayFromLoopback(told, { host: '127.0.0.1', onNetwork: true }))).toEqual(str(told))
    // mDNS does not say who announced: on a network, another host; with loopback alone, this machine.
    expect(awayFromLoopback([m('/ip4/127.0.0.1/tcp/1')], { onNetwork: true })).toEqual([])
    expect(str(awayFromLoopback([m('/ip4/127.0.0.1/tcp/1')], { onNetwork: false }))).toEqual(['/ip4/127.0.0.1/tcp/1'])
  })

  it('sorts private IPv4 first and loopback last, stable otherwise', () => {
    const got = sortAddresses([
      m('/ip4/127.0.0.1/tcp/1'), m('/ip6/2a00:1450::1/tcp/1'), m('/ip4/8.8.8.8/tcp/1'),
      m('/ip4/192.168.0.2/tcp/1'), m('/ip6/fd00::2/tcp/1'), m('/ip4/10.0.0.2/tcp/1')
    ])
    expect(str(got)).toEqual([
      '/ip4/192.168.0.2/tcp/1', '/ip4/10.0.0.2/tcp/1', '/ip6/fd00::2/tcp/1', '/ip4/8.8.8.8/tcp/1',
      '/ip6/2a00:1450::1/tcp/1', '/ip4/127.0.0.1/tcp/1'
    ])
  })

  it('lists a node\'s addresses once each, best first', () => {
    const node = { getMultiaddrs: () => [m('/ip4/127.0.0.1/tcp/1'), m('/ip4/10.0.0.2/tcp/1'), m('/ip4/10.0.0.2/tcp/1')] }
    expect(str(dialableAddresses(node))).toEqual(['/ip4/10.0.0.2/tcp/1', '/ip4/127.0.0.1/tcp/1'])
  })
})
