#!/usr/bin/env node
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
