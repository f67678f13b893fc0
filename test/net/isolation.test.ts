import { multiaddr } from '@multiformats/multiaddr'
import { describe, expect, it } from 'vitest'
import { looksIsolated, unreachableError } from '../../src/net/isolation.js'
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
})
