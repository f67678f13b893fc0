import { expand, extract } from '@noble/hashes/hkdf.js'
import { sha512 } from '@noble/hashes/sha2.js'
import { randomBytes } from '@noble/hashes/utils.js'
import { ErrorCode, FerryError, isFerryError } from '../errors.js'
import { ctEqual, lvCat } from './cpace.js'
import { abortReason, decodeMessage, encodeAbort, encodeMessage, MsgType, type AbortReason } from './messages.js'

// Re-authentication with the resume token: the same two phones reconnect after a crash, a reboot or a
// dropped link without a new code. Same roles as pairing (the receiver dials and speaks first).
//
//   receiver (initiator)                                  sender (responder)
//   RESUME_A        nonce_I (32)             ---->
//                                            <----        RESUME_B        nonce_R (32), tag_R
//   verify tag_R;  RESUME_CONFIRM tag_I      ---->        verify tag_I
//
//   prk     = HKDF-Extract(salt = lv_cat("ferry/resume/1", nonce_I, nonce_R), ikm = token)
//   tag_R   = HKDF-Expand(prk, lv_cat("ferry/resume/1 responder", receiver id, sender id), 32)
//   tag_I   = HKDF-Expand(prk, lv_cat("ferry/resume/1 initiator", receiver id, sender id), 32)
//   session = HKDF-Expand(prk, lv_cat("ferry/resume/1 session key", receiver id, sender id), 32)
//
// Each tag is a PRF of the token over both fresh nonces and both Noise-authenticated peer ids in role
// order. A passive observer learns two tags for nonces that never come back: replaying RESUME_A and
// RESUME_CONFIRM meets a new nonce_R, replaying RESUME_B meets a new nonce_I. A relay between two
// Noise sessions changes the peer ids and so the tags. The token is 256 bits: no guessing limit needed.
// Failure, on either side, is NOT_PAIRED ("these phones are not paired; pair again with a code").

export interface ResumeOptions {
  /** The 32-byte resume token both phones kept from pairing. */
  token: Uint8Array
  localPeerId: string
  remotePeerId: string
  random?: (len: number) => Uint8Array
}

export interface ResumeStep {
  send: Uint8Array[]
  /** A fresh 32-byte key for this session. */
  result?: { sessionKey: Uint8Array }
  error?: FerryError
}

export const RESUME_NONCE_BYTES = 32
const LABEL = 'ferry/resume/1'
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)

interface Keys { tagI: Uint8Array, tagR: Uint8Array, sessionKey: Uint8Array }

function keys (token: Uint8Array, receiverId: string, senderId: string, nonceI: Uint8Array, nonceR: Uint8Array): Keys {
  const prk = extract(sha512, token, lvCat(utf8(LABEL), nonceI, nonceR))
  const info = (what: string): Uint8Array => lvCat(utf8(`${LABEL} ${what}`), utf8(receiverId), utf8(senderId))
  const out = {
    tagR: expand(sha512, prk, info('responder'), 32),
    tagI: expand(sha512, prk, info('initiator'), 32),
    sessionKey: expand(sha512, prk, info('session key'), 32)
  }
  prk.fill(0)
  return out
}

const notPaired = (): FerryError => new FerryError(ErrorCode.NOT_PAIRED, 'resume: the other phone does not hold this pairing; pair again with a new code')

/**
 * The other phone's ABORT, in the words of the person who holds this one: `peer` is the role of the phone
 * that gave up (the sender is the old phone). An old phone refuses a resume with CANCELLED once its person
 * stopped sending, and with NO_PEER before it offers again after a restart: what arrived stays, and the
 * same pairing carries on once it offers again, so the new phone's person is told that, not a reason code.
 */
function peerGaveUp (reason: AbortReason, peer: 'sender' | 'receiver'): FerryError {
  if (reason === ErrorCode.NOT_PAIRED) return notPaired()
  if (peer === 'sender' && reason === ErrorCode.CANCELLED) {
    return new FerryError(ErrorCode.CANCELLED, 'the old phone stopped sending its history. What arrived is kept here: receive again (no new code is needed) once it offers its history again',
      { from: 'sender' })
  }
  if (peer === 'sender' && reason === ErrorCode.NO_PEER) {
    return new FerryError(ErrorCode.NO_PEER, 'the old phone is on the network but not offering its history (yet): start sending there again (no new code is needed)',
      { from: 'sender', notOffering: true })
  }
  return new FerryError(reason, `resume: ${peer === 'sender' ? 'the old phone' : 'the new phone'} gave up (${reason})`, { from: peer })
}

abstract class ResumeMachine {
  protected state: 'start' | 'wait' | 'done' | 'failed' = 'start'
  protected readonly token: Uint8Array
  protected readonly random: (len: number) => Uint8Array

