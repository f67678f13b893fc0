import { expand, extract } from '@noble/hashes/hkdf.js'
import { hmac } from '@noble/hashes/hmac.js'
import { sha512 } from '@noble/hashes/sha2.js'
import { concatBytes, randomBytes } from '@noble/hashes/utils.js'
import { ErrorCode, FerryError, isFerryError } from '../errors.js'
import type { Attempt, CodeLifetime } from './attempts.js'
import { codePrs, formatCode, qrPrs, type PairingCode } from './code.js'
import { cpaceIsk, cpaceShare, ctEqual, isValidShare, lvCat, sampleScalar, transcriptIr } from './cpace.js'
import { abortReason, decodeMessage, encodeAbort, encodeMessage, MAX_AD_BYTES, MsgType, type AbortReason } from './messages.js'

// The pairing handshake (/ferry/pair/1.0.0), sans I/O: bytes in, bytes out, no sockets, no clocks.
//
// The receiver (the new phone, where the user TYPES the code) is the CPace initiator A; the sender
// (the old phone, which SHOWS the code) is the responder B. The receiver dials, so it speaks first.
//
//   receiver (A)                                         sender (B)
//   PAKE_A    nonce_A, Ya, ADa              ---->        validate Ya; charge an attempt; Yb; ISK; Tb
//             verify Tb; Ta                 <----        PAKE_B     Yb, ADb, Tb
//   CONFIRM_A Ta                            ---->        verify Ta; the code is used up
//   paired                                  <----        PAIRED     (or ABORT: the verdict)
//
// CPace inputs (the draft leaves their encoding to the application):
//   PRS = the code's 8 secret digits, ASCII. A receiver that scanned the QR code sends PAKE_A_QR instead
//         of PAKE_A, and PRS = the digits || the QR's 16-byte key (code.ts, qrPrs): the sender charges
//         no attempt for it (attempts.ts), as no one can guess that key online.
//   CI  = lv_cat("ferry/pair/1", nameplate, receiver peer id, sender peer id)
//         Both libp2p peer ids (Noise authenticated them underneath), initiator first as the draft
//         recommends, so a man in the middle (two Noise sessions, two peer ids) or a splice of two
//         sessions yields different generators and ISKs: it learns nothing and fails confirmation.
//         CI is never sent. The protocol version is in it too, so no downgrade goes unnoticed.
//   sid = lv_cat(caller's sid, nonce_A): nonce_A is 16 fresh bytes, so sid never repeats even if the
//         caller has no session id of its own (pass empty then). The draft: sid SHOULD NOT be reused.
//   ADa, ADb = optional caller bytes (e.g. a device name to show), sent in clear, authenticated by
//         the transcript; empty by default.
//   Transcript: initiator-responder, transcript_ir(Ya, ADa, Yb, ADb).
//
// PAKE_A_QR also carries a proof that its sender holds the key:
//   proof = HMAC-SHA-512(key, lv_cat("ferry/pair/1 qr proof", CI, sid, Ya, ADa)), first 32 bytes
// checked (in constant time) before the sender begins an attempt or computes anything from the PRS.
// Scans are uncharged, so nothing else bounds how many run: without it, strangers with made-up keys
// could each hold a connection slot the whole pairing timeout (a pairing's slot cannot be pushed out),
// filling them all, and make the sender do two scalar multiplications per message. It is keyed by the
// key alone, so it says nothing of the digits, and 128 bits cannot be tested offline.
//
// Key confirmation, as the draft's "Key confirmation" section suggests:
//   mac_key = SHA-512(b"CPaceMac" || sid || ISK)
//   Ta = HMAC-SHA-512(mac_key, lv_cat(Ya, ADa)),  Tb = HMAC-SHA-512(mac_key, lv_cat(Yb, ADb))
// ISK already hashes sid, CI and the whole transcript, so a matching tag proves agreement on all of it;
// the two tags differ, so neither can be reflected. Compared in constant time.
//
// Outputs (HKDF-SHA-512, the RFC 5869 KDF the draft recommends for ISK, with distinct labels):
//   sessionKey  = HKDF(ISK, salt = sid, info = "ferry/pair/1 session key", 32 bytes)
//   resumeToken = HKDF(ISK, salt = sid, info = "ferry/pair/1 resume token", 32 bytes)
// The resume token lets the same two phones reconnect without a new code (resume.ts); store it as a secret.
//
// Failures: a wrong code (or a MITM, or a splice) shows as WRONG_CODE on both phones: the side that
// detects it sends ABORT(WRONG_CODE). An invalid share is PROTOCOL, refused before anything is charged
// or computed (it tests no guess). A dead code is CODE_EXPIRED.
//
// The sender's verdict. The receiver knows the keys once Tb checks out, but the sender decides only on
// CONFIRM_A: attempts run side by side, and one that another phone's success overtook is refused there
// (the code pairs one phone, attempts.ts). So the sender answers CONFIRM_A with PAIRED, or with
// ABORT(CODE_EXPIRED) when the code was used meanwhile, and the receiver calls itself paired only on
// PAIRED: a phone that lost the race hears so as part of pairing, not as NOT_PAIRED on its transfer.
// That refusal tells nothing of the code: the sender checks Ta first, so only a peer that proved the
// code hears it, and such a peer learned it held the right code from Tb already.
// PAIRED carries no tag: the stream runs inside the Noise session whose peer ids CI binds, as ABORT does.
// A verdict that never comes (the link went, or a sender from before PAIRED, which closes instead) is
// no refusal: the sender may have paired this phone, so `abort()` then gives the result, marked
// `unconfirmed`, and the caller keeps the resume token. A resume then tells; a sender that did not pair
// it answers NOT_PAIRED, and the receiver pairs again with the code.

