// Ferry's public API: what an app embeds.
//
//   const node = await createFerryNode({ dir, services: { ferry: ferry({ store, storeDir: dir }) } })
//   await node.services.ferry.offer({ code, selection, onEvent })        // the old phone
//   await node.services.ferry.receive({ addrs, code, onEvent })          // the new phone
//
// or, with the defaults (SQLite store in a directory), createFerry(dir) then send() / receive().
import './polyfill.js'
import type { Multiaddr } from '@multiformats/multiaddr'
import { createFerryNode, type FerryNode, type FerryNodeOptions } from './net/node.js'
import { ferry, type FerryService, type OfferOptions, type ReceiveOptions } from './net/ferry-service.js'
import { SqliteChatStore } from './store/sqlite-store.js'
import type { ChatStore } from './store/chat-store.js'

export { ferry, FerryService, TRANSFER_PROTOCOL, type FerryEvent, type OfferOptions, type ReceiveOptions, type Progress } from './net/ferry-service.js'
export { PAIR_PROTOCOL } from './net/pair-stream.js'
export { createFerryNode, discoverPeer, type FerryNode, type FerryNodeOptions } from './net/node.js'
// Finding the other phone without multicast (the sender's discovery port, the receiver's sweep) and
// choosing its address; see docs/design-notes.md, "Finding the other phone".
export { startResponder, DISCOVERY_PORTS, type DiscoveryResponder } from './net/probe.js'
export { SenderSearch, senderRoute, type FoundSender, type FindOptions } from './net/find-sender.js'
export { generateCode, parseCode, formatCode, buildQrPayload, parseQrPayload, serviceTag, type PairingCode } from './pairing/index.js'
export { SenderMachine } from './protocol/sender.js'
export { ReceiverMachine } from './protocol/receiver.js'
export { runSender, runReceiver } from './protocol/session.js'
export type { TransferOptions } from './protocol/options.js'
export { SqliteChatStore } from './store/sqlite-store.js'
export type { ChatStore, ChatStoreReader, ChatStoreWriter, TransferCheckpoint } from './store/chat-store.js'
export * from './store/model.js'
export { FerryError, ErrorCode, isFerryError } from './errors.js'
export type { ByteDuplex } from './wire/duplex.js'

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
