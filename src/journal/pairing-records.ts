import { ErrorCode, FerryError } from '../errors.js'
import { fromJson, jsonValue, type Journal } from './journal.js'
import { isHashHex } from '../hash-hex.js'

/**
 * What a phone remembers of the phone it paired with, so both can reconnect after a crash or a reboot
 * without a new code: the peer's id, the resume token derived from the PAKE key, and where it was last
 * seen. Kept in the journal (never the app's tables), until the transfer is verified, or until it has
 * not been used for TOKEN_TTL_MS: a phone that paired once must not be able to come back for the
 * history days later. There is one record: a new pairing by code replaces the one before.
 */
export interface PairingRecord {
  role: 'sender' | 'receiver'
  peerId: string
  /** Resume token, hex. */
  token: string
  nameplate: string
  /** Multiaddrs the peer was last reached at (receiver) or this phone listened on (sender). */
  addrs: string[]
  createdAt: number
  /** The last pairing or resume with it (ms since the epoch); records from before it count from createdAt. */
  lastUsedAt?: number
}

/** A resume token dies this long after it was last used. */
export const TOKEN_TTL_MS = 24 * 60 * 60 * 1000

const KEY = 'pairing'

export class PairingRecords {
  private readonly now: () => number

  constructor (private readonly journal: Journal, opts: { now?: () => number } = {}) {
    this.now = opts.now ?? Date.now
  }

  /** The record, unless it expired (unused for TOKEN_TTL_MS): an expired one is as good as none. */
  async load (): Promise<PairingRecord | undefined> {
    return (await this.loadOrExpired()).record
  }

  /**
   * The live record, or the expired one (for saying why there is nothing to resume). Never writes: readers
   * (`ferry inspect`) load it too; an expired record is replaced or forgotten by the next pairing.
   */
  async loadOrExpired (): Promise<{ record?: PairingRecord, expired?: PairingRecord }> {
    const damaged = (): FerryError => new FerryError(ErrorCode.STORE, 'the pairing record in the journal is damaged; pair again with a code')
    const value = await this.journal.get(KEY)
    if (value === undefined) return {}
    let r: PairingRecord
    try {
      r = fromJson<PairingRecord>(value) as PairingRecord
    } catch {
      throw damaged()
    }
    if (typeof r !== 'object' || r === null || typeof r.peerId !== 'string' || typeof r.token !== 'string' || !isHashHex(r.token) || !Array.isArray(r.addrs) ||
      !Number.isFinite(r.createdAt) || (r.lastUsedAt !== undefined && !Number.isFinite(r.lastUsedAt))) {
      throw damaged()
    }
    return this.live(r) ? { record: r } : { expired: r }
  }

  /** Whether a record (or a token last used at `lastUsedAt`) may still resume. */
  live (r: PairingRecord | number): boolean {
    const last = typeof r === 'number' ? r : r.lastUsedAt ?? r.createdAt
    return this.now() - last < TOKEN_TTL_MS
  }

  /** Replaces the record (there is one: the phone paired with now). */
  async save (record: PairingRecord): Promise<void> {
    await this.journal.write([{ key: KEY, value: jsonValue(record) }])
  }

  /** Records a use of the pairing (a resume): its 24 hours start again. */
  async touch (peerId: string): Promise<void> {
    const r = await this.load()
    if (r?.peerId !== peerId) return
    await this.save({ ...r, lastUsedAt: this.now() })
  }

  async forget (): Promise<void> {
    await this.journal.write([{ key: KEY }])
  }
}
