// Ferry's core: what runs wherever JavaScript does (Node, browsers, workers). Nothing here imports a
// Node built-in or a native module, and a browser bundle of it needs no stubs; the Node-only parts (the
// SQLite store, the Node libp2p node, the libp2p service while it keeps its pairing records in files)
// are in './node.ts' (the package's `/node` export), which re-exports all of this too.
import './polyfill.js'

export { TRANSFER_PROTOCOL } from './net/receive-transfer.js'
export type { FerryEvent, FerryService, OfferOptions, ReceiveOptions, Progress } from './net/ferry-service.js'
export { PAIR_PROTOCOL } from './net/pair-stream.js'
export { generateCode, parseCode, formatCode, buildQrPayload, parseQrPayload, serviceTag, type PairingCode } from './pairing/index.js'
export { SenderMachine } from './protocol/sender.js'
export { ReceiverMachine } from './protocol/receiver.js'
export { runSender, runReceiver } from './protocol/session.js'
export type { TransferOptions } from './protocol/options.js'
export type { ChatStore, ChatStoreReader, ChatStoreWriter, TransferCheckpoint } from './store/chat-store.js'
export * from './store/model.js'
export { FerryError, ErrorCode, isFerryError } from './errors.js'
export type { ByteDuplex } from './wire/duplex.js'
