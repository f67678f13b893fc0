import { ErrorCode, FerryError } from '../errors.js'
import { fenceWrites, inTx, randomId, req, writeFence, type WriteFence } from './idb.js'

// One tab at a time receives into the phone's database: two receivers on one store would interleave
// their writes to the same journal and pages. The Web Locks API does this exactly (a lock dies with
// its tab), but only in a secure context; a page served over plain HTTP on the LAN has no
// navigator.locks, so there a lease in IndexedDB stands in: a record with an owner and an expiry that
// its tab renews on a heartbeat, taken over by another tab once it has expired. (A tab whose timers
// the browser throttles past the lease's life can lose it to a tab that asks; it then stops receiving.)
// A tab closed mid-transfer frees its lease on pagehide, but a browser may end the tab before that write
// lands (or crash it): the lease would then keep the next tab waiting out its life for no one. So a tab
// that finds the lease held asks the other tabs, over a BroadcastChannel, whether its holder is alive;
// the holder answers while it holds it, and a lease no tab answers for, and no tab renews, over a
// renewal period and a moment more is free for the next tab that takes it.
// A lease can be lost without its tab knowing until its next renewal (the browser throttled its timers):
// so while a tab holds one, every write it makes to the database checks, in its own transaction, that
// the lease is still this tab's (idb.ts WriteFence), and the first write that finds it taken is refused
// and ends the tab's hold, with every write after it. Web Locks need no such check.

export type LockKind = 'web-locks' | 'lease'

export interface HeldLock {
  /**
   * Aborted when the lock is lost (a lease that another tab took over after it expired unrenewed), with
   * the reason: takenOver() when another tab holds it now.
   */
  readonly lost: AbortSignal
  release(): Promise<void>
}

export interface TabLock {
  readonly kind: LockKind
  /** Takes the lock when no other tab holds it; undefined when one does. */
  tryAcquire(): Promise<HeldLock | undefined>
  /** Whether another tab holds it now. */
  heldElsewhere(): Promise<boolean>
  /**
   * The last look at the lock (heldElsewhere, tryAcquire) found it held by a tab that is gone (closed or
   * crashed before it let go), and took no notice of it.
   */
  readonly foundAbandoned: boolean
}

export interface LeaseOptions {
  /**
   * Who holds the lease: this tab's id. Default: the id this tab had before a reload (kept in
   * sessionStorage), so a reloaded page takes its own lease back at once instead of waiting out the
   * expiry of the one the unloaded page could not free; any other load gets a new id.
   */
  owner?: string
  /** A lease not renewed for this long is free for another tab. */
  ttlMs?: number
  /** How often the holder renews it. */
  renewMs?: number
  /** How long past renewMs a tab waits for the holder of a lease to answer that it is alive. */
  answerMs?: number
}

/** The cross-tab lock `name`: Web Locks where the page may use them, else a lease in `db`. */
export function createTabLock (db: IDBDatabase, name: string, opts: LeaseOptions & { kind?: LockKind } = {}): TabLock {
  const locks = (globalThis.navigator as Navigator | undefined)?.locks
  const kind = opts.kind ?? (locks !== undefined && typeof locks.request === 'function' ? 'web-locks' : 'lease')
  return kind === 'web-locks' ? new WebLock(name) : new LeaseLock(db, name, opts)
}

/** This tab lost the lease to another tab, which receives now: this one writes nothing more. */
export function takenOver (): FerryError {
  return new FerryError(ErrorCode.STORE_BUSY, 'another tab took over receiving into this browser (this tab did not renew its lease in time): this tab writes nothing more',
    { reason: 'taken-over' })
}

class WebLock implements TabLock {
  readonly kind = 'web-locks'
  /** A Web Lock goes with its tab: none is ever left behind. */
  readonly foundAbandoned = false

  constructor (private readonly name: string) {}

