import type { ReceiverMachine } from '../protocol/receiver.js'

/**
 * For the end-to-end tests: with FERRY_TEST_HOLD_VERIFYING=1 in its environment, `ferry receive` holds
 * its first transfer once everything has arrived, before it reads it back and says Verified, until the
 * process gets SIGUSR2. A test needs the old phone stopped exactly there (it sent everything and did
 * not hear Verified), and the read-back of a small history ends before a signal sent on the `verifying`
 * event could land. The browser page's pauseAt({ verifying: true }) does the same for its tests.
 * Returns the receive's `beforeRead`, or undefined when the variable is not set.
 */
export function holdAtVerifying (env: NodeJS.ProcessEnv = process.env): ((machine: ReceiverMachine) => Promise<void>) | undefined {
  if (env.FERRY_TEST_HOLD_VERIFYING !== '1') return undefined
  const hooked = new WeakSet<ReceiverMachine>()
  let held = false
  return async machine => {
    if (hooked.has(machine)) return
    hooked.add(machine)
    const announce = machine.onVerifying
    machine.onVerifying = async () => {
      if (held) { await announce?.(); return }
      held = true
      // Listening before the event goes out: a test that signals once it reads the event is always heard.
      const released = new Promise<void>(resolve => { process.once('SIGUSR2', () => { resolve() }) })
      await announce?.()
      await released
    }
  }
}
