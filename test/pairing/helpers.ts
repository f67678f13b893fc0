import type { FerryError } from '../../src/errors.js'

// An in-memory wire for the sans-I/O machines: delivers each side's messages to the other until both
// are quiet, recording everything that crossed (for replay tests).

export interface Side<R> {
  onMessage: (m: Uint8Array) => { send: Uint8Array[], result?: R, error?: FerryError }
}

export interface Outcome<R> { result?: R, error?: FerryError }

export interface Run<I, S> {
  receiver: Outcome<I>
  sender: Outcome<S>
  /** Every message in order: 'r>s' from the receiver (initiator), 's>r' from the sender. */
  wire: Array<{ dir: 'r>s' | 's>r', bytes: Uint8Array }>
}

export function run<I, S> (
  first: { send: Uint8Array[], result?: I, error?: FerryError },
  receiver: Side<I>,
  sender: Side<S>
): Run<I, S> {
  const out: Run<I, S> = { receiver: {}, sender: {}, wire: [] }
  const note = (o: Outcome<unknown>, step: { result?: unknown, error?: FerryError }): void => {
    if (step.result !== undefined) o.result = step.result
    if (step.error !== undefined) o.error = step.error
  }
  note(out.receiver, first)
  type Msg = Run<I, S>['wire'][number]
  let queue: Msg[] = first.send.map((bytes) => ({ dir: 'r>s', bytes }))
  for (let hops = 0; queue.length > 0; hops++) {
    if (hops > 20) throw new Error('no progress')
    const next: Msg[] = []
    for (const m of queue) {
      out.wire.push(m)
      if (m.dir === 'r>s') {
        const step = sender.onMessage(m.bytes)
        note(out.sender, step)
        for (const b of step.send) next.push({ dir: 's>r', bytes: b })
      } else {
        const step = receiver.onMessage(m.bytes)
        note(out.receiver, step)
        for (const b of step.send) next.push({ dir: 'r>s', bytes: b })
      }
    }
    queue = next
  }
  return out
}

export const hex = (b: Uint8Array | undefined): string => (b === undefined ? 'undefined' : Buffer.from(b).toString('hex'))
