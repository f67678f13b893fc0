import { multiaddr } from '@multiformats/multiaddr'
import { firstPeerIdOf } from '../net/addresses.js'
import { codeKey } from '../journal/code-key.js'
import { fromJson, jsonValue, type Journal, type JournalOp } from '../journal/journal.js'
import { placeWrite, type Placed } from '../journal/latest-writes.js'
import type { PairingCode } from '../pairing/index.js'

// The codes this browser has paired with. An old phone takes a code once (src/journal/code-budgets.ts),
// and once its transfer is verified it exits: a link opened again in another tab, or from the browser's
// history, would try its code on a phone that is gone, for a minute of retries, to end in "cannot
// reach". The page looks here first and says at once that the link is used. A digest of the old
// phone's id and the code is kept, never the code.

const PREFIX = 'web/spent-code/'

/**
 * How many records of spent codes this browser keeps: the latest written, by the order of their writes,
 * never by the clock (src/journal/latest-writes.ts says why). One is written per code that paired, so
 * a link this browser used is still known as used after this many other pairings, far more than one
 * move takes; past them, opening it again only tries its code on the old phone, which refuses it.
 */
export const SPENT_CODES_KEPT = 64

function keyOf (peer: string, code: PairingCode): string {
  return codeKey(PREFIX, `ferry/spent-code/1 ${peer}`, code)
}

/** The old phone the addresses name (their /p2p/ part), if they name one; an address that does not parse names none. */
function peerOf (addrs: string[]): string | undefined {
  return firstPeerIdOf(addrs.flatMap(a => {
    try {
      return [multiaddr(a)]
    } catch {
      return []
    }
  }))
}

export class SpentCodes {
  constructor (private readonly journal: Journal) {}

  /** The journal key of the record that `code` paired this browser with `peer`. */
  static key (peer: string, code: PairingCode): string {
    return keyOf(peer, code)
  }

  /**
   * `code` paired this browser with `peer`: that phone will not take it again. Stamped as the latest
   * written, with the records beyond the SPENT_CODES_KEPT latest deleted in the same write: each code
   * ever paired would otherwise stay for good.
   */
  async spend (peer: string, code: PairingCode): Promise<void> {
    const key = keyOf(peer, code)
    const others: Placed[] = []
    let own: number | undefined
    for await (const [k, value] of this.journal.list(PREFIX)) {
      const seq = seqOf(value)
      if (k === key) own = seq
      // A damaged record is left out: it stays, saying its code is spent, and takes no place among the latest.
      else if (seq !== undefined) others.push({ key: k, seq })
    }
    const { seq, drop } = placeWrite(others, SPENT_CODES_KEPT, { seq: own, stays: true })
    const ops: JournalOp[] = [{ key, value: jsonValue({ seq }) }, ...drop.map(k => ({ key: k }))]
    await this.journal.write(ops)
  }

  /** Whether `code` already paired this browser with the old phone at `addrs`. */
  async spent (addrs: string[], code: PairingCode): Promise<boolean> {
    const peer = peerOf(addrs)
    return peer !== undefined && await this.journal.get(keyOf(peer, code)) !== undefined
  }
}

/**
 * Where a record's write stands among the others: its seq; 0 for the one byte the page wrote before it
 * kept the order (those go first); undefined when the record is damaged.
 */
function seqOf (value: Uint8Array): number | undefined {
  if (value.length === 1 && value[0] === 1) return 0
  try {
    const r = fromJson<{ seq?: unknown }>(value)
    return typeof r === 'object' && r !== null && Number.isSafeInteger(r.seq) && (r.seq as number) > 0 ? r.seq as number : undefined
  } catch {
    return undefined
  }
}
