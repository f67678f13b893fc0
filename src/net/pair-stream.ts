import { ErrorCode, FerryError, isFerryError } from '../errors.js'
import {
  CodeLifetime, MAX_MESSAGE_BYTES, ReceiverHandshake, ResumeInitiator, ResumeResponder, SenderHandshake,
  type PairingCode, type PairingResult
} from '../pairing/index.js'
import { encodeAbort, MsgType, type AbortReason } from '../pairing/messages.js'
import type { CodeTry } from '../journal/tried-codes.js'
import type { ByteDuplex } from '../wire/duplex.js'
import { prefix, readFrames } from '../wire/framing.js'
import { within } from '../within.js'

// Binds the sans-I/O pairing handshakes to /ferry/pair/1.0.0: one handshake message per length-prefixed
// frame of at most 1 KiB.

export const PAIR_PROTOCOL = '/ferry/pair/1.0.0'

interface Machine {
  onMessage(m: Uint8Array): { send: Uint8Array[], result?: unknown, error?: FerryError }
}

type Step = ReturnType<Machine['onMessage']>

async function send (duplex: ByteDuplex, messages: Uint8Array[]): Promise<void> {
  if (messages.length > 0) await duplex.write(messages.flatMap(m => [prefix([m]), m]))
}

/**
 * How long a receiver that refused the pairing (a wrong code, a bad confirmation) waits for the other to
 * hang up after telling it why. Closing at once would let the process exit with the peer's last frames
 * unread, and a socket closed with unread bytes is reset: the peer's kernel then drops the refusal
 * before its phone reads it, and it reports a hang-up instead of the wrong code. The peer hangs up as
 * soon as it reads the refusal; a peer that never does costs this much.
 */
const REFUSAL_LINGER_MS = 2_000

/** Waits until the peer ends its side (what it still sends is dropped), or `ms` pass. */
async function awaitHangUp (it: AsyncIterator<Uint8Array>, ms: number): Promise<void> {
  const drained = (async () => {
    try {
      while ((await it.next()).done !== true) {}
    } catch {} // a reset is a hang-up too
  })()
  await within(drained, ms, undefined)
}

/**
 * Runs a handshake machine over the stream, as `role`. The receiver, after refusing the peer, waits up
 * to REFUSAL_LINGER_MS for it to hang up (the sender's connection slots keep a refused connection open
 * instead). The sender decides the outcome: its result stands whether or not what goes with it (PAIRED)
 * arrives, as a receiver that misses it keeps its token and resumes with it. `onEnd` is the machine's
 * abort: called when the stream ends, fails or times out first, it may still give a result (a receiver
 * whose confirmation is out).
 */
async function drive<R> (duplex: ByteDuplex, messages: AsyncIterable<Uint8Array>, machine: Machine, first: Step, onEnd: () => Step, timeoutMs: number, role: 'receiver' | 'sender'): Promise<R> {
  let timedOut = false
  const timer = setTimeout(() => { timedOut = true; duplex.abort(new FerryError(ErrorCode.TRUNCATED, 'pairing timed out')) }, timeoutMs)
  const it = messages[Symbol.asyncIterator]()
  try {
    for (let step: Step | undefined = first; step !== undefined;) {
      if (step.result !== undefined && role === 'sender') {
        await send(duplex, step.send).catch(() => {})
        return step.result as R
      }
      await send(duplex, step.send)
      if (step.result !== undefined) return step.result as R
      if (step.error !== undefined) {
        // Refused here, and the refusal just sent: let the peer read it before we go.
        if (role === 'receiver') await awaitHangUp(it, REFUSAL_LINGER_MS)
        throw step.error
      }
      const next = await it.next()
      step = next.done === true ? undefined : machine.onMessage(next.value)
    }
    throw new FerryError(ErrorCode.TRUNCATED, 'the other phone hung up during pairing')
  } catch (err) {
    // A vanished peer still spends the attempt if it could have tested a guess: abort() decides that.
    const end = onEnd()
    if (end.result !== undefined) return end.result as R
    if (end.error !== undefined && !isFerryError(err, ErrorCode.WRONG_CODE)) {
      await send(duplex, end.send).catch(() => {})
    }
    // A stall is told from a cut (`details.timedOut`): a phone that stalls has the whole timeout each time.
    if (timedOut && (!isFerryError(err) || err.code === ErrorCode.TRUNCATED)) throw new FerryError(ErrorCode.TRUNCATED, 'pairing timed out: the other phone stopped answering', { timedOut: true }, { cause: err })
    throw isFerryError(err) ? err : new FerryError(ErrorCode.TRUNCATED, `pairing failed: ${(err as Error).message}`, undefined, { cause: err })
  } finally {
    clearTimeout(timer)
    // Let go of the reader, as leaving a for-await would; not awaited: a read may still be pending.
    it.return?.().catch(() => {})
  }
}

