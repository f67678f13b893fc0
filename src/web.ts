// Ferry for browsers: the core ('./index.ts') plus what the browser phone keeps its history with (the
// package's `/web` export). An app in a browser imports everything from here: IndexedDB for the history
// and Ferry's journal (one database, so a finished media file passes from the journal to the store
// without a copy), a peer key kept there (the old phone's resume token is bound to it), a dial-only
// webrtc-direct node, and the lock that lets one tab at a time receive. Node has no IndexedDB: importing
// this there fails at once (package.json maps it to nothing), as `/node` does in a browser bundle.
export * from './index.js'
export { openFerryDb, deleteFerryDb } from './web/idb.js'
export { IdbHistoryStore, type StoreStats } from './web/idb-history.js'
export { IdbJournal, IdbPartFiles, IdbPartMedia } from './web/idb-journal.js'
export { createBrowserNode, loadOrCreateKey } from './web/browser-node.js'
export { browserBatchInflate, canInflateRaw } from './web/inflate.js'
export { createTabLock, type HeldLock, type LeaseOptions, type LockKind, type TabLock } from './web/tab-lock.js'
