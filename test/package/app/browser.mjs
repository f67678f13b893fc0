// A web app's entry: the core, as a browser bundle gets it (../install.test.ts bundles it with esbuild).
import { formatCode, generateCode, parseCode, FerryError, PAIR_PROTOCOL, ReceiverMachine, runReceiver, runSender, SenderMachine, TRANSFER_PROTOCOL } from 'chat-ferry'

export const newCode = () => formatCode(parseCode(formatCode(generateCode())))
export { FerryError, PAIR_PROTOCOL, ReceiverMachine, runReceiver, runSender, SenderMachine, TRANSFER_PROTOCOL }
