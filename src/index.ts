// Ferry's public API: what an app embeds.
//
//   const node = await createFerryNode({ dir, services: { ferry: ferry({ history, journal }) } })
//   await node.services.ferry.offer({ code, selection, onEvent })        // the old phone
//   await node.services.ferry.receive({ addrs, code, onEvent })          // the new phone
//
// or, with the defaults (SQLite store in a directory), createFerry(dir) then send() / receive().
import './polyfill.js'
import type { Multiaddr } from '@multiformats/multiaddr'
import { createFerryNode, type FerryNode, type FerryNodeOptions } from './net/node.js'
import { ferry, type FerryService, type OfferOptions, type ReceiveOptions } from './net/ferry-service.js'
import { SqliteChatStore } from './store/sqlite-store.js'
import { NodeJournal } from './journal/node-journal.js'

export { ferry, FerryService, TRANSFER_PROTOCOL, type FerryEvent, type FerryServiceInit, type OfferOptions, type ReceiveOptions, type ReceiveResult, type Progress, type TransferStats } from './net/ferry-service.js'
export { PAIR_PROTOCOL } from './net/pair-stream.js'
export { createFerryNode, discoverPeer, type FerryNode, type FerryNodeOptions } from './net/node.js'
export { generateCode, parseCode, formatCode, buildQrPayload, parseQrPayload, serviceTag, type PairingCode } from './pairing/index.js'
export { SenderMachine } from './protocol/sender.js'
export { ReceiverMachine } from './protocol/receiver.js'
export { runSender, runReceiver } from './protocol/session.js'
export type { TransferOptions } from './protocol/options.js'
export { SqliteChatStore } from './store/sqlite-store.js'
export type { History, HistoryChange, HistorySink, HistorySource, ConversationInfo, MessagePosition, ReceivedMedia, StoredMedia } from './store/history.js'
export type { Journal, JournalOp, PartFiles } from './journal/journal.js'
export { NodeJournal } from './journal/node-journal.js'
export * from './store/model.js'
export { FerryError, ErrorCode, isFerryError } from './errors.js'
export type { ByteDuplex } from './wire/duplex.js'

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

/** A phone with the embedded defaults: a SQLite store in `dir`, its identity kept in the same place. */
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
      ...opts,
      onEvent: e => {
        if (e.type === 'chats-ready') store.messagesDone()
        opts.onEvent?.(e)
      }
    }),
    addresses: () => n.getMultiaddrs(),
    stop: async () => { await n.stop(); await journal.close(); store.close() }
  }
}
