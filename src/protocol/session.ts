import { ErrorCode, FerryError, isFerryError } from '../errors.js'
import { CHUNK_HEADER_MAX, decodeFrame, encodeFrame, type EncodedFrame, type Frame } from '../wire/codec.js'
import type { ByteDuplex } from '../wire/duplex.js'
import { FrameDecoder, FrameWriter, MAX_FRAME_BYTES, readFrames } from '../wire/framing.js'
import { DEFAULT_OPTIONS } from './options.js'
import type { ReceiverMachine } from './receiver.js'
import type { SenderMachine } from './sender.js'
import { within } from '../within.js'
import { PeerSilence, stoppedAnswering } from './peer-silence.js'

// Drivers: the only place where a state machine meets a byte pipe. Same code for libp2p streams,
// in-memory pipes and backup files.

export interface DriverOptions {
  maxFrameBytes?: number
  /** Called after every frame that moved the transfer forward. */
  onProgress?: () => void
  signal?: AbortSignal
  /** The receiver: how long it waits, once it sent Verified, for the sender to hang up (HEARD_MS). */
  heardMs?: number
  /** The receiver: how long its own close may take once the sender hung up (GOODBYE_MS). */
  goodbyeMs?: number
  /**
   * The sender: awaited once it has read Verified, before it hangs up. The hang-up is what tells the new
   * phone it was heard, so what must not outlive the transfer (the pairing) goes here: a sender killed
   * after its hang-up must not come back waiting for a phone that is done with it.
   */
  onVerified?: () => Promise<void>
  /**
   * The receiver: awaited as soon as the sender's hang-up after Verified is read, before anything else
   * (the last progress, the goodbye): from then on the old phone is known to have heard.
   */
  onHeard?: () => Promise<void>
  /** The receiver: called for each whole frame read from the sender (a step forward for a stall watch). */
  onFrame?: () => void
  /**
   * The receiver: after this long without writing anything, it repeats its last Ack (which any sender
   * takes), so a sender holding it to `replyMs` hears it is there while it is busy: committing a large
   * media file, working out what it holds, reading the history back to verify it. Unset: never.
   */
  keepAliveMs?: number
  /**
   * The sender: how long it waits on the receiver (for its Hello, Resume, plans' answers, acks while
   * the window is full, Verified) without a frame from it, its own work not counted. Past it the session
   * ends with TRUNCATED (`stoppedAnswering`), as a dropped link. Unset: for ever (a backup file).
   */
  replyMs?: number
}

/**
 * A sender hangs up as soon as it has read Verified, so on a live link the receiver sees the end of the
 * stream at once; one that keeps the stream open longer is taken for a link that died.
 */
const HEARD_MS = 10_000

/**
 * This phone's own close only says goodbye, and a WebRTC stream's close waits for the peer to
 * acknowledge it. So it goes as soon as Verified is written, while the old phone (about to read it) is
 * there to answer; were the answer still missing once the old phone has hung up (it may exit at once),
 * the close would hold the verified transfer for the stream's own timeout (10 s). Past this, the
 * stream is torn down instead.
 */
const GOODBYE_MS = 500

/** Reads `reads` (the source of `duplex`) to its end, aborting `duplex` with TRUNCATED past `ms`. */
async function untilHungUp (reads: AsyncIterator<unknown>, duplex: ByteDuplex, ms: number): Promise<void> {
  const unheard = new FerryError(ErrorCode.TRUNCATED, `the other phone did not hang up within ${ms / 1000} s of Verified: it may not have heard it`)
  let late = false
  const timer = setTimeout(() => { late = true; duplex.abort(unheard) }, ms)
  try {
    // Nothing more is expected; whatever comes is ignored.
    while ((await reads.next()).done !== true) { /* ignored */ }
  } catch (err) {
    throw late ? unheard : err
  } finally {
    clearTimeout(timer)
  }
  if (late) throw unheard
}

/**
 * What the other phone is told of a failure here. A store's or a bug's message is this phone's own
 * (file paths, an app's table names, a driver's text): the other phone hears the code and who knows why.
 */
function toPeer (err: FerryError): { code: ErrorCode, message: string } {
  if (err.code === ErrorCode.STORE) return { code: err.code, message: 'its store failed (that phone says why)' }
  if (err.code === ErrorCode.INTERNAL) return { code: err.code, message: 'it failed (that phone says why)' }
  // The old phone's history is not in question: the new phone's own person or app changed what it received.
  if (err.details?.changedHere === true) return { code: err.code, message: 'messages the transfer wrote were changed or deleted on the new phone while it ran (by its person or app): nothing is wrong with this history, and the transfer can be run again' }
  return { code: err.code, message: err.message }
}

