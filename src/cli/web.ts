import { EXIT_OK, integerFlag, onStop, type Command } from './command.js'
import { ErrorCode, FerryError } from '../errors.js'
import { servePage } from '../net/page-server.js'
import { jsonEvent } from './json-lines.js'

/**
 * Where `ferry web` serves the page unless told otherwise. The browser keeps what it received in
 * storage that belongs to the page's origin (scheme, host and port), so whatever later serves a page
 * there can read it: a port no development server picks by habit (8080, 3000, 5173, ...), and none
 * of Ferry's own (the discovery probe's 24750-24757, the old phone's page on 24760).
 */
export const WEB_PORT = 24770

const web: Command = {
  name: 'web',
  summary: 'serve the browser phone (receive a history into a web page) on localhost',
  help: `Usage: ferry web [--port N] [--json]

Serves the browser phone on http://127.0.0.1:N/. The page is a phone that receives: it dials the old
phone over WebRTC (webrtc-direct), pairs with the code, and keeps the history in the browser's
IndexedDB. Reload it mid-transfer and it carries on where it stopped, without the code.

That storage belongs to http://127.0.0.1:N: any other page served there later can read the history
and the pairing. Once the history is moved off the browser, use the page's "Forget this browser's
history and start over".

On the old phone, offer the history over WebRTC:
  ferry send --store ./old-phone --transport webrtc --no-mdns \\
    --listen /ip4/127.0.0.1/udp/0/webrtc-direct
It shows a code and a ferry://pair?... payload. In the page, paste the payload (or the
/webrtc-direct/ address) and type the code; or open the page as URL#ferry://pair?... directly.

Options:
  --port N      port to serve on (default ${WEB_PORT}; 0 picks a free one)
  --json        print {"event":"listening","at":...,"url":...} instead of text

Serves until stopped with Ctrl-C.

Exit codes: 0 served and stopped (Ctrl-C, SIGTERM or SIGHUP), 1 failed, 2 bad usage (a port that is taken).

Example:
  ferry web`,
  options: {
    port: { type: 'string' },
    json: { type: 'boolean' }
  },
  async run (args) {
    const port = integerFlag(args, 'port', WEB_PORT)
    if (port > 65535) throw new FerryError(ErrorCode.BAD_INPUT, `--port must be at most 65535, got ${port}`)
    // The page server the old phone uses for --web (its files by exact path, a Host check, a content
    // security policy), on loopback and with the page as built: the sender is started elsewhere.
    // Source maps too: they hold nothing the package does not, and the bench's profiler reads them.
    const page = await servePage({ host: '127.0.0.1', port, servedBySender: false, sourceMaps: true, portOption: '--port' })
    if (args.values.json === true) {
      jsonEvent('listening', { url: page.url })
    } else {
      process.stdout.write(`browser phone: ${page.url}\n`)
    }
    // Serving until stopped is all it does: a stop (Ctrl-C, a `kill`, the terminal closed) is its end, not
    // a failure, and the page is closed first.
    await new Promise<NodeJS.Signals>(resolve => { onStop(resolve) })
    await page.close()
    return EXIT_OK
  }
}

export default web