  protected readonly o: ResumeOptions
  /** The other phone's role: the receiver resumes with the sender, and the other way round. */
  protected abstract readonly peer: 'sender' | 'receiver'

  constructor (o: ResumeOptions) {
    this.o = o
    if (!(o.token instanceof Uint8Array) || o.token.length !== 32) throw new FerryError(ErrorCode.BAD_INPUT, 'resume: the token is 32 bytes')
    for (const id of [o.localPeerId, o.remotePeerId]) {
      if (typeof id !== 'string' || id.length === 0 || id.length > 256) throw new FerryError(ErrorCode.BAD_INPUT, 'resume: peer ids must be strings')
    }
    if (o.localPeerId === o.remotePeerId) throw new FerryError(ErrorCode.BAD_INPUT, 'resume: the peer has this phone\'s own peer id')
    // A copy of our own to wipe: Buffer.slice() would be a view, and wiping it would wipe the caller's token.
    this.token = Uint8Array.from(o.token)
    this.random = o.random ?? randomBytes
  }

  get status (): string { return this.state }

  abort (): ResumeStep {
    if (this.state === 'done' || this.state === 'failed') return { send: [] }
    return this.fail(new FerryError(ErrorCode.CANCELLED, 'resume: cancelled'), true)
  }

  protected nonce (): Uint8Array {
    const n = this.random(RESUME_NONCE_BYTES).slice()
    if (n.length !== RESUME_NONCE_BYTES) throw new RangeError('the random source returned the wrong length')
    return n
  }

  protected fail (err: FerryError, tellPeer: boolean): ResumeStep {
    this.state = 'failed'
    this.token.fill(0)
    const reason = err.code === ErrorCode.NOT_PAIRED || err.code === ErrorCode.VERSION || err.code === ErrorCode.CANCELLED ? err.code : ErrorCode.PROTOCOL
    return { send: tellPeer ? [encodeAbort(reason)] : [], error: err }
  }

  protected guard (message: Uint8Array, expected: MsgType, run: (fields: Uint8Array[]) => ResumeStep): ResumeStep {
    if (this.state !== 'wait') {
      return { send: [], error: new FerryError(ErrorCode.PROTOCOL, `resume: unexpected message (${this.state})`) }
    }
    try {
      const m = decodeMessage(message, [expected])
      if (m.type === MsgType.ABORT) {
        return this.fail(peerGaveUp(abortReason(m), this.peer), false)
      }
      return run(m.fields)
    } catch (err) {
      return this.fail(isFerryError(err) ? err : new FerryError(ErrorCode.INTERNAL, `resume: ${String(err)}`, undefined, { cause: err }), true)
    }
  }
}

/** The receiver's side: proves the token second, after the sender has proved it. */
export class ResumeInitiator extends ResumeMachine {
  protected readonly peer = 'sender'
  #nonceI?: Uint8Array

  start (): ResumeStep {
    if (this.state !== 'start') return { send: [], error: new FerryError(ErrorCode.INTERNAL, 'resume: start() twice') }
    this.#nonceI = this.nonce()
    this.state = 'wait'
    return { send: [encodeMessage(MsgType.RESUME_A, this.#nonceI)] }
  }

  onMessage (message: Uint8Array): ResumeStep {
    return this.guard(message, MsgType.RESUME_B, ([nonceR, tagR]) => {
      const k = keys(this.token, this.o.localPeerId, this.o.remotePeerId, this.#nonceI!, nonceR)
      if (!ctEqual(k.tagR, tagR)) throw notPaired()
      this.state = 'done'
      this.token.fill(0)
      return { send: [encodeMessage(MsgType.RESUME_CONFIRM, k.tagI)], result: { sessionKey: k.sessionKey } }
    })
  }
}

/** The sender's side: answers with its own fresh nonce, so nothing recorded earlier verifies. */
export class ResumeResponder extends ResumeMachine {
  protected readonly peer = 'receiver'
  #k?: Keys

  constructor (o: ResumeOptions) {
    super(o)
    this.state = 'wait'
  }

  onMessage (message: Uint8Array): ResumeStep {
    if (this.#k === undefined) {
      return this.guard(message, MsgType.RESUME_A, ([nonceI]) => {
        const nonceR = this.nonce()
        this.#k = keys(this.token, this.o.remotePeerId, this.o.localPeerId, nonceI, nonceR)
        this.token.fill(0)
        return { send: [encodeMessage(MsgType.RESUME_B, nonceR, this.#k.tagR)] }
      })
    }
    return this.guard(message, MsgType.RESUME_CONFIRM, ([tagI]) => {
      if (!ctEqual(this.#k!.tagI, tagI)) throw notPaired()
      this.state = 'done'
      return { send: [], result: { sessionKey: this.#k!.sessionKey } }
    })
  }
}