function asFerryError (err: unknown): FerryError {
  if (isFerryError(err)) return err
  return new FerryError(ErrorCode.TRUNCATED, `connection lost: ${(err as Error)?.message ?? String(err)}`, undefined, { cause: err })
}

/**
 * Tells the peer why we stop and closes gracefully, so the Error frame is read before the stream goes;
 * when that fails (or there is nothing to tell) the pipe is torn down.
 */
async function giveUp (duplex: ByteDuplex, writer: FrameWriter, err: FerryError, tellPeer: boolean): Promise<never> {
  let closed = false
  if (tellPeer) {
    try {
      await writer.push(encodeFrame({ error: toPeer(err) }))
      await writer.flush()
      await duplex.close()
      closed = true
    } catch {}
  }
  if (!closed) duplex.abort(err)
  throw err
}

function onAbort (signal: AbortSignal | undefined, duplex: ByteDuplex): () => void {
  if (signal === undefined) return () => {}
  const abort = (): void => duplex.abort(new FerryError(ErrorCode.CANCELLED, 'transfer cancelled'))
  if (signal.aborted) abort()
  signal.addEventListener('abort', abort, { once: true })
  return () => signal.removeEventListener('abort', abort)
}

/** Runs the receiving side until the transfer is verified; throws a FerryError otherwise. */
export async function runReceiver (machine: ReceiverMachine, duplex: ByteDuplex, opts: DriverOptions = {}): Promise<void> {
  const writer = new FrameWriter(duplex, 16 * 1024)
  const unlisten = onAbort(opts.signal, duplex)
  let peerFailed = false
  // Frames go out from two places, the answers to what arrives and the machine's own (Holdings): one
  // chain keeps them whole and in order.
  let chain: Promise<void> = Promise.resolve()
  let wroteAt = Date.now()
  const send = async (frames: EncodedFrame[]): Promise<void> => {
    wroteAt = Date.now()
    chain = chain.then(async () => {
      for (const f of frames) await writer.push(f)
      await writer.flush()
    })
    await chain
  }
  let keepAlive: ReturnType<typeof setTimeout> | undefined
  const keepAliveMs = opts.keepAliveMs
  const stayInTouch = (): void => {
    if (keepAliveMs === undefined) return
    keepAlive = setTimeout(() => {
      if (machine.finished || background !== undefined) return
      if (Date.now() - wroteAt >= keepAliveMs) send([machine.lastAck()]).catch(() => {})
      stayInTouch()
    }, Math.max(10, keepAliveMs - (Date.now() - wroteAt)))
    keepAlive.unref?.()
  }
  let background: FerryError | undefined
  machine.emit = frames => { send(frames).catch(err => { machine.onBackgroundError?.(asFerryError(err)) }) }
  machine.onBackgroundError = err => {
    if (background !== undefined) return
    background = err
    // Tell the sender and hang up: the read loop below then ends and reports it.
    send([encodeFrame({ error: toPeer(err) })]).then(async () => { await duplex.close() }, () => { duplex.abort(err) })
  }
  // One reader of the source throughout: a stream's source can be read only once.
  const reads = duplex.source[Symbol.asyncIterator]()
  try {
    await send(machine.start())
    stayInTouch()
    // Chunk bodies are reassembled into reused buffers. A chunk's write may still be landing when
    // onFrame returns (MediaIntake.chunk): its body is reused once the next chunk has been taken.
    const decoder = new FrameDecoder(opts.maxFrameBytes ?? MAX_FRAME_BYTES, DEFAULT_OPTIONS.chunkBytes + CHUNK_HEADER_MAX)
    let lastChunk: Uint8Array | undefined
    read: for (let r = await reads.next(); r.done !== true; r = await reads.next()) {
      const chunk = r.value
      let bodies: Uint8Array[]
      try {
        bodies = decoder.push(chunk)
      } catch (err) {
        throw await machine.refuse(err)
      }
      for (const body of bodies) {
        let frame: Frame
        try {
          frame = decodeFrame(body)
        } catch (err) {
          throw await machine.refuse(err)
        }
        peerFailed = frame.body === 'error'
        opts.onFrame?.()
        const answers = await machine.onFrame(frame, body.byteLength)
        if (answers.length > 0) await send(answers)
        if (frame.body === 'chunk') {
          if (lastChunk !== undefined) decoder.recycle(lastChunk)
          lastChunk = body
        }
        if (machine.finished) break read
        if (background !== undefined) break read
      }
      // One cumulative ack per read: it opens the sender's window for everything processed.
      const ack = machine.takeAck()
      if (ack !== undefined) await send([ack])
      opts.onProgress?.()
    }
    await chain
    if (background !== undefined) throw await machine.refuse(background)
    if (!machine.finished) {
      decoder.end()
      throw new FerryError(ErrorCode.TRUNCATED, 'the sender went away before the transfer was verified')
    }
    // Verified is written, not yet heard: a link that dies now would leave the old phone waiting for it.
    // The sender hangs up once it has read it, so this phone waits for that; a link that dies first
    // fails the session (TRUNCATED), and the next session verifies again and says so again.
    // This phone's goodbye goes now, while the old phone is there to answer it (GOODBYE_MS).
    const goodbye = duplex.close().then(() => true, () => true)
    await untilHungUp(reads, duplex, opts.heardMs ?? HEARD_MS)
    await opts.onHeard?.()
    opts.onProgress?.()
    if (!await within(goodbye, opts.goodbyeMs ?? GOODBYE_MS, false)) duplex.abort(new FerryError(ErrorCode.TRUNCATED, 'the other phone did not answer the goodbye'))
  } catch (err) {
    clearTimeout(keepAlive)
    const e = asFerryError(err)
    await chain.catch(() => {})
    return await giveUp(duplex, writer, e, background === undefined && !peerFailed && e.code !== ErrorCode.TRUNCATED && e.code !== ErrorCode.CANCELLED)
  } finally {
    clearTimeout(keepAlive)
    unlisten()
    // As a for-await loop left early would: the source may hold a read open.
    void reads.return?.()?.catch(() => {})
  }
}

