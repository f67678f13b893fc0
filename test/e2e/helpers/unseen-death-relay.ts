// A TCP relay on loopback between a receiver and a sender that can hide the sender's death. Killed, a
// process's kernel closes its sockets at once, so over plain loopback the receiver learns of it before
// it says anything more. Over a real link (Wi-Fi, a NAT) it may learn only later, after it wrote
// Verified into a connection whose far end is gone, when the link ends under its stream: that is the
// case this relay makes. Noise runs end to end through it.
import { createConnection, createServer, type Server, type Socket } from 'node:net'

export class UnseenDeathRelay {
  /** While set, a connection whose sender side closes stays open towards the receiver. */
  hideDeath = false
  private readonly sockets = new Set<Socket>()
  private readonly hidden: Array<{ client: Socket, armed: boolean }> = []
  private readonly waiters: Array<() => void> = []

  private constructor (private readonly server: Server, readonly port: number, private readonly targetPort: number) {}

  /** Listens on 127.0.0.1 (a free port) and relays every connection to 127.0.0.1:targetPort. */
  static async start (targetPort: number): Promise<UnseenDeathRelay> {
    let relay: UnseenDeathRelay | undefined
    const server = createServer({ allowHalfOpen: true }, client => relay?.relay(client))
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => resolve())
    })
    const addr = server.address()
    if (addr === null || typeof addr === 'string') throw new Error('relay has no port')
    relay = new UnseenDeathRelay(server, addr.port, targetPort)
    return relay
  }

  addr (peerId: string): string {
    return `/ip4/127.0.0.1/tcp/${this.port}/p2p/${peerId}`
  }

  /** Resolves once a connection's sender side has closed while hideDeath was set. */
  async deathHidden (): Promise<void> {
    if (this.hidden.length > 0) return
    await new Promise<void>(resolve => this.waiters.push(resolve))
  }

  /** The hidden connections end (a FIN to the receiver) as soon as the receiver sends anything more. */
  endOnNextWord (): void {
    for (const h of this.hidden) h.armed = true
  }

  private relay (client: Socket): void {
    const upstream = createConnection({ host: '127.0.0.1', port: this.targetPort, allowHalfOpen: true })
    this.sockets.add(client)
    this.sockets.add(upstream)
    let hidden: { client: Socket, armed: boolean } | undefined
    const teardown = (): void => {
      client.destroy()
      upstream.destroy()
      this.sockets.delete(client)
      this.sockets.delete(upstream)
    }
    const upstreamGone = (): void => {
      if (hidden !== undefined || client.destroyed) return
      if (!this.hideDeath) { teardown(); return }
      hidden = { client, armed: false }
      this.hidden.push(hidden)
      for (const w of this.waiters.splice(0)) w()
    }
    client.on('error', teardown)
    client.on('close', teardown)
    upstream.on('error', upstreamGone)
    upstream.on('close', upstreamGone)
    client.on('end', () => upstream.end())
    upstream.on('end', upstreamGone)
    client.on('data', (chunk: Buffer) => {
      if (hidden === undefined) { upstream.write(chunk); return }
      // The receiver's words go nowhere; after endOnNextWord the link ends right after one.
      if (hidden.armed) client.end()
    })
    upstream.on('data', (chunk: Buffer) => { if (!client.destroyed) client.write(chunk) })
  }

  async close (): Promise<void> {
    for (const s of this.sockets) s.destroy()
    this.sockets.clear()
    await new Promise<void>(resolve => this.server.close(() => resolve()))
  }
}