export interface PairIds { localPeerId: string, remotePeerId: string }

export interface PairOutcome {
  mode: 'code' | 'resume'
  /** Set after a code pairing: the token to keep for resuming. */
  resumeToken?: Uint8Array
  /** A receiver's code pairing whose verdict never came: the sender may not have paired it (resume tells). */
  unconfirmed?: true
}

export interface ReceiverAuth {
  code?: PairingCode
  qrKey?: Uint8Array
  token?: Uint8Array
  /**
   * This phone's count of the guesses its code pairings tested (journal/tried-codes.ts), for a typed
   * code: `charge` is awaited once the other phone's PAKE_B is in, before this phone answers it.
   */
  tries?: CodeTry
}

/**
 * How long a receiver pairing by a typed code waits for the other phone's first reply (its PAKE_B, or a
 * refusal) before it counts as a stall. An honest old phone answers PAKE_A at once: one CPace step and
 * one write of its code's budget, milliseconds, a few seconds on a link that retransmits; it never
 * queues a pairing behind another (attempts run side by side, or are refused when none is left). The
 * code's first digits are public, so a neighbour can answer the search for them and then say nothing:
 * without this deadline that costs the pairing's whole timeout, as long as a receive's default time.
 * A stall is no verdict: the receive looks for another phone, and comes back to this one when none
 * shows up (net/look-past.ts), so an honest phone now and then slower than this is retried, not lost;
 * one always slower pairs by its QR code, which has no first-reply deadline.
 */
export const FIRST_REPLY_MS = 10_000

/**
 * Receiver side: pairs with the code, or re-authenticates with a resume token. `firstReplyMs` bounds the
 * wait for a typed code's first reply (`auth.tries` given; FIRST_REPLY_MS by default), `timeoutMs` the
 * whole pairing.
 */
export async function pairAsReceiver (duplex: ByteDuplex, ids: PairIds, auth: ReceiverAuth, timeoutMs = 60_000, firstReplyMs = FIRST_REPLY_MS): Promise<PairOutcome> {
  try {
    if (auth.token !== undefined) {
      const m = new ResumeInitiator({ token: auth.token.slice(), ...ids })
      await drive(duplex, readFrames(duplex.source, MAX_MESSAGE_BYTES), m, m.start(), () => m.abort(), timeoutMs, 'receiver')
      return { mode: 'resume' }
    }
    if (auth.code === undefined) throw new FerryError(ErrorCode.BAD_INPUT, 'a pairing code is needed')
    const m = new ReceiverHandshake({ code: auth.code, qrKey: auth.qrKey, ...ids })
    const tries = auth.tries
    const frames = readFrames(duplex.source, MAX_MESSAGE_BYTES)
    const charge = { done: false, untested: false }
    // Only a typed code's: its search may have found a neighbour (a QR code or a resume names the phone).
    const reply = tries === undefined ? undefined : new FirstReply(duplex, firstReplyMs)
    let r: PairingResult
    try {
      r = await drive<PairingResult>(duplex, tries === undefined || reply === undefined ? frames : chargedAtPakeB(reply.watch(frames), m, tries, charge), m, m.start(), () => m.abort(), timeoutMs, 'receiver')
    } catch (caught) {
      reply?.clear()
      await tries?.settle(m.codeProved ? 'proved' : 'failed')
      if (tries === undefined) throw caught
      const err = reply?.missed === true ? reply.stall(caught) : caught
      const said = charge.untested && !charge.done ? unproved(err) : err
      if (isFerryError(said, ErrorCode.WRONG_CODE)) throw await withTriesLeft(said, tries)
      if (charge.done && !m.codeProved && isFerryError(err, ErrorCode.TRUNCATED)) throw await cutWhileChecking(err, tries)
      if (!charge.done) throw cutUnchecked(said)
      throw said
    }
    reply?.clear()
    await tries?.settle('paired')
    return { mode: 'code', resumeToken: r.resumeToken, ...(r.unconfirmed === true ? { unconfirmed: true } : {}) }
  } finally {
    await duplex.close().catch(() => {})
  }
}

/**
 * The deadline for the other phone's first reply: the stream is cut when it passes with nothing come,
 * and the pairing's failure is then said as the stall it was (TRUNCATED, `timedOut`).
 */
class FirstReply {
  /** The deadline passed before any reply. */
  missed = false
  private readonly timer: ReturnType<typeof setTimeout>

  constructor (duplex: ByteDuplex, private readonly ms: number) {
    this.timer = setTimeout(() => {
      this.missed = true
      duplex.abort(new FerryError(ErrorCode.TRUNCATED, 'the other phone did not answer the pairing'))
    }, ms)
  }

