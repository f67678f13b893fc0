import type { Stream } from '@libp2p/interface'
import { ErrorCode, FerryError, isFerryError } from '../errors.js'
import type { ReceiverMachine } from '../protocol/receiver.js'
import { runReceiver } from '../protocol/session.js'
import type { ByteDuplex } from '../wire/duplex.js'
import { StallWatch } from './stall-watch.js'
import { streamToDuplex } from './stream-duplex.js'

// The receiving end of /ferry/transfer on a libp2p stream, shared by the Node service and the browser
// phone (so this module stays free of node: imports).

export const TRANSFER_PROTOCOL = '/ferry/transfer/1.0.0'

export interface ReceiveTransferOptions {
  signal?: AbortSignal
  /** Waiting on a sender whose data flows, with no step forward, after which the link counts as dead. */
  stallMs: number
  /** ... on a sender before its first data (TransferOptions.firstDataMs). */
  firstDataMs: number
  /** Bytes that count as a step forward when no whole frame came with them (TransferOptions.stallBytes). */
  stallBytes: number
  /** How often this phone shows a waiting sender it is there while busy (TransferOptions.keepAliveMs). */
  keepAliveMs?: number
  /** Awaited before each read after the first (the browser: IndexedDB catching up). Outside the stall watch. */
  beforeRead?: () => Promise<void>
  /** Called whenever data arrived (feeds the caller's retry loop: a session that brings none is no step forward). */
  onAdvance?: () => void
  /** Once, when the manifest is in (only then is this phone's checkpoint read). */
  onManifest?: () => void
  /** After the manifest, on every step forward. */
  onProgress?: () => void
  /** Awaited once the old phone hung up after Verified: it heard (DriverOptions.onHeard). */
  onHeard?: () => Promise<void>
}

/** Runs `machine` over `stream` until the transfer is verified (resolves) or fails (throws). */
export async function receiveTransfer (stream: Stream, machine: ReceiverMachine, opts: ReceiveTransferOptions): Promise<void> {
  const watch = new StallWatch(opts)
  const watched = watch.wrap(hangUpOnly(stream, streamToDuplex(stream)))
  const beforeRead = opts.beforeRead
  const duplex = beforeRead === undefined ? watched : gated(watched, beforeRead)
  let announced = false
  let received = 0
  try {
    await runReceiver(machine, duplex, {
      signal: opts.signal,
      onHeard: opts.onHeard,
      keepAliveMs: opts.keepAliveMs,
      onFrame: () => { watch.frame() },
      onProgress: () => {
        // Data is what moves a transfer: a sender that says Hello (or its manifest) each session and
        // then stalls must not keep the receive reconnecting for ever.
        if (machine.progress.bytesReceived > received) {
          received = machine.progress.bytesReceived
          watch.flowing()
          opts.onAdvance?.()
        }
        // Nothing to report before the manifest, and no progress before what this phone already holds is
        // known: a resumed transfer's progress must start where it stands, never go back.
        if (machine.expected === undefined) return
        if (!announced) {
          announced = true
          opts.onManifest?.()
        }
        if (!machine.progressKnown) return
        opts.onProgress?.()
      }
    })
  } catch (err) {
    watch.stop()
    // A refusal went to the sender in an Error frame. Closing the connection while the sender's data is
    // still unread here makes the kernel reset it, and the reset drops that frame unread on the sender,
    // which then takes the refusal for a dropped link. So let the sender read it and hang up first.
    const told = isFerryError(err) && err.code !== ErrorCode.TRUNCATED && err.code !== ErrorCode.CANCELLED && err.code !== ErrorCode.PEER_ERROR
    if (told) await hungUp(stream, 2000)
    throw err
  } finally {
    watch.stop()
  }
}

/**
 * `duplex` (over `stream`), whose source ends only when the other phone closed its end of the stream
 * itself: that hang-up is how a sender says it heard Verified (protocol/session.ts). The link going
 * under the stream also ends a libp2p stream's source, as quietly (a WebRTC data channel that closes
 * because the old phone was killed, a connection the muxer lost): that one throws TRUNCATED instead, so
 * the transfer is not taken for heard and the next session says Verified again.
 */
function hangUpOnly (stream: Stream, duplex: ByteDuplex): ByteDuplex {
  // A WebRTC stream's data channel is already closed when its close ends the stream; a FIN (the
  // hang-up) comes as a message while it is open. Other streams end on the remote's close only.
  const channel = (stream as unknown as { channel?: { readyState?: string } }).channel
  let hungUp = false
  stream.addEventListener('remoteCloseWrite', () => { hungUp = channel?.readyState !== 'closed' }, { once: true })
  return {
    source: (async function * () {
      yield * duplex.source
      if (!hungUp) throw new FerryError(ErrorCode.TRUNCATED, 'the link to the other phone went down (it did not hang up)')
    })(),
    write: async chunks => { await duplex.write(chunks) },
    close: async () => { await duplex.close() },
    abort: err => { duplex.abort(err) }
  }
}

/** Resolves once the peer has closed or reset `stream`, or after `ms`. */
async function hungUp (stream: Stream, ms: number): Promise<void> {
  if (stream.status !== 'open' && stream.status !== 'closing') return
  await new Promise<void>(resolve => {
    const done = (): void => { clearTimeout(timer); stream.removeEventListener('close', done); resolve() }
    const timer = setTimeout(done, ms)
    stream.addEventListener('close', done)
  })
}

/** A duplex whose reader waits for `gate` before each read after the first. */
export function gated (inner: ByteDuplex, gate: () => Promise<void>): ByteDuplex {
  return {
    source: (async function * () {
      for await (const chunk of inner.source) {
        yield chunk
        await gate()
      }
    })(),
    write: async chunks => { await inner.write(chunks) },
    close: async () => { await inner.close() },
    abort: err => { inner.abort(err) }
  }
}
