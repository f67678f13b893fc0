import { realpathSync } from 'node:fs'
import type { Multiaddr } from '@multiformats/multiaddr'
import { ErrorCode, FerryError } from './errors.js'
import { createFerryNode, type FerryNode, type FerryNodeOptions } from './net/node.js'
import { ferry, type FerryService, type OfferOptions, type ReceiveOptions, type TransferMemory } from './net/ferry-service.js'
import { nodeTransferMemory } from './memory/transfer-memory.js'
import { nodeBatchDeflate } from './wire/deflate-node.js'
import { SqliteChatStore } from './store/sqlite-store.js'
import { NodeJournal } from './journal/node-journal.js'
import { freeSpaceOf } from './store/free-space.js'
import { dialableAddresses } from './net/addresses.js'
import { pageHost, pageLink } from './net/page-server.js'
import { rememberPagePort, serveKeptPage } from './net/page-port.js'
import { PairingRecords } from './journal/pairing-records.js'
import { generateQrKey } from './pairing/index.js'
import { startOnPreviousPorts } from './net/previous-ports.js'
import { defaultListen } from './net/transports.js'
import { AppHandlers } from './net/app-handler.js'
import { refuseOfferedSelection } from './protocol/selection-check.js'

export interface SendOptions extends OfferOptions {
  /**
   * Also serve the browser phone over plain HTTP on this phone's LAN address while the offer is open,
   * so the new phone needs nothing installed: its camera opens the link (show it as the QR code), and
   * the page pairs from it and receives over WebRTC. Needs a node that listens on webrtc-direct
   * (transport 'webrtc' or 'auto'); BAD_INPUT otherwise. The page is the one the package builds
   * (dist/browser-phone/).
   */
  web?: WebPageOptions
}

export interface WebPageOptions {
  /**
   * Default 24760, or any free port when that one is taken; 0: any free port. Resuming a pairing a
   * phone made while the page was served (no code), the port it had then while it is free: the browser
   * phone's storage belongs to the page's origin.
   */
  port?: number
  /**
   * The page is being served: `link` opens it with the pairing payload in its fragment (the plain page
   * when resuming without a code); `url` is the page alone. Ferry does not wait for it; one that throws,
   * or whose promise rejects, ends the offer with CANCELLED, its error as the `cause`, as `onEvent` does.
   */
  onServing?: ((page: { link: string, url: string }) => void) | ((page: { link: string, url: string }) => Promise<void>)
}

export interface Ferry {
  /** The phone's history: write an old phone's with its put* methods, read a new phone's with list*. */
  store: SqliteChatStore
  /** Ferry's own state beside the store (checkpoints, partial media, pairing records). */
  journal: NodeJournal
  /** The libp2p node, started; `node.services.ferry` is the FerryService that send and receive use. */
  node: FerryNode<{ ferry: FerryService }>
  /** Offers this phone's history (and with `web`, serves the browser phone meanwhile); resolves when the new phone verified it. */
  send(opts: SendOptions): ReturnType<FerryService['offer']>
  /** Receives a history from the phone at `addrs`. */
  receive(opts: ReceiveOptions): ReturnType<FerryService['receive']>
  /** Addresses to show (QR) or hand to the other phone. */
  addresses(): Multiaddr[]
  /**
   * Stops the node and closes the store and the journal: a send or receive still under way rejects with
   * CANCELLED (what arrived stays, for a resume). Once it resolves nothing of the phone keeps the process
   * alive, and the folder takes a new phone. Calling it again does nothing.
   */
  stop(): Promise<void>
}

/**
 * The node's options, but for what createFerry decides: the folder, the services, and that the node is
 * started (a phone that has not started listens nowhere, so it offers no address to pair with).
 */
export interface CreateFerryOptions extends Omit<FerryNodeOptions, 'dir' | 'services' | 'start'> {
  /**
   * What keeps the process's garbage collector in step with transfers: by default
   * `nodeTransferMemory`, which paces V8's collections by the buffers a transfer moves while one runs
   * (fewer full collections and a lower peak of memory; docs/performance.md has what it changes).
   * `false` leaves the collector to itself, for an app that tunes it its own way.
   */
  memory?: TransferMemory | false
}

/**
 * The store folders (real paths) of this process's phones that have not stopped. The store's lock keeps
 * other processes out, but it is the process's: within one, a second phone on the same folder would be a
 * second libp2p node with the same peer id and a second journal writing the same partial files, the
 * interleaving the lock exists to prevent.
 */
const running = new Set<string>()

/**
 * A phone with the embedded defaults: the simulator's SQLite store in `dir`, Ferry's journal and the
 * phone's identity kept in the same place. A folder another phone uses, in this process or another, is
 * STORE_BUSY until that phone stops. Made again on the folder of an old phone that paired, it listens on
 * the ports it had then wherever `listen` leaves the port open (0) and they can be bound, so the new
 * phone finds it where it was and `send({})` resumes; on a port another process took meanwhile it
 * listens on any free port instead.
 */
