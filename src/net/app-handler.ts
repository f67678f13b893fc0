import { ErrorCode, FerryError } from '../errors.js'
import type { FerryEvent } from './transfer-events.js'

/**
 * A function of the app's that Ferry calls as a transfer runs (`onEvent`, `web.onServing`). Ferry does
 * not wait for it: a handler that returns a promise runs alongside the transfer, and Ferry only watches
 * it for a rejection. Either kind of function, not one returning `void | Promise<void>`: TypeScript
 * takes a function returning anything else (`e => events.push(e)`) where `void` is asked, not there.
 */
export type AppHandler<A> = ((arg: A) => void) | ((arg: A) => Promise<void>)

/**
 * Where the app's handlers of one transfer run, with the `signal` that ends that transfer should one of
 * them fail. Thrown into Ferry, the app's error looked like the transfer's own failure: a receive took
 * it for a dropped link and reconnected without end, and an offer rejected with it while it still
 * counted as open. An async handler's rejection reached no one at all: the process died of it as an
 * unhandled rejection while the transfer went on. Here a throw or a rejection ends the transfer once, as
 * the app's cancel does: CANCELLED, naming the handler's error (its `cause`), so the app's await hears of
 * its bug, and what arrived stays for a resume.
 */
export class AppHandlers {
  /** The app's own signal, if any, joined with the one a failed handler aborts. */
  readonly signal: AbortSignal
  private readonly failed = new AbortController()

  constructor (signal: AbortSignal | undefined) {
    this.signal = signal === undefined ? this.failed.signal : AbortSignal.any([signal, this.failed.signal])
  }

  /**
   * `handler`, made safe to call from Ferry's own code: it never throws, and a promise it returns is
   * not awaited. `what` names the call in the error: "the app's onEvent handler threw on 'manifest'".
   */
  guard<A>(handler: AppHandler<A> | undefined, what: (arg: A) => HandlerCall): ((arg: A) => void) | undefined {
    if (handler === undefined) return undefined
    return arg => {
      let result: unknown
      try {
        result = handler(arg)
      } catch (err) {
        this.fail(err, what(arg), 'threw')
        return
      }
      if (isThenable(result)) result.then(undefined, (err: unknown) => { this.fail(err, what(arg), 'rejected') })
    }
  }

  private fail (err: unknown, { name, on, details }: HandlerCall, how: 'threw' | 'rejected'): void {
    if (this.failed.signal.aborted) return
    const why = err instanceof Error ? err.message : String(err)
    this.failed.abort(new FerryError(ErrorCode.CANCELLED, `the app's ${name} ${how}${on !== undefined ? ` on '${on}'` : ''}: ${why}`, details, { cause: err }))
  }
}

/** One call of an app's handler, as its failure names it. */
interface HandlerCall {
  name: string
  /** What it was called on (an event's type). */
  on?: string
  /** The error's `details`: the event whose handler failed. */
  details?: { event: string }
}

function isThenable (v: unknown): v is PromiseLike<unknown> {
  return (typeof v === 'object' || typeof v === 'function') && v !== null && typeof (v as { then?: unknown }).then === 'function'
}

/** An app's `onEvent` with the `signal` that ends the transfer it watches should the handler fail (AppHandlers). */
export function guardHandler (onEvent: AppHandler<FerryEvent> | undefined, signal: AbortSignal | undefined): { onEvent?: (e: FerryEvent) => void, signal?: AbortSignal } {
  if (onEvent === undefined) return { signal }
  const handlers = new AppHandlers(signal)
  return {
    onEvent: handlers.guard(onEvent, e => ({ name: 'onEvent handler', on: e.type, details: { event: e.type } })),
    signal: handlers.signal
  }
}
