import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex, randomBytes } from '@noble/hashes/utils.js'
import { logger } from '@libp2p/logger'
import type { StoreGenerations } from '../store/history.js'
import type { Journal, JournalOp } from './journal.js'

const log = logger('ferry:journal')

// Which generation of the store's contents the bases of one (old phone, store) pair describe (the leaf,
// name and media bases: leaf-bases.ts, name-bases.ts, media-bases.ts). Each verification writes a fresh
// random token into the store (StoreGenerations, src/store/history.ts), then records it here in the same
// journal write as the bases. At the next transfer the bases are trusted only when the store still holds
// that token: a history.db put back to an older copy of itself holds an older token (or none), and bases
// that would keep out messages the copy lacks, as if deleted here, are not used.
//
// The store's write goes first, after everything the transfer wrote, and the journal names the token
// only once the store holds it: a copy of the store that holds the token holds what the bases describe.
// A crash between the two leaves the store with a token the journal never recorded: the bases are not
// trusted, and what they kept out comes again (the safe side: nothing is kept out). Tokens are random
// and never reused, so no older copy of the store can hold the one the journal names.
//
// A store without the port keeps today's rule: its bases are always trusted.

/** Every key of this module's records. */
export const BASE_GENERATIONS = 'g/'
const LABEL = 'ferry/base-generation/1'

const hash = (...parts: unknown[]): string => bytesToHex(sha256(new TextEncoder().encode(JSON.stringify([LABEL, ...parts]))).subarray(0, 16))

/** The key of the token recorded for the (old phone, store) pair. */
export const generationKey = (sourceId: string, storeId: string): string => `${BASE_GENERATIONS}${hash('pair', sourceId, storeId)}`

export class BaseGeneration {
  private constructor (
    private readonly key: string,
    private readonly sourceId: string,
    private readonly store: StoreGenerations | undefined,
    /** Whether the bases recorded for the pair describe the store as it is. */
    readonly trusted: boolean
  ) {}

  /** Compares the token the journal recorded for the pair with the one the store holds. */
  static async check (journal: Journal, store: StoreGenerations | undefined, sourceId: string, storeId: string): Promise<BaseGeneration> {
    const key = generationKey(sourceId, storeId)
    if (store === undefined) return new BaseGeneration(key, sourceId, store, true)
    const recorded = await journal.get(key)
    const recordedToken = recorded === undefined ? undefined : new TextDecoder().decode(recorded)
    const held = await store.generation(sourceId)
    // Neither has one: bases written before generations were kept (or none at all), trusted as they were.
    const trusted = recordedToken === held
    if (!trusted) log('the store holds another generation than its bases describe: they are not used, and what they kept out comes again')
    return new BaseGeneration(key, sourceId, store, trusted)
  }

  /**
   * Writes a fresh token into the store and returns the journal op that records it, to be written with
   * the bases it stands for (after the store's write: see above). None for a store without the port.
   */
  async renew (): Promise<JournalOp[]> {
    if (this.store === undefined) return []
    const token = bytesToHex(randomBytes(16))
    await this.store.keepGeneration(this.sourceId, token)
    return [{ key: this.key, value: new TextEncoder().encode(token) }]
  }
}
