import type { Logger } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import type { Multiaddr } from '@multiformats/multiaddr'
import { ErrorCode, FerryError } from '../errors.js'
import { hostOf } from './addresses.js'

// Who may hold a connection to this phone. Anyone on the LAN can open connections: Noise only proves
// a key, and keys are free. A phone serves one other phone, so the connections worth keeping are few:
// the phone it is paired with (and its reconnects), and a new phone about to pair. Everything else is
// let in for a moment and then let go:
//
// - A connection whose peer has not begun pairing within `pairWithinMs` is closed; so is one whose
//   pairing failed. Pinging keeps nothing alive.
// - A connection whose pairing failed is not cut at once: its peer must first read the ABORT that says
//   why, and a socket closed with bytes still coming (identify, the peer's window updates) is reset by
//   the kernel, which drops the ABORT unread on the peer's side. It is left open for `lingerMs` (an
//   honest phone hangs up on reading it), and it is the first to go when a newcomer needs room.
// - Unpaired connections are few (`maxUnpaired`), and few per address and per peer. A new one always
//   gets in: when there is no room, the oldest unpaired connection that is not pairing right now goes.
//   So a flood can make slots turn over, but never keeps a real phone out; and the connections that
//   cannot be pushed out (those pairing) are bounded by the code's three attempts (a scan of the QR code
//   is not charged, but only a phone that proves the QR's key begins one: handshake.ts).
// - The paired phone's connections are never counted against any of this (at most `maxPerPeer`: its
//   reconnect overlaps the old, dead connection, which goes first).
//
// Only inbound connections are judged: those this phone dialled are its own business. Which inbound
// ones is the service's choice (FerryService.start): on a node Ferry made, each as it opens; on an
// app's own node, only one whose peer opens a Ferry stream on it, from then on, and never one that
// carries the app's own streams (`appUses`): it is let go of, not closed. The guarantee for pairing
// is the same there: a connection that comes to pair and stalls, fails or floods goes as above, and a
// new phone always gets a slot. The app's connection ceiling is the app's to keep (docs/embedding.md, "In the app's own libp2p node").

const log = logger('ferry:slots')

export interface SlotLimits {
  /** Inbound connections from peers that have not paired, at once (a new phone about to pair is one). */
  maxUnpaired: number
  /** ... of them from one IP address. */
  maxPerAddress: number
  /** Connections of one peer (the paired phone's reconnect overlaps its old connection). */
  maxPerPeer: number
  /** An unpaired connection that has not begun pairing by then is closed. */
  pairWithinMs: number
  /** How long a connection whose pairing failed stays open for its peer to read why and hang up. */
  lingerMs: number
}

/** How long closing a connection may take (flushing what was written) before it is reset. */
const GRACEFUL_CLOSE_MS = 2_000

export const DEFAULT_SLOT_LIMITS: SlotLimits = { maxUnpaired: 8, maxPerAddress: 2, maxPerPeer: 2, pairWithinMs: 10_000, lingerMs: 2_000 }

/** The part of a libp2p connection the policy looks at and acts on. */
export interface SlotConnection {
  id: string
  remotePeer: { toString: () => string }
  remoteAddr: Multiaddr
  direction: 'inbound' | 'outbound'
  close: (options?: { signal?: AbortSignal }) => Promise<void>
  abort: (err: Error) => void
  /** Its open streams (libp2p's Connection has them): whether the app uses it (appUses). */
  streams?: ReadonlyArray<{ protocol?: string }>
}

/** Why a connection was closed (counted, for the figures and the tests). */
export type CloseReason = 'not-paired-in-time' | 'pairing-failed' | 'pushed-out' | 'address-full' | 'peer-full'

interface Held {
  conn: SlotConnection
  peer: string
  host: string
  openedAt: number
  /** Pairing attempts under way on it (a charged code attempt, or a resume with a known token). */
  attempts: number
  /** Its pairing failed: it lingers until its peer hangs up or `lingerMs` passes. */
  failed: boolean
  timer?: { cancel: () => void }
}

