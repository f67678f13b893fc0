import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isIPv6, type Socket } from 'node:net'
import { logger } from '@libp2p/logger'
import { ErrorCode, FerryError } from '../errors.js'
import { PageSlots, type PageCloseReason, type PageSlotLimits } from './page-slots.js'
import { notifying } from './app-handler.js'
import { buildQrPayload, type PairingCode } from '../pairing/index.js'

// The old phone serving the browser phone (the page in dist/browser-phone/) to the new phone over plain
// HTTP on the LAN, so the new phone needs nothing installed: its camera opens the page, the page dials
// back over WebRTC. The server hands out the page's own files and nothing else:
//
// - The files are read into memory when it starts; a request is answered from that table by its exact
//   path, never by touching the file system, so no spelling of a path (../, %2e%2e, //, backslashes)
//   reaches another file. Source maps stay out: the page runs without them.
// - It listens on the one LAN address the QR code names, not on every interface (a VPN, a container
//   bridge), and answers only requests addressed to that address (a Host of another name is a DNS
//   rebinding attempt, or a mistake). Served on loopback, localhost is sent on to that address: it is
//   the same server, but another origin, whose IndexedDB holds none of what the page received.
// - The pairing payload travels in the URL's fragment, which a browser never sends: the code's secret
//   never reaches this server or its logs.
// - Connections are few per address and few in all, and one that asks for nothing is soon cut
//   (page-slots.ts): a neighbour holding idle connections open cannot keep a browser from the page.

const log = logger('ferry:page-server')

/** Content types of the files a page may have; anything else in the directory is not served. */
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webmanifest': 'application/manifest+json'
}

/**
 * Where the built page is: from the repository or package root, two levels above this module both in
 * src/net/ and in dist/net/ (and in the CLI's bundle, dist/cli/).
 */
export const PAGE_DIR = fileURLToPath(new URL('../../dist/browser-phone/', import.meta.url))

/** The port the old phone serves the page on unless told otherwise (any free one when it is taken). */
export const DEFAULT_PAGE_PORT = 24760

/**
 * What every answer carries: no caching (the page of one offer is not kept for the next; a reload
 * fetches it again), no MIME sniffing, no framing, no referrer. The policy allows the page's own
 * script, its inline styles, and pictures it makes from IndexedDB (blob:, data:); WebRTC is not a
 * fetch and needs no connect-src.
 */
const HEADERS: Record<string, string> = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-resource-policy': 'same-origin',
  'content-security-policy': "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}

export interface PageServerOptions {
  /** The address to listen on: an IP literal (the phone's LAN address). */
  host: string
  /** 0: any free port. Default DEFAULT_PAGE_PORT, or any free port when that one is taken. */
  port?: number
  /**
   * A port to serve on rather than `port` while it can be had: the one a resumed offer's page had when
   * its phone paired (page-port.ts). Taken by another process, the page goes where `port` puts it.
   * Trying it is the check: a port looked at first could be taken before the server binds it.
   */
  keptPort?: number
  /** The built page (default PAGE_DIR): its index.html and app.js. */
  dir?: string
  /**
   * Where the page finds this phone (its webrtc-direct addresses, with /p2p/): written into the page, so
   * a person who opens the plain address (typed, not scanned) only types the code. Not a secret: mDNS
   * announces the same. The code never goes here: it travels only in the link's fragment.
   */
  addrs?: string[]
  /**
   * Whether the old phone serves its own page (default): the page then says so, and a link from that
   * phone's QR code starts receiving without a click. `ferry web` serves the page as built instead, on
   * loopback, for a sender started elsewhere.
   */
  servedBySender?: boolean
  /** The option that picks the port, named when the port is taken (default --web-port). */
  portOption?: string
  /** Also serve the page's source maps (`ferry web` on loopback: a profiler maps the page with them). */
  sourceMaps?: boolean
  /** Who may hold a connection, and for how long (page-slots.ts; defaults DEFAULT_PAGE_SLOT_LIMITS). */
  connectionLimits?: Partial<PageSlotLimits>
  /** Told of each connection the server closes under those limits, and why (a flood shows here); a throw is logged. */
  onConnectionClosed?: (reason: PageCloseReason, remoteAddress: string | undefined) => void
}

export interface PageServer {
  readonly host: string
  readonly port: number
  /** http://host:port/ */
  readonly url: string
  /** The URL that opens the page with a pairing payload (ferry://pair?...) in its fragment. */
  urlFor(payload?: string): string
  /** Stops serving: closes the listener and every open connection. */
  close(): Promise<void>
}

interface PageFile { body: Buffer, type: string }

