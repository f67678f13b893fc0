import { ErrorCode, FerryError } from '../errors.js'

// A code's lifetime: three failed attempts in total (across all peers) or ten minutes, whichever
// comes first, and one success. After that the code is dead: CODE_EXPIRED, even with the right secret.
//
// Why count this way. CPace gives an active attacker exactly one password guess per run, and the guess
// becomes testable OFFLINE as soon as the sender sends anything keyed from ISK (its confirmation tag).
// So an attempt is charged when it begins, before that first keyed message, and it counts as failed
// unless it ends in a verified success: an attacker who drops the connection after reading the
// sender's tag has still spent a guess. Concurrent attempts are charged too, so at most
// `maxFailures` guesses can ever be in flight or spent. With 3 guesses against 10^8 secrets an
// attacker wins with probability 3 * 10^-8.
//
// The flip side: anyone who reaches the sender can burn a typed code with three bogus attempts (the
// nameplate is not even needed: it is checked only through the keys). That is a denial of service, never
// a compromise; the user makes a new code. A phone that scans the QR code cannot be stopped that way:
// the QR carries a 128-bit key beside the code (code.ts, qrPrs), which no one can guess online, so its
// attempts (`begin({ qr: true })`) are not charged. They neither spend the three guesses nor wait for
// them: a code whose typed guesses are spent still pairs the phone that scans it, until it is used
// or ten minutes old (`pairsByQr`). Nothing bounds their number, so the handshake begins one only for a
// phone that proves it holds the key (handshake.ts, the QR proof).
//
// No timers: the clock is injected, and expiry is checked when an attempt begins (an offer keeps its own
// timer for the expiry, net/offering.ts).
//
// Across restarts. The budget belongs to the code, not to the process showing it: a sender restarted
// with the same code must not grant three more guesses. So a lifetime can start where an earlier run
// left off (`carry`: its expiry and the attempts it charged), and it reports every change (`onChange`)
// to a caller that keeps that on disk (src/journal/code-budgets.ts). What it reports counts the
// attempts in flight as spent: a run that dies mid-attempt may already have let that guess be tested.

export interface CodeLifetimeOptions {
  /** Milliseconds since some epoch; `Date.now` by default. Injected so tests never sleep. */
  now?: () => number
  /** Failed attempts that kill the code (3). */
  maxFailures?: number
  /** Lifetime from creation, in ms (10 minutes). */
  ttlMs?: number
  /** Where an earlier run of the same code left off: the expiry it had and the attempts it charged. */
  carry?: { expiresAt: number, charged: number }
  /** Called synchronously after every change: an attempt charged, settled or given back, the code used. */
  onChange?: (snapshot: CodeSnapshot) => void
}

/** What a lifetime is worth keeping across a restart. */
export interface CodeSnapshot {
  state: CodeState
  /** Failed attempts plus those in flight: what a restart must count as spent. */
  charged: number
  used: boolean
  expiresAt: number
}

export const MAX_FAILURES = 3
export const CODE_TTL_MS = 10 * 60 * 1000

export type CodeState = 'live' | 'used' | 'exhausted' | 'expired'

/** One attempt to pair with the code. Settle it exactly once; unsettled, it stays charged. */
export interface Attempt {
  /**
   * The peer proved the code: the code is now used up. Throws CODE_EXPIRED (and settles the attempt as
   * failed) when another attempt used the code first: a code pairs one phone.
   */
  succeed: () => void
  /** The peer failed or vanished after a guess could have been tested. */
  fail: () => void
  /** Give the charge back: only when nothing keyed from the code was sent (no guess was possible). */
  cancel: () => void
}

export class CodeLifetime {
  readonly #now: () => number
  readonly #maxFailures: number
  readonly #expiresAt: number
  readonly #onChange?: (snapshot: CodeSnapshot) => void
  #failures = 0
  #inFlight = 0
  #used = false

