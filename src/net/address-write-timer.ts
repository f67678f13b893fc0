import type { Libp2p } from '@libp2p/interface'
import { logger } from '@libp2p/logger'

const log = logger('ferry:node')

interface WithAddressManager {
  components?: { addressManager?: { _updatePeerStoreAddresses?: { stop?: () => void } } }
}

/**
 * libp2p's address manager writes the node's own addresses to its peer store a second after a
 * transport starts or stops listening (debounced), and nothing clears that timer when the node stops:
 * stopping closes the listeners, which sets it. An app that stopped Ferry once its work was done would
 * wait that second more for its process to end, and the write would go to a stopped peer store. So
 * the timer is cleared once the node has stopped. It lives in libp2p's components, which its types do
 * not expose; a libp2p without them, or that throws for them, is left as it is.
 */
export function clearAddressWriteOnStop (node: Libp2p): void {
  node.addEventListener('stop', () => {
    try {
      (node as unknown as WithAddressManager).components?.addressManager?._updatePeerStoreAddresses?.stop?.()
    } catch (err) {
      // libp2p's components throw for one they do not have, and a throw in an event listener would
      // end the app's process: a libp2p that changed only costs the second.
      log('cannot clear the address manager\'s timer: %e', err)
    }
  })
}
