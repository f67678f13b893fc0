import { ErrorCode, FerryError } from '../errors.js'
import { CodeLifetime, MAX_FAILURES, type CodeSnapshot, type PairingCode } from '../pairing/index.js'
import { codeKey } from './code-key.js'
import { fromJson, jsonValue, type Journal } from './journal.js'

/**
 * What an offered code has spent, kept in the journal so a restarted sender carries on from there: the
 * three guesses belong to the code, not to one run of `ferry send`. A code that was used, spent its
 * guesses or expired can never be offered again. Records are keyed by a hash of the code, never the
 * code: the journal is private to its user anyway, and a hash of a code with 10^8 secrets stops only
 * a casual reader, but nothing here needs the code itself.
 */
export interface CodeRecord {
  /** When it was first offered (ms since the epoch). */
  offeredAt: number
  expiresAt: number
  /** Failed attempts plus those in flight when last written (see CodeSnapshot). */
  charged: number
  used: boolean
}

const PREFIX = 'code/'
const LABEL = 'ferry/code-budget/1'

/** A code's lifetime whose changes reach the journal; `durable` resolves once the last one is written. */
export interface PersistedLifetime {
  lifetime: CodeLifetime
  durable: () => Promise<void>
}

export class CodeBudgets {
  private readonly now: () => number
  /**
   * The lifetime opened for each code, by key. An offer made again with the same code (an app that
   * cancelled and offers again) gets the same one: the first offer's pairing streams run on after the
   * cancel and settle their attempts on it. Two lifetimes of one code would each write the record, and
   * the one written last, counting only its own attempts, could give back spent guesses or unmark a
   * code that paired a phone.
   */
  private readonly opened = new Map<string, Promise<PersistedLifetime>>()

  constructor (private readonly journal: Journal, opts: { now?: () => number } = {}) {
    this.now = opts.now ?? Date.now
  }

  /** The journal key of a code. */
  static key (code: PairingCode): string {
    return codeKey(PREFIX, LABEL, code)
  }

  async load (code: PairingCode): Promise<CodeRecord | undefined> {
    const damaged = (): FerryError => new FerryError(ErrorCode.STORE, 'the journal\'s record of this code is damaged; use a new code')
    const value = await this.journal.get(CodeBudgets.key(code))
    if (value === undefined) return undefined
    let r: CodeRecord | undefined
    try {
      r = fromJson<CodeRecord>(value)
    } catch {
      throw damaged()
    }
    const ok = typeof r === 'object' && r !== null && Number.isSafeInteger(r.charged) && r.charged >= 0 &&
      Number.isFinite(r.expiresAt) && Number.isFinite(r.offeredAt) && typeof r.used === 'boolean'
    if (!ok) throw damaged()
    return r
  }

  /** Throws CODE_EXPIRED, saying why, when `code` cannot be offered (again). */
  async check (code: PairingCode): Promise<CodeRecord | undefined> {
    const r = await this.load(code)
    if (r === undefined) return undefined
    const why = r.used
      ? 'was already used to pair a phone (that phone resumes without a code)'
      : r.charged >= MAX_FAILURES
        ? `had ${r.charged} pairing attempts that did not succeed`
        : this.now() >= r.expiresAt ? `expired ${new Date(r.expiresAt).toISOString()}, ten minutes after it was first shown` : undefined
    if (why !== undefined) {
      // The code stays out of the message: an app may log it, and the code was a secret.
      throw new FerryError(ErrorCode.CODE_EXPIRED, `this pairing code ${why}; a code is good for one pairing: show a new one`,
        { used: r.used, charged: r.charged, expiresAt: r.expiresAt, why })
    }
    return r
  }

  /**
   * The lifetime to offer `code` with: fresh, or where an earlier run left it. Throws CODE_EXPIRED for a
   * code that is dead. Its record is written now (so a restart keeps its expiry) and on every change.
   */
  async open (code: PairingCode): Promise<PersistedLifetime> {
    const key = CodeBudgets.key(code)
    const held = this.opened.get(key)
    if (held !== undefined) {
      const persisted = await held
      // Its writes are the only ones to this record: once they are in, the record says where it stands.
      await persisted.durable().catch(() => {})
      await this.check(code)
      return persisted
    }
    const opening = this.openFresh(code, key)
    this.opened.set(key, opening)
    opening.catch(() => { if (this.opened.get(key) === opening) this.opened.delete(key) })
    return await opening
  }

  private async openFresh (code: PairingCode, key: string): Promise<PersistedLifetime> {
    const earlier = await this.check(code)
    const offeredAt = earlier?.offeredAt ?? this.now()
    let chain: Promise<void> = Promise.resolve()
    let failure: unknown
    const write = (s: CodeSnapshot): void => {
      const record: CodeRecord = { offeredAt, expiresAt: s.expiresAt, charged: s.charged, used: s.used }
      // In order, one after the other: the last change is the one on disk.
      chain = chain.then(async () => { await this.journal.write([{ key, value: jsonValue(record) }]) }).catch(err => { failure ??= err })
    }
    const lifetime = new CodeLifetime({
      now: this.now,
      carry: earlier !== undefined ? { expiresAt: earlier.expiresAt, charged: earlier.charged } : undefined,
      onChange: write
    })
    write(lifetime.snapshot())
    const durable = async (): Promise<void> => {
      await chain
      if (failure !== undefined) throw failure
    }
    await durable()
    return { lifetime, durable }
  }
}
