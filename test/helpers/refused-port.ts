import { createServer } from 'node:net'

/** A TCP port on `host` that nothing listens on now (bound, then let go): a connect there is refused. */
export async function refusedPort (host = '127.0.0.1'): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, host, resolve))
  const port = (server.address() as { port: number }).port
  await new Promise<void>(resolve => server.close(() => { resolve() }))
  return port
}
