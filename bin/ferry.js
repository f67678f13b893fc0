#!/usr/bin/env node
// The CLI is TypeScript run through tsx's loader, so a clone works after `npm install` with no build step.
import { register } from 'tsx/esm/api'
register()
const { main } = await import('../src/cli/main.ts')
const code = await main(process.argv.slice(2))
// Exit now: libp2p leaves timers behind after stop(), which would hold the process for a second.
process.exit(code)
