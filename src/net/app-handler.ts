import type { Logger } from '@libp2p/interface'
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
 *
 * Except on `verified`: the transfer is done and verified, and a cancel would undo nothing but the app's
 * knowing so (an app that took its rejection for a failure would move the history again). Its handler's
 * failure, a throw or a rejection however late, is logged as an error (`log`) and the transfer's promise
 * resolves as verified.
 */
export class AppHandlers {
  /** The app's own signal, if any, joined with the one a failed handler aborts. */
  readonly signal: AbortSignal
  private readonly failed = new AbortController()

  constructor (signal: AbortSignal | undefined, private readonly log?: Logger) {
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

  private fail (err: unknown, { name, on, details, done }: HandlerCall, how: 'threw' | 'rejected'): void {
    const why = err instanceof Error ? err.message : String(err)
    const said = `the app's ${name} ${how}${on !== undefined ? ` on '${on}'` : ''}: ${why}`
    if (done === true) {
      this.log?.error('%s (the transfer is verified all the same)', said)
      return
    }
    if (this.failed.signal.aborted) return
    this.failed.abort(new FerryError(ErrorCode.CANCELLED, said, details, { cause: err }))
  }
}

/** One call of an app's handler, as its failure names it. */
interface HandlerCall {
  name: string
  /** What it was called on (an event's type). */
  on?: string
  /** The error's `details`: the event whose handler failed. */
  details?: { event: string }
  /** Called once the transfer is verified: its failure is logged, and ends nothing. */
  done?: boolean
}

function isThenable (v: unknown): v is PromiseLike<unknown> {
  return (typeof v === 'object' || typeof v === 'function') && v !== null && typeof (v as { then?: unknown }).then === 'function'
}

/**
 * An app's `onEvent` with the `signal` that ends the transfer it watches should the handler fail
 * (AppHandlers); `log` hears of a failure on `verified`.
 */
export function guardHandler (onEvent: AppHandler<FerryEvent> | undefined, signal: AbortSignal | undefined, log: Logger): { onEvent?: (e: FerryEvent) => void, signal?: AbortSignal } {
  if (onEvent === undefined) return { signal }
  const handlers = new AppHandlers(signal, log)
  return {
    onEvent: handlers.guard(onEvent, e => ({ name: 'onEvent handler', on: e.type, details: { event: e.type }, done: e.type === 'verified' })),
    signal: handlers.signal
  }
}
