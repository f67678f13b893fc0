import type { Connection, Libp2p } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import { ErrorCode, FerryError } from '../errors.js'
import { PAIR_PROTOCOL, pairAsReceiver } from '../net/pair-stream.js'
import { retryWhileAdvancing } from '../net/retry.js'
import { receiveTransfer, TRANSFER_PROTOCOL } from '../net/receive-transfer.js'
import { streamToDuplex } from '../net/stream-duplex.js'
import type { PairingCode } from '../pairing/index.js'
import { ReceiverMachine } from '../protocol/receiver.js'
import type { IdbChatStore } from './idb-store.js'


/**
 * Silence from the sender, mid-transfer, after which the link counts as dead (the Node receiver waits
 * 5 s; a browser tab may be throttled for a moment, so a little longer here).
 */
export const STALL_MS = 10_000

/** The receiver's pairing record, kept in IndexedDB until the transfer is verified. */
export interface WebPairing { peerId: string, token: string, addrs: string[], createdAt: number }
const PAIRING = 'pairing'

export async function loadPairing (store: IdbChatStore): Promise<WebPairing | undefined> {
  return await store.getMeta<WebPairing>(PAIRING)
}

export interface WebProgress {
  messages: number
  totalMessages: number
  mediaBytes: number
  totalMediaBytes: number
  mediaFiles: number
  totalMediaFiles: number
  /** Bytes received in this session (frames), for the rate. */
  bytesReceived: number
}

export type WebEvent =
  | { type: 'dialing', addrs: string[] }
  | { type: 'paired', peer: string, mode: 'code' | 'resume' }
  | { type: 'manifest', progress: WebProgress, conversations: number }
  | { type: 'progress', progress: WebProgress }
  | { type: 'interrupted', error: FerryError }
  | { type: 'verified', summary: Array<{ id: string, title: string, messages: number }>, progress: WebProgress }

export interface WebReceiveOptions {
  /** The old phone's addresses (QR payload, the page's ?peer=, or the pairing record when resuming). */
  addrs: string[]
  /** Needed for a first pairing; a resume uses the token in the pairing record. */
  code?: PairingCode
  onEvent?: (e: WebEvent) => void
  signal?: AbortSignal
  /** Keep reconnecting for this long without progress. */
  retryForMs?: number
  /**
   * Awaited before each read from the transfer stream: the receiver reads no faster than IndexedDB
   * commits, and the debug hook can hold the transfer still.
   */
  beforeRead?: (machine: ReceiverMachine) => Promise<void>
}

/**
 * The browser's `ferry receive`: dials the old phone, pairs with the code (or resumes with the token
 * kept from an earlier pairing), runs the same receiver machine as the Node phone into the IndexedDB
 * store, and reconnects after dropped links until the history is verified.
 */
export async function receiveHistory (node: Libp2p, store: IdbChatStore, opts: WebReceiveOptions): Promise<Extract<WebEvent, { type: 'verified' }>> {
  return await retryWhileAdvancing(async onAdvance => await receiveOnce(node, store, opts, onAdvance), {
    retryForMs: opts.retryForMs ?? 60_000,
    signal: opts.signal,
    onInterrupted: error => opts.onEvent?.({ type: 'interrupted', error })
  })
}

async function receiveOnce (node: Libp2p, store: IdbChatStore, opts: WebReceiveOptions, onAdvance: () => void): Promise<Extract<WebEvent, { type: 'verified' }>> {
  opts.onEvent?.({ type: 'dialing', addrs: opts.addrs })
  let connection: Connection
  try {
    connection = await node.dial(opts.addrs.map(a => multiaddr(a)), { signal: opts.signal })
  } catch (err) {
    throw new FerryError(ErrorCode.NO_PEER, `cannot reach the other phone at ${opts.addrs.join(', ')}: ${(err as Error).message}`, undefined, { cause: err })
  }
  try {
    return await transferOn(node, connection, store, opts, onAdvance)
  } catch (err) {
    // This connection failed us: drop it, or the next dial would be handed the same dead connection back.
    connection.abort(err instanceof Error ? err : new Error(String(err)))
    throw err
  }
}

async function transferOn (node: Libp2p, connection: Connection, store: IdbChatStore, opts: WebReceiveOptions, onAdvance: () => void): Promise<Extract<WebEvent, { type: 'verified' }>> {
  const peer = connection.remotePeer.toString()
  const record = await loadPairing(store)
  const token = record?.peerId === peer ? hexToBytes(record.token) : undefined
  const pairStream = await connection.newStream(PAIR_PROTOCOL, { signal: opts.signal })
  const outcome = await pairAsReceiver(streamToDuplex(pairStream), { localPeerId: node.peerId.toString(), remotePeerId: peer },
    token !== undefined ? { token } : { code: opts.code })
  if (outcome.resumeToken !== undefined) {
    await store.setMeta(PAIRING, { peerId: peer, token: bytesToHex(outcome.resumeToken), addrs: opts.addrs, createdAt: Date.now() } satisfies WebPairing)
  }
  opts.onEvent?.({ type: 'paired', peer, mode: outcome.mode })
  const stream = await connection.newStream(TRANSFER_PROTOCOL, { signal: opts.signal })
  const machine = new ReceiverMachine({ store, agent: 'ferry-web' })
  const progress = (): WebProgress => {
    const p = machine.progress
    return {
      messages: p.messages, totalMessages: p.totalMessages, mediaBytes: p.mediaBytes, totalMediaBytes: p.totalMediaBytes,
      mediaFiles: p.mediaFiles, totalMediaFiles: p.totalMediaFiles, bytesReceived: p.bytesReceived
    }
  }
  const beforeRead = opts.beforeRead
  await receiveTransfer(stream, machine, {
    signal: opts.signal,
    // A browser tab may be throttled for a moment: a little more patience than the Node receiver's.
    stallMs: STALL_MS,
    beforeRead: beforeRead === undefined ? undefined : async () => { await beforeRead(machine) },
    onAdvance,
    onManifest: () => { opts.onEvent?.({ type: 'manifest', progress: progress(), conversations: machine.expected?.conversations.size ?? 0 }) },
    onProgress: () => { opts.onEvent?.({ type: 'progress', progress: progress() }) }
  })
  await store.setMeta(PAIRING, undefined)
  const verified = { type: 'verified' as const, summary: machine.summary ?? [], progress: progress() }
  opts.onEvent?.(verified)
  return verified
}
