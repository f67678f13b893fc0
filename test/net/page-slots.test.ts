import { describe, expect, it } from 'vitest'
import { PageSlots, type PageCloseReason, type PageSocket } from '../../src/net/page-slots.js'

// The page server's connection policy on its own, with sockets that record being closed and timers the
// test fires. The same policy against real sockets: page-flood.test.ts.

interface Fake extends PageSocket {
  reason?: PageCloseReason
  destroyed: boolean
}

function world () {
  // A clock the test moves: a timer fires once the clock passes its due time, in due order.
  let now = 0
  let timers: Array<{ due: number, fn: () => void, cancelled: boolean }> = []
  const limits = { maxConnections: 4, maxPerAddress: 2, requestWithinMs: 1000, answerStallMs: 5000 }
  const slots = new PageSlots({
    limits,
    schedule: (ms, fn) => {
      const t = { due: now + ms, fn, cancelled: false }
      timers.push(t)
      return { cancel: () => { t.cancelled = true } }
    },
    onClosed: (s, reason) => { (s as Fake).reason = reason }
  })
  const open = (remoteAddress: string): Fake => {
    const s: Fake = { remoteAddress, destroyed: false, destroy: () => { s.destroyed = true } }
    slots.opened(s)
    return s
  }
  const advance = (ms: number): void => {
    now += ms
    for (;;) {
      const next = timers.filter(t => !t.cancelled && t.due <= now).sort((a, b) => a.due - b.due)[0]
      if (next === undefined) break
      timers = timers.filter(t => t !== next)
      next.fn()
    }
  }
  /** The request deadline of every idle connection passes. */
  const expire = (): void => { advance(limits.requestWithinMs) }
  return { slots, open, advance, expire }
}

describe('page slots', () => {
  it('cuts a connection that sends no request in time, and one idle too long after its answer', () => {
    const w = world()
    const silent = w.open('10.0.0.2')
    const browser = w.open('10.0.0.3')
    w.slots.requestBegan(browser)
    w.expire()
    expect(silent).toMatchObject({ destroyed: true, reason: 'no-request-in-time' })
    // Answering takes as long as it takes while the answer moves (below).
    expect(browser.destroyed).toBe(false)
    w.slots.requestEnded(browser)
    w.expire()
    expect(browser).toMatchObject({ destroyed: true, reason: 'no-request-in-time' })
    expect(w.slots.size).toBe(0)
  })

  it('makes room on an address by closing its least recently used idle connection, not by refusing the newcomer', () => {
    const w = world()
    const a = w.open('10.0.0.2')
    const b = w.open('10.0.0.2')
    w.slots.requestBegan(a)
    w.slots.requestEnded(a) // a was used after b
    const c = w.open('10.0.0.2')
    expect(b).toMatchObject({ destroyed: true, reason: 'address-full' })
    expect([a.destroyed, c.destroyed]).toEqual([false, false])
    // Every other connection of the address is answering: the newcomer is the one refused.
    w.slots.requestBegan(a)
    w.slots.requestBegan(c)
    const d = w.open('10.0.0.2')
    expect(d).toMatchObject({ destroyed: true, reason: 'address-full' })
    expect([a.destroyed, c.destroyed]).toEqual([false, false])
  })

  it('when full, closes an idle connection of the address holding the most, never the browser\'s', () => {
    const w = world()
    const browser = w.open('10.0.0.9')
    const flood = [w.open('10.0.0.2'), w.open('10.0.0.2'), w.open('10.0.0.3')]
    // The browser's connection is the least recently used, but its address holds one connection.
    const again = w.open('10.0.0.4')
    expect(browser.destroyed).toBe(false)
    expect(again.destroyed).toBe(false)
    expect(flood[0]).toMatchObject({ destroyed: true, reason: 'server-full' })
    expect(w.slots.size).toBe(4)
    // All answering: nothing to close, the newcomer is refused.
    for (const s of [browser, flood[1], flood[2], again]) w.slots.requestBegan(s)
    expect(w.open('10.0.0.5')).toMatchObject({ destroyed: true, reason: 'server-full' })
    expect(w.slots.closed).toEqual({ 'no-request-in-time': 0, 'answer-stalled': 0, 'address-full': 0, 'server-full': 2 })
  })

  it('cuts a connection whose answer stops moving, and keeps one whose answer moves however slowly', () => {
    const w = world()
    const reader = w.open('10.0.0.2')
    const stuck = w.open('10.0.0.3')
    w.slots.requestBegan(reader)
    w.slots.requestBegan(stuck)
    // A piece taken just before the deadline puts it off; no piece, and the connection goes.
    w.advance(4000)
    w.slots.answerMoved(reader)
    w.advance(2000)
    expect(stuck).toMatchObject({ destroyed: true, reason: 'answer-stalled' })
    w.slots.answerMoved(reader)
    w.advance(4000)
    w.slots.answerMoved(reader)
    expect(reader.destroyed).toBe(false)
    // Answered, it owes a request again, on the request deadline.
    w.slots.requestEnded(reader)
    w.expire()
    expect(reader).toMatchObject({ destroyed: true, reason: 'no-request-in-time' })
    expect(w.slots.closed).toMatchObject({ 'answer-stalled': 1, 'no-request-in-time': 1 })
  })

  it('makes room with a stalled answer once it is cut, not before', () => {
    const w = world()
    const a = w.open('10.0.0.2')
    const b = w.open('10.0.0.2')
    w.slots.requestBegan(a)
    w.slots.requestBegan(b)
    // Both answering: a newcomer of the address is refused while the answers can still move.
    expect(w.open('10.0.0.2')).toMatchObject({ destroyed: true, reason: 'address-full' })
    w.advance(5000)
    expect([a.reason, b.reason]).toEqual(['answer-stalled', 'answer-stalled'])
    const browser = w.open('10.0.0.2')
    expect(browser.destroyed).toBe(false)
  })

  it('forgets a connection closed by its peer', () => {
    const w = world()
    const a = w.open('10.0.0.2')
    w.slots.gone(a)
    w.expire()
    expect(a.destroyed).toBe(false)
    expect(w.slots.size).toBe(0)
  })
})