  /** The frames, the deadline cleared as the first comes in (or the stream ends), before it is charged or handled. */
  async * watch (frames: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    try {
      for await (const frame of frames) {
        clearTimeout(this.timer)
        yield frame
      }
    } finally {
      clearTimeout(this.timer)
    }
  }

  clear (): void {
    clearTimeout(this.timer)
  }

  stall (err: unknown): FerryError {
    return new FerryError(ErrorCode.TRUNCATED, `pairing timed out: the other phone did not answer within ${Number((this.ms / 1000).toFixed(1))} s`, { timedOut: true }, { cause: err })
  }
}

/**
 * A typed code's pairing that the other phone ended with an answer that tested no guess (a refusal, or
 * bytes that are no valid PAKE_B), before any try was charged: `details.unproved`. Nothing of the code
 * was checked, so it is no verdict on the code: whoever answers for the public nameplate can say it, and
 * a receive that found this phone by a search looks for another (net/look-past.ts).
 */
function unproved (err: unknown): unknown {
  // CANCELLED said by the other phone (its ABORT names where it came from) is as unproved as any other
  // refusal; one without `from` is this phone's own cancel, which ends the receive.
  // A phone not offering yet refused nothing: it is retried as a phone not reached, not looked past.
  if (!isFerryError(err) || err.code === ErrorCode.TRUNCATED || err.code === ErrorCode.NO_PEER || (err.code === ErrorCode.CANCELLED && err.details?.from === undefined)) return err
  return new FerryError(err.code, err.message, { ...err.details, unproved: true }, { cause: err })
}

/** The other phone said it offers no transfer (yet): NO_PEER, `details.notOffering`. */
export function notOffering (err: unknown): err is FerryError {
  return isFerryError(err, ErrorCode.NO_PEER) && err.details?.notOffering === true
}

/**
 * A typed code's pairing whose link went (a hang-up, a reset, bytes that cut the stream, a stall past the
 * pairing's timeout) before any valid PAKE_B: `details.cut`. No try was charged and nothing of the code
 * was tested, so it says nothing of who the other phone is: an honest phone on a bad link does it, and
 * so can whoever answers for the public nameplate. A receive retries it, and one that found this phone
 * by a search looks for another after a few (net/look-past.ts).
 */
function cutUnchecked (err: unknown): unknown {
  // A phone that says it offers nothing yet tested nothing either, and could say it for ever in the old
  // phone's place: the search treats it as one that cuts.
  if (!isFerryError(err, ErrorCode.TRUNCATED) && !notOffering(err)) return err
  return new FerryError(err.code, err.message, { ...err.details, cut: true }, { cause: err })
}

/**
 * A wrong typed code, with how many more tries of it this phone allows (`details.triesLeft`): a person
 * who mistyped it knows whether to type it again. Whether there is a QR code to turn to instead is the
 * app's to say (the CLI and the browser page do): an app may show none.
 */
async function withTriesLeft (err: FerryError, tries: CodeTry): Promise<FerryError> {
  const left = await tries.left().catch(() => undefined)
  if (left === undefined) return err
  const said = left === 0
    ? 'no tries of this code are left on this phone: ask the old phone for a new code'
    : `${left} ${left === 1 ? 'try' : 'tries'} of this code left on this phone`
  return new FerryError(ErrorCode.WRONG_CODE, `${err.message}; ${said}`, { ...err.details, triesLeft: left }, { cause: err })
}

/**
 * A link that went after this phone's try of a typed code was charged, and before the other phone's tag
 * proved the code. Said as WRONG_CODE, not as the TRUNCATED of a cut, so the receive is not tried again
 * by itself: the charge stands (the answer may have got out), and a neighbour posing as the old phone
 * that resets after each PAKE_B would otherwise spend every try of the code before the person saw
 * anything. It is a wrong code as this phone knows it: the handshake checked the other phone's tag
 * before answering, and the tag did not prove the code. `details.linkDropped` tells it from a refusal
 * that was heard; `details.triesLeft` is as a wrong code's.
 */
async function cutWhileChecking (err: FerryError, tries: CodeTry): Promise<FerryError> {
  const left = await tries.left().catch(() => undefined)
  const cut = 'pairing: the link to the other phone dropped while the phones were checking the code, and the other phone ' +
    'had not shown that it holds this code. This counted as one try of the code'
  // As a wrong code's: the QR code, if the app shows one, is the app's to mention.
  const said = left === undefined
    ? '; try again with the same code (check its digits)'
    : left === 0
      ? ', and no tries of it are left on this phone: ask the old phone for a new code'
      : `: ${left} ${left === 1 ? 'try' : 'tries'} of it left on this phone. Try again with the same code (check its digits)`
  return new FerryError(ErrorCode.WRONG_CODE, cut + said, { linkDropped: true, ...(left !== undefined ? { triesLeft: left } : {}) }, { cause: err })
}

