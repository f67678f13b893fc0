// The delay relay as a process, so it can run inside a network namespace (`ip netns exec`):
//   tsx scripts/lib/delay-relay-main.ts '{"delayMs":[2,5],"seed":1}'
// Commands on stdin, answers on stdout (see serveRelay). Ends when stdin closes.
import { serveRelay, type DelayRelayOptions } from './delay-relay.js'

const opts = JSON.parse(process.argv[2] ?? '{"delayMs":[2,5]}') as DelayRelayOptions
serveRelay(opts, process.stdin, process.stdout).then(() => process.exit(0), err => {
  process.stderr.write(`delay-relay: ${(err as Error).message}\n`)
  process.exit(1)
})
