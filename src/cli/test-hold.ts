/**
 * For the end-to-end tests: with FERRY_TEST_HOLD_VERIFYING=1 in its environment, `ferry receive` holds
 * its first transfer once everything has arrived, before it reads it back and says Verified, until the
 * process gets SIGUSR2. A test needs the old phone stopped exactly there (it sent everything and did
 * not hear Verified), and the read-back of a small history ends before a signal sent on the `verifying`
 * event could land. The browser page's pauseAt({ verifying: true }) does the same for its tests.
 * Returns the receive's `beforeVerifying`, or undefined when the variable is not set.
 */
export function holdAtVerifying (env: NodeJS.ProcessEnv = process.env): (() => Promise<void>) | undefined {
  if (env.FERRY_TEST_HOLD_VERIFYING !== '1') return undefined
  // Listening from the start: a test that signals once it reads the event is always heard (SIGUSR2
  // with no listener would end the process).
  const released = new Promise<void>(resolve => { process.once('SIGUSR2', () => { resolve() }) })
  let held = false
  return async () => {
    if (held) return
    held = true
    await released
  }
}
