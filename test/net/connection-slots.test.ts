import { multiaddr } from '@multiformats/multiaddr'
import { describe, expect, it } from 'vitest'
import { ConnectionSlots, type CloseReason, type SlotConnection } from '../../src/net/connection-slots.js'
import { carriesAppStreams } from '../../src/net/whose-connection.js'

// The slot policy on its own, with connections that record what is done to them and a clock the test
// moves. The same policy against real libp2p peers: test/e2e/hostile-slots.test.ts.

interface Fake extends SlotConnection {
  how?: 'closed' | 'aborted'
  reason?: CloseReason
  streams: Array<{ protocol: string }>
}

/** `appUses`: as on an app's own node, where a connection the app uses is not Ferry's to close. */
function world (trustedPeers: Set<string> = new Set(), appUses?: (c: SlotConnection) => boolean) {
  let now = 0
  let timers: Array<{ at: number, fn: () => void, cancelled: boolean }> = []
  let n = 0
  const slots = new ConnectionSlots({
    limits: { maxUnpaired: 4, maxPerAddress: 2, maxPerPeer: 2, pairWithinMs: 1000 },
    trusted: p => trustedPeers.has(p),
    now: () => now,
    schedule: (ms, fn) => {
      const t = { at: now + ms, fn, cancelled: false }
      timers.push(t)
      return { cancel: () => { t.cancelled = true } }
    },
    onClosed: (c, reason) => { (c as Fake).reason = reason },
    appUses
  })
  const open = (peer: string, host: string, direction: 'inbound' | 'outbound' = 'inbound', streams: string[] = []): Fake => {
    const c: Fake = {
      id: `c${++n}`,
      streams: streams.map(protocol => ({ protocol })),
      remotePeer: { toString: () => peer },
      remoteAddr: multiaddr(`/ip4/${host}/tcp/${40000 + n}`),
      direction,
      close: async () => { c.how = 'closed' },
      abort: () => { c.how ??= 'aborted' }
    }
    slots.opened(c)
    return c
  }
  const advance = (ms: number): void => {
    now += ms
    const due = timers.filter(t => t.at <= now && !t.cancelled)
    timers = timers.filter(t => !due.includes(t))
    for (const t of due) t.fn()
  }
  /** Fires every pending timer now, early: Node's timers may run a hair before the clock says they are due. */
  const fireEarly = (): void => {
    const due = timers.filter(t => !t.cancelled)
    timers = []
    for (const t of due) t.fn()
  }
  const gone = (c: Fake): void => { slots.gone(c) }
  return { slots, open, advance, fireEarly, gone }
}

const open = (c: Fake): boolean => c.how === undefined

