// A TypeScript web app, type-checked against the installed declarations without Node's types.
import { formatCode, generateCode, ReceiverMachine, type HistorySink, type FerryEvent, type PairingCode } from 'chat-ferry'

export const code: PairingCode = generateCode()
export const shown: string = formatCode(code)
export type Store = HistorySink
export const onEvent = (e: FerryEvent): string => e.type
export { ReceiverMachine }
// @ts-expect-error: formatCode takes a parsed code, not a string
formatCode('123-4567-8901')
