// @ts-check
// Embedding Ferry: the app's database behind the History port, Ferry's journal beside it, and a libp2p
// node that runs Ferry's service. This is all an app adds to move its history to a new phone.
import { ferry } from 'chat-ferry'
import { createFerryNode, NodeJournal, nodeTransferMemory } from 'chat-ferry/node'
import { ChatHistory } from './chat-history.js'

/**
 * @typedef {import('./chat-db.js').ChatDb} ChatDb
 * @typedef {import('chat-ferry').FerryService} FerryService
 */

/**
 * Starts Ferry for the app whose database is `app`.
 * @param {ChatDb} app
 * @param {{ listen?: string[] }} [options] multiaddrs to listen on (default: every interface, a free TCP port)
 */
export async function startFerry (app, { listen = ['/ip4/0.0.0.0/tcp/0'] } = {}) {
  const history = new ChatHistory(app)
  // Ferry's own bookkeeping (transfer log, partial files, pairing records) in <app dir>/journal/.
  const journal = NodeJournal.open(app.dir)
  // `dir` keeps the phone's libp2p identity, so a transfer resumes with the phone it paired with.
  // `memory` paces Node's garbage collector by the buffers a transfer moves, while one runs (process-wide).
  const node = await createFerryNode({ dir: app.dir, listen, services: { ferry: ferry({ history, journal, memory: nodeTransferMemory }) } })
  return {
    node,
    /** @type {FerryService} */
    ferry: node.services.ferry,
    async stop () {
      await node.stop()
      await journal.close()
    }
  }
}