/** The page's files by request path, read once: what the server can ever answer with. */
export function loadPage (dir = PAGE_DIR, addrs: string[] = [], o: { servedBySender?: boolean, sourceMaps?: boolean } = {}): Map<string, PageFile> {
  const servedBySender = o.servedBySender ?? true
  if (!existsSync(join(dir, 'index.html')) || !existsSync(join(dir, 'app.js'))) {
    throw new FerryError(ErrorCode.INTERNAL, `the browser phone is not built (${dir} has no index.html and app.js): run \`npm run build\` in the repository`)
  }
  const files = new Map<string, PageFile>()
  for (const name of readdirSync(dir)) {
    const type = extname(name) === '.map' && o.sourceMaps === true ? 'application/json' : TYPES[extname(name)]
    const path = join(dir, name)
    if (type === undefined || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) || !statSync(path).isFile()) continue
    const body = readFileSync(path)
    files.set(`/${name}`, { body: name === 'index.html' && servedBySender ? markServed(body, addrs) : body, type })
  }
  files.set('/', files.get('/index.html')!)
  return files
}

/** The page served by the old phone itself says so: a link from that phone's QR code then starts receiving without a click. */
export const SERVED_BY_SENDER = '<meta name="ferry-served-by" content="sender">'

const escapeAttr = (v: string): string => v.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

function markServed (html: Buffer, addrs: string[]): Buffer {
  const text = html.toString('utf8')
  const at = text.indexOf('<head>')
  if (at < 0) throw new FerryError(ErrorCode.INTERNAL, 'the browser phone\'s index.html has no <head>: rebuild it with `npm run build`')
  const offer = addrs.filter(a => a.includes('/webrtc-direct')).map(a => `\n<meta name="ferry-sender" content="${escapeAttr(a)}">`).join('')
  return Buffer.from(text.slice(0, at + 6) + '\n' + SERVED_BY_SENDER + offer + text.slice(at + 6), 'utf8')
}

function hostHeaderFor (host: string, port: number): string {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`
}

/** Starts serving the page on host:port. */
export async function servePage (o: PageServerOptions): Promise<PageServer> {
  const files = loadPage(o.dir, o.addrs, o)
  const wanted = o.port ?? DEFAULT_PAGE_PORT
  const option = o.portOption ?? '--web-port'
  const taken = (err: unknown): boolean => (err as NodeJS.ErrnoException).code === 'EADDRINUSE'
  let listening: { server: Server, port: number } | undefined
  const kept = o.keptPort
  if (kept !== undefined) {
    listening = await listen(files, o.host, kept, o).catch(err => {
      if (!taken(err)) throw listenError(err, o.host, kept, option)
      log('port %d, where the page was served when its phone paired, is taken: serving it elsewhere', kept)
      return undefined
    })
  }
  try {
    listening ??= await listen(files, o.host, wanted, o)
  } catch (err) {
    // The default port is a preference: another program (or another ferry) may hold it.
    if (o.port !== undefined || !taken(err)) throw listenError(err, o.host, wanted, option)
    listening = await listen(files, o.host, 0, o).catch(e => { throw listenError(e, o.host, 0, option) })
  }
  const { server, port } = listening
  const url = `http://${hostHeaderFor(o.host, port)}/`
  log('serving the browser phone on %s', url)
  let closed: Promise<void> | undefined
  return {
    host: o.host,
    port,
    url,
    urlFor: payload => payload === undefined ? url : `${url}#${payload}`,
    close: async () => {
      closed ??= new Promise<void>(resolve => {
        server.close(() => resolve())
        // Keep-alive connections would otherwise go on answering after the offer ended.
        server.closeAllConnections()
        log('stopped serving the browser phone on %s', url)
      })
      await closed
    }
  }
}

function listenError (err: unknown, host: string, port: number, option: string): FerryError {
  const code = (err as NodeJS.ErrnoException).code
  if (code === 'EADDRINUSE') return new FerryError(ErrorCode.BAD_INPUT, `port ${port} is taken on ${host}; pick another with ${option}`)
  if (code === 'EADDRNOTAVAIL') return new FerryError(ErrorCode.BAD_INPUT, `${host} is not an address of this phone: cannot serve the browser phone there`)
  return new FerryError(ErrorCode.INTERNAL, `cannot serve the browser phone on ${host}:${port}: ${(err as Error).message}`, undefined, { cause: err })
}