export interface ConnectionSlotsOptions {
  limits?: Partial<SlotLimits>
  /** The phone this one is paired with now: its connections are never judged. */
  trusted: (peer: string) => boolean
  now?: () => number
  /** Runs `fn` after `ms` (injected so tests drive the clock). */
  schedule?: (ms: number, fn: () => void) => { cancel: () => void }
  onClosed?: (conn: SlotConnection, reason: CloseReason) => void
  /** Where its lines go (the node's, with its prefix); `ferry:slots` when none is given. */
  log?: Logger
  /**
   * Whether the app uses `conn` for its own protocols (on an app's own node): such a connection is not
   * Ferry's to close, and is let go of (no longer judged) wherever it would have been closed.
   */
  appUses?: (conn: SlotConnection) => boolean
}

const realSchedule = (ms: number, fn: () => void): { cancel: () => void } => {
  const t = setTimeout(fn, ms)
  t.unref?.()
  return { cancel: () => clearTimeout(t) }
}

export class ConnectionSlots {
  readonly limits: SlotLimits
  /** How many connections were closed, by reason. */
  readonly closed: Record<CloseReason, number> = { 'not-paired-in-time': 0, 'pairing-failed': 0, 'pushed-out': 0, 'address-full': 0, 'peer-full': 0 }
  private readonly held = new Map<string, Held>()
  private readonly now: () => number
  private readonly schedule: NonNullable<ConnectionSlotsOptions['schedule']>

  private readonly log: Logger

  constructor (private readonly o: ConnectionSlotsOptions) {
    this.limits = { ...DEFAULT_SLOT_LIMITS, ...o.limits }
    const l = this.limits
    if (![l.maxUnpaired, l.maxPerAddress, l.maxPerPeer].every(n => Number.isInteger(n) && n >= 1) || !(l.pairWithinMs > 0) || !(l.lingerMs >= 0)) {
      throw new FerryError(ErrorCode.BAD_INPUT, 'connection slot limits must be positive')
    }
    this.log = o.log ?? log
    this.now = o.now ?? (() => performance.now())
    this.schedule = o.schedule ?? realSchedule
  }

  /** A connection opened: it gets a slot, and may push an older, idle unpaired one out. */
  opened (conn: SlotConnection): void {
    if (conn.direction !== 'inbound' || this.held.has(conn.id) || this.o.appUses?.(conn) === true) return
    const peer = conn.remotePeer.toString()
    const h: Held = { conn, peer, host: hostOf(conn.remoteAddr) ?? conn.remoteAddr.toString(), openedAt: this.now(), attempts: 0, failed: false }
    this.held.set(conn.id, h)
    if (this.o.trusted(peer)) {
      this.trim(this.of(x => x.peer === peer), this.limits.maxPerPeer, h, 'peer-full')
      return
    }
    this.arm(h, this.limits.pairWithinMs)
    // Each limit makes room for the newcomer by closing the oldest idle connection it covers; when every
    // one it covers is pairing, the newcomer goes instead.
    if (!this.trim(this.unpaired(x => x.peer === peer), this.limits.maxPerPeer, h, 'peer-full')) return
    if (!this.trim(this.unpaired(x => x.host === h.host), this.limits.maxPerAddress, h, 'address-full')) return
    this.trim(this.unpaired(), this.limits.maxUnpaired, h, 'pushed-out')
  }

  /** A connection closed (by either side). */
  gone (conn: SlotConnection): void {
    const h = this.held.get(conn.id)
    if (h === undefined) return
    h.timer?.cancel()
    this.held.delete(conn.id)
  }

  /** A pairing attempt really began on `conn`: it may not be pushed out while it runs. */
  attemptBegan (conn: SlotConnection): void {
    const h = this.held.get(conn.id)
    if (h !== undefined) h.attempts++
  }

  /**
   * A pairing attempt (or a refused one, e.g. a dead code) on `conn` ended. A connection whose peer did
   * not pair is closed: it has had its chance.
   */
  attemptEnded (conn: SlotConnection, began: boolean, paired: boolean): void {
    const h = this.held.get(conn.id)
    if (h === undefined) return
    if (began) h.attempts = Math.max(0, h.attempts - 1)
    if (!paired && !this.o.trusted(h.peer) && !h.failed) this.linger(h)
  }

