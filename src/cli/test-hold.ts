/**
 * For the end-to-end tests: with FERRY_TEST_HOLD_VERIFYING=1 in its environment, `ferry receive` holds
 * its first transfer once everything has arrived, before it reads it back and says Verified, until the
 * process gets SIGUSR2. A test needs the old phone stopped exactly there (it sent everything and did
 * not hear Verified), and the read-back of a small history ends before a signal sent on the `verifying`
 * event could land. The browser page's pauseAt({ verifying: true }) does the same for its tests.
 * Returns the receive's `beforeVerifying`, or undefined when the variable is not set.
 */
export function holdAtVerifying (env: NodeJS.ProcessEnv = process.env): (() => Promise<void>) | undefined {
  return env.FERRY_TEST_HOLD_VERIFYING === '1' ? holdOnce() : undefined
}

/**
 * For the end-to-end tests: with FERRY_TEST_HOLD_HEARD=1 in its environment, `ferry receive` holds its
 * transfer once the old phone hung up after Verified (it heard), before it says verified, until the
 * process gets SIGUSR2; `held` says it is there (an event with --json, a line on stderr otherwise). A
 * test stops the new phone exactly there: nothing it prints tells that moment apart from the one before
 * the hang-up, and the rest takes milliseconds. Returns the receive's `afterHeard`, or undefined when the
 * variable is not set.
 */
export function holdAfterHeard (held: () => void, env: NodeJS.ProcessEnv = process.env): (() => Promise<void>) | undefined {
  if (env.FERRY_TEST_HOLD_HEARD !== '1') return undefined
  const hold = holdOnce()
  let said = false
  return async () => {
    if (!said) held()
    said = true
    await hold()
  }
}

/**
 * For the end-to-end tests: with FERRY_TEST_HOLD_PUT_BACK=1 in its environment, `ferry receive` holds
 * once it put back the media records removed here while the transfer ran, before it removes again those
 * no message shows (MediaIntake.verifyPresent), until SIGUSR2; `held` says it is there. A test kills it
 * there: the two commits follow each other in milliseconds. Listening starts once held, so that the
 * SIGUSR2 releasing FERRY_TEST_HOLD_VERIFYING before it is not taken for this one. Returns the receive's
 * `afterPutBack`, or undefined when the variable is not set.
 */
export function holdAfterPutBack (held: () => void, env: NodeJS.ProcessEnv = process.env): (() => Promise<void>) | undefined {
  if (env.FERRY_TEST_HOLD_PUT_BACK !== '1') return undefined
  let done = false
  return async () => {
    if (done) return
    done = true
    const released = new Promise<void>(resolve => { process.once('SIGUSR2', () => { resolve() }) })
    const alive = setInterval(() => {}, 2 ** 31 - 1)
    try {
      held()
      await released
    } finally {
      clearInterval(alive)
    }
  }
}

/**
 * For the CLI tests: with FERRY_TEST_HOLD_EXPORT_MEDIA=1, `ferry export --media DIR` holds once its
 * first media file is in DIR, until SIGUSR2. A test stops it there with Ctrl-C, some of its media
 * copied and the rest not: the export of a small store ends before a signal sent on seeing the file
 * could land. Returns the export's `afterMediaCopy`, or undefined when the variable is not set.
 */
export function holdAfterMediaCopy (env: NodeJS.ProcessEnv = process.env): (() => Promise<void>) | undefined {
  return env.FERRY_TEST_HOLD_EXPORT_MEDIA === '1' ? holdOnce() : undefined
}

/**
 * For the CLI tests: with FERRY_TEST_HOLD_BACKUP=1, `ferry backup` holds at its first progress (a few
 * MiB into FILE.partial) until SIGUSR2 or Ctrl-C. A test stops it there, its file half written: a small
 * backup ends before a signal sent on seeing the partial file could land. Returns the hold, or
 * undefined when the variable is not set.
 */
export function holdWhileBackingUp (env: NodeJS.ProcessEnv = process.env): (() => Promise<void>) | undefined {
  return env.FERRY_TEST_HOLD_BACKUP === '1' ? holdOnce() : undefined
}

/**
 * For the CLI tests: with FERRY_TEST_HOLD_SEED=1, `ferry seed` holds once its media and metadata are in
 * the store, before its first message, until SIGUSR2 or Ctrl-C; `held` says it is there. A test stops it
 * there, its store half seeded: a tiny seed ends before a signal sent on a progress event could land.
 * Returns the seed's `beforeMessages`, or undefined when the variable is not set.
 */
export function holdWhileSeeding (held: () => void, env: NodeJS.ProcessEnv = process.env): (() => Promise<void>) | undefined {
  if (env.FERRY_TEST_HOLD_SEED !== '1') return undefined
  const hold = holdOnce()
  return async () => {
    held()
    await hold()
  }
}

/**
 * For the CLI tests: with FERRY_TEST_HOLD_SEED_MEDIA=1, `ferry seed` holds once its media files are
 * written, before their records, until SIGUSR2; `held` says it is there. A test kills it there: the
 * files complete in the store, named by no record, which a tiny seed leaves behind in milliseconds.
 * Returns the seed's `beforeMediaRecords`, or undefined when the variable is not set.
 */
export function holdBeforeMediaRecords (held: () => void, env: NodeJS.ProcessEnv = process.env): (() => Promise<void>) | undefined {
  if (env.FERRY_TEST_HOLD_SEED_MEDIA !== '1') return undefined
  const hold = holdOnce()
  return async () => {
    held()
    await hold()
  }
}

/** Waits, the first time it is called, for SIGUSR2; at once after that. */
function holdOnce (): () => Promise<void> {
  // Listening from the start: a test that signals once it reads the event is always heard (SIGUSR2
  // with no listener would end the process).
  const released = new Promise<void>(resolve => { process.once('SIGUSR2', () => { resolve() }) })
  let held = false
  return async () => {
    if (held) return
    held = true
    // A signal listener does not keep a process alive: with nothing else under way (an export's small
    // files are copied synchronously) it would end here, its work unsettled.
    const alive = setInterval(() => {}, 2 ** 31 - 1)
    try {
      await released
    } finally {
      clearInterval(alive)
    }
  }
}