export interface HandshakeOptions {
  /** The pairing code (typed on the receiver, shown on the sender). */
  code: PairingCode
  /** This phone's libp2p peer id, canonical string form (`peerId.toString()`). */
  localPeerId: string
  /** The peer's libp2p peer id as Noise authenticated it, canonical string form. */
  remotePeerId: string
  /** A session id the caller and its peer share, if any (0..64 bytes); fresh nonces are added anyway. */
  sid?: Uint8Array
  /** Associated data to send in clear and have authenticated (0..256 bytes), e.g. a device name. */
  ad?: Uint8Array
  /**
   * The QR code's key (16 bytes), when the code came from the QR code (receiver) or the QR code shown
   * carries one (sender).
   */
  qrKey?: Uint8Array
  /** Randomness, injectable for tests; crypto.getRandomValues by default. */
  random?: (len: number) => Uint8Array
}

export interface SenderHandshakeOptions extends HandshakeOptions {
  /** The code's lifetime policy, shared by every handshake on this code. Required: it caps guesses. */
  lifetime: CodeLifetime
}

export interface PairingResult {
  /** 32 bytes for this session. */
  sessionKey: Uint8Array
  /** 32 bytes to keep (secret) for reconnecting this pair without a code. */
  resumeToken: Uint8Array
  /** The peer's associated data (ADb on the receiver, ADa on the sender). */
  peerAd: Uint8Array
  /**
   * The receiver's only, when the sender's verdict never came (see the header): the sender may or may
   * not have paired this phone.
   */
  unconfirmed?: true
}

/** What the driver does next: send `send` in order, then stop on `error` or use `result`. */
export interface Step {
  send: Uint8Array[]
  result?: PairingResult
  error?: FerryError
}

export type HandshakeState = 'start' | 'wait-pake-b' | 'wait-verdict' | 'wait-pake-a' | 'wait-confirm' | 'done' | 'failed'

export const NONCE_BYTES = 16
const MAX_SID_BYTES = 64
const KEY_BYTES = 32
const LABEL = 'ferry/pair/1'

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)

/** CI = lv_cat("ferry/pair/1", nameplate, receiver peer id, sender peer id): roles in a fixed order. */
export function channelIdentifier (nameplate: string, receiverPeerId: string, senderPeerId: string): Uint8Array {
  return lvCat(utf8(LABEL), utf8(nameplate), utf8(receiverPeerId), utf8(senderPeerId))
}

/** sid = lv_cat(caller sid, receiver's nonce). */
export function sessionId (callerSid: Uint8Array, nonce: Uint8Array): Uint8Array {
  return lvCat(callerSid, nonce)
}

const QR_PROOF_BYTES = 32