  /** Counts `h` as closed for a failed pairing now, and closes it once its peer had time to read why. */
  private linger (h: Held): void {
    this.count(h, 'pairing-failed')
    h.failed = true
    h.timer?.cancel()
    this.log('pairing failed on %s from %s (%s): closing in %d ms', h.conn.id, h.host, h.peer, this.limits.lingerMs)
    h.timer = this.schedule(this.limits.lingerMs, () => {
      h.timer = undefined
      if (!this.held.has(h.conn.id) || this.letGoIfTheApps(h)) return
      this.gone(h.conn)
      const err = new FerryError(ErrorCode.NOT_PAIRED, 'connection closed: pairing-failed')
      void h.conn.close({ signal: AbortSignal.timeout(GRACEFUL_CLOSE_MS) }).catch(() => { h.conn.abort(err) })
    })
  }

  /**
   * Who is trusted changed (a new pairing replaced the old one): the phone paired before is judged like
   * any other now, and its connections, long past their time to pair, go unless they are pairing.
   */
  review (only?: Held): void {
    const now = this.now()
    for (const h of only !== undefined ? [only] : [...this.held.values()]) {
      if (!this.held.has(h.conn.id) || this.o.trusted(h.peer) || h.attempts > 0 || h.failed || this.letGoIfTheApps(h)) continue
      const left = this.limits.pairWithinMs - (now - h.openedAt)
      if (left <= 0) this.close(h, 'not-paired-in-time')
      else if (h.timer === undefined) this.arm(h, left) // a timer may fire a hair early: look again then
    }
  }

  private arm (h: Held, ms: number): void {
    h.timer = this.schedule(ms, () => {
      h.timer = undefined
      this.review(h)
    })
  }

  /** Unpaired inbound connections held now. */
  get unpairedCount (): number {
    return this.unpaired().length
  }

  stop (): void {
    for (const h of this.held.values()) h.timer?.cancel()
    this.held.clear()
  }

  private of (pred: (h: Held) => boolean): Held[] {
    return [...this.held.values()].filter(pred)
  }

  private unpaired (pred: (h: Held) => boolean = () => true): Held[] {
    return this.of(h => !this.o.trusted(h.peer) && pred(h))
  }

  /**
   * Brings `group` (which holds `newcomer`) down to `limit` by closing its oldest connections that are
   * not pairing, never the newcomer; when that is not enough, the newcomer goes. False if it went.
   */
  private trim (all: Held[], limit: number, newcomer: Held, reason: CloseReason): boolean {
    const group = all.filter(h => h === newcomer || !this.letGoIfTheApps(h))
    let excess = group.length - limit
    if (excess <= 0) return true
    // Those whose pairing failed go first (they are on their way out), then the oldest.
    const idle = group.filter(h => h !== newcomer && h.attempts === 0)
      .sort((a, b) => Number(b.failed) - Number(a.failed) || a.openedAt - b.openedAt)
    for (const h of idle) {
      if (excess === 0) break
      this.close(h, reason)
      excess--
    }
    if (excess > 0) {
      this.close(newcomer, reason)
      return false
    }
    return true
  }

  /** Stops judging `h` if the app uses its connection now (ConnectionSlotsOptions.appUses): true if so. */
  private letGoIfTheApps (h: Held): boolean {
    if (this.o.appUses?.(h.conn) !== true) return false
    this.log('%s from %s (%s) carries the app\'s streams: not Ferry\'s to close', h.conn.id, h.host, h.peer)
    this.gone(h.conn)
    return true
  }

  /** Counts `h` as closed for `reason`, once: one whose pairing failed was counted when it failed. */
  private count (h: Held, reason: CloseReason): void {
    if (h.failed) return
    this.closed[reason]++
    this.o.onClosed?.(h.conn, reason)
  }

  private close (h: Held, reason: CloseReason): void {
    if (!this.held.has(h.conn.id)) return
    this.gone(h.conn)
    this.count(h, reason)
    this.log('closing %s from %s (%s): %s', h.conn.id, h.host, h.peer, reason)
    h.conn.abort(new FerryError(ErrorCode.NOT_PAIRED, `connection closed: ${reason}`))
  }
}
