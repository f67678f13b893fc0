// Ferry for Node: the core ('./index.ts') plus what needs Node (the package's `/node` export). An app
// in Node imports everything from here; a browser bundle that imports this fails at build time rather
// than shipping stubs.
export * from './index.js'
export { createFerryNode, discoverPeer, type DiscoverOptions, type FerryNode, type FerryNodeLimits, type FerryServices, type FerryNodeOptions, type MdnsOptions } from './net/node.js'
export type { TransportChoice } from './net/transports.js'
export { SqliteChatStore, type OpenOptions, type StoreStats } from './store/sqlite-store.js'
export type { MediaDigest } from './store/media-folder.js'
export { NodeJournal } from './journal/node-journal.js'
export type { NodePartFiles } from './journal/node-parts.js'
export { freeSpaceOf } from './store/free-space.js'
export { nodeBatchDeflate } from './wire/deflate-node.js'
export { createFerry, type CreateFerryOptions, type Ferry, type SendOptions, type WebPageOptions } from './create-ferry.js'
export { nodeTransferMemory } from './memory/transfer-memory.js'
// The browser phone served by the old phone itself (ferry send --web).
export { servePage, pageHost, pageLink, DEFAULT_PAGE_PORT, PAGE_DIR, type PageServer, type PageServerOptions } from './net/page-server.js'
export { DEFAULT_PAGE_SLOT_LIMITS, type PageSlotLimits, type PageCloseReason } from './net/page-slots.js'
// Finding the other phone without multicast (the sender's discovery port, the receiver's sweep) and
// choosing its address; see docs/design-notes.md, "Finding the other phone".
export { startResponder, DISCOVERY_PORTS, type DiscoveryResponder, type ProbeAnswer, type ResponderLimits, type ResponderOptions } from './net/probe.js'
export { SenderSearch, senderRoute, type FoundSender, type FindOptions, type FindAgain, type Route, type RouteOptions } from './net/find-sender.js'
export type { SubnetStats, SweepHit, SweepOptions } from './net/sweep.js'
export type { LocalSubnet } from './net/subnets.js'
export type { FoundVia } from './net/isolation.js'
export type { RaceOptions } from './net/happy-dial.js'
// The offline way (ferry backup, ferry restore): a backup file is a transfer recorded, and restoring it
// is a transfer from it into any HistorySink, resumable and verified; docs/architecture.md, "Backups".
export { writeBackup, readBackupHeader, openBackup, restoreBackup, type BackupOptions, type BackupResult, type OpenedBackup, type RestoreOptions, type RestoreResult } from './backup/backup.js'
export type { BackupHeader, FileKeys, KdfParams } from './backup/format.js'
export type { PartialLock } from './backup/partial-lock.js'