describe('connection slots', () => {
  it('a connection that does not begin pairing in time is let go; one that pairs stays', () => {
    const trusted = new Set<string>()
    const w = world(trusted)
    const idle = w.open('idle', '10.0.0.2')
    const phone = w.open('phone', '10.0.0.3')
    w.advance(500)
    w.slots.attemptBegan(phone)
    w.advance(499)
    expect(open(idle)).toBe(true)
    w.advance(1)
    expect(idle).toMatchObject({ how: 'aborted', reason: 'not-paired-in-time' })
    // Pairing runs past the deadline: kept while it runs, and for good once paired.
    expect(open(phone)).toBe(true)
    trusted.add('phone')
    w.slots.attemptEnded(phone, true, true)
    w.advance(60_000)
    expect(open(phone)).toBe(true)
    expect(w.slots.closed).toMatchObject({ 'not-paired-in-time': 1, 'pairing-failed': 0 })
  })

  it('a failed pairing leaves its connection open for the peer to read why, then closes it gracefully', () => {
    const w = world()
    const guess = w.open('guesser', '10.0.0.2')
    w.slots.attemptBegan(guess)
    w.slots.attemptEnded(guess, true, false)
    const late = w.open('late', '10.0.0.3') // the code was dead: no attempt began
    w.slots.attemptEnded(late, false, false)
    // Counted at once; cut only after the linger (closing at once can reset the ABORT away unread).
    expect(w.slots.closed['pairing-failed']).toBe(2)
    expect([open(guess), open(late)]).toEqual([true, true])
    w.advance(w.slots.limits.lingerMs - 1)
    expect([open(guess), open(late)]).toEqual([true, true])
    // The honest peer hangs up on reading the ABORT: nothing is left to close.
    w.gone(late)
    w.advance(1)
    expect(guess).toMatchObject({ how: 'closed', reason: 'pairing-failed' })
    expect(late.how).toBeUndefined()
    // The pairing deadline does not cut a lingering connection short, nor count it twice.
    w.advance(60_000)
    expect(w.slots.closed).toMatchObject({ 'pairing-failed': 2, 'not-paired-in-time': 0 })
  })

  it('a lingering connection is the first pushed out when a newcomer needs room, and counted once', () => {
    const w = world()
    const idle = w.open('idle', '10.0.0.9')
    const failed = w.open('failed', '10.0.0.9') // younger than idle, but its pairing failed
    w.slots.attemptEnded(failed, false, false)
    const newcomer = w.open('new', '10.0.0.9')
    expect(failed.how).toBe('aborted')
    expect([open(idle), open(newcomer)]).toEqual([true, true])
    expect(w.slots.closed).toMatchObject({ 'pairing-failed': 1, 'address-full': 0 })
    w.advance(w.slots.limits.lingerMs)
    expect(failed.how).toBe('aborted')
  })

  it('one address holds two unpaired connections: a third pushes out its oldest idle one, or goes itself', () => {
    const w = world()
    const [a, b] = [w.open('a', '10.0.0.9'), w.open('b', '10.0.0.9')]
    const c = w.open('c', '10.0.0.9')
    expect(a).toMatchObject({ how: 'aborted', reason: 'address-full' })
    expect([open(b), open(c)]).toEqual([true, true])
    w.gone(a)
    w.slots.attemptBegan(b)
    w.slots.attemptBegan(c)
    const d = w.open('d', '10.0.0.9') // both are pairing: nobody to push out
    expect(d).toMatchObject({ how: 'aborted', reason: 'address-full' })
    expect([open(b), open(c)]).toEqual([true, true])
    // Another address is not affected.
    expect(open(w.open('e', '10.0.0.10'))).toBe(true)
  })

  it('a full house always lets a newcomer in by pushing out the oldest idle stranger', () => {
    const w = world()
    const first = [1, 2, 3, 4].map(i => w.open(`p${i}`, `10.0.1.${i}`))
    w.slots.attemptBegan(first[0]) // pairing: it stays
    const newcomer = w.open('new phone', '10.0.1.50')
    expect(open(newcomer)).toBe(true)
    expect(first.map(c => c.reason)).toEqual([undefined, 'pushed-out', undefined, undefined])
    expect(w.slots.unpairedCount).toBe(4)
    // Every stranger pairing at once: the newcomer cannot push anyone out.
    for (const c of [first[2], first[3], newcomer]) w.slots.attemptBegan(c)
    const late = w.open('late', '10.0.1.60')
    expect(late.reason).toBe('pushed-out')
  })

  it('the paired phone is never counted or timed out; its reconnects replace its oldest connections', () => {
    const trusted = new Set(['phone'])
    const w = world(trusted)
    const strangers = [1, 2, 3, 4].map(i => w.open(`s${i}`, `10.0.2.${i}`))
    const phone = [w.open('phone', '10.0.2.100'), w.open('phone', '10.0.2.100')]
    expect(strangers.every(open)).toBe(true)
    expect(phone.every(open)).toBe(true)
    w.advance(5_000)
    expect(phone.every(open)).toBe(true)
    expect(strangers.every(c => c.reason === 'not-paired-in-time')).toBe(true)
    const third = w.open('phone', '10.0.2.100')
    expect(phone[0]).toMatchObject({ how: 'aborted', reason: 'peer-full' })
    expect([open(phone[1]), open(third)]).toEqual([true, true])
    // A new pairing replaced it: now it is a stranger, long past its time on its old connection, and
    // with the usual time on the one it just opened.
    w.advance(500)
    trusted.delete('phone')
    w.slots.review()
    expect([phone[1].reason, third.reason]).toEqual(['not-paired-in-time', undefined])
    w.advance(499)
    expect(open(third)).toBe(true)
    w.advance(1)
    expect(third.reason).toBe('not-paired-in-time')
  })

  it('a timer that fires a little early is not the end of the deadline', () => {
    const w = world()
    const idle = w.open('idle', '10.0.4.1')
    w.advance(999)
    w.fireEarly() // the 1000 ms timer runs while the clock says 999 ms
    expect(open(idle)).toBe(true)
    w.advance(1)
    expect(idle.reason).toBe('not-paired-in-time')
  })

  it('connections this phone dialled are its own business', () => {
    const w = world()
    const out = [1, 2, 3, 4, 5, 6].map(() => w.open('sender', '10.0.3.1', 'outbound'))
    w.advance(10_000)
    expect(out.every(open)).toBe(true)
    expect(w.slots.unpairedCount).toBe(0)
  })

  it('on an app\'s own node, a connection the app uses is let go of, never closed', () => {
    const w = world(new Set(), carriesAppStreams)
    const upkeep = ['/ipfs/id/1.0.0', '/ipfs/ping/1.0.0']
    // Already chatting when it came for Ferry: never held.
    const friend = w.open('friend', '10.0.5.1', 'inbound', ['/myapp/chat/1.0.0', '/ferry/pair/1.0.0'])
    // Came to pair, then chats: the deadline lets it go instead of closing it.
    const late = w.open('late', '10.0.5.2', 'inbound', [...upkeep, '/ferry/pair/1.0.0'])
    // Failed to pair, then chats: its linger ends without closing it.
    const typo = w.open('typo', '10.0.5.3', 'inbound', ['/ferry/pair/1.0.0'])
    // Ferry's streams and libp2p's upkeep only: judged as on Ferry's own node.
    const stranger = w.open('stranger', '10.0.5.4', 'inbound', [...upkeep, '/ferry/pair/1.0.0'])
    expect(w.slots.unpairedCount).toBe(3)
    w.slots.attemptEnded(typo, false, false)
    late.streams.push({ protocol: '/myapp/chat/1.0.0' })
    typo.streams.push({ protocol: '/myapp/chat/1.0.0' })
    w.advance(w.slots.limits.lingerMs)
    expect([friend, late, typo].every(open)).toBe(true)
    expect(stranger.reason).toBe('not-paired-in-time')
    expect(w.slots.unpairedCount).toBe(0)
    // Two from one address came to pair and now chat: a third from there pushes neither out.
    const [a, b] = [w.open('a', '10.0.5.9', 'inbound', ['/ferry/pair/1.0.0']), w.open('b', '10.0.5.9', 'inbound', ['/ferry/pair/1.0.0'])]
    a.streams.push({ protocol: '/myapp/chat/1.0.0' })
    b.streams.push({ protocol: '/myapp/chat/1.0.0' })
    const c = w.open('c', '10.0.5.9', 'inbound', ['/ferry/pair/1.0.0'])
    expect([a, b, c].every(open)).toBe(true)
    expect(w.slots.closed).toMatchObject({ 'pairing-failed': 1, 'not-paired-in-time': 1, 'address-full': 0 })
  })

  it('refuses limits that make no sense', () => {
    expect(() => new ConnectionSlots({ trusted: () => false, limits: { maxUnpaired: 0 } })).toThrow(/positive/)
    expect(() => new ConnectionSlots({ trusted: () => false, limits: { pairWithinMs: 0 } })).toThrow(/positive/)
  })
})
