// Ferry for Node: the core ('./index.ts') plus what needs Node (the package's `/node` export). An app
// in Node imports everything from here; a browser bundle that imports this fails at build time rather
// than shipping stubs.
export * from './index.js'
export { createFerryNode, discoverPeer, type FerryNode, type FerryNodeOptions } from './net/node.js'
export { SqliteChatStore } from './store/sqlite-store.js'
export { NodeJournal } from './journal/node-journal.js'
export { createFerry, type Ferry } from './create-ferry.js'