  constructor (options: CodeLifetimeOptions = {}) {
    this.#now = options.now ?? Date.now
    this.#maxFailures = options.maxFailures ?? MAX_FAILURES
    const ttl = options.ttlMs ?? CODE_TTL_MS
    if (!(Number.isInteger(this.#maxFailures) && this.#maxFailures >= 1)) throw new RangeError('maxFailures must be a positive integer')
    if (!(ttl > 0)) throw new RangeError('ttlMs must be positive')
    const carry = options.carry
    if (carry !== undefined && !(Number.isSafeInteger(carry.charged) && carry.charged >= 0 && Number.isFinite(carry.expiresAt))) {
      throw new RangeError('carry needs a whole number of charged attempts and an expiry')
    }
    // An earlier run's expiry stands (a restart does not make the code younger), and never later than
    // a fresh code's would be.
    this.#expiresAt = carry !== undefined ? Math.min(carry.expiresAt, this.#now() + ttl) : this.#now() + ttl
    this.#failures = carry?.charged ?? 0
    this.#onChange = options.onChange
  }

  snapshot (): CodeSnapshot {
    return { state: this.state, charged: this.#failures + this.#inFlight, used: this.#used, expiresAt: this.#expiresAt }
  }

  get state (): CodeState {
    if (this.#used) return 'used'
    if (this.#failures >= this.#maxFailures) return 'exhausted'
    if (this.#now() >= this.#expiresAt) return 'expired'
    return 'live'
  }

  get failures (): number { return this.#failures }

  /** Attempts that may still begin now (in-flight attempts hold their charge). */
  get remaining (): number {
    return this.state === 'live' ? Math.max(0, this.#maxFailures - this.#failures - this.#inFlight) : 0
  }

  get expiresAt (): number { return this.#expiresAt }

  /** Milliseconds until the code is too old to pair, by this lifetime's clock (0 once it is). */
  get msLeft (): number { return Math.max(0, this.#expiresAt - this.#now()) }

  /** Whether a phone that scans the QR code may still pair: the code is neither used nor out of time. */
  get pairsByQr (): boolean {
    return !this.#used && this.#now() < this.#expiresAt
  }

  /**
   * Charges one attempt, or throws CODE_EXPIRED if the code is used, exhausted or out of time. An
   * attempt with the QR code's key (`qr`) is not charged: it needs only a code not used and in time.
   */
  begin (opts: { qr?: boolean } = {}): Attempt {
    const state = this.state
    const charged = opts.qr !== true
    if (!charged && !this.pairsByQr) throw expired(state)
    if (charged && state !== 'live') throw expired(state)
    if (charged && this.#failures + this.#inFlight >= this.#maxFailures) {
      // Not dead yet, but every remaining guess is already in flight: refusing keeps the bound strict.
      throw new FerryError(ErrorCode.CODE_EXPIRED, 'pairing: this code has no attempts left right now', { state })
    }
    if (charged) {
      this.#inFlight++
      this.#onChange?.(this.snapshot())
    }
    let settled = false
    const settle = (how: 'succeed' | 'fail' | 'cancel'): void => {
      if (settled) return // idempotent: a driver may call fail() on close after the machine settled
      settled = true
      if (charged) this.#inFlight--
      if (how === 'succeed') this.#used = true
      else if (how === 'fail' && charged) this.#failures++
      if (charged || how === 'succeed') this.#onChange?.(this.snapshot())
    }
    return {
      succeed: () => {
        // Attempts run side by side, so another may have used the code while this one was in flight;
        // a second success would pair a second phone, which at the service replaces the first.
        if (!settled && this.#used) {
          settle('fail')
          throw expired('used')
        }
        settle('succeed')
      },
      fail: () => settle('fail'),
      cancel: () => settle('cancel')
    }
  }
}

function expired (state: CodeState): FerryError {
  // Said on the phone that shows the code. Once it paired a phone, a new code is not what its user
  // needs: it is moving the history to that phone.
  if (state === 'used') return new FerryError(ErrorCode.CODE_EXPIRED, 'pairing: this code already paired a phone, and pairs no other', { state })
  const why = state === 'exhausted' ? 'this code had three failed attempts' : 'this code is older than ten minutes'
  return new FerryError(ErrorCode.CODE_EXPIRED, `pairing: ${why}; make a new code`, { state })
}
