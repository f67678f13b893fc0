import { multiaddr } from '@multiformats/multiaddr'
import { firstPeerIdOf } from '../net/addresses.js'
import { codeKey } from '../journal/code-key.js'
import type { Journal } from '../journal/journal.js'
import type { PairingCode } from '../pairing/index.js'

// The codes this browser has paired with. An old phone takes a code once (src/journal/code-budgets.ts),
// and once its transfer is verified it exits: a link opened again in another tab, or from the browser's
// history, would try its code on a phone that is gone, for a minute of retries, to end in "cannot
// reach". The page looks here first and says at once that the link is used. A digest of the old
// phone's id and the code is kept, never the code.

const PREFIX = 'web/spent-code/'

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

  /** `code` paired this browser with `peer`: that phone will not take it again. */
  async spend (peer: string, code: PairingCode): Promise<void> {
    await this.journal.write([{ key: keyOf(peer, code), value: new Uint8Array([1]) }])
  }

  /** Whether `code` already paired this browser with the old phone at `addrs`. */
  async spent (addrs: string[], code: PairingCode): Promise<boolean> {
    const peer = peerOf(addrs)
    return peer !== undefined && await this.journal.get(keyOf(peer, code)) !== undefined
  }
}
