import { ErrorCode, FerryError } from '../errors.js'
import { inTx, randomId, req } from './idb.js'

// One tab at a time receives into the phone's database: two receivers on one store would interleave
// their writes to the same journal and pages. The Web Locks API does this exactly (a lock dies with
// its tab), but only in a secure context; a page served over plain HTTP on the LAN has no
// navigator.locks, so there a lease in IndexedDB stands in: a record with an owner and an expiry that
// its tab renews on a heartbeat, taken over by another tab only once it has expired. (A tab whose timers
// the browser throttles past the lease's life can lose it to a tab that asks; it then stops receiving.)

export type LockKind = 'web-locks' | 'lease'

export interface HeldLock {
  /** Aborted when the lock is lost (a lease that another tab took over after it expired unrenewed). */
  readonly lost: AbortSignal
  release(): Promise<void>
}

export interface TabLock {
  readonly kind: LockKind
  /** Takes the lock when no other tab holds it; undefined when one does. */
  tryAcquire(): Promise<HeldLock | undefined>
  /** Whether another tab holds it now. */
  heldElsewhere(): Promise<boolean>
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
}

/** The cross-tab lock `name`: Web Locks where the page may use them, else a lease in `db`. */
export function createTabLock (db: IDBDatabase, name: string, opts: LeaseOptions & { kind?: LockKind } = {}): TabLock {
  const locks = (globalThis.navigator as Navigator | undefined)?.locks
  const kind = opts.kind ?? (locks !== undefined && typeof locks.request === 'function' ? 'web-locks' : 'lease')
  return kind === 'web-locks' ? new WebLock(name) : new LeaseLock(db, name, opts)
}

class WebLock implements TabLock {
  readonly kind = 'web-locks'

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

class LeaseLock implements TabLock {
  readonly kind = 'lease'
  private readonly key: string
  private readonly me: string
  private readonly ttlMs: number
  private readonly renewMs: number

  constructor (private readonly db: IDBDatabase, name: string, opts: LeaseOptions) {
    this.key = `lease:${name}`
    this.me = opts.owner ?? tabOwner(this.key)
    this.ttlMs = opts.ttlMs ?? 15_000
    this.renewMs = opts.renewMs ?? 3_000
  }

  /** Runs `fn` on the lease record in one readwrite transaction: tabs take turns, so check-and-set is atomic. */
  private async update<T> (fn: (lease: Lease | undefined, put: (l: Lease | undefined) => void) => T): Promise<T> {
    return await inTx(this.db, ['meta'], 'readwrite', 'taking the lease', async tx => {
      const os = tx.objectStore('meta')
      const lease = await req(os.get(this.key)) as Lease | undefined
      return fn(lease, l => { if (l === undefined) os.delete(this.key); else os.put(l, this.key) })
    })
  }

  async tryAcquire (): Promise<HeldLock | undefined> {
    const taken = await this.update((lease, put) => {
      if (lease !== undefined && lease.owner !== this.me && lease.expires > Date.now()) return false
      put({ owner: this.me, expires: Date.now() + this.ttlMs })
      return true
    })
    if (!taken) return undefined
    const lost = new AbortController()
    const renew = async (): Promise<void> => {
      const still = await this.update((lease, put) => {
        if (lease?.owner !== this.me) return false
        put({ owner: this.me, expires: Date.now() + this.ttlMs })
        return true
      })
      if (!still) stop(new FerryError(ErrorCode.STORE, 'another tab took over receiving (this tab stopped renewing its lease in time)'))
    }
    const timer = setInterval(() => { renew().catch(err => { stop(err) }) }, this.renewMs)
    // A closing tab frees the lease at once rather than after its expiry (best effort: no await on unload).
    const onHide = (): void => { void release() }
    addEventListener('pagehide', onHide)
    const stop = (reason: unknown): void => {
      clearInterval(timer)
      removeEventListener('pagehide', onHide)
      if (!lost.signal.aborted) lost.abort(reason)
    }
    const release = async (): Promise<void> => {
      clearInterval(timer)
      removeEventListener('pagehide', onHide)
      await this.update((lease, put) => { if (lease?.owner === this.me) put(undefined) })
    }
    return { lost: lost.signal, release }
  }

  async heldElsewhere (): Promise<boolean> {
    return await this.update(lease => lease !== undefined && lease.owner !== this.me && lease.expires > Date.now())
  }
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
