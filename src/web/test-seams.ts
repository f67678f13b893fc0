import { logger } from '@libp2p/logger'

const log = logger('ferry:web:test-seams')

/**
 * A test seam, for the browser tests only: shorter waits on an old phone that is gone, so a test sees
 * the page give up or tell it again without waiting out the minutes a person's page waits. A test puts
 * it on `window.__ferryTestSeams` before the page's script runs (Playwright's addInitScript), as the
 * CLI's tests set FERRY_TEST_* in its environment; nothing a person opens or types sets it, so a
 * person's page waits as long as it always did. Each is a time in ms; any other value is ignored.
 */
export interface PageTestSeams {
  /** How long a receive keeps reconnecting to an old phone that stopped answering (ReceiveOptions.retryForMs). */
  retryForMs?: number
  /** Silence from the old phone, mid-transfer, after which the link counts as dead (ReceiveOptions.stallMs). */
  stallMs?: number
  /** How long a verified receive tries to tell an old phone that did not hear (ReceiveOptions.tellAgainMs). */
  tellAgainMs?: number
  /** The longest pause between tries to tell such a phone, once it is unheard. */
  tellPauseMaxMs?: number
  /**
   * How long each dial of one of the old phone's addresses may take before libp2p gives it up (its
   * connection manager's addressDialTimeout): an old phone that is gone never answers a webrtc-direct
   * dial, so each address tried costs this much, where a live one on a LAN answers well within it.
   */
  addressDialTimeoutMs?: number
  /**
   * The life of this tab's lease on the store, where the page has no Web Locks (LeaseOptions.ttlMs), and
   * how often it renews it (renewMs): a renewal period past the life is a tab whose timers the browser
   * holds back, which loses the lease to the next tab that asks for it.
   */
  leaseTtlMs?: number
  leaseRenewMs?: number
}

declare global {
  interface Window { __ferryTestSeams?: PageTestSeams }
}

const KNOBS = ['retryForMs', 'stallMs', 'tellAgainMs', 'tellPauseMaxMs', 'addressDialTimeoutMs', 'leaseTtlMs', 'leaseRenewMs'] as const

/** The seams a test set on `from` (the page's window), each a positive time; none on a person's page. */
export function pageTestSeams (from: { __ferryTestSeams?: unknown } = window): PageTestSeams {
  const set = from.__ferryTestSeams
  if (set === undefined || set === null || typeof set !== 'object') return {}
  const seams: PageTestSeams = {}
  for (const k of KNOBS) {
    const v = (set as Record<string, unknown>)[k]
    if (typeof v === 'number' && Number.isFinite(v) && v > 0) seams[k] = v
    else if (v !== undefined) log('ignoring the test seam %s: %o is not a time in ms', k, v)
  }
  log('test seams: %o', seams)
  return seams
}
