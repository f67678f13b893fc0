/**
 * Lets the event loop run in the middle of long synchronous work (a resumed sender re-digesting a
 * million committed messages, a receiver reading them back to verify): a phone that does not answer
 * libp2p's pings for seconds has its connection dropped by its peer. A macrotask, so socket reads and
 * timers get their turn; setTimeout where there is no setImmediate (the browser phone).
 */
export async function breathe (): Promise<void> {
  await new Promise<void>(resolve => {
    if (typeof setImmediate === 'function') setImmediate(resolve)
    else setTimeout(resolve, 0)
  })
}

/** Messages or records handled between two breaths: a few milliseconds of work. */
export const SLICE = 8192
