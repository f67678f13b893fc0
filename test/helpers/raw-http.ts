import { request } from 'node:http'

/**
 * One GET to 127.0.0.1:port with the path exactly as written (fetch would normalise it) and the Host
 * header given (from `localAddress`, default the system's pick): its status, content type, body, and
 * where it sends the browser (Location), if anywhere.
 */
export async function rawGet (port: number, path: string, host = `127.0.0.1:${port}`, localAddress?: string): Promise<{ status: number, type?: string, body: string, location?: string }> {
  return await new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host }, agent: false, localAddress }, res => {
      let body = ''
      res.on('data', (d: Buffer) => { body += d.toString() })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body, location: res.headers.location }) })
    })
    req.on('error', reject)
    req.end()
  })
}
