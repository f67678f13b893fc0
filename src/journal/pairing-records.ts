import { ErrorCode, FerryError } from '../errors.js'
import { fromJson, jsonValue, type Journal } from './journal.js'

/**
 * What a phone remembers of the phone it paired with, so both can reconnect after a crash or a reboot
 * without a new code: the peer's id, the resume token derived from the PAKE key, and where it was last
 * seen. Kept in the journal (never the app's tables), until the transfer is verified.
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
}

const KEY = 'pairing'

export class PairingRecords {
  constructor (private readonly journal: Journal) {}

  async load (): Promise<PairingRecord | undefined> {
    const damaged = (): FerryError => new FerryError(ErrorCode.STORE, 'the pairing record in the journal is damaged; pair again with a code')
    const value = await this.journal.get(KEY)
    if (value === undefined) return undefined
    let r: PairingRecord
    try {
      r = fromJson<PairingRecord>(value) as PairingRecord
    } catch {
      throw damaged()
    }
    if (typeof r !== 'object' || r === null || typeof r.peerId !== 'string' || typeof r.token !== 'string' || !/^[0-9a-f]{64}$/.test(r.token) || !Array.isArray(r.addrs)) {
      throw damaged()
    }
    return r
  }

  async save (record: PairingRecord): Promise<void> {
    await this.journal.write([{ key: KEY, value: jsonValue(record) }])
  }

  async forget (): Promise<void> {
    await this.journal.write([{ key: KEY }])
  }
}