  async tryAcquire (): Promise<HeldLock | undefined> {
    return await new Promise<HeldLock | undefined>((resolve, reject) => {
      let release!: () => void
      const released = new Promise<void>(resolve => { release = resolve })
      navigator.locks.request(this.name, { ifAvailable: true }, async lock => {
        if (lock === null) {
          resolve(undefined)
          return
        }
        // Web Locks are never taken away from a live tab.
        resolve({ lost: new AbortController().signal, release: async () => { release() } })
        await released
      }).catch(reject)
    })
  }

  async heldElsewhere (): Promise<boolean> {
    const state = await navigator.locks.query()
    return (state.held ?? []).some(l => l.name === this.name)
  }
}

interface Lease { owner: string, expires: number }

/** What the tabs say to each other over the lease's BroadcastChannel. */
type LeaseMessage = { type: 'alive?', owner: string, ask: string } | { type: 'alive', owner: string, ask: string }

/**
 * How long, past a renewal period, a tab waits for a lease's holder to say it is alive or renew it. Both
 * come from the holder's event loop, which a transfer keeps busy; a holder silent past this is taken for
 * gone, and a live one taken for gone would stop receiving: so a bound well past a busy moment.
 */
const ANSWER_MS = 2_000

class LeaseLock implements TabLock {
  readonly kind = 'lease'
  private readonly key: string
  private readonly me: string
  private readonly ttlMs: number
  private readonly renewMs: number
  private readonly answerMs: number
  private readonly channel: string
  foundAbandoned = false
  /** The lease last found abandoned, exactly as it was then: tryAcquire takes over only that one. */
  private abandoned?: Lease

  constructor (private readonly db: IDBDatabase, name: string, opts: LeaseOptions) {
    this.key = `lease:${name}`
    this.channel = `ferry-lease:${name}`
    this.me = opts.owner ?? tabOwner(this.key)
    this.ttlMs = opts.ttlMs ?? 15_000
    this.renewMs = opts.renewMs ?? 3_000
    this.answerMs = opts.answerMs ?? ANSWER_MS
  }

  /** The lease another tab holds now, unexpired, if one does. */
  private async other (): Promise<Lease | undefined> {
    return await this.update(lease => lease !== undefined && lease.owner !== this.me && lease.expires > Date.now() ? lease : undefined)
  }

  /**
   * Whether the tab holding `lease` says it is alive within renewMs + answerMs: a closed or crashed tab
   * cannot. Neither can a tab the browser froze, which then loses the lease as one that stopped renewing
   * does. A holder busy with a long task answers once the task ends.
   */
  private async holderAnswers (lease: Lease): Promise<boolean> {
    if (typeof BroadcastChannel !== 'function') return true
    const channel = new BroadcastChannel(this.channel)
    const ask = randomId(8)
    try {
      return await new Promise<boolean>(resolve => {
        const timer = setTimeout(() => { resolve(false) }, this.renewMs + this.answerMs)
        channel.onmessage = evt => {
          const m = evt.data as LeaseMessage
          if (m?.type === 'alive' && m.owner === lease.owner && m.ask === ask) {
            clearTimeout(timer)
            resolve(true)
          }
        }
        channel.postMessage({ type: 'alive?', owner: lease.owner, ask } satisfies LeaseMessage)
      })
    } finally {
      channel.close()
    }
  }

  /**
   * Another tab's lease, unless its holder is gone: then foundAbandoned says so, and tryAcquire may take
   * that very lease (never a renewed one) over. Gone means both silent and not renewing over a whole
   * renewal period: a live holder whose event loop a transfer blocks for a moment can miss the question,
   * but it renews once the moment ends, and losing the lease would stop its transfer. Nothing here
   * changes the lease: a tab that merely looks takes nothing from the holder.
   */
  private async liveOther (): Promise<Lease | undefined> {
    const lease = await this.other()
    if (lease === undefined || sameLease(lease, this.abandoned)) return undefined
    if (await this.holderAnswers(lease)) return lease
    const now = await this.other()
    if (now === undefined) return undefined
    // Renewed (or taken by another tab) meanwhile: its holder is alive.
    if (!sameLease(now, lease)) return now
    this.abandoned = lease
    this.foundAbandoned = true
    return undefined
  }

