// A TypeScript app in Node, type-checked against the installed declarations (../install.test.ts).
import { createFerry, createFerryNode, ferry, NodeJournal, nodeBatchDeflate, SqliteChatStore, type DiscoverOptions, type Ferry, type FerryNodeLimits, type FerryNodeOptions, type MdnsOptions, type MediaDigest, type OpenOptions, type StoreStats, type TransportChoice } from 'chat-ferry/node'
import { prefixLogger } from '@libp2p/logger'
import { ErrorCode, isFerryError, type BatchDeflate, type FerryError, type FerryErrorDetails, type History, type FerryEvent, type Message, type SlotLimits } from 'chat-ferry'

export async function phone (dir: string): Promise<Ferry> {
  SqliteChatStore.open(dir, { create: true }).close()
  const f = await createFerry(dir, { listen: ['/ip4/127.0.0.1/tcp/0'] })
  const history: History = f.store
  void history
  return f
}

/** docs/embedding.md's "Your own database" composition, deflated batches included. */
export async function ownNode (dir: string, history: History): Promise<void> {
  const deflate: BatchDeflate = nodeBatchDeflate
  const journal = NodeJournal.open(dir)
  const node = await createFerryNode({ dir, services: { ferry: ferry({ history, journal, batchDeflate: deflate }) } })
  await node.stop()
  await journal.close()
}

export function describe (e: FerryEvent): string {
  return e.type === 'verified' ? `${e.summary.length} chats verified` : e.type
}

export const isBadInput = (err: unknown): boolean => isFerryError(err, ErrorCode.BAD_INPUT)

const hello: Message = { conversation: 'c', id: 'm', sender: 's', ts: 0, kind: 'text', text: 'hi' }
// @ts-expect-error: a kind of message Ferry does not know (the declarations are real types, not any)
export const fax: Message = { ...hello, kind: 'fax' }

// The types the public API's own signatures name, each importable: an app keeps its options and
// results in variables and functions of its own.
export const storeOptions: OpenOptions = { create: true }
export const transport: TransportChoice = 'auto'
export const limits: FerryNodeLimits = { maxConnections: 64 }
export const mdns: MdnsOptions = { serviceTag: '_ferry-123._udp.local' }
export const lan: Pick<FerryNodeOptions, 'mdns' | 'transport' | 'limits'> = { mdns, transport, limits }
// Two phones in one process, each logging under its own prefix (old:ferry:service, ...).
export const named: Pick<FerryNodeOptions, 'logger'> = { logger: prefixLogger('old') }
export const discover: DiscoverOptions = { timeout: 10_000 }
export const slots: Partial<SlotLimits> = { maxUnpaired: 4 }
export async function addPhoto (store: SqliteChatStore, path: string): Promise<MediaDigest> { return await store.addMediaFromFile(path) }
export const missing = (stats: StoreStats): number => stats.mediaMissing

// An error's details are typed: a documented field reads as what it holds, with no cast, and a
// misspelt one does not compile. They still go where a logger takes a record of fields.
export const triesLeft = (err: unknown): number | undefined => isFerryError(err, ErrorCode.WRONG_CODE) ? err.details?.triesLeft : undefined
export const saidBy = (e: FerryError): 'sender' | 'receiver' | undefined => e.details?.from
export const why = (e: FerryError): 'live' | 'used' | 'exhausted' | 'expired' | 'tried' | undefined => e.details?.state
export const fetchAgain = (e: FerryError): boolean => e.details?.fetchAgain === true
export const fields = (e: FerryError): Record<string, unknown> | undefined => e.details
export const details: FerryErrorDetails = { peerCode: ErrorCode.STORE_FULL, unproved: true }
// @ts-expect-error: no such field (it is triesLeft)
export const typo = (e: FerryError): unknown => e.details?.triesleft
// @ts-expect-error: triesLeft is a number
export const wrongType: FerryErrorDetails = { triesLeft: '2' }
