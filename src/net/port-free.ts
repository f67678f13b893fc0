import { createSocket } from 'node:dgram'
import { createServer } from 'node:net'

/**
 * Whether this machine can listen on `port` at `host` now (TCP, or UDP for webrtc-direct): bound and let
 * go at once. A hint only, as another process may take the port in between; listening says so then.
 */
export async function portFree (kind: 'tcp' | 'webrtc', host: string, port: number): Promise<boolean> {
  return await new Promise<boolean>(resolve => {
    if (kind === 'tcp') {
      const server = createServer()
      server.once('error', () => resolve(false))
      server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)))
    } else {
      const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4')
      socket.once('error', () => { socket.close(); resolve(false) })
      socket.bind({ address: host, port, exclusive: true }, () => socket.close(() => resolve(true)))
    }
  })
}