  /**
   * Runs `fn` on the lease record in one readwrite transaction: tabs take turns, so check-and-set is
   * atomic. Past the fence: a tab that lost the lease still looks at it, and may take it again.
   */
  private async update<T> (fn: (lease: Lease | undefined, put: (l: Lease | undefined) => void) => T): Promise<T> {
    return await inTx(this.db, ['meta'], 'readwrite', 'taking the lease', async tx => {
      const os = tx.objectStore('meta')
      const lease = await req(os.get(this.key)) as Lease | undefined
      return fn(lease, l => { if (l === undefined) os.delete(this.key); else os.put(l, this.key) })
    }, { unfenced: true })
  }

  async tryAcquire (): Promise<HeldLock | undefined> {
    if (await this.liveOther() !== undefined) return undefined
    const taken = await this.update((lease, put) => {
      if (lease !== undefined && lease.owner !== this.me && lease.expires > Date.now() && !sameLease(lease, this.abandoned)) return false
      put({ owner: this.me, expires: Date.now() + this.ttlMs })
      return true
    })
    if (!taken) return undefined
    const lost = new AbortController()
    // Set once another tab is known to hold the lease: every write of this tab is refused from then on.
    let refused: FerryError | undefined
    const owner = this.me
    const fence: WriteFence = {
      store: 'meta',
      key: this.key,
      allows: record => (record as Lease | undefined)?.owner === owner,
      refuse: () => {
        refused ??= takenOver()
        stop(refused)
        return refused
      },
      get refused () { return refused }
    }
    fenceWrites(this.db, fence)
    const renew = async (): Promise<void> => {
      const still = await this.update((lease, put) => {
        if (lease?.owner !== this.me) return false
        put({ owner: this.me, expires: Date.now() + this.ttlMs })
        return true
      })
      if (!still) fence.refuse()
    }
    const timer = setInterval(() => { renew().catch(err => { stop(err) }) }, this.renewMs)
    // Answers the tabs that ask whether the holder of this lease is alive, as long as this tab holds it.
    const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel(this.channel) : undefined
    if (channel !== undefined) {
      channel.onmessage = evt => {
        const m = evt.data as LeaseMessage
        if (m?.type === 'alive?' && m.owner === this.me && !lost.signal.aborted) channel.postMessage({ type: 'alive', owner: this.me, ask: m.ask } satisfies LeaseMessage)
      }
    }
    // A closing tab frees the lease at once rather than after its expiry (best effort: no await on unload).
    const onHide = (): void => { void release() }
    addEventListener('pagehide', onHide)
    const stop = (reason: unknown): void => {
      clearInterval(timer)
      channel?.close()
      removeEventListener('pagehide', onHide)
      if (!lost.signal.aborted) lost.abort(reason)
    }
    const release = async (): Promise<void> => {
      clearInterval(timer)
      channel?.close()
      removeEventListener('pagehide', onHide)
      // A lease lost to another tab keeps refusing this tab's writes: the tab that holds it now writes.
      if (refused === undefined && writeFence(this.db) === fence) fenceWrites(this.db, undefined)
      await this.update((lease, put) => { if (lease?.owner === this.me) put(undefined) })
    }
    return { lost: lost.signal, release }
  }

  async heldElsewhere (): Promise<boolean> {
    return await this.liveOther() !== undefined
  }
}

function sameLease (a: Lease, b: Lease | undefined): boolean {
  return b !== undefined && a.owner === b.owner && a.expires === b.expires
}

/**
 * This tab's lease owner id. sessionStorage lives as long as the tab, across reloads; but a tab
 * duplicated from this one gets a copy of it, so the kept id is reused only when this load is a reload.
 */
function tabOwner (key: string): string {
  const slot = `ferry-owner:${key}`
  try {
    const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming | undefined
    const kept = sessionStorage.getItem(slot)
    if (kept !== null && nav?.type === 'reload') return kept
    const fresh = randomId(8)
    sessionStorage.setItem(slot, fresh)
    return fresh
  } catch {
    // No sessionStorage (a worker, a sandboxed frame): a reload then waits for the lease to expire.
    return randomId(8)
  }
}
