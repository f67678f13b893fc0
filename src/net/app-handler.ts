import type { Logger } from '@libp2p/interface'
import { ErrorCode, FerryError, isFerryError } from '../errors.js'
import type { FerryEvent } from './transfer-events.js'
import type { OfferOptions } from './offering.js'
import type { ReceiveOptions } from './receiving.js'

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
 *
 * A function whose answer Ferry awaits (a receive's `route`, `search.find`, its hooks) goes through
 * `ask`: thrown into Ferry as it was, an app's bug there read as a dropped link (redialled for
 * `retryForMs`, then NO_PEER or TRUNCATED about a link that was fine) or as the store failing. Its
 * failure ends the transfer the same way, CANCELLED naming the function; what it throws as its answer
 * (a route's NO_PEER or ISOLATED, a search's NO_PEER when it finds no phone) is still its answer.
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

  /**
   * `fn`, an app's function whose answer Ferry awaits, made to end the transfer when it fails: a throw or
   * rejection that `answers` does not take for its answer aborts `signal` with CANCELLED naming `name`,
   * and is thrown as that, so what awaited it unwinds as a cancel does.
   */
  ask<A extends unknown[], R>(fn: ((...args: A) => Promise<R>) | undefined, name: string, answers: (err: unknown, args: A) => boolean = () => false): ((...args: A) => Promise<R>) | undefined {
    if (fn === undefined) return undefined
    return async (...args) => {
      let how: 'threw' | 'rejected' = 'threw'
      try {
        const answer = fn(...args)
        how = 'rejected'
        return await answer
      } catch (err) {
        // Once the transfer is ending (the app's cancel, stop(), another handler), a failure is its echo.
        if (this.signal.aborted || answers(err, args)) throw err
        this.fail(err, { name }, how)
        throw this.signal.reason
      }
    }
  }

  /**
   * `fn`, an app's function that Ferry awaits once the transfer is done (verified, and the old phone
   * told): a failure there ends nothing, as on `verified`; it is logged as an error and Ferry goes on.
   */
  tell<A extends unknown[]>(fn: ((...args: A) => Promise<void>) | undefined, name: string): ((...args: A) => Promise<void>) | undefined {
    if (fn === undefined) return undefined
    return async (...args) => {
      let how: 'threw' | 'rejected' = 'threw'
      try {
        const done = fn(...args)
        how = 'rejected'
        await done
      } catch (err) {
        this.fail(err, { name, done: true }, how)
      }
    }
  }

  private fail (err: unknown, { name, on, details, done }: HandlerCall, how: 'threw' | 'rejected'): void {
    const said = appFailed(err, `${name} ${how}${on !== undefined ? ` on '${on}'` : ''}`)
    if (done === true) {
      this.log?.error('%s (the transfer is verified all the same)', said)
      return
    }
    if (this.failed.signal.aborted) return
    this.failed.abort(new FerryError(ErrorCode.CANCELLED, said, details, { cause: err }))
  }
}

/** "the app's NAME threw: why", naming the function and what it threw. */
function appFailed (err: unknown, what: string): string {
  return `the app's ${what}: ${err instanceof Error ? err.message : String(err)}`
}

/**
 * The CANCELLED that ends what an app's function `name` was asked for (a discovery, a search) when it
 * threw instead of answering: its message names the function, and its `cause` is what it threw.
 */
export function appError (err: unknown, name: string): FerryError {
  return new FerryError(ErrorCode.CANCELLED, appFailed(err, `${name} threw`), undefined, { cause: err })
}

/**
 * An app's `accept` (a search's, a sweep's), made to end what asked it when it throws: the throw is
 * taken as "no" and aborts `stop`, and `refused()` is then CANCELLED naming `accept` (the first such
 * failure), for the caller to throw once what it had in flight has settled. Thrown from the middle of a
 * search, the app's bug rejected it bare while probes still ran, or was waited out as "nobody found".
 */
export function guardedAccept<A extends unknown[]> (fn: ((...args: A) => boolean) | undefined, stop: AbortController): { accepts: (...args: A) => boolean, refused: () => FerryError | undefined } {
  let refused: FerryError | undefined
  return {
    accepts: (...args) => {
      try {
        return fn?.(...args) ?? true
      } catch (err) {
        refused ??= appError(err, 'accept')
        stop.abort()
        return false
      }
    },
    refused: () => refused
  }
}

/**
 * An app's function that Ferry only tells something (a sweep round, a connection closed, a backup's
 * progress), made safe to call from anywhere, an event listener or a timer included: a throw or a
 * rejection is logged as an error (`log`) and Ferry goes on. Thrown from a listener or a timer as it
 * was, it ended the process. A promise it returns comes back settled only once it has, never rejected,
 * for a caller that paces itself by it.
 */
export function notifying<A extends unknown[]> (fn: ((...args: A) => unknown) | undefined, name: string, log: Logger): ((...args: A) => Promise<void> | undefined) | undefined {
  if (fn === undefined) return undefined
  const failed = (how: string) => (err: unknown): void => { log.error('%s (ignored: Ferry goes on)', appFailed(err, `${name} ${how}`)) }
  return (...args) => {
    let result: unknown
    try {
      result = fn(...args)
    } catch (err) {
      failed('threw')(err)
      return undefined
    }
    return isThenable(result) ? Promise.resolve(result).then(() => {}, failed('rejected')) : undefined
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

/** An app's `onEvent`, as its failure names it: on `verified` it ends nothing. */
const eventCall = (e: FerryEvent): HandlerCall => ({ name: 'onEvent handler', on: e.type, details: { event: e.type }, done: e.type === 'verified' })

/** A Ferry error, or the end of the time or the signal Ferry gave: a function's answer, not its bug. */
const ferryOrAbort = (err: unknown): boolean =>
  isFerryError(err) || (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError'))

/**
 * An offer's options with the app's `onEvent` guarded (AppHandlers), and the `signal` that ends the
 * offer should it fail; `log` hears of a failure on `verified`.
 */
export function guardOffer (asked: OfferOptions, log: Logger): OfferOptions {
  if (asked.onEvent === undefined) return asked
  const app = new AppHandlers(asked.signal, log)
  return { ...asked, onEvent: app.guard(asked.onEvent, eventCall), signal: app.signal }
}

/**
 * A receive's options with every function of the app's guarded (AppHandlers): `onEvent`, and those whose
 * answer the receive awaits (`route`, `search.find`, `beforeRead`, `beforeVerifying`, `afterPutBack`),
 * with the `signal` that ends the receive should one fail; `afterHeard`, which comes once the transfer
 * is done, is logged when it fails.
 */
export function guardReceive (asked: ReceiveOptions, log: Logger): ReceiveOptions {
  const app = new AppHandlers(asked.signal, log)
  const search = asked.search
  return {
    ...asked,
    signal: app.signal,
    onEvent: app.guard(asked.onEvent, eventCall),
    route: app.ask(asked.route, 'route', (err, [, ctx]) => ferryOrAbort(err) || ctx.signal?.aborted === true),
    search: search === undefined ? undefined : { find: app.ask(async (again: Parameters<typeof search.find>[0]) => await search.find(again), 'search.find', (err, [again]) => ferryOrAbort(err) || again.signal?.aborted === true)! },
    beforeRead: app.ask(asked.beforeRead, 'beforeRead hook'),
    beforeVerifying: app.ask(asked.beforeVerifying, 'beforeVerifying hook'),
    afterHeard: app.tell(asked.afterHeard, 'afterHeard hook'),
    afterPutBack: app.ask(asked.afterPutBack, 'afterPutBack hook')
  }
}
