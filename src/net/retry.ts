import { ErrorCode, FerryError, isFerryError } from '../errors.js'

export interface RetryOptions {
  /** Give up once this long has passed without progress. */
  retryForMs: number
  signal?: AbortSignal
  onInterrupted?: (error: FerryError) => void
}

/**
 * Runs `attempt` again after a dropped link or an unreachable peer (TRUNCATED, NO_PEER), with a
 * backoff of 100 ms doubling to 2 s that starts over whenever the transfer advances; any other error,
 * an abort, or `retryForMs` without progress ends it. Shared by the Node and the browser receivers.
 */
export async function retryWhileAdvancing<T> (attempt: (onAdvance: () => void) => Promise<T>, opts: RetryOptions): Promise<T> {
  let lastProgressAt = Date.now()
  let delay = 100
  for (;;) {
    try {
      return await attempt(() => { lastProgressAt = Date.now(); delay = 100 })
    } catch (err) {
      const e = isFerryError(err) ? err : new FerryError(ErrorCode.TRUNCATED, String((err as Error)?.message ?? err), undefined, { cause: err })
      const retryable = e.code === ErrorCode.TRUNCATED || e.code === ErrorCode.NO_PEER
      if (!retryable || opts.signal?.aborted === true || Date.now() - lastProgressAt > opts.retryForMs) throw e
      opts.onInterrupted?.(e)
      if (await pause(delay, opts.signal)) throw e
      delay = Math.min(delay * 2, 2000)
    }
  }
}

/** Waits `ms`, or less if `signal` aborts meanwhile (a cancel must not wait out the backoff): aborted? */
async function pause (ms: number, signal?: AbortSignal): Promise<boolean> {
  return await new Promise<boolean>(resolve => {
    const done = (): void => { clearTimeout(timer); signal?.removeEventListener('abort', done); resolve(signal?.aborted === true) }
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
  })
}
