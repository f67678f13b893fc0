import { logger } from '@libp2p/logger'
import { multiaddr } from '@multiformats/multiaddr'
import { ErrorCode, isFerryError } from '../errors.js'
import { hostOf } from './addresses.js'
import { kindOf } from './transports.js'

const log = logger('ferry:ports')

/**
 * Where a restarted old phone asked to listen on any free port (`/tcp/0`, what an app and a test pass)
 * would rather listen: on the port it listened on when it paired, since the new phone redials the
 * addresses it knows, and with discovery off (or on loopback, where none looks) nothing else could tell
 * it a new one. A fixed port is kept as given. `previous` is what the pairing record kept of this
 * phone's own addresses. Whether the port is still free is for the bind to say (startOnPreviousPorts).
 */
export function keepPreviousPorts (given: string[], previous: string[]): string[] {
  const hostAndPort = (a: string): { host?: string, port?: string } => {
    const ma = multiaddr(a)
    return { host: hostOf(ma), port: ma.getComponents().find(c => c.name === 'tcp' || c.name === 'udp')?.value }
  }
  return given.map(a => {
    const kind = kindOf(a)
    const { host, port } = hostAndPort(a)
    if (kind === undefined || host === undefined || port !== '0') return a
    const any = host === '0.0.0.0' || host === '::'
    // An IPv6 listener takes an IPv6 address's port, an IPv4 one an IPv4's: the new phone redials each
    // address it knows at its own port.
    const v6 = (h?: string): boolean => h?.includes(':') === true
    const prev = previous.map(p => ({ kind: kindOf(p), ...hostAndPort(p) }))
      .find(p => p.kind === kind && p.port !== undefined && p.port !== '0' && (any ? v6(p.host) === v6(host) : p.host === host))
    if (prev?.port === undefined) return a
    const proto = kind === 'tcp' ? 'tcp' : 'udp'
    return a.replace(`/${proto}/0`, `/${proto}/${prev.port}`)
  })
}

/**
 * Starts a node (`start`, given the addresses to listen on) on the ports this phone had when it paired
 * (keepPreviousPorts), and where one of those cannot be bound (another process took it since) on the
 * address as given, any free port, rather than failing on a port the caller never asked for: the new
 * phone then finds it by discovery or by its new QR code, as its old address no longer answers. Trying
 * the port is the check: a port looked at first could still be taken before the node binds it. A
 * failure on an address as given is the caller's, and thrown. createFerry and `ferry send` start here.
 */
export async function startOnPreviousPorts<N> (given: string[], previous: string[], start: (listen: string[]) => Promise<N>): Promise<N> {
  const listen = keepPreviousPorts(given, previous)
  for (;;) {
    try {
      return await start(listen)
    } catch (err) {
      // The address that failed, or the addresses one of which did (a UDP failure names none).
      const named = isFerryError(err, ErrorCode.BAD_INPUT) ? err.details?.listen : undefined
      const failed = new Set((typeof named === 'string' ? [named] : Array.isArray(named) ? named : []).map(a => same(String(a))))
      const kept = listen.flatMap((a, j) => a !== given[j] && failed.has(same(a)) ? [j] : [])
      if (kept.length === 0) throw err
      for (const i of kept) {
        log('cannot listen on %s, where this phone listened when it paired: listening on %s instead', listen[i], given[i])
        listen[i] = given[i]
      }
    }
  }
}

/** One spelling per address, to tell which listen address a failure names. */
function same (addr: string): string | undefined {
  try {
    return multiaddr(addr).toString()
  } catch {
    return undefined
  }
}
