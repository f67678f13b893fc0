import type { Multiaddr } from '@multiformats/multiaddr'
import { createFerryNode, type FerryNode, type FerryNodeOptions } from './net/node.js'
import { ferry, type FerryService, type OfferOptions, type ReceiveOptions } from './net/ferry-service.js'
import { SqliteChatStore } from './store/sqlite-store.js'
import type { ChatStore } from './store/chat-store.js'

export interface Ferry {
  store: ChatStore
  node: FerryNode<{ ferry: FerryService }>
  /** Offers this phone's history; resolves when the new phone verified it. */
  send(opts: OfferOptions): ReturnType<FerryService['offer']>
  /** Receives a history from the phone at `addrs`. */
  receive(opts: ReceiveOptions): ReturnType<FerryService['receive']>
  /** Addresses to show (QR) or hand to the other phone. */
  addresses(): Multiaddr[]
  stop(): Promise<void>
}

/** A phone with the embedded defaults: a SQLite store in `dir`, its identity kept in the same place. */
export async function createFerry (dir: string, node: Omit<FerryNodeOptions, 'dir' | 'services'> = {}): Promise<Ferry> {
  const store = SqliteChatStore.open(dir, { create: true })
  const n = await createFerryNode({ ...node, dir, services: { ferry: ferry({ store, storeDir: dir }) } })
  return {
    store,
    node: n,
    send: async opts => await n.services.ferry.offer(opts),
    receive: async opts => await n.services.ferry.receive(opts),
    addresses: () => n.getMultiaddrs(),
    stop: async () => { await n.stop(); store.close() }
  }
}
