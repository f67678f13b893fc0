import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { randomInt } from 'node:crypto'

/**
 * A free TCP port on `host` below the kernel's ephemeral range, for a test that lets a port go and then
 * binds it again (a server restarted "on the port it had"). A port the kernel handed out for port 0 may
 * meanwhile be handed to any other test's connection or listener, and that test's churn decides
 * whether the rebind fails; ports below the range are only ever taken by name.
 */
export async function steadyPort (host = '127.0.0.1'): Promise<number> {
  const range = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number)
  const below = Number.isInteger(range[0]) && range[0] > 20_000 ? range[0] : 32_768
  for (let tries = 0; tries < 50; tries++) {
    const port = randomInt(20_000, below)
    const server = createServer()
    const bound = await new Promise<boolean>(resolve => {
      server.once('error', () => { resolve(false) })
      server.listen(port, host, () => { resolve(true) })
    })
    if (bound) {
      await new Promise<void>(resolve => server.close(() => { resolve() }))
      return port
    }
  }
  throw new Error(`no free port on ${host} below ${below}`)
}