async function listen (files: Map<string, PageFile>, host: string, port: number, o: Pick<PageServerOptions, 'connectionLimits' | 'onConnectionClosed'>): Promise<{ server: Server, port: number }> {
  const server = createServer({ connectionsCheckingInterval: 5_000 })
  // The slots bound the connections, making room for a newcomer rather than refusing it as
  // maxConnections would; Node's own timeouts stay as a backstop, looked at every few seconds.
  const onClosed = notifying(o.onConnectionClosed, 'onConnectionClosed', log)
  const slots = new PageSlots({ limits: o.connectionLimits, onClosed: onClosed === undefined ? undefined : (socket, reason) => { onClosed(reason, socket.remoteAddress) } })
  server.headersTimeout = 10_000
  server.requestTimeout = 30_000
  server.on('connection', (socket: Socket) => {
    socket.once('close', () => { slots.gone(socket) })
    slots.opened(socket)
  })
  server.on('close', () => { slots.stop() })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => { server.off('error', reject); resolve() })
  })
  const actual = (server.address() as { port: number }).port
  const own = hostHeaderFor(host, actual)
  // localhost names the same server, but another origin to a browser, whose IndexedDB is another one:
  // the history received at one would look lost at the other. It is sent to the page's own address.
  const aliases = new Set(host === '127.0.0.1' || host === '::1' ? [`localhost:${actual}`] : [])
  server.on('request', (req, res) => {
    slots.requestBegan(req.socket)
    const socket = req.socket
    res.once('close', () => { slots.requestEnded(socket) })
    answer(files, own, aliases, req, res, () => { slots.answerMoved(socket) })
  })
  return { server, port: actual }
}

function answer (files: Map<string, PageFile>, own: string, aliases: Set<string>, req: IncomingMessage, res: ServerResponse, moved: () => void): void {
  const refuse = (status: number, text: string, extra: Record<string, string> = {}): void => {
    res.writeHead(status, { ...HEADERS, ...extra, 'content-type': 'text/plain; charset=utf-8' }).end(`${text}\n`)
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') { refuse(405, 'method not allowed', { allow: 'GET, HEAD' }); return }
  const host = (req.headers.host ?? '').toLowerCase()
  if (aliases.has(host)) {
    // The path and query as sent, when they are plain printable ASCII (else the page itself); the
    // fragment, which holds a link's secret, never reaches a server: the browser carries it over.
    const url = req.url ?? '/'
    const location = `http://${own}${/^\/[\x21-\x7e]*$/.test(url) ? url : '/'}`
    res.writeHead(301, { ...HEADERS, location, 'content-type': 'text/plain; charset=utf-8' }).end(`the page is at ${location}\n`)
    return
  }
  if (host !== own.toLowerCase()) { refuse(421, 'this server answers only at its own address'); return }
  // The path exactly as sent, query dropped, nothing decoded or normalised: it names a file of the page or nothing.
  const raw = req.url ?? ''
  const q = raw.indexOf('?')
  const file = files.get(q < 0 ? raw : raw.slice(0, q))
  if (file === undefined) { refuse(404, 'not found'); return }
  res.writeHead(200, { ...HEADERS, 'content-type': file.type, 'content-length': String(file.body.length) })
  if (req.method === 'HEAD') res.end()
  else sendInPieces(res, file.body, moved)
}

/** Bytes handed to a connection at a time: each piece taken tells the slots that the answer moves. */
const ANSWER_PIECE = 64 * 1024

/**
 * Writes `body` a piece at a time, the next only once the connection has room: one write of the whole
 * file would complete only when all of it is taken, so a slow honest reader and one that reads nothing
 * would look the same until then.
 */
function sendInPieces (res: ServerResponse, body: Buffer, moved: () => void): void {
  let at = 0
  const more = (): void => {
    while (at < body.length) {
      const piece = body.subarray(at, at + ANSWER_PIECE)
      at += piece.length
      if (!res.write(piece, () => { moved() })) { res.once('drain', more); return }
    }
    res.end()
  }
  more()
}

/**
 * The address to serve the page on: the host of the best webrtc-direct address among `addrs` (best
 * first, as dialableAddresses orders them), the one a browser on the same network reaches the old
 * phone at. NO_PEER when there is none: a browser can dial nothing else.
 */
export function pageHost (addrs: Array<string | { toString(): string }>): string {
  for (const a of addrs.map(String)) {
    if (!a.includes('/webrtc-direct')) continue
    const m = /^\/(ip4|ip6)\/([^/]+)\//.exec(a)
    if (m !== null) return m[2]
  }
  throw new FerryError(ErrorCode.BAD_INPUT, 'a browser phone can reach this phone only over WebRTC, and it listens on no webrtc-direct address (ferry send: --transport auto or webrtc, and any --listen with a /webrtc-direct address)')
}

/**
 * The link to show as the one QR code: the page, with the pairing payload in its fragment. Only the
 * webrtc-direct addresses go in (the page can dial nothing else), at most two, so the code stays small
 * enough for a phone's camera from across a table. Without a code (a restarted offer resuming its
 * pairing), the plain page: the browser that paired resumes by itself.
 */
export function pageLink (page: PageServer, offer: { code?: PairingCode, qrKey?: Uint8Array, peerId: string, addrs: Array<string | { toString(): string }> }): string {
  if (offer.code === undefined) return page.url
  const webrtc = offer.addrs.map(String).filter(a => a.includes('/webrtc-direct')).slice(0, 2)
  return page.urlFor(buildQrPayload({ code: offer.code, key: offer.qrKey, peerId: offer.peerId, addrs: webrtc }))
}
