import { multiaddr } from '@multiformats/multiaddr'
import { hostOf } from './addresses.js'
import { portFree } from './port-free.js'
import { kindOf } from './transports.js'

/**
 * A restarted old phone asked to listen on any free port (`/tcp/0`, what an app and a test pass) takes
 * the port it listened on when it paired instead, while that port is free: the new phone redials the
 * addresses it knows, and with discovery off (or on loopback, where none looks) nothing else could tell
 * it a new one. A fixed port is kept as given. `previous` is what the pairing record kept of this
 * phone's own addresses. ferry send passes its --listen through it, createFerry its `listen`.
 */
export async function keepPreviousPorts (given: string[], previous: string[]): Promise<string[]> {
  const hostAndPort = (a: string): { host?: string, port?: string } => {
    const ma = multiaddr(a)
    return { host: hostOf(ma), port: ma.getComponents().find(c => c.name === 'tcp' || c.name === 'udp')?.value }
  }
  return await Promise.all(given.map(async a => {
    const kind = kindOf(a)
    const { host, port } = hostAndPort(a)
    if (kind === undefined || host === undefined || port !== '0') return a
    const any = host === '0.0.0.0' || host === '::'
    // An IPv6 listener takes an IPv6 address's port, an IPv4 one an IPv4's: the new phone redials each
    // address it knows at its own port.
    const v6 = (h?: string): boolean => h?.includes(':') === true
    const prev = previous.map(p => ({ kind: kindOf(p), ...hostAndPort(p) }))
      .find(p => p.kind === kind && p.port !== undefined && p.port !== '0' && (any ? v6(p.host) === v6(host) : p.host === host))
    if (prev?.port === undefined || !await portFree(kind, host, Number(prev.port))) return a
    const proto = kind === 'tcp' ? 'tcp' : 'udp'
    return a.replace(`/${proto}/0`, `/${proto}/${prev.port}`)
  }))
}
