import { fromJson, jsonValue, type Journal } from '../journal/journal.js'

// The old phones whose verified histories this browser holds, by peer id. A second transfer merges into
// what is held (chats with the same id become one), which is right for the same old phone sending again
// and a surprise for another one: the page says so before it pairs with a phone not named here. The
// pairing record cannot tell, as it goes once a transfer is verified. Kept in the journal, so a start
// over (which deletes the database) forgets it with the history.

const KEY = 'web/held-from'

/** Old phones remembered; a browser that took in more histories than this still knows the latest. */
const KEPT = 32

export class HeldFrom {
  constructor (private readonly journal: Journal) {}

  /** The old phones whose verified histories are held here, oldest first; empty when none is known. */
  async phones (): Promise<string[]> {
    const value = await this.journal.get(KEY)
    if (value === undefined) return []
    try {
      const peers = fromJson<unknown>(value)
      return Array.isArray(peers) ? peers.filter((p): p is string => typeof p === 'string') : []
    } catch {
      return []
    }
  }

  /** A history from `peer` was verified here. */
  async add (peer: string): Promise<void> {
    const peers = (await this.phones()).filter(p => p !== peer)
    peers.push(peer)
    await this.journal.write([{ key: KEY, value: jsonValue(peers.slice(-KEPT)) }])
  }
}
