import { describe, expect, it } from 'vitest'
import { PageSlots, type PageCloseReason, type PageSocket } from '../../src/net/page-slots.js'

// The page server's connection policy on its own, with sockets that record being closed and timers the
// test fires. The same policy against real sockets: page-flood.test.ts.

interface Fake extends PageSocket {
  reason?: PageCloseReason
  destroyed: boolean
}

function world () {
  let timers: Array<{ fn: () => void, cancelled: boolean }> = []
  const slots = new PageSlots({
    limits: { maxConnections: 4, maxPerAddress: 2, requestWithinMs: 1000 },
    schedule: (_ms, fn) => {
      const t = { fn, cancelled: false }
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
  /** The request deadline of every idle connection passes. */
  const expire = (): void => {
    const due = timers.filter(t => !t.cancelled)
    timers = []
    for (const t of due) t.fn()
  }
  return { slots, open, expire }
}

describe('page slots', () => {
  it('cuts a connection that sends no request in time, and one idle too long after its answer', () => {
    const w = world()
    const silent = w.open('10.0.0.2')
    const browser = w.open('10.0.0.3')
    w.slots.requestBegan(browser)
    w.expire()
    expect(silent).toMatchObject({ destroyed: true, reason: 'no-request-in-time' })
    // Answering takes as long as it takes.
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
    expect(w.slots.closed).toEqual({ 'no-request-in-time': 0, 'address-full': 0, 'server-full': 2 })
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
