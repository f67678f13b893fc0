import { ErrorCode, FerryError } from '../errors.js'
import type { FerryEvent } from './transfer-events.js'

/**
 * An app's `onEvent` with a `signal` that ends the transfer it watches should the handler throw. Thrown
 * into Ferry, the app's error looked like the transfer's own failure: a receive took it for a dropped
 * link and reconnected without end, and an offer rejected with it while it still counted as open. Here
 * a throw ends the transfer once, as the app's cancel does: CANCELLED, naming the handler's error (its
 * `cause`), so the app's await hears of its bug, and what arrived stays for a resume.
 */
export function guardHandler (onEvent: ((e: FerryEvent) => void) | undefined, signal: AbortSignal | undefined): { onEvent?: (e: FerryEvent) => void, signal?: AbortSignal } {
  if (onEvent === undefined) return { signal }
  const threw = new AbortController()
  return {
    onEvent: e => {
      try {
        onEvent(e)
      } catch (err) {
        if (threw.signal.aborted) return
        const why = err instanceof Error ? err.message : String(err)
        threw.abort(new FerryError(ErrorCode.CANCELLED, `the app's onEvent handler threw on '${e.type}': ${why}`, { event: e.type }, { cause: err }))
      }
    },
    signal: signal === undefined ? threw.signal : AbortSignal.any([signal, threw.signal])
  }
}
