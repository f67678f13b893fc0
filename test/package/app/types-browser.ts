// A TypeScript web app, type-checked against the installed declarations without Node's types.
import { createTabLock, IdbHistoryStore, IdbJournal, openFerryDb, type StoreStats, type TabLock } from 'chat-ferry/web'
import { formatCode, generateCode, parseQrPayload, ReceiverMachine, type HistorySink, type FerryEvent, type PairingCode, type QrPayload } from 'chat-ferry'

export const code: PairingCode = generateCode()
export const shown: string = formatCode(code)
export type Store = HistorySink
export const onEvent = (e: FerryEvent): string => e.type
// What a scanned link holds, typed: the app keeps it until the user confirms the pairing.
export const scanned = (link: string): QrPayload => parseQrPayload(link)
export const peerOf = (p: QrPayload): string => p.peerId
export { ReceiverMachine }
// @ts-expect-error: formatCode takes a parsed code, not a string
formatCode('123-4567-8901')

// The browser's parts (chat-ferry/web): the history and journal in IndexedDB, typed for the app.
export async function open (name: string): Promise<{ history: IdbHistoryStore, journal: IdbJournal, lock: TabLock, held: StoreStats }> {
  const db = await openFerryDb(name)
  const history = await IdbHistoryStore.open(db)
  return { history, journal: new IdbJournal(db), lock: createTabLock(db, 'receive'), held: await history.stats() }
}