/** Runs the sending side until the receiver answers Done with Verified; throws a FerryError otherwise. */
export async function runSender (machine: SenderMachine, duplex: ByteDuplex, opts: DriverOptions = {}): Promise<void> {
  const writer = new FrameWriter(duplex, 64 * 1024)
  const unlisten = onAbort(opts.signal, duplex)
  let wake: (() => void) | undefined
  let incomingError: FerryError | undefined
  let incomingEnded = false
  let peerFailed = false
  // Set by every wake-up: one that comes while the pump is busy writing (not yet waiting) must still
  // make it poll again, or an ack that opens the window while a flush is pending is lost for good.
  let woken = false
  const signalWake = (): void => { woken = true; const w = wake; wake = undefined; w?.() }
  machine.onWake = signalWake
  // Waiting on the receiver is timed; this phone's own work (reading its store, planning) is not.
  let stalled: FerryError | undefined
  const silence = opts.replyMs === undefined ? undefined : new PeerSilence(opts.replyMs, waited => { stalled = stoppedAnswering(waited); duplex.abort(stalled) })
  let working = 0
  const own = async <T>(work: Promise<T>): Promise<T> => {
    if (working++ === 0) silence?.busy()
    try {
      return await work
    } finally {
      if (--working === 0) silence?.waiting()
    }
  }

  // Frames from the receiver (acks, Resume, Holdings, Want, Verified) are handled as they come; the pump
  // below is the only writer, so frames never interleave.
  const incoming = (async () => {
    try {
      for await (const body of readFrames(duplex.source, opts.maxFrameBytes ?? MAX_FRAME_BYTES)) {
        const frame: Frame = decodeFrame(body)
        peerFailed = frame.body === 'error'
        silence?.heard()
        const acked = machine.progress.bytesAcked
        await own(machine.onFrame(frame))
        // A receiver's repeated Ack (it is busy, and there) moves nothing: no progress to report.
        if (frame.body !== 'ack' || machine.progress.bytesAcked !== acked) opts.onProgress?.()
        signalWake()
        if (machine.finished) return
      }
    } catch (err) {
      incomingError = asFerryError(err)
      // The pump may be blocked writing to a receiver that stopped reading: nothing more will be said.
      if (peerFailed) duplex.abort(incomingError)
    } finally {
      incomingEnded = true
      signalWake()
    }
  })()

  try {
    silence?.waiting()
    for (const f of machine.start()) await writer.push(f)
    for (;;) {
      woken = false
      let frame: EncodedFrame | undefined
      while ((frame = await own(machine.next())) !== undefined) await writer.push(frame)
      await writer.flush()
      opts.onProgress?.()
      if (machine.state === 'verified') {
        silence?.stop()
        await opts.onVerified?.()
        break
      }
      if (incomingError !== undefined) throw incomingError
      if (incomingEnded) throw new FerryError(ErrorCode.TRUNCATED, 'the receiver went away before confirming the transfer')
      if (woken) continue
      await new Promise<void>(resolve => { wake = resolve })
    }
    await duplex.close()
    await incoming
  } catch (err) {
    // Aborted for the receiver's silence: that is why, whatever the stream's writes and reads then threw.
    const e = stalled ?? asFerryError(err)
    return await giveUp(duplex, writer, e, !peerFailed && e.code !== ErrorCode.TRUNCATED && e.code !== ErrorCode.CANCELLED)
  } finally {
    silence?.stop()
    unlisten()
    // However the session ended: a snapshot held on would keep the store's WAL from starting over.
    await machine.release()
  }
}
