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
