// A user-space TCP relay that delays every chunk by a base latency plus jitter, in each direction.
// This kernel has no netem, so the Wi-Fi testbed gets its latency here: the relay runs in the access
// point's namespace and an iptables REDIRECT there sends a phone's inbound connections through it
// (see scripts/lib/netns.ts, startRelay). Bytes keep their order (TCP would anyway): a chunk leaves
// at max(the previous chunk's departure, its arrival + a delay drawn from [minMs, maxMs]).
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { Rng } from '../../src/sim/prng.js'

export interface DelayRelayOptions {
  /** One-way delay range in ms, drawn per chunk (jitter = max - min). */
  delayMs: [number, number]
  seed?: number
  /** Stop reading a side while this many bytes wait in its delay queue. */
  maxQueuedBytes?: number
}

export interface RelayedConnectionStats {
  /** Target -> client bytes (e.g. sender -> receiver when the sender is the target). */
  down: number
  /** Client -> target bytes. */
  up: number
  openedAt: number
  closedAt?: number
}

export interface RouteStats {
  port: number
  target: string
  connections: RelayedConnectionStats[]
}

interface Route {
  server: Server
  port: number
  host: string
  targetPort: number
  connections: RelayedConnectionStats[]
}

export class DelayRelay {
  private readonly routes = new Map<number, Route>()
  private readonly sockets = new Set<Socket>()
  private readonly rng: Rng
  private readonly maxQueued: number

  constructor (private readonly opts: DelayRelayOptions) {
    const [lo, hi] = opts.delayMs
    if (!(lo >= 0 && hi >= lo)) throw new Error(`delay range must be 0 <= min <= max, not [${lo}, ${hi}]`)
    this.rng = new Rng(opts.seed ?? 1, 'delay-relay')
    this.maxQueued = opts.maxQueuedBytes ?? 1024 * 1024
  }

  /** Listens on listenHost:listenPort (0: any) and relays each connection to host:port. Returns the port. */
  async route (listenHost: string, listenPort: number, host: string, port: number): Promise<number> {
    const server = createServer({ allowHalfOpen: true }, client => { this.relay(client, route) })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(listenPort, listenHost, () => { server.off('error', reject); resolve() })
    })
    const addr = server.address()
    if (addr === null || typeof addr === 'string') throw new Error('relay listener has no port')
    const route: Route = { server, port: addr.port, host, targetPort: port, connections: [] }
    this.routes.set(route.port, route)
    return route.port
  }

  /** New connections on `listenPort` go to `host` from now on (the target changed its address). */
  retarget (listenPort: number, host: string): void {
    const r = this.routes.get(listenPort)
    if (r === undefined) throw new Error(`no route on port ${listenPort}`)
    r.host = host
  }

  stats (): RouteStats[] {
    return [...this.routes.values()].map(r => ({ port: r.port, target: `${r.host}:${r.targetPort}`, connections: r.connections }))
  }

  private delay (): number {
    const [lo, hi] = this.opts.delayMs
    return lo + (hi - lo) * this.rng.float()
  }

  private relay (client: Socket, route: Route): void {
    const conn: RelayedConnectionStats = { down: 0, up: 0, openedAt: Date.now() }
    route.connections.push(conn)
    const upstream = createConnection({ host: route.host, port: route.targetPort, allowHalfOpen: true })
    for (const s of [client, upstream]) {
      this.sockets.add(s)
      s.setNoDelay(true)
    }
    const teardown = (): void => {
      conn.closedAt ??= Date.now()
      // destroy(): a reset on one side is passed on as a reset, not a clean end.
      client.destroy()
      upstream.destroy()
      this.sockets.delete(client)
      this.sockets.delete(upstream)
    }
    for (const s of [client, upstream]) {
      s.on('error', teardown)
      s.on('close', teardown)
    }
    this.pipe(client, upstream, n => { conn.up += n })
    this.pipe(upstream, client, n => { conn.down += n })
  }

  /** Copies from -> to, each chunk held for a drawn delay, in order, with backpressure both ways. */
  private pipe (from: Socket, to: Socket, count: (n: number) => void): void {
    const queue: Array<{ at: number, chunk: Buffer }> = []
    let queued = 0
    let lastAt = 0
    let timer: NodeJS.Timeout | undefined
    let ended = false
    let blocked = false
    const flush = (): void => {
      timer = undefined
      if (to.destroyed) return
      const now = performance.now()
      while (queue.length > 0 && queue[0].at <= now + 0.5 && !blocked) {
        const { chunk } = queue.shift()!
        queued -= chunk.length
        count(chunk.length)
        if (!to.write(chunk)) {
          blocked = true
          to.once('drain', () => { blocked = false; flush() })
        }
      }
      if (queued < this.maxQueued && from.isPaused() && !from.destroyed) from.resume()
      if (queue.length > 0) {
        if (!blocked) timer = setTimeout(flush, Math.max(0, queue[0].at - now))
      } else if (ended && !blocked) {
        to.end()
      }
    }
    from.on('data', (chunk: Buffer) => {
      const at = Math.max(lastAt, performance.now() + this.delay())
      lastAt = at
      queue.push({ at, chunk })
      queued += chunk.length
      if (queued >= this.maxQueued) from.pause()
      if (timer === undefined && !blocked) timer = setTimeout(flush, Math.max(0, at - performance.now()))
    })
    from.on('end', () => {
      ended = true
      if (queue.length === 0 && !blocked) to.end()
    })
  }

  async close (): Promise<void> {
    for (const s of this.sockets) s.destroy()
    this.sockets.clear()
    await Promise.all([...this.routes.values()].map(async r => { await new Promise<void>(resolve => r.server.close(() => resolve())) }))
    this.routes.clear()
  }
}

/**
 * Drives a DelayRelay from JSON lines on stdin, answering on stdout (one JSON object per line):
 *   {"cmd":"route","listen":"10.1.2.1","port":0,"host":"10.1.2.11","targetPort":4001} -> {"ok":"route","port":N}
 *   {"cmd":"retarget","port":N,"host":"10.1.2.99"}                                     -> {"ok":"retarget"}
 *   {"cmd":"stats"}                                                                      -> {"ok":"stats","routes":[...]}
 * Used by the relay process that netns.ts starts inside the access point's namespace.
 */
export async function serveRelay (opts: DelayRelayOptions, input: NodeJS.ReadableStream, output: NodeJS.WritableStream): Promise<void> {
  const relay = new DelayRelay(opts)
  const { createInterface } = await import('node:readline')
  const say = (o: Record<string, unknown>): void => { output.write(JSON.stringify(o) + '\n') }
  say({ ok: 'ready' })
  const lines = createInterface({ input })
  for await (const line of lines) {
    if (line.trim() === '') continue
    try {
      const c = JSON.parse(line) as { cmd: string, listen?: string, port?: number, host?: string, targetPort?: number }
      if (c.cmd === 'route') say({ ok: 'route', port: await relay.route(c.listen ?? '0.0.0.0', c.port ?? 0, String(c.host), Number(c.targetPort)) })
      else if (c.cmd === 'retarget') { relay.retarget(Number(c.port), String(c.host)); say({ ok: 'retarget' }) }
      else if (c.cmd === 'stats') say({ ok: 'stats', routes: relay.stats() })
      else throw new Error(`unknown command '${c.cmd}'`)
    } catch (err) {
      say({ error: (err as Error).message })
    }
  }
  await relay.close()
}
