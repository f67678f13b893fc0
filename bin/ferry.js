#!/usr/bin/env node
// Runs the CLI from its build, dist/cli/ferry.js (`npm run build`; npm runs it on `npm ci` or `npm install`
// in a clone). FERRY_TSX=1 runs the sources through tsx instead, for stack traces into the .ts files: a
// clone's development path, since an installed package has neither the sources nor tsx.
const entry = process.env.FERRY_TSX === '1' ? '../src/cli/main.ts' : '../dist/cli/ferry.js'
const url = new URL(entry, import.meta.url)

let main
try {
  if (process.env.FERRY_TSX === '1') (await import('tsx/esm/api')).register()
  ;({ main } = await import(url.href))
} catch (err) {
  const missing = err?.code === 'ERR_MODULE_NOT_FOUND' && [entry.slice(3), "'tsx'"].some(s => String(err.message).includes(s))
  if (!missing) throw err
  process.stderr.write(process.env.FERRY_TSX === '1'
    ? 'ferry: FERRY_TSX=1 runs the sources through tsx, which only a clone of the repository has (after npm ci)\n'
    : 'ferry: the CLI is not built (dist/cli/ferry.js is missing): run `npm run build` in the repository\n')
  process.exit(1)
}
const code = await main(process.argv.slice(2))
// Exit now: libp2p leaves timers behind after stop(), which would hold the process for a second.
process.exit(code)
