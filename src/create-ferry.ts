import type { Multiaddr } from '@multiformats/multiaddr'
import { createFerryNode, type FerryNode, type FerryNodeOptions } from './net/node.js'
import { ferry, type FerryService, type OfferOptions, type ReceiveOptions } from './net/ferry-service.js'
import { SqliteChatStore } from './store/sqlite-store.js'
import { NodeJournal } from './journal/node-journal.js'
import { freeSpaceOf } from './store/free-space.js'

export interface Ferry {
  store: SqliteChatStore
  journal: NodeJournal
  node: FerryNode<{ ferry: FerryService }>
  /** Offers this phone's history; resolves when the new phone verified it. */
  send(opts: OfferOptions): ReturnType<FerryService['offer']>
  /** Receives a history from the phone at `addrs`. */
  receive(opts: ReceiveOptions): ReturnType<FerryService['receive']>
  /** Addresses to show (QR) or hand to the other phone. */
  addresses(): Multiaddr[]
  stop(): Promise<void>
}

/**
 * A phone with the embedded defaults: the simulator's SQLite store in `dir`, Ferry's journal and the
 * phone's identity kept in the same place.
 */
export async function createFerry (dir: string, node: Omit<FerryNodeOptions, 'dir' | 'services'> = {}): Promise<Ferry> {
  const store = SqliteChatStore.open(dir, { create: true })
  const journal = NodeJournal.open(dir)
  const n = await createFerryNode({ ...node, dir, services: { ferry: ferry({ history: store, journal }) } })
  return {
    store,
    journal,
    node: n,
    send: async opts => await n.services.ferry.offer(opts),
    receive: async opts => await n.services.ferry.receive({
      freeBytes: freeSpaceOf(dir),
      ...opts,
      // Every message is in: the store builds what a bulk load deferred while the media goes on.
      onEvent: e => {
        if (e.type === 'chats-ready') store.messagesDone()
        opts.onEvent?.(e)
      }
    }),
    addresses: () => n.getMultiaddrs(),
    stop: async () => { await n.stop(); await journal.close(); store.close() }
  }
}
