/**
 * For the end-to-end tests: FERRY_TEST_TELL_AGAIN_MS in its environment shortens how long `ferry receive`
 * keeps telling an old phone that never hung up after Verified (ReceiveOptions.tellAgainMs). A test of
 * such a phone would otherwise wait out the library's default, though the sessions that tell it are the
 * same as in a person's run, only fewer. Nothing a person types sets it; unset, or not a positive whole
 * number of ms, the library's default holds.
 */
export function tellAgainMsFrom (env: NodeJS.ProcessEnv = process.env): number | undefined {
  const ms = Number(env.FERRY_TEST_TELL_AGAIN_MS)
  return Number.isSafeInteger(ms) && ms > 0 ? ms : undefined
}

/**
 * For the end-to-end tests: FERRY_TEST_STALL_MS, FERRY_TEST_FIRST_DATA_MS, FERRY_TEST_REPLY_MS and
 * FERRY_TEST_KEEP_ALIVE_MS shorten how long a phone waits on one that stopped answering (the service's
 * `stallMs`, TransferOptions' `firstDataMs`, `replyMs` and `keepAliveMs`): a test of a phone that stalls
 * would otherwise wait out the library's defaults, a minute. Nothing a person types sets them; each one
 * unset, or not a positive whole number of ms, leaves the library's default.
 */
export function stallWaitsFrom (env: NodeJS.ProcessEnv = process.env): { stallMs?: number, options: { firstDataMs?: number, replyMs?: number, keepAliveMs?: number } } {
  const ms = (name: string): number | undefined => {
    const v = Number(env[name])
    return Number.isSafeInteger(v) && v > 0 ? v : undefined
  }
  const options = { firstDataMs: ms('FERRY_TEST_FIRST_DATA_MS'), replyMs: ms('FERRY_TEST_REPLY_MS'), keepAliveMs: ms('FERRY_TEST_KEEP_ALIVE_MS') }
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined))
  return { stallMs: ms('FERRY_TEST_STALL_MS'), options: given }
}
