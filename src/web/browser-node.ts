import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { Libp2p, PrivateKey } from '@libp2p/interface'
import { noise } from '@libp2p/noise'
import { webRTCDirect } from '@libp2p/webrtc'
import { yamux } from '@libp2p/yamux'
import { createLibp2p } from 'libp2p'
import type { IdbChatStore } from './idb-store.js'

const KEY = 'peerKey'

/**
 * The browser phone's identity, kept in IndexedDB: after a reload the page is the same peer, which is
 * what the old phone's resume token is bound to.
 */
export async function loadOrCreateKey (store: IdbChatStore): Promise<PrivateKey> {
  const saved = await store.getMeta<Uint8Array>(KEY)
  if (saved !== undefined) return privateKeyFromProtobuf(saved)
  const key = await generateKeyPair('Ed25519')
  await store.setMeta(KEY, privateKeyToProtobuf(key))
  return key
}

/**
 * A dial-only libp2p node for the browser: webrtc-direct (what a page can dial without a server), Noise,
 * yamux (libp2p's upgrader wants one; webrtc-direct muxes over data channels), no listening.
 */
export async function createBrowserNode (privateKey: PrivateKey): Promise<Libp2p> {
  return await createLibp2p({
    privateKey,
    addresses: { listen: [] },
    // No STUN: webrtc-direct between devices on one network needs none, and no third party hears of it.
    transports: [webRTCDirect({ rtcConfiguration: { iceServers: [] } })],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // The default gater in browsers refuses private and loopback addresses: exactly where the old phone is.
    connectionGater: { denyDialMultiaddr: async () => false },
    connectionManager: { dialTimeout: 15_000, maxConnections: 4 }
  })
}
