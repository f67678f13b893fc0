// A web app's entry: the core, as a browser bundle gets it (../install.test.ts bundles it with esbuild).
import { ferry, formatCode, generateCode, parseCode, FerryError, PAIR_PROTOCOL, ReceiverMachine, runReceiver, runSender, SenderMachine, TRANSFER_PROTOCOL } from 'chat-ferry'

export const newCode = () => formatCode(parseCode(formatCode(generateCode())))
// The libp2p service itself runs in a page too (the browser phone's journal is IndexedDB).
export { ferry, FerryError, PAIR_PROTOCOL, ReceiverMachine, runReceiver, runSender, SenderMachine, TRANSFER_PROTOCOL }