/** Proves the QR code's key, bound to this run's channel, sid and share (see the header). */
function qrProof (key: Uint8Array, ci: Uint8Array, sid: Uint8Array, Ya: Uint8Array, ADa: Uint8Array): Uint8Array {
  return hmac(sha512, key, lvCat(utf8(`${LABEL} qr proof`), ci, sid, Ya, ADa)).slice(0, QR_PROOF_BYTES)
}

function macKey (sid: Uint8Array, isk: Uint8Array): Uint8Array {
  return sha512(concatBytes(utf8('CPaceMac'), sid, isk))
}

function outputs (isk: Uint8Array, sid: Uint8Array, peerAd: Uint8Array): PairingResult {
  const prk = extract(sha512, isk, sid)
  return {
    sessionKey: expand(sha512, prk, utf8(`${LABEL} session key`), KEY_BYTES),
    resumeToken: expand(sha512, prk, utf8(`${LABEL} resume token`), KEY_BYTES),
    peerAd
  }
}

function checkOptions (o: HandshakeOptions): void {
  formatCode(o.code) // validates both parts, throws BAD_INPUT
  for (const [name, id] of [['localPeerId', o.localPeerId], ['remotePeerId', o.remotePeerId]] as const) {
    if (typeof id !== 'string' || id.length === 0 || id.length > 256) {
      throw new FerryError(ErrorCode.BAD_INPUT, `pairing: ${name} must be a peer id string`)
    }
  }
  // A phone pairing with itself is a reflection, never a real transfer (the draft warns about it).
  if (o.localPeerId === o.remotePeerId) throw new FerryError(ErrorCode.BAD_INPUT, 'pairing: the peer has this phone\'s own peer id')
  if ((o.sid?.length ?? 0) > MAX_SID_BYTES) throw new FerryError(ErrorCode.BAD_INPUT, `pairing: sid is at most ${MAX_SID_BYTES} bytes`)
  if ((o.ad?.length ?? 0) > MAX_AD_BYTES) throw new FerryError(ErrorCode.BAD_INPUT, `pairing: associated data is at most ${MAX_AD_BYTES} bytes`)
}

/** Turns any failure into a FerryError (a bug in here reads as INTERNAL, never as success). */
function asFerryError (err: unknown): FerryError {
  if (isFerryError(err)) return err
  return new FerryError(ErrorCode.INTERNAL, `pairing: ${(err as Error)?.message ?? String(err)}`, undefined, { cause: err })
}

/** What to tell the peer about our own failure: a reason the ABORT message can carry. */
function reasonFor (err: FerryError): AbortReason {
  switch (err.code) {
    case ErrorCode.WRONG_CODE: case ErrorCode.CODE_EXPIRED: case ErrorCode.VERSION: case ErrorCode.CANCELLED:
      return err.code
    default:
      return ErrorCode.PROTOCOL
  }
}

function peerAborted (reason: AbortReason, role: 'sender' | 'receiver'): FerryError {
  // Named as the person knows it: the sender is the old phone, the receiver the new one.
  const who = role === 'sender' ? 'the old phone' : 'the new phone'
  const what: Record<AbortReason, string> = {
    WRONG_CODE: 'the code does not match',
    // The abort carries no detail, so name every way a code dies: the user can tell which one it was. A
    // QR code, which three wrong tries do not end, is the app's to offer: an app may show none.
    CODE_EXPIRED: 'the code has expired (already used by another phone, three wrong tries, or ten minutes old): ask the old phone for a new code',
    PROTOCOL: `${who} reported a protocol error`,
    VERSION: `${who} speaks another pairing version (update Ferry on the older phone)`,
    NOT_PAIRED: `${who} does not know this pairing`,
    CANCELLED: `${who} cancelled the pairing`,
    NO_PEER: `${who} is on the network but not offering a transfer (yet): start sending there`
  }
  return new FerryError(reason, `pairing: ${what[reason]}`, { from: role, ...(reason === ErrorCode.NO_PEER ? { notOffering: true } : {}) })
}