/**
 * The frames, with the try charged, on disk, before the other phone's PAKE_B reaches the handshake: this
 * phone's answer to it (CONFIRM_A, or a refusal) tells the other phone whether its guess of the code was
 * right. Only a PAKE_B the handshake would answer that way is charged (`testsGuess`): a malformed one,
 * or one whose share is no valid element, is refused the same whatever the code, and tests no guess.
 * `charge.done` says the try was charged; `charge.untested`, that the other phone answered with a
 * message that tested no guess (the handshake refuses it, whatever the code).
 */
async function * chargedAtPakeB (frames: AsyncIterable<Uint8Array>, hs: ReceiverHandshake, tries: CodeTry, charge: { done: boolean, untested: boolean }): AsyncGenerator<Uint8Array> {
  let charging = false
  for await (const frame of frames) {
    if (!charging && hs.testsGuess(frame)) {
      charging = true
      await tries.charge()
      charge.done = true
    } else if (!charging) {
      charge.untested = true
    }
    yield frame
  }
}

export interface SenderAuth {
  code?: PairingCode
  /** The key of the QR code shown beside the code, if one is (generateQrKey). */
  qrKey?: Uint8Array
  lifetime?: CodeLifetime
  /** Resume tokens this phone accepts, by peer id. */
  tokens: Map<string, Uint8Array>
  /**
   * Resolves once the code's budget, as the attempt just charged left it, is on disk: awaited before the
   * sender's first keyed message goes out, so a crash after it cannot hand a restarted sender that guess back.
   */
  durable?: () => Promise<void>
  /** Called when an attempt really began: a code attempt was charged, or a resume with a token held here. */
  onAttempt?: () => void
  /**
   * Why this phone pairs with no one now: told to a phone that comes with a code (CODE_EXPIRED by
   * default); one that comes to resume hears NOT_PAIRED, or CANCELLED or NO_PEER (not offering yet) if
   * that is the reason.
   */
  refusal?: AbortReason
}

/** Sender side: answers either a code pairing or a resume, whichever the receiver starts. */
export async function pairAsSender (duplex: ByteDuplex, ids: PairIds, auth: SenderAuth, timeoutMs = 60_000): Promise<PairOutcome> {
  const it = readFrames(duplex.source, MAX_MESSAGE_BYTES)[Symbol.asyncIterator]()
  const timer = setTimeout(() => duplex.abort(new FerryError(ErrorCode.TRUNCATED, 'pairing timed out')), timeoutMs)
  try {
    const first = await it.next()
    if (first.done === true) throw new FerryError(ErrorCode.TRUNCATED, 'the other phone hung up before pairing')
    const rest: AsyncIterable<Uint8Array> = { [Symbol.asyncIterator]: () => it }
    if (first.value[1] === MsgType.RESUME_A) {
      const token = auth.tokens.get(ids.remotePeerId)
      if (token === undefined) {
        // Said as NOT_PAIRED (not a bare cancel), so the other phone knows to pair again with a code.
        await send(duplex, [encodeAbort(auth.refusal === ErrorCode.CANCELLED || auth.refusal === ErrorCode.NO_PEER ? auth.refusal : ErrorCode.NOT_PAIRED)])
        throw new FerryError(ErrorCode.NOT_PAIRED, `phone ${ids.remotePeerId} is not paired with this one (or its pairing expired or was replaced)`)
      }
      const m = new ResumeResponder({ token: token.slice(), ...ids })
      const step = m.onMessage(first.value)
      if (step.error === undefined) auth.onAttempt?.()
      await drive(duplex, rest, m, step, () => m.abort(), timeoutMs, 'sender')
      return { mode: 'resume' }
    }
    if (auth.code === undefined || auth.lifetime === undefined) {
      // Told, or the other phone would take the hang-up for a dropped link and keep trying.
      await send(duplex, [encodeAbort(auth.refusal ?? ErrorCode.CODE_EXPIRED)]).catch(() => {})
      throw new FerryError(ErrorCode.CODE_EXPIRED, 'this phone is not showing a pairing code')
    }
    const m = new SenderHandshake({ code: auth.code, lifetime: auth.lifetime, qrKey: auth.qrKey, ...ids })
    const step = m.onMessage(first.value)
    if (step.error === undefined) {
      auth.onAttempt?.()
      try {
        await auth.durable?.()
      } catch (err) {
        // The charge stands (only the disk failed); the peer is told we gave up, and learns nothing keyed.
        await send(duplex, m.abort().send).catch(() => {})
        throw err
      }
    }
    const r = await drive<{ resumeToken: Uint8Array }>(duplex, rest, m, step, () => m.abort(), timeoutMs, 'sender')
    return { mode: 'code', resumeToken: r.resumeToken }
  } finally {
    clearTimeout(timer)
    await duplex.close().catch(() => {})
  }
}
