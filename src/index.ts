// Ferry's core: what runs wherever JavaScript does (Node, browsers, workers). Nothing here imports a
// Node built-in or a native module, and a browser bundle of it needs no stubs; the Node-only parts (the
// SQLite store, the Node journal, the Node libp2p node) are in './node.ts' (the package's `/node`
// export), which re-exports all of this too.
//
//   const node = await createLibp2p({ ..., services: { ferry: ferry({ history, journal }) } })
//   await node.services.ferry.offer({ code, selection, onEvent })        // the old phone
//   await node.services.ferry.receive({ addrs, code, onEvent })          // the new phone
import './polyfill.js'

export { ferry, FerryService, type FerryComponents, type FerryEvent, type FerryServiceInit, type TransferMemory, type TransferTurns, type OfferOptions, type ReceiveOptions, type ReceiveResult, type Progress, type TransferStats, type ConversationSummary } from './net/ferry-service.js'
export type { BatchDeflate } from './wire/codec.js'
export type { SlotLimits } from './net/connection-slots.js'
export { TRANSFER_PROTOCOL } from './net/receive-transfer.js'
export { PAIR_PROTOCOL } from './net/pair-stream.js'
export { generateCode, generateQrKey, parseCode, formatCode, buildQrPayload, parseQrPayload, qrDialAddrs, serviceTag, type PairingCode, type QrPayload } from './pairing/index.js'
export type { ReceivingComponents } from './net/receiving.js'
export type { OfferingComponents } from './net/offering.js'
// The sans-I/O machines and their drivers: an app runs them over any ByteDuplex.
export { SenderMachine, type SenderInit, type SenderProgress, type SenderState, type VerifiedCounts } from './protocol/sender.js'
export { ReceiverMachine, type ReceiverInit, type ReceiverProgress, type ReceiverState } from './protocol/receiver.js'
export { runSender, runReceiver, type DriverOptions } from './protocol/session.js'
export type { TransferOptions } from './protocol/options.js'
export type { History, HistoryChange, HistorySink, HistorySource, ConversationInfo, EncodedMessage, KeptLeaves, LeafIndex, LeafRecord, MessagePosition, ReceivedMedia, SourceSnapshot, StoredMedia, StoreGenerations } from './store/history.js'
export type { Journal, JournalKeyOp, JournalOp, JournalPrefixOp, PartFiles } from './journal/journal.js'
export * from './store/model.js'
export { FerryError, ErrorCode, isFerryError, type FerryErrorDetails } from './errors.js'
export type { ByteDuplex } from './wire/duplex.js'