abstract class Machine {
  protected state: HandshakeState = 'start'
  protected readonly prs: Uint8Array
  /** The PRS with the QR code's key, when this phone has the key. */
  protected readonly qrPrs?: Uint8Array
  /** The QR code's key itself, for its proof. */
  protected readonly qrKey?: Uint8Array
  protected readonly ci: Uint8Array
  protected readonly callerSid: Uint8Array
  protected readonly ad: Uint8Array
  protected readonly random: (len: number) => Uint8Array

  constructor (o: HandshakeOptions, receiverPeerId: string, senderPeerId: string) {
    checkOptions(o)
    this.prs = codePrs(o.code)
    if (o.qrKey !== undefined) {
      this.qrPrs = qrPrs(o.code, o.qrKey) // checks its length
      this.qrKey = o.qrKey.slice()
    }
    this.ci = channelIdentifier(o.code.nameplate, receiverPeerId, senderPeerId)
    this.callerSid = o.sid?.slice() ?? new Uint8Array(0)
    this.ad = o.ad?.slice() ?? new Uint8Array(0)
    this.random = o.random ?? randomBytes
  }

  get status (): HandshakeState { return this.state }

  /** Stops a handshake that is not over (user cancel, timeout, lost stream): the ABORT to send, if any. */
  abort (reason: AbortReason = ErrorCode.CANCELLED): Step {
    if (this.state === 'done' || this.state === 'failed') return { send: [] }
    return this.fail(new FerryError(reason, `pairing: ${reason === ErrorCode.CANCELLED ? 'cancelled' : reason}`), true)
  }

  protected fail (err: FerryError, tellPeer: boolean): Step {
    this.state = 'failed'
    this.wipe()
    return { send: tellPeer ? [encodeAbort(reasonFor(err))] : [], error: err }
  }

  protected wipe (): void {
    this.prs.fill(0)
    this.qrPrs?.fill(0)
    this.qrKey?.fill(0)
  }

  /**
   * Runs one transition; any throw becomes a failed Step, with an ABORT unless the peer sent one.
   * `aborted` says what the peer's ABORT means in this state, when it can say more than its reason.
   */
  protected guard (message: Uint8Array, expected: readonly MsgType[], role: 'sender' | 'receiver', run: (fields: Uint8Array[], type: MsgType) => Step,
    aborted: (reason: AbortReason) => FerryError = reason => peerAborted(reason, role)): Step {
    if (this.state === 'done' || this.state === 'failed') {
      return { send: [], error: new FerryError(ErrorCode.PROTOCOL, `pairing: message after the handshake ended (${this.state})`) }
    }
    let fields: Uint8Array[]
    let type: MsgType
    try {
      const m = decodeMessage(message, expected)
      if (m.type === MsgType.ABORT) return this.fail(aborted(abortReason(m)), false)
      fields = m.fields
      type = m.type
    } catch (err) {
      return this.fail(asFerryError(err), true)
    }
    try {
      return run(fields, type)
    } catch (err) {
      return this.fail(asFerryError(err), true)
    }
  }
}

/** The receiver's side (the phone where the code is typed): the CPace initiator. */
export class ReceiverHandshake extends Machine {
  #y?: Uint8Array
  #Ya?: Uint8Array
  #sid?: Uint8Array
  /** The outputs, from this phone's confirmation until the sender's verdict. */
  #result?: PairingResult
  #proved = false

  constructor (o: HandshakeOptions) {
    super(o, o.localPeerId, o.remotePeerId)
  }

