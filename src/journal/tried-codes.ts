import { logger } from '@libp2p/logger'
import { ErrorCode, FerryError } from '../errors.js'
import { MAX_FAILURES, type PairingCode } from '../pairing/index.js'
import { codeKey } from './code-key.js'
import { placeWrite, type Placed } from './latest-writes.js'
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
  /** When the last one was counted (ms since the epoch): for a person reading the journal, never for pruning. */
  lastAt: number
  /**
   * Where its last write stands among the records' writes: higher is later. Absent from records written
   * before the journal kept it, which order before every record that has one.
   */
  seq?: number
}

const log = logger('ferry:tried-codes')

const PREFIX = 'tried-code/'
const LABEL = 'ferry/tried-code/1'

/**
 * How many records of tried codes the journal keeps: the latest written, by the order of their writes,
 * never by this phone's clock. A clock is no bound here: a new phone often boots with a date years
 * behind and has it set right by the network, and then a record written minutes ago looks years old,
 * and one written before a jump back looks new. Nor does the time the old phone first showed a code
 * bound its life, since `ferry send --code` shows a fixed code again. A count does: only this phone's
 * own user adds records, one per code typed, so a code whose tries were spent keeps its record until
 * the user has typed this many other codes since, far more than a person types for one move.
 */
export const TRIED_CODES_KEPT = 64

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
    const r = parse(value)
    if (r === undefined) throw new FerryError(ErrorCode.STORE, 'the journal\'s record of the tries of this pairing code is damaged; ask the old phone for a new code')
    return r
  }

  /** Throws CODE_EXPIRED, saying why and what to do, when `code` has had its guesses on this phone. */
  async check (code: PairingCode): Promise<void> {
    const r = await this.load(code)
    if (r === undefined || r.failed < MAX_FAILURES) return
    // The code stays out of the message: an app may log it, and the code was a secret. A QR code, which
    // is never counted, is the app's to offer instead: an app may show none (the CLI and the page do).
    throw new FerryError(ErrorCode.CODE_EXPIRED,
      `this pairing code was tried ${r.failed} times without pairing, so this phone will not try it again: ` +
      'someone nearby may be posing as the old phone, or the code was mistyped. Ask the old phone for a new code ' +
      '(start sending there again)',
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
   * Changes the record of `code`, stamping it as the latest written, and deletes in the same write the
   * records beyond the TRIED_CODES_KEPT latest: each code ever tried would otherwise stay for good.
   */
  private async update (code: PairingCode, change: (r: TriedCodeRecord | undefined) => TriedCodeRecord | undefined): Promise<void> {
    const key = TriedCodes.key(code)
    const run = this.chain.then(async () => {
      const before = await this.load(code)
      const after = change(before)
      const others = await this.others(key)
      const ops: JournalOp[] = []
      // The code written now always stays, latest of all (or as it was, when unchanged: a spent code).
      const { seq, drop } = placeWrite(others, TRIED_CODES_KEPT, { seq: before?.seq, stays: after !== undefined })
      if (after !== before) ops.push({ key, value: after === undefined ? undefined : jsonValue({ ...after, seq }) })
      for (const old of drop) ops.push({ key: old })
      if (ops.length > 0) await this.journal.write(ops)
    })
    this.chain = run.catch(() => {})
    await run
  }

  /**
   * The well-formed records other than `except`, with where their writes stand. A damaged record is
   * left out, so it stays and takes no place among the latest: it refuses its code (load) until a new
   * one, and were it counted, damaged records could push out the record of a code spent minutes ago,
   * handing that code fresh tries. Only a damaged disk makes one, and nothing here writes one, so they
   * cannot grow the journal as tries go on.
   */
  private async others (except: string): Promise<Placed[]> {
    const out: Placed[] = []
    for await (const [key, value] of this.journal.list(PREFIX)) {
      if (key === except) continue
      const r = parse(value)
      if (r !== undefined) out.push({ key, seq: r.seq ?? 0, lastAt: r.lastAt })
    }
    return out
  }
}

/** A record as the journal holds it, or undefined when it is damaged. */
function parse (value: Uint8Array): TriedCodeRecord | undefined {
  let r: TriedCodeRecord | undefined
  try {
    r = fromJson<TriedCodeRecord>(value)
  } catch {
    return undefined
  }
  const ok = typeof r === 'object' && r !== null && Number.isSafeInteger(r.failed) && r.failed >= 0 && Number.isFinite(r.lastAt) &&
    (r.seq === undefined || (Number.isSafeInteger(r.seq) && r.seq > 0))
  return ok ? r : undefined
}
