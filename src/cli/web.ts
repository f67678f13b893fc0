import { EXIT_OK, integerFlag, type Command } from './command.js'
import { ErrorCode, FerryError } from '../errors.js'
import { servePage } from '../net/page-server.js'

const web: Command = {
  name: 'web',
  summary: 'serve the browser phone (receive a history into a web page) on localhost',
  help: `Usage: ferry web [--port N]

Serves the browser phone on http://127.0.0.1:N/. The page is a phone that receives: it dials the old
phone over WebRTC (webrtc-direct), pairs with the code, and keeps the history in the browser's
IndexedDB. Reload it mid-transfer and it carries on where it stopped, without the code.

On the old phone, offer the history over WebRTC:
  ferry send --store ./old-phone --transport webrtc --no-mdns \\
    --listen /ip4/127.0.0.1/udp/0/webrtc-direct
It shows a code and a ferry://pair?... payload. In the page, paste the payload (or the
/webrtc-direct/ address) and type the code; or open the page as URL#ferry://pair?... directly.

Options:
  --port N      port to serve on (default 8080; 0 picks a free one)
  --json        print {"event":"listening","url":...} instead of text

Example:
  ferry web --port 8080

Stop it with Ctrl-C.`,
  options: {
    port: { type: 'string' },
    json: { type: 'boolean' }
  },
  async run (args) {
    const port = integerFlag(args, 'port', 8080)
    if (port > 65535) throw new FerryError(ErrorCode.BAD_INPUT, `--port must be at most 65535, got ${port}`)
    // The page server the old phone uses for --web (its files by exact path, a Host check, a content
    // security policy), on loopback and with the page as built: the sender is started elsewhere.
    // Source maps too: they hold nothing the package does not, and the bench's profiler reads them.
    const page = await servePage({ host: '127.0.0.1', port, servedBySender: false, sourceMaps: true, portOption: '--port' })
    if (args.values.json === true) {
      process.stdout.write(JSON.stringify({ event: 'listening', url: page.url }) + '\n')
    } else {
      process.stdout.write(`browser phone: ${page.url}\n`)
    }
    await new Promise<void>(resolve => {
      process.once('SIGINT', resolve)
      process.once('SIGTERM', resolve)
    })
    await page.close()
    return EXIT_OK
  }
}

export default web