  /**
   * Whether the sender's tag checked out: the other phone holds the code, so this run tested no guess of
   * it, whatever its verdict (the receiver's own count of tried codes gives the try back then).
   */
  get codeProved (): boolean { return this.#proved }

  /**
   * Whether answering `message` would test a guess of the code: it is the PAKE_B this phone waits for,
   * well formed, its share a valid element. Only then does the answer depend on the code (CONFIRM_A for
   * the right one, WRONG_CODE for any other); anything else is refused the same whatever the code, and
   * tells the other phone nothing. Reads the message only: a caller that counts guesses asks this,
   * counts, and only then hands the message to `onMessage`, whose answer it sends.
   */
  testsGuess (message: Uint8Array): boolean {
    if (this.state !== 'wait-pake-b') return false
    try {
      const m = decodeMessage(message, [MsgType.PAKE_B])
      return m.type === MsgType.PAKE_B && isValidShare(m.fields[0])
    } catch {
      return false
    }
  }

  /** The first message, PAKE_A. */
  start (): Step {
    if (this.state !== 'start') return { send: [], error: new FerryError(ErrorCode.INTERNAL, 'pairing: start() twice') }
    try {
      const nonce = this.random(NONCE_BYTES).slice()
      if (nonce.length !== NONCE_BYTES) throw new RangeError('the random source returned the wrong length')
      this.#sid = sessionId(this.callerSid, nonce)
      const { y, Y } = cpaceShare(this.qrPrs ?? this.prs, this.ci, this.#sid, sampleScalar(this.random))
      this.#y = y
      this.#Ya = Y
      this.state = 'wait-pake-b'
      const message = this.qrKey !== undefined
        ? encodeMessage(MsgType.PAKE_A_QR, nonce, Y, qrProof(this.qrKey, this.ci, this.#sid, Y, this.ad), this.ad)
        : encodeMessage(MsgType.PAKE_A, nonce, Y, this.ad)
      return { send: [message] }
    } catch (err) {
      return this.fail(asFerryError(err), false)
    }
  }

  onMessage (message: Uint8Array): Step {
    if (this.state === 'start') return this.fail(new FerryError(ErrorCode.PROTOCOL, 'pairing: the sender spoke first'), true)
    if (this.state === 'wait-verdict') {
      return this.guard(message, [MsgType.PAIRED], 'sender', () => {
        const result = this.#result as PairingResult
        this.#result = undefined
        this.state = 'done'
        return { send: [], result }
      }, refusedAtConfirmation)
    }
    return this.guard(message, [MsgType.PAKE_B], 'sender', ([Yb, ADb, Tb]) => {
      const sid = this.#sid!
      const isk = cpaceIsk(this.#y!, Yb, sid, transcriptIr(this.#Ya!, this.ad, Yb, ADb))
      const key = macKey(sid, isk)
      if (!ctEqual(hmac(sha512, key, lvCat(Yb, ADb)), Tb)) {
        throw new FerryError(ErrorCode.WRONG_CODE, 'pairing: the code does not match (check the digits, or make a new code)')
      }
      this.#proved = true
      const Ta = hmac(sha512, key, lvCat(this.#Ya!, this.ad))
      this.#result = outputs(isk, sid, ADb)
      isk.fill(0)
      key.fill(0)
      this.state = 'wait-verdict'
      this.wipe()
      return { send: [encodeMessage(MsgType.CONFIRM_A, Ta)] }
    })
  }

  /**
   * Stops a handshake that is not over (see Machine.abort). Once this phone has confirmed, there is
   * nothing left to refuse, and the sender may have paired it with its verdict lost on the way: the
   * result comes back `unconfirmed`, for the caller to keep its resume token (see the header).
   */
  override abort (reason: AbortReason = ErrorCode.CANCELLED): Step {
    if (this.state !== 'wait-verdict') return super.abort(reason)
    const result: PairingResult = { ...this.#result as PairingResult, unconfirmed: true }
    this.#result = undefined
    this.state = 'done'
    return { send: [], result }
  }

  protected override fail (err: FerryError, tellPeer: boolean): Step {
    // Refused at its confirmation: the keys are no one's.
    this.#result?.sessionKey.fill(0)
    this.#result?.resumeToken.fill(0)
    this.#result = undefined
    return super.fail(err, tellPeer)
  }

  protected override wipe (): void {
    super.wipe()
    this.#y?.fill(0)
  }
}

/** The sender's refusal of a confirmation: past Ta, CODE_EXPIRED means one thing, another phone won the code. */
function refusedAtConfirmation (reason: AbortReason): FerryError {
  if (reason !== ErrorCode.CODE_EXPIRED) return peerAborted(reason, 'sender')
  return new FerryError(ErrorCode.CODE_EXPIRED,
    'pairing: this code has already paired another phone; ask for a new code (if that phone is not yours, stop the transfer on the old phone)',
    { from: 'sender', state: 'used' })
}

/** The sender's side (the phone that shows the code): the CPace responder. */
export class SenderHandshake extends Machine {
  readonly #lifetime: CodeLifetime
  #attempt?: Attempt
  #exposed = false
  #isk?: Uint8Array
  #sid?: Uint8Array
  #Ya?: Uint8Array
  #ADa?: Uint8Array

  constructor (o: SenderHandshakeOptions) {
    super(o, o.remotePeerId, o.localPeerId)
    if (o.lifetime === undefined) throw new FerryError(ErrorCode.BAD_INPUT, 'pairing: the sender needs the code\'s lifetime policy')
    this.#lifetime = o.lifetime
    this.state = 'wait-pake-a'
  }

  onMessage (message: Uint8Array): Step {
    if (this.state === 'wait-pake-a') {
      return this.guard(message, [MsgType.PAKE_A, MsgType.PAKE_A_QR], 'receiver', (fields, type) => {
        const qr = type === MsgType.PAKE_A_QR
        const [nonce, Ya] = fields
        const ADa = fields[fields.length - 1]
        // An invalid share tests no guess whatever the code (cpace.ts): refused before the charge, so a
        // flood of them costs the sender no budget writes and no CPace.
        if (!isValidShare(Ya)) throw new FerryError(ErrorCode.PROTOCOL, 'pairing: the peer sent an invalid CPace share')
        // Nothing keyed has left: refused without a charge, as no guess was tested.
        if (qr && this.qrKey === undefined) throw new FerryError(ErrorCode.WRONG_CODE, 'pairing: the other phone scanned a QR code this phone is not showing')
        // Uncharged, so checked first: a scan without the key begins nothing and costs no CPace (header).
        if (qr && !ctEqual(qrProof(this.qrKey as Uint8Array, this.ci, sessionId(this.callerSid, nonce), Ya, ADa), fields[2])) {
          throw new FerryError(ErrorCode.WRONG_CODE, 'pairing: the other phone scanned another QR code (its key does not match)')
        }
        // Charge the attempt before anything keyed from the code leaves: Tb lets the peer test one guess
        // offline. One with the QR code's key is not charged: that key cannot be guessed.
        this.#attempt = this.#lifetime.begin({ qr }) // throws CODE_EXPIRED when the code is dead
        const sid = sessionId(this.callerSid, nonce)
        const { y, Y: Yb } = cpaceShare(qr ? this.qrPrs as Uint8Array : this.prs, this.ci, sid, sampleScalar(this.random)) // fresh yb: a replayed PAKE_A meets a new Yb
        let isk: Uint8Array
        try {
          isk = cpaceIsk(y, Ya, sid, transcriptIr(Ya, ADa, Yb, this.ad))
        } finally {
          y.fill(0)
        }
        const key = macKey(sid, isk)
        const Tb = hmac(sha512, key, lvCat(Yb, this.ad))
        key.fill(0)
        this.#isk = isk
        this.#sid = sid
        this.#Ya = Ya
        this.#ADa = ADa
        this.#exposed = true
        this.state = 'wait-confirm'
        return { send: [encodeMessage(MsgType.PAKE_B, Yb, this.ad, Tb)] }
      })
    }
    return this.guard(message, [MsgType.CONFIRM_A], 'receiver', ([Ta]) => {
      const key = macKey(this.#sid!, this.#isk!)
      const ok = ctEqual(hmac(sha512, key, lvCat(this.#Ya!, this.#ADa!)), Ta)
      key.fill(0)
      // Ta first: the refusal below goes only to a peer that proved the code (see the header).
      if (!ok) throw new FerryError(ErrorCode.WRONG_CODE, 'pairing: the other phone typed a different code')
      this.#attempt!.succeed() // CODE_EXPIRED if another phone used the code meanwhile: no keys for this one
      const result = outputs(this.#isk!, this.#sid!, this.#ADa!)
      this.state = 'done'
      this.wipe()
      return { send: [encodeMessage(MsgType.PAIRED)], result }
    })
  }

  /** Every way out settles the attempt: a failure after Tb left counts, one before gives the charge back. */
  protected override fail (err: FerryError, tellPeer: boolean): Step {
    if (this.#exposed) this.#attempt?.fail()
    else this.#attempt?.cancel()
    return super.fail(err, tellPeer)
  }

  protected override wipe (): void {
    super.wipe()
    this.#isk?.fill(0)
  }
}
