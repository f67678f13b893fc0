import { logger } from '@libp2p/logger'
import { ErrorCode, FerryError } from '../errors.js'
import { CODE_TTL_MS, MAX_FAILURES, type PairingCode } from '../pairing/index.js'
import { codeKey } from './code-key.js'
import { fromJson, jsonValue, type Journal, type JournalOp } from './journal.js'

/**
 * The receiving phone's own count of the codes it tried, kept in its journal. The old phone's budget
 * (code-budgets.ts) stops a neighbour guessing the code on it; it does nothing against a neighbour who
 * poses as the old phone, answering the new phone's dial for the same nameplate: each pairing the new
 * phone runs against it tests one guess of the code (it answers PAKE_B with CONFIRM_A only for the
 * right one). So the new phone too allows a code three guesses in total, across runs of `ferry receive`.
 * A guess is counted once the other phone's PAKE_B is in and valid, before this phone answers it; an
 * attempt that never got that far (a link that failed, an old phone that refused at once, an answer
 * that is no valid PAKE_B) tested nothing.
 * The count goes once the other phone proved it holds the code. Records are keyed by a hash of the
 * code, never the code, as the sender's are.
 */
export interface TriedCodeRecord {
  /** Attempts that tested a guess and did not prove the code, plus one in flight when last written. */
  failed: number
  /** When the last one was counted (ms since the epoch): for a person reading the journal. */
  lastAt: number
}

const log = logger('ferry:tried-codes')

const PREFIX = 'tried-code/'
const LABEL = 'ferry/tried-code/1'

/**
 * How long after its last try a code's record is kept. A code pairs for ten minutes from when the old
 * phone first showed it (CODE_TTL_MS), and that was before this phone tried it, so by then no old phone
 * pairs with it and a guess of it is worth nothing: the record may go. A day more, because the time is
 * this phone's clock, which a phone that booted with the wrong time may set right meanwhile.
 */
export const TRIED_CODE_KEPT_MS = CODE_TTL_MS + 24 * 60 * 60 * 1000

/** One attempt's charge on a code, settled once the attempt is over. */
export interface CodeTry {
  /**
   * Called when the other phone's PAKE_B is in, before this phone answers it: counts the guess, and
   * resolves once that is on disk, so a crash after the answer cannot give the guess back.
   */
  charge: () => Promise<void>
  /** After the attempt: `proved` when the other phone's tag checked out, `paired` when it paired too. */
  settle: (outcome: 'failed' | 'proved' | 'paired') => Promise<void>
  /** How many more tries of the code this phone allows, once the attempt is counted and settled. */
  left: () => Promise<number>
}

export class TriedCodes {
  private readonly now: () => number
  /** Every read-modify-write of a record, one after the other: two attempts at once must both count. */
  private chain: Promise<unknown> = Promise.resolve()

  constructor (private readonly journal: Journal, opts: { now?: () => number } = {}) {
    this.now = opts.now ?? Date.now
  }

  /** The journal key of a code. */
  static key (code: PairingCode): string {
    return codeKey(PREFIX, LABEL, code)
  }

  async load (code: PairingCode): Promise<TriedCodeRecord | undefined> {
    const value = await this.journal.get(TriedCodes.key(code))
    if (value === undefined) return undefined
    let r: TriedCodeRecord | undefined
    try {
      r = fromJson<TriedCodeRecord>(value)
    } catch {
      r = undefined
    }
    const ok = typeof r === 'object' && r !== null && Number.isSafeInteger(r.failed) && r.failed >= 0 && Number.isFinite(r.lastAt)
    if (!ok) throw new FerryError(ErrorCode.STORE, 'the journal\'s record of the tries of this pairing code is damaged; ask the old phone for a new code')
    return r as TriedCodeRecord
  }

  /** Throws CODE_EXPIRED, saying why and what to do, when `code` has had its guesses on this phone. */
  async check (code: PairingCode): Promise<void> {
    const r = await this.load(code)
    if (r === undefined || r.failed < MAX_FAILURES) return
    // The code stays out of the message: an app may log it, and the code was a secret.
    throw new FerryError(ErrorCode.CODE_EXPIRED,
      `this pairing code was tried ${r.failed} times without pairing, so this phone will not try it again: ` +
      'someone nearby may be posing as the old phone, or the code was mistyped. Ask the old phone for a new code ' +
      '(start sending there again), or scan its QR code, which cannot be mistyped',
      { from: 'receiver', state: 'tried', tried: r.failed })
  }

  /** The attempt about to begin with `code`; throws CODE_EXPIRED (before anything is sent) when its guesses are spent. */
  async begin (code: PairingCode): Promise<CodeTry> {
    await this.check(code)
    let charged = false
    return {
      charge: async () => {
        await this.update(code, r => {
          // Another attempt with the code at once may have spent the last guess meanwhile.
          if ((r?.failed ?? 0) >= MAX_FAILURES) return r
          charged = true
          return { failed: (r?.failed ?? 0) + 1, lastAt: this.now() }
        })
        if (!charged) await this.check(code)
      },
      settle: async outcome => {
        if (outcome === 'failed') return
        try {
          // Proved: the other phone held the code, so this attempt guessed nothing.
          if (outcome === 'paired') await this.update(code, () => undefined)
          else if (charged) await this.update(code, r => r === undefined ? r : { ...r, failed: Math.max(0, r.failed - 1) })
        } catch (err) {
          // The guess stays counted: one too many, never one too few.
          log('could not give back a try of a code that proved itself: %s', (err as Error)?.message)
        }
      },
      left: async () => {
        // After every count and give-back queued so far.
        await this.chain
        return Math.max(0, MAX_FAILURES - ((await this.load(code))?.failed ?? 0))
      }
    }
  }

  /**
   * Changes the record of `code`, and deletes in the same write the records of codes that no old phone
   * pairs with any more (TRIED_CODE_KEPT_MS): each code ever tried would otherwise stay for good.
   */
  private async update (code: PairingCode, change: (r: TriedCodeRecord | undefined) => TriedCodeRecord | undefined): Promise<void> {
    const key = TriedCodes.key(code)
    const run = this.chain.then(async () => {
      const before = await this.load(code)
      const after = change(before)
      const ops: JournalOp[] = after === before ? [] : [{ key, value: after === undefined ? undefined : jsonValue(after) }]
      for (const old of await this.outlived(key)) ops.push({ key: old })
      if (ops.length > 0) await this.journal.write(ops)
    })
    this.chain = run.catch(() => {})
    await run
  }

  /** The keys of records, other than `except`, whose code outlived every old phone's pairing with it. */
  private async outlived (except: string): Promise<string[]> {
    const keys: string[] = []
    const now = this.now()
    for await (const [key, value] of this.journal.list(PREFIX)) {
      if (key === except) continue
      let lastAt: unknown
      try {
        lastAt = fromJson<TriedCodeRecord>(value)?.lastAt
      } catch {}
      // A damaged record stays: it cannot say how old it is, and it refuses its code (load) until a new one.
      if (typeof lastAt === 'number' && Number.isFinite(lastAt) && now - lastAt > TRIED_CODE_KEPT_MS) keys.push(key)
    }
    return keys
  }
}
