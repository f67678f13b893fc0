import { multiaddr } from '@multiformats/multiaddr'
import { describe, expect, it } from 'vitest'
import { firstRoundNote, looksIsolated, notFoundError, unreachableError } from '../../src/net/isolation.js'
import type { ReachAttempt } from '../../src/net/happy-dial.js'

const at = (ip: string, outcome: ReachAttempt['outcome']): ReachAttempt => ({ addr: multiaddr(`/ip4/${ip}/tcp/4001`), outcome })
const emptySweep = [{ subnet: '10.1.2.0/24', ifname: 'wlan0', hosts: 253, probed: 253, reached: 0, ferry: 0 }]

describe('the isolation diagnosis', () => {
  it('says ISOLATED when a phone known to be here right now answers on none of its addresses', () => {
    for (const via of ['mdns', 'sweep', 'qr'] as const) {
      expect(looksIsolated({ via, attempts: [at('10.1.2.11', 'silent'), at('10.8.0.3', 'silent'), at('10.1.2.12', 'skipped')] })).toBe(true)
    }
    const e = unreachableError({ via: 'mdns', attempts: [at('10.1.2.11', 'silent')], sweeps: emptySweep })
    expect(e.code).toBe('ISOLATED')
    expect(e.message).toContain('its mDNS announcement reached this phone')
    expect(e.message).toContain('a sweep of 10.1.2.0/24 reached no other device')
    expect(e.message).toContain('this Wi-Fi seems to keep devices apart (client or AP isolation')
    expect(e.message).toContain('hotspot')
  })

  it('does not when one address refused (the phone stopped), or when nothing says the phone is here now', () => {
    expect(looksIsolated({ via: 'mdns', attempts: [at('10.1.2.11', 'silent'), at('10.1.2.12', 'refused')] })).toBe(false)
    expect(unreachableError({ via: 'mdns', attempts: [at('10.1.2.11', 'refused')] }).code).toBe('NO_PEER')
    // An address typed by hand or remembered from an earlier pairing may simply be wrong or old.
    expect(unreachableError({ via: 'peer', attempts: [at('10.1.2.11', 'silent')] }).code).toBe('NO_PEER')
    expect(unreachableError({ via: 'resume', attempts: [at('10.1.2.11', 'silent')] }).code).toBe('NO_PEER')
    expect(looksIsolated({ via: 'qr', attempts: [] })).toBe(false)
  })

  it('a search that found nobody blames the network\'s size, or the lack of one, before isolation', () => {
    const wider = [{ ...emptySweep[0], subnet: '10.77.0.0/24', network: '10.77.0.0/22' }]
    const big = notFoundError({ nameplate: '123', ms: 60_000, mdns: true, sweeps: wider })
    expect(big.message).toContain('No device answered in 10.77.0.0/24, the part searched of a larger network (10.77.0.0/22): the old phone may be on the rest of it.')
    expect(big.message).not.toMatch(/isolation|hotspot/)
    expect(firstRoundNote(wider)).toEqual({ note: 'No device answered in 10.77.0.0/24, the part searched of a larger network (10.77.0.0/22): the old phone may be on the rest of it.', nobody: true })
    expect(notFoundError({ nameplate: '123', ms: 5000, mdns: true, sweeps: [] }).message).toBe('no phone showing a code starting 123 was found within 5 s (mDNS found nobody). ' +
      'This phone has no IPv4 address on any network, so searching cannot find the old phone.')
    expect(notFoundError({ nameplate: '123', ms: 5000, mdns: true, sweeps: [], selfAssigned: ['169.254.1.2'] }).message)
      .toContain('This phone has no IPv4 network to search, only the self-assigned 169.254.1.2 (no DHCP answer), so only mDNS can find the old phone here.')
    // The whole network swept and nobody there: the isolation hint, as before.
    expect(notFoundError({ nameplate: '123', ms: 5000, mdns: true, sweeps: emptySweep }).message).toMatch(/client or AP isolation/)
    expect(firstRoundNote(emptySweep).note).toMatch(/client isolation/)
    // Without a sweep nothing is said of one.
    expect(notFoundError({ nameplate: '123', ms: 5000, mdns: true }).message).toMatch(/Check that the old phone runs/)
  })
})
