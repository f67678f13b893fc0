import { multiaddr } from '@multiformats/multiaddr'
import { describe, expect, it } from 'vitest'
import { dialableAddresses, lanAnnounceFilter, sortAddresses } from '../../src/net/addresses.js'

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
