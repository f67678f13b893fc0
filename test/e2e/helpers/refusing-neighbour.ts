// A neighbour that shows a code's nameplate and refuses the code at once, in a process of its own (run
// inside a testbed phone's namespace): a libp2p node that answers every pairing with ABORT(reason)
// before any PAKE_B (or, with reason "cut", resets every pairing stream once PAKE_A is in, before any
// answer), and a discovery responder that answers the sweep for the nameplate with it (with reason
// "unreachable", naming a port of its host where nothing listens: every connect is refused). Prints
// one JSON line per event, as `ferry --json` does: `ready` (its peer id and discovery port), `stream`
// for each pairing the new phone opens to it.
//   node --import tsx refusing-neighbour.ts '{"nameplate":"123","reason":"CODE_EXPIRED"}'
import { startResponder } from '../../../src/net/probe.js'
import type { AbortReason } from '../../../src/pairing/messages.js'
import { refusedPort } from '../../helpers/refused-port.js'
import { startImpostor } from './impostor.js'

const { nameplate, reason } = JSON.parse(process.argv[2] ?? '{}') as { nameplate: string, reason: AbortReason | 'cut' | 'unreachable' }
const say = (event: string, fields: Record<string, unknown> = {}): void => { process.stdout.write(JSON.stringify({ event, ...fields }) + '\n') }

let streams = 0
const impostor = await startImpostor(`${nameplate}-0000-0001`, {
  ...(reason === 'cut' || reason === 'unreachable' ? { cutEvery: 'reset' as const } : { refuseAtOnce: reason }),
  listen: ['/ip4/0.0.0.0/tcp/0'],
  onStream: () => { say('stream', { streams: ++streams }) }
})
const peer = impostor.node.peerId.toString()
const dead = reason === 'unreachable' ? await refusedPort('0.0.0.0') : undefined
const addrs = impostor.node.getMultiaddrs().map(String).filter(a => !a.startsWith('/ip4/127.'))
  .map(a => dead === undefined ? a : a.replace(/\/tcp\/\d+\//, `/tcp/${dead}/`))
const responder = await startResponder({ nameplate, answer: () => ({ peer, addrs }) })
if (responder === undefined) throw new Error('no discovery port free')
say('ready', { peer, addrs, discoveryPort: responder.port })
process.on('SIGTERM', () => {
  void Promise.all([responder.close(), impostor.stop()]).finally(() => process.exit(0))
})
