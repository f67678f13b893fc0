import { describe, expect, it } from 'vitest'
import { ErrorCode, isFerryError } from '../../src/errors.js'
import { CodeLifetime } from '../../src/pairing/attempts.js'

const expired = (f: () => unknown): Record<string, unknown> | undefined => {
  try { f() } catch (err) {
    expect(isFerryError(err, ErrorCode.CODE_EXPIRED)).toBe(true)
    return (err as { details?: Record<string, unknown> }).details
  }
  throw new Error('expected CODE_EXPIRED')
}

describe('code lifetime', () => {
  it('three failed attempts in total kill the code', () => {
    const life = new CodeLifetime({ now: () => 0 })
    life.begin().fail()
    life.begin().fail()
    expect(life.remaining).toBe(1)
    life.begin().fail()
    expect(life.state).toBe('exhausted')
    expect(expired(() => life.begin())).toEqual({ state: 'exhausted' })
  })

  it('success after two failures still works, then the code is used', () => {
    const life = new CodeLifetime({ now: () => 0 })
    life.begin().fail()
    life.begin().fail()
    life.begin().succeed()
    expect(life.state).toBe('used')
    expect(expired(() => life.begin())).toEqual({ state: 'used' })
  })

  it('one success uses the code: a second attempt in flight cannot succeed as well', () => {
    const life = new CodeLifetime({ now: () => 0 })
    const first = life.begin()
    const second = life.begin()
    first.succeed()
    expect(expired(() => second.succeed())).toEqual({ state: 'used' })
    expect(life.state).toBe('used')
    second.succeed() // settled already: a no-op, and still no second success
    expect(life.snapshot()).toMatchObject({ used: true, charged: 1 })
  })

  it('expires after ten minutes on the injected clock', () => {
    let now = 5_000
    const life = new CodeLifetime({ now: () => now })
    expect(life.expiresAt).toBe(5_000 + 600_000)
    now = 5_000 + 599_999
    life.begin().cancel()
    now = 5_000 + 600_000
    expect(life.state).toBe('expired')
    expect(life.remaining).toBe(0)
    expect(expired(() => life.begin())).toEqual({ state: 'expired' })
  })

  it('an attempt in flight holds its charge; a cancel gives it back; unsettled attempts stay charged', () => {
    const life = new CodeLifetime({ now: () => 0 })
    const a = life.begin()
    const b = life.begin()
    life.begin() // never settled: a peer that vanished
    expect(life.remaining).toBe(0)
    expired(() => life.begin()) // all guesses in flight: refused
    a.cancel()
    expect(life.remaining).toBe(1)
    b.fail()
    b.fail() // settling twice is a no-op
    b.succeed()
    expect(life.failures).toBe(1)
    expect(life.state).toBe('live')
  })

  it('carries on from an earlier run: its charged attempts stay spent and its expiry stands', () => {
    let now = 1_000_000
    const life = new CodeLifetime({ now: () => now, carry: { expiresAt: now + 60_000, charged: 2 } })
    expect(life.remaining).toBe(1)
    expect(life.expiresAt).toBe(now + 60_000)
    life.begin().fail()
    expect(life.state).toBe('exhausted')
    // An expiry later than a fresh code's would be is cut to a fresh code's.
    expect(new CodeLifetime({ now: () => now, carry: { expiresAt: now + 3_600_000, charged: 0 } }).expiresAt).toBe(now + 600_000)
    const late = new CodeLifetime({ now: () => now, carry: { expiresAt: now + 5, charged: 0 } })
    now += 5
    expect(expired(() => late.begin())).toEqual({ state: 'expired' })
    expect(new CodeLifetime({ carry: { expiresAt: Date.now() + 1, charged: 3 } }).state).toBe('exhausted')
  })

  it('reports every change, counting attempts in flight as spent', () => {
    const seen: Array<{ charged: number, used: boolean, state: string }> = []
    const life = new CodeLifetime({ now: () => 0, onChange: s => seen.push({ charged: s.charged, used: s.used, state: s.state }) })
    const a = life.begin()
    const b = life.begin()
    a.cancel()
    b.fail()
    life.begin().succeed()
    expect(seen).toEqual([
      { charged: 1, used: false, state: 'live' }, // a charged
      { charged: 2, used: false, state: 'live' }, // b charged: both could be tested
      { charged: 1, used: false, state: 'live' }, // a given back
      { charged: 1, used: false, state: 'live' }, // b failed: still one
      { charged: 2, used: false, state: 'live' },
      { charged: 1, used: true, state: 'used' }
    ])
  })

  it('validates its options', () => {
    expect(() => new CodeLifetime({ maxFailures: 0 })).toThrow()
    expect(() => new CodeLifetime({ ttlMs: 0 })).toThrow()
    expect(() => new CodeLifetime({ carry: { expiresAt: 0, charged: -1 } })).toThrow()
    expect(() => new CodeLifetime({ carry: { expiresAt: NaN, charged: 0 } })).toThrow()
  })
})

describe('code lifetime: attempts with the QR code\'s key', () => {
  it('are not charged and do not wait for the typed guesses: three held open by strangers block none', () => {
    const lifetime = new CodeLifetime({ now: () => 0 })
    const held = [lifetime.begin(), lifetime.begin(), lifetime.begin()]
    expired(() => lifetime.begin())
    const scan = lifetime.begin({ qr: true })
    lifetime.begin({ qr: true }).fail()
    expect(lifetime.snapshot().charged).toBe(3)
    for (const a of held) a.fail()
    expect(lifetime.state).toBe('exhausted')
    expect(lifetime.pairsByQr).toBe(true)
    scan.succeed()
    expect(lifetime.state).toBe('used')
    expect(lifetime.pairsByQr).toBe(false)
    expect(expired(() => lifetime.begin({ qr: true }))?.state).toBe('used')
  })

  it('one success still uses the code: a typed attempt in flight cannot succeed after a scan did', () => {
    const lifetime = new CodeLifetime({ now: () => 0 })
    const typed = lifetime.begin()
    lifetime.begin({ qr: true }).succeed()
    expired(() => typed.succeed())
    expect(lifetime.failures).toBe(1)
  })
})
