import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { Libp2p, PrivateKey, ServiceMap } from '@libp2p/interface'
import { noise } from '@libp2p/noise'
import { webRTCDirect } from '@libp2p/webrtc'
import { yamux } from '@libp2p/yamux'
import { createLibp2p, type ServiceFactoryMap } from 'libp2p'
import { ferryOwned } from '../net/whose-connection.js'
import { inTx, req } from './idb.js'

const KEY = 'peerKey'

/**
 * The browser phone's identity, kept in IndexedDB: after a reload the page is the same peer, which is
 * what the old phone's resume token is bound to. Two tabs opening a new database agree on one key.
 */
export async function loadOrCreateKey (db: IDBDatabase): Promise<PrivateKey> {
  const read = async (): Promise<Uint8Array | undefined> => await inTx(db, ['meta'], 'readonly', 'reading this browser\'s key', async tx => await req(tx.objectStore('meta').get(KEY)) as Uint8Array | undefined)
  const saved = await read()
  if (saved !== undefined) return privateKeyFromProtobuf(saved)
  const fresh = privateKeyToProtobuf(await generateKeyPair('Ed25519'))
  const kept = await inTx(db, ['meta'], 'readwrite', 'saving this browser\'s key', async tx => {
    const os = tx.objectStore('meta')
    const other = await req(os.get(KEY)) as Uint8Array | undefined
    if (other !== undefined) return other
    os.put(fresh, KEY)
    return fresh
  })
  return privateKeyFromProtobuf(kept)
}

/**
 * A dial-only libp2p node for the browser: webrtc-direct (what a page can dial without a server), Noise,
 * yamux (libp2p's upgrader wants one; webrtc-direct muxes over data channels), no listening.
 * `addressDialTimeoutMs`: libp2p's own per-address dial timeout unless given (the page's test seam).
 */
export async function createBrowserNode<S extends ServiceMap> (privateKey: PrivateKey, services: ServiceFactoryMap<S>, addressDialTimeoutMs?: number): Promise<Libp2p<S>> {
  return await createLibp2p<S>({
    privateKey,
    addresses: { listen: [] },
    // No STUN: webrtc-direct between devices on one network needs none, and no third party hears of it.
    transports: [webRTCDirect({ rtcConfiguration: { iceServers: [] } })],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // The default gater in browsers refuses private and loopback addresses: exactly where the old phone is.
    connectionGater: { denyDialMultiaddr: async () => false },
    connectionManager: { dialTimeout: 15_000, maxConnections: 4, ...(addressDialTimeoutMs !== undefined ? { addressDialTimeout: addressDialTimeoutMs } : {}) },
    // The page's node is Ferry's own: nothing of an app's runs on it (whose-connection.ts).
    services: ferryOwned(services)
  })
}
