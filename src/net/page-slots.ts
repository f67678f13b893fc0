import { logger } from '@libp2p/logger'
import { ErrorCode, FerryError } from '../errors.js'

// Who may hold a connection to the page server (page-server.ts). It serves a browser on the LAN a page
// of a few files over plain HTTP, so anyone on the LAN can connect, and an idle TCP connection costs its
// opener nothing. The rules, like those of the libp2p side (connection-slots.ts):
//
// - A connection must send a whole request soon after it opens, and again soon after each answer (a
//   browser sends one at once); one that does not is cut. A timer per connection does it: Node's own
//   headersTimeout is only looked at every connectionsCheckingInterval, far too rarely to matter.
// - Connections are few per remote address (a browser opens a handful) and few in all. A newcomer
//   always gets in: room is made by closing the idle connection (no request under way) its own address
//   used least recently or, when the server is full, that of the address holding the most connections.
//   So a host that opens connections and redials whenever one closes only turns its own slots over,
//   and a browser that asks for the page is answered.
// - An answer must keep moving: a connection that takes no part of it for a while is cut, so a host
//   cannot hold a slot busy by asking for the largest file and never reading it. The server hands the
//   answer over a piece at a time and reports each piece taken (answerMoved).
// - A connection is refused only when every one it could replace is answering a request.

const log = logger('ferry:page-slots')

export interface PageSlotLimits {
  /** Connections held at once. */
  maxConnections: number
  /** ... of them from one remote address. */
  maxPerAddress: number
  /** A connection sends a whole request within this long of opening, or of its last answer. */
  requestWithinMs: number
  /** An answer under way has a piece taken by its connection at least this often. */
  answerStallMs: number
}

export const DEFAULT_PAGE_SLOT_LIMITS: PageSlotLimits = { maxConnections: 32, maxPerAddress: 6, requestWithinMs: 3_000, answerStallMs: 10_000 }

/** A TCP connection to the page server: only what the policy needs. */
export interface PageSocket {
  readonly remoteAddress?: string
  destroy(): void
}

export type PageCloseReason = 'no-request-in-time' | 'answer-stalled' | 'address-full' | 'server-full'

export interface PageSlotsOptions {
  limits?: Partial<PageSlotLimits>
  /** Runs fn after ms; the default is a real timer that keeps no process alive. */
  schedule?: (ms: number, fn: () => void) => { cancel: () => void }
  onClosed?: (socket: PageSocket, reason: PageCloseReason) => void
}

interface Held {
  socket: PageSocket
  address: string
  /** Requests under way: a connection answering one is cut only if its answer stalls. */
  busy: number
  /** When it last opened or finished an answer, in the order of events: the least recent goes first. */
  used: number
  timer?: { cancel: () => void }
}

const realSchedule = (ms: number, fn: () => void): { cancel: () => void } => {
  const t = setTimeout(fn, ms)
  t.unref?.()
  return { cancel: () => { clearTimeout(t) } }
}

export class PageSlots {
  readonly limits: PageSlotLimits
  /** How many connections were closed, by reason. */
  readonly closed: Record<PageCloseReason, number> = { 'no-request-in-time': 0, 'answer-stalled': 0, 'address-full': 0, 'server-full': 0 }
  private readonly held = new Map<PageSocket, Held>()
  private readonly schedule: NonNullable<PageSlotsOptions['schedule']>
  private tick = 0

  constructor (private readonly o: PageSlotsOptions = {}) {
    this.limits = { ...DEFAULT_PAGE_SLOT_LIMITS, ...o.limits }
    const l = this.limits
    if (![l.maxConnections, l.maxPerAddress].every(n => Number.isInteger(n) && n >= 1) || !(l.requestWithinMs > 0) || !(l.answerStallMs > 0)) {
      throw new FerryError(ErrorCode.BAD_INPUT, 'page server connection limits must be positive')
    }
    this.schedule = o.schedule ?? realSchedule
  }

  /** Connections held now. */
  get size (): number {
    return this.held.size
  }

  /** A connection opened: it gets a slot, closing an idle one to make room. False if it was refused. */
  opened (socket: PageSocket): boolean {
    if (this.held.has(socket)) return true
    const h: Held = { socket, address: socket.remoteAddress ?? '?', busy: 0, used: ++this.tick }
    this.held.set(socket, h)
    this.arm(h)
    const own = this.idle(x => x.address === h.address && x !== h)
    if (this.count(h.address) > this.limits.maxPerAddress && !this.evict(own, 'address-full')) {
      this.close(h, 'address-full')
      return false
    }
    if (this.held.size > this.limits.maxConnections && !this.evict(this.idle(x => x !== h), 'server-full')) {
      this.close(h, 'server-full')
      return false
    }
    return true
  }

  /** A whole request arrived on `socket`: it is answered, however long that takes while the answer moves. */
  requestBegan (socket: PageSocket): void {
    const h = this.held.get(socket)
    if (h === undefined) return
    h.busy++
    this.arm(h)
  }

  /** `socket` took a piece of an answer. */
  answerMoved (socket: PageSocket): void {
    const h = this.held.get(socket)
    if (h !== undefined && h.busy > 0) this.arm(h)
  }

  /** The answer to a request on `socket` is done: the connection is idle again when no other is under way. */
  requestEnded (socket: PageSocket): void {
    const h = this.held.get(socket)
    if (h === undefined || h.busy === 0) return
    h.busy--
    h.used = ++this.tick
    if (h.busy === 0) this.arm(h)
  }

  /** A connection closed (by either side). */
  gone (socket: PageSocket): void {
    const h = this.held.get(socket)
    if (h === undefined) return
    h.timer?.cancel()
    this.held.delete(socket)
  }

  stop (): void {
    for (const h of this.held.values()) h.timer?.cancel()
    this.held.clear()
  }

  /** The deadline of what `h` owes next: a request when idle, a piece of its answer taken when busy. */
  private arm (h: Held): void {
    h.timer?.cancel()
    const busy = h.busy > 0
    h.timer = this.schedule(busy ? this.limits.answerStallMs : this.limits.requestWithinMs, () => {
      h.timer = undefined
      this.close(h, busy ? 'answer-stalled' : 'no-request-in-time')
    })
  }

  private count (address: string): number {
    let n = 0
    for (const h of this.held.values()) if (h.address === address) n++
    return n
  }

  private idle (pred: (h: Held) => boolean): Held[] {
    return [...this.held.values()].filter(h => h.busy === 0 && pred(h))
  }

  /**
   * Closes one of `candidates`: one of the address that holds the most connections (a flood, rather
   * than the browser that just asked), the least recently used of them. False when there is none.
   */
  private evict (candidates: Held[], reason: PageCloseReason): boolean {
    let pick: { h: Held, n: number } | undefined
    for (const h of candidates) {
      const n = this.count(h.address)
      if (pick === undefined || n > pick.n || (n === pick.n && h.used < pick.h.used)) pick = { h, n }
    }
    if (pick === undefined) return false
    this.close(pick.h, reason)
    return true
  }

  private close (h: Held, reason: PageCloseReason): void {
    if (!this.held.has(h.socket)) return
    this.gone(h.socket)
    this.closed[reason]++
    log('closing a connection from %s: %s', h.address, reason)
    this.o.onClosed?.(h.socket, reason)
    h.socket.destroy()
  }
}
