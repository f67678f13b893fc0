import { createServer, type Server } from 'node:http'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { extname, join, normalize, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { EXIT_OK, integerFlag, type Command } from './command.js'
import { ErrorCode, FerryError } from '../errors.js'

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
  '.json': 'application/json'
}

/**
 * Serves a directory's files (GET/HEAD only, no listing, nothing outside it) on 127.0.0.1. The page
 * talks to the old phone directly over WebRTC; this server only hands out the page.
 */
export async function serveDir (dir: string, port: number, host = '127.0.0.1'): Promise<{ server: Server, url: string }> {
  const root = normalize(dir + sep)
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)
    const file = normalize(join(root, path === '/' ? 'index.html' : path))
    if ((req.method !== 'GET' && req.method !== 'HEAD') || !file.startsWith(root)) {
      res.writeHead(req.method !== 'GET' && req.method !== 'HEAD' ? 405 : 404).end()
      return
    }
    readFile(file).then(body => {
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' })
      res.end(req.method === 'HEAD' ? undefined : body)
    }, () => { res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n') })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(new FerryError(err.code === 'EADDRINUSE' ? ErrorCode.BAD_INPUT : ErrorCode.INTERNAL,
        err.code === 'EADDRINUSE' ? `port ${port} is taken; pick another with --port` : `cannot serve the page: ${err.message}`))
    })
    server.listen(port, host, resolve)
  })
  const addr = server.address()
  const actual = typeof addr === 'object' && addr !== null ? addr.port : port
  return { server, url: `http://${host}:${actual}/` }
}

/**
 * The page, built with the package (`npm run build`) into dist/browser-phone/. From the root rather than
 * this file, so the sources (FERRY_TSX=1) and the bundle in dist/cli/ find the same directory.
 */
export const PAGE_DIR = fileURLToPath(new URL('../../dist/browser-phone/', import.meta.url))

function builtPage (): string {
  if (!existsSync(join(PAGE_DIR, 'index.html')) || !existsSync(join(PAGE_DIR, 'app.js'))) {
    throw new FerryError(ErrorCode.INTERNAL, `the browser phone is not built (${PAGE_DIR} has no index.html and app.js): run \`npm run build\` in the repository`)
  }
  return PAGE_DIR
}

const web: Command = {
  name: 'web',
  summary: 'serve the browser phone (receive a history into a web page) on localhost',
  help: `Usage: ferry web [--port N]

Serves the browser phone on http://127.0.0.1:N/. The page is a phone that receives: it dials the old
phone over WebRTC (webrtc-direct), pairs with the code, and keeps the history in the browser's
IndexedDB. Reload it mid-transfer and it carries on where it stopped, without the code.

On the old phone, offer the history over WebRTC:
  ferry send --store ./old-phone --transport webrtc --no-mdns --listen /ip4/127.0.0.1/udp/0/webrtc-direct
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
    const { server, url } = await serveDir(builtPage(), port)
    if (args.values.json === true) {
      process.stdout.write(JSON.stringify({ event: 'listening', url }) + '\n')
    } else {
      process.stdout.write(`browser phone: ${url}\n`)
    }
    await new Promise<void>(resolve => {
      const stop = (): void => { server.close(); resolve() }
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
    })
    return EXIT_OK
  }
}

export default web
