#!/usr/bin/env -S node --max-semi-space-size=2
// --max-semi-space-size=2 (MiB; V8's default grows to 16): a transfer allocates little JavaScript but
// streams gigabytes through short-lived Buffers, which V8 frees only when it collects their owners. Small
// semi-spaces collect every few MB, so dead media buffers are released sooner; together with the smaller
// young generation that is ~20 MiB less RSS on each side, with no throughput change measured
// (docs/performance.md). Spawners read these flags from this line (src/cli/ferry-process.ts).
// A clone works after `npm install` with no build step: the CLI runs from a bundle that cli-bundle.js
// (re)builds from src/ when it is missing or older than its sources, or from the sources through tsx
// with FERRY_TSX=1.
import { cliBundle } from './cli-bundle.js'

const bundle = await cliBundle()
let main
if (bundle !== undefined) {
  ({ main } = await import(bundle))
} else {
  const { register } = await import('tsx/esm/api')
  register()
  ;({ main } = await import('../src/cli/main.ts'))
}
const code = await main(process.argv.slice(2))
// Exit now: libp2p leaves timers behind after stop(), which would hold the process for a second.
process.exit(code)