export async function createFerry (dir: string, options: CreateFerryOptions = {}): Promise<Ferry> {
  // The type leaves it out; a JavaScript app may still pass it, and its send then waited with no address.
  const { start } = options as { start?: unknown }
  if (start !== undefined && start !== true) {
    throw new FerryError(ErrorCode.BAD_INPUT,
      'createFerry starts its phone\'s node: start: false is not taken (a phone not started listens nowhere, and a send waits with no address); ' +
      'an app that starts its node itself makes it with createFerryNode and the ferry service')
  }
  const { memory = nodeTransferMemory, ...node } = options
  const store = SqliteChatStore.open(dir, { create: true, logger: node.logger })
  let key: string | undefined
  let journal: NodeJournal | undefined
  let n: FerryNode<{ ferry: FerryService }>
  try {
    const real = realpathSync(dir)
    if (running.has(real)) {
      throw new FerryError(ErrorCode.STORE_BUSY,
        `store ${dir} is in use by another phone this process made, which has not stopped: one phone at a time may use a store. Go on with that phone, or call its stop() before making a new one here`,
        { dir, pid: process.pid })
    }
    running.add(key = real)
    journal = NodeJournal.open(dir)
    const service = ferry({ history: store, journal, batchDeflate: nodeBatchDeflate, memory: memory === false ? undefined : memory })
    n = await startWhereItWas(journal, node, async listen => await createFerryNode({ ...node, listen, dir, services: { ferry: service } }))
  } catch (err) {
    // A phone that cannot start (its journal damaged, its port taken) leaves the folder free: no lock of
    // the store held, no mark of a phone running on it.
    await journal?.close().catch(() => {})
    store.close()
    if (key !== undefined) running.delete(key)
    throw err
  }
  return {
    store,
    journal,
    node: n,
    send: async ({ web, ...given }) => {
      if (web === undefined) return await n.services.ferry.offer(given)
      // The offer refuses such a selection too, but only after the page is served and its link shown.
      await refuseOfferedSelection(store, given.selection)
      // The link is the QR code the new phone scans: with a key of its own, no neighbour can burn it.
      const opts = { ...given, qrKey: given.qrKey ?? (given.code !== undefined ? generateQrKey() : undefined) }
      const addrs = dialableAddresses(n)
      const host = pageHost(addrs)
      // Resuming, where the page was when its phone paired: the browser's storage belongs to that origin
      // (as `ferry send --web` does, src/cli/send.ts).
      const record = opts.code === undefined ? await new PairingRecords(journal).load() : undefined
      const { page } = await serveKeptPage(journal, { peer: record?.role === 'sender' ? record.peerId : undefined, host, given: web.port, addrs: addrs.map(String) })
      let remembering: Promise<void> | undefined
      // The app's onServing is guarded as the service guards its onEvent: failed, it cancels the offer.
      const app = new AppHandlers(opts.signal)
      try {
        app.guard(web.onServing, () => ({ name: 'web.onServing handler' }))?.({ link: pageLink(page, { code: opts.code, qrKey: opts.qrKey, peerId: n.peerId.toString(), addrs }), url: page.url })
        return await n.services.ferry.offer({
          ...opts,
          signal: app.signal,
          onEvent: e => {
            if (e.type === 'paired' && e.mode === 'code') remembering = rememberPagePort(journal, { peer: e.peer, host: page.host, port: page.port })
            // Returned, so the service's guard hears of a promise the app's handler returned.
            return opts.onEvent?.(e)
          }
        })
      } finally {
        await remembering
        await page.close()
      }
    },
    receive: async opts => await n.services.ferry.receive({
      freeBytes: freeSpaceOf(dir),
      ...opts,
      // Every message is in: the store builds what a bulk load deferred while the media goes on.
      onEvent: e => {
        if (e.type === 'chats-ready') store.messagesDone()
        // Returned, so the service's guard hears of a promise the app's handler returned.
        return opts.onEvent?.(e)
      }
    }),
    addresses: () => n.getMultiaddrs(),
    stop: async () => {
      try {
        await n.stop()
        await journal.close()
        store.close()
      } finally {
        running.delete(key)
      }
    }
  }
}

/**
 * An old phone started again to resume listens on the ports it had when it paired, where a port given
 * as 0 (any) leaves the choice open and the old one can still be bound: the new phone redials the
 * addresses it knows, and with discovery off nothing would tell it of another port.
 */
async function startWhereItWas<N> (journal: NodeJournal, node: Omit<FerryNodeOptions, 'dir' | 'services'>, start: (listen: string[] | undefined) => Promise<N>): Promise<N> {
  const record = await new PairingRecords(journal).load()
  if (record?.role !== 'sender' || record.addrs.length === 0) return await start(node.listen)
  return await startOnPreviousPorts(node.listen ?? defaultListen(node.transport ?? 'tcp', 'sender'), record.addrs, start)
}
