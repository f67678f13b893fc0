// A TCP relay on loopback between a receiver and a sender, for the kill tests. It paces the sender's
// bytes (so a transfer lasts long enough for kills to land mid-way on any machine) and counts what
// crosses, per connection, so the bytes a kill costs can be measured on the wire. Noise runs end to end
// through it: the receiver still authenticates the sender's peer id.
import { createConnection, createServer, type Server, type Socket } from 'node:net'

export interface RelayedConnection {
  /** Sender -> receiver bytes written to the receiver's socket. */
  down: number
  /** Receiver -> sender bytes. */
  up: number
  openedAt: number
  closed: boolean
}

export class ThrottleProxy {
  readonly connections: RelayedConnection[] = []
  private nextFree = 0
  private readonly sockets = new Set<Socket>()
  private readonly gates = new Set<{ hold: () => void, release: () => void }>()
  private gated = false

  private constructor (private readonly server: Server, readonly port: number, private readonly targetPort: number, private readonly bytesPerSec: number) {}

  /** Listens on 127.0.0.1 (a free port) and relays every connection to 127.0.0.1:targetPort. */
  static async start (targetPort: number, bytesPerSec: number): Promise<ThrottleProxy> {
    let proxy: ThrottleProxy | undefined
    const server = createServer({ allowHalfOpen: true }, client => proxy?.relay(client))
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => resolve())
    })
    const addr = server.address()
    if (addr === null || typeof addr === 'string') throw new Error('proxy has no port')
    proxy = new ThrottleProxy(server, addr.port, targetPort, bytesPerSec)
    return proxy
  }

  /** The proxy's address for the sender with this peer id. */
  addr (peerId: string): string {
    return `/ip4/127.0.0.1/tcp/${this.port}/p2p/${peerId}`
  }

  /** Sender -> receiver bytes over all connections so far. */
  get bytesDown (): number {
    return this.connections.reduce((n, c) => n + c.down, 0)
  }

  /** Receiver -> sender bytes over all connections so far. */
  get bytesUp (): number {
    return this.connections.reduce((n, c) => n + c.up, 0)
  }

  /** Sender -> receiver bytes on connections opened after `t` (performance.now()). */
  bytesDownSince (t: number): number {
    return this.connections.filter(c => c.openedAt >= t).reduce((n, c) => n + c.down, 0)
  }

  /** Holds the sender's bytes on every connection until resume(): a stalled link, not a dropped one. */
  pause (): void {
    if (this.gated) return
    this.gated = true
    for (const g of this.gates) g.hold()
  }

  resume (): void {
    if (!this.gated) return
    this.gated = false
    for (const g of this.gates) g.release()
  }

  private relay (client: Socket): void {
    const conn: RelayedConnection = { down: 0, up: 0, openedAt: performance.now(), closed: false }
    this.connections.push(conn)
    const upstream = createConnection({ host: '127.0.0.1', port: this.targetPort, allowHalfOpen: true })
    this.sockets.add(client)
    this.sockets.add(upstream)
    const teardown = (): void => {
      conn.closed = true
      client.destroy()
      upstream.destroy()
      this.sockets.delete(client)
      this.sockets.delete(upstream)
    }
    client.on('error', teardown)
    upstream.on('error', teardown)
    client.on('close', teardown)
    upstream.on('close', teardown)
    client.on('end', () => upstream.end())
    upstream.on('end', () => client.end())

    client.on('data', (chunk: Buffer) => {
      conn.up += chunk.length
      if (!upstream.write(chunk)) { client.pause(); upstream.once('drain', () => client.resume()) }
    })

    // Down: paced to bytesPerSec over all connections, and never faster than the receiver reads.
    let holds = 0
    const hold = (): void => { if (holds++ === 0) upstream.pause() }
    const release = (): void => { if (--holds === 0 && !upstream.destroyed) upstream.resume() }
    const gate = { hold, release }
    this.gates.add(gate)
    if (this.gated) hold()
    upstream.on('close', () => this.gates.delete(gate))
    upstream.on('data', (chunk: Buffer) => {
      if (client.destroyed) return
      conn.down += chunk.length
      if (!client.write(chunk)) { hold(); client.once('drain', release) }
      const now = performance.now()
      this.nextFree = Math.max(this.nextFree, now) + chunk.length / this.bytesPerSec * 1000
      const wait = this.nextFree - now
      // A rate limiter, not a synchronisation: it only decides how fast bytes may flow.
      if (wait > 2) { hold(); setTimeout(release, wait) }
    })
  }

  async close (): Promise<void> {
    for (const s of this.sockets) s.destroy()
    this.sockets.clear()
    await new Promise<void>(resolve => this.server.close(() => resolve()))
  }
}
