// One side of the raw-socket baseline: N bytes over a plain node:net TCP connection on 127.0.0.1,
// no encryption, no multiplexing. Same roles and JSON lines as libp2p-peer.ts:
//
//   --role serve --bytes N [--chunk 262144]            listens on 127.0.0.1:0, prints {"event":"listening","port":P};
//                                                      writes N bytes in `chunk`-byte buffers (honouring
//                                                      write()'s backpressure) to the first connection, then
//                                                      waits for the reader's one-byte acknowledgement
//   --role fetch --bytes N --port P                    connects, counts bytes until N, prints {"event":"done",...}
//   --host H (both roles)                              listen on / connect to H instead of 127.0.0.1
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createConnection, createServer, type Socket } from 'node:net'
import { ByteCount, peerArgs } from './baseline-peer.js'

const { values, total, chunk } = peerArgs('socket-peer', '--role serve|fetch --bytes N [--chunk B] [--port P]', ['port'])

const out = (event: string, data: Record<string, unknown> = {}): void => { process.stdout.write(JSON.stringify({ event, ...data }) + '\n') }
const now = (): number => performance.now()

async function serve (): Promise<void> {
  const server = createServer()
  server.listen(0, values.host)
  await once(server, 'listening')
  out('listening', { port: (server.address() as { port: number }).port })
  const [socket] = await once(server, 'connection') as [Socket]
  server.close() // one reader only; the accepted socket lives on
  socket.setNoDelay(true)
  const acked = new Promise<void>((resolve, reject) => {
    socket.once('data', () => { resolve() })
    socket.once('error', reject)
    socket.once('close', () => { reject(new Error('the reader closed without acknowledging')) })
  })
  const buf = randomBytes(chunk)
  const t0 = now()
  let sent = 0
  while (sent < total) {
    const n = Math.min(chunk, total - sent)
    const more = socket.write(n === chunk ? buf : buf.subarray(0, n))
    sent += n
    if (!more) await once(socket, 'drain')
  }
  const writeMs = now() - t0
  await acked
  socket.end()
  out('sent', { bytes: sent, writeMs })
}

async function fetch (): Promise<void> {
  const tConnect = now()
  const socket = createConnection({ host: values.host, port: Number(values.port) })
  await once(socket, 'connect')
  const tOpen = now()
  const count = new ByteCount(total, now)
  for await (const c of socket as AsyncIterable<Buffer>) {
    if (count.add(c.byteLength)) {
      out('done', {
        bytes: count.got,
        dialMs: tOpen - tConnect,
        firstByteMs: count.firstByte - tConnect,
        transferMs: count.done - tConnect,
        mbPerSec: count.mbPerSec(tConnect)
      })
      // Keep reading until the writer hangs up: leaving the loop would destroy the socket before the ack left.
      socket.end(Buffer.of(1))
    }
  }
  count.expectDone('the connection')
}

if (values.role === 'serve') await serve()
else if (values.role === 'fetch') await fetch()
else { process.stderr.write(`unknown --role ${values.role}\n`); process.exit(2) }
